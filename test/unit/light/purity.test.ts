import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// src/light must run in a browser: nothing it loads at run time may be a Node built-in. Walks the
// real import graph from src/light/index.ts (type-only imports vanish when compiled, so they are
// skipped) and lists every module and package it reaches.
const ROOT = resolve(import.meta.dirname, '../../../src/light/index.ts')
const ALLOWED_PACKAGES = ['@noble/curves/ed25519.js', '@noble/hashes/sha2.js', '@ipld/dag-cbor', 'uint8arrays']

function runtimeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8')
  const specifiers: string[] = []
  for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gms)) {
    if (m[2] === undefined) specifiers.push(m[3]!)
  }
  for (const m of source.matchAll(/import\(\s*'([^']+)'\s*\)/g)) specifiers.push(m[1]!)
  return specifiers
}

function graph(): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string): void => {
    if (modules.has(file)) return
    modules.add(file)
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
      else packages.add(spec)
    }
  }
  visit(ROOT)
  return { modules, packages }
}

describe('src/light is browser-safe', () => {
  const { modules, packages } = graph()

  it('reaches no Node built-in and only the allowed pure packages', () => {
    expect([...packages].filter((p) => p.startsWith('node:') || !ALLOWED_PACKAGES.includes(p))).toEqual([])
  })

  it('never loads the node-bound core modules (OpenSSL hashing and signatures)', () => {
    const names = [...modules].map((m) => m.slice(m.indexOf('/src/') + 1))
    for (const nodeBound of ['src/core/hash.ts', 'src/core/crypto.ts', 'src/core/certificate.ts', 'src/core/tx.ts', 'src/core/genesis.ts']) {
      expect(names).not.toContain(nodeBound)
    }
    expect(names).toContain('src/light/verify.ts')
    expect(names).toContain('src/core/merkle-path.ts')
  })
})
