#!/usr/bin/env node
// Bundles the verifier page (web/) into dist/web: index.html, assets/app.js (web/main.ts with the
// light verifier and the presentation checks it imports from src/, for the browser) and
// assets/app.css. Runs in `npm run build` and `prepare`; the node serves the result at GET /.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist', 'web')

rmSync(out, { recursive: true, force: true })
mkdirSync(join(out, 'assets'), { recursive: true })
await build({
  entryPoints: [join(root, 'web', 'main.ts')],
  outfile: join(out, 'assets', 'app.js'),
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'eof',
  logLevel: 'warning',
})
copyFileSync(join(root, 'web', 'index.html'), join(out, 'index.html'))
copyFileSync(join(root, 'web', 'style.css'), join(out, 'assets', 'app.css'))
