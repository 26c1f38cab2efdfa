import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../../..')

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return testFiles(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

/** Relative paths a test file resolves against its own location (`resolve(import.meta.dirname, '…')`, `new URL('…', import.meta.url)`). */
function relativeTargets(source: string): string[] {
  const targets: string[] = []
  for (const m of source.matchAll(/resolve\(import\.meta\.dirname,\s*'([^']+)'/g)) targets.push(m[1]!)
  for (const m of source.matchAll(/new URL\('([^']+)',\s*import\.meta\.url\)/g)) targets.push(m[1]!)
  return targets
}

describe('a fresh clone is self-contained', () => {
  it('no test file reads a path outside the repository (issue 12 B1)', () => {
    const outside: string[] = []
    for (const file of testFiles(join(ROOT, 'test'))) {
      for (const target of relativeTargets(readFileSync(file, 'utf8'))) {
        const where = relative(ROOT, resolve(dirname(file), target))
        if (where.startsWith('..')) outside.push(`${relative(ROOT, file)} -> ${target}`)
      }
    }
    expect(outside).toEqual([])
  })
})
