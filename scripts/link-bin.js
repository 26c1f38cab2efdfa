#!/usr/bin/env node
// Links node_modules/.bin/certchain to this package's own CLI, as npm does for a dependency's
// bin (run by `prepare`, so by `npm ci`). Without it, `npx certchain` in a clone finds no
// certchain in node_modules/.bin and installs the clone into npx's cache on every run: 6-20 s
// and EBADENGINE warnings instead of a second.
//   node scripts/link-bin.js [root]
import { existsSync, lstatSync, symlinkSync, unlinkSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'))
const binDir = join(root, 'node_modules', '.bin')
// Only in the project's own install (a clone after npm ci), never elsewhere.
if (existsSync(binDir)) {
  const link = join(binDir, 'certchain')
  if (lstatSync(link, { throwIfNoEntry: false })) unlinkSync(link)
  symlinkSync(join('..', '..', 'bin', 'certchain.js'), link)
}
