#!/usr/bin/env node
// Builds dist/ only when a source is newer than it, so `npm start` and `npm run devnet` start in
// about two seconds instead of rebuilding for twelve. Runs as the `prestart`/`predevnet` script:
// a process of its own that finishes before npm starts the node, so nothing stays between npm
// and the node to swallow Ctrl-C or SIGTERM.
//   node scripts/build-if-stale.js           build if stale
//   node scripts/build-if-stale.js --check   only report: exit 0 current, 1 stale
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const args = process.argv.slice(2)
const check = args.includes('--check')
const root = resolve(args.find((a) => !a.startsWith('--')) ?? join(dirname(fileURLToPath(import.meta.url)), '..'))

/** Newest modification time under `path` (a file or a directory tree). */
function newest(path) {
  if (!existsSync(path)) return 0
  const stats = statSync(path)
  if (!stats.isDirectory()) return stats.mtimeMs
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stats.mtimeMs)
}

// tsc rewrites every output on each build, so the CLI entry's time is the build's time.
const built = newest(join(root, 'dist', 'src', 'cli', 'main.js'))
const sources = Math.max(...['src', 'bench', 'tsconfig.json', 'tsconfig.build.json'].map((p) => newest(join(root, p))))
const stale = built === 0 || sources > built

if (check) {
  console.log(stale ? 'dist/ is stale' : 'dist/ is current')
  process.exit(stale ? 1 : 0)
}
if (stale) {
  console.error('building dist/ (sources changed since the last build)…')
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' })
}
