import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestnetManifest } from '../node/home.js'

const CLI = fileURLToPath(new URL('../../../bin/certchain.js', import.meta.url))

/**
 * Runs every node of a testnet as its own process (logs in DIR/<name>.log), prints where to reach
 * them, and stops them all cleanly on Ctrl-C or SIGTERM. Resolves when every node has exited.
 */
export async function runDevnet(dir: string): Promise<void> {
  const manifest = JSON.parse(await readFile(join(dir, 'testnet.json'), 'utf8')) as TestnetManifest
  const children: { name: string; child: ChildProcess }[] = manifest.nodes.map((node) => {
    const log = createWriteStream(join(dir, `${node.name}.log`), { flags: 'a' })
    const child = spawn(process.execPath, [CLI, 'start', '--home', node.home], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout?.pipe(log)
    child.stderr?.pipe(log)
    return { name: node.name, child }
  })
  const where = relative(process.cwd(), dir) || '.'
  console.log(`certchain devnet "${manifest.chainId}": ${manifest.nodes.length} nodes (logs in ${where}/<name>.log)`)
  for (const n of manifest.nodes) console.log(`  ${n.name.padEnd(12)} ${n.validator ? 'validator' : 'member   '}  ${n.rpcUrl}`)
  console.log(`  issuer keys: ${where}/issuers/`)
  console.log('Ctrl-C stops every node.')

  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    console.log('stopping nodes…')
    for (const { child } of children) child.kill('SIGTERM')
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  const codes = await Promise.all(
    children.map(
      ({ name, child }) =>
        new Promise<number>((resolve) =>
          child.once('exit', (code, signal) => {
            if (!stopping) {
              console.error(`${name} exited unexpectedly (${signal ?? code}); see ${where}/${name}.log — stopping the others`)
              stop()
            }
            resolve(code ?? 1)
          }),
        ),
    ),
  )
  process.exitCode = codes.every((c) => c === 0) ? 0 : 1
}
