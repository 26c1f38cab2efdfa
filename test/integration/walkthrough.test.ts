import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, ROOT, exited, freePort, spawnCli, waitForHttp } from '../helpers/process.js'

const README = join(ROOT, 'README.md')
const OUTPUT_BLOCK = /(<!-- walkthrough-output:start -->\s*```text\n)([\s\S]*?)(```\s*<!-- walkthrough-output:end -->)/

/** The README's walkthrough, exactly as written between its markers. */
async function walkthroughCommands(): Promise<string> {
  const readme = await readFile(README, 'utf8')
  const match = /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme)
  if (!match) throw new Error('README.md has no walkthrough block between the markers')
  return match[1]!
}

/**
 * What may differ between two honest runs: ids, hashes and keys, times, heights. Everything
 * else (wording, checks, their order, verdicts, the exit code) must be as README shows it.
 */
function shape(output: string): string {
  return output
    .replace(/[0-9a-f]{16,}/g, '<hex>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/height \d+/g, 'height <n>')
}

describe('README walkthrough', () => {
  let dir: string
  let port: number
  let dev: ReturnType<typeof spawnCli>
  // The user's shell: npx finds certchain in ./node_modules/.bin, and `node` is the pinned one.
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-walkthrough-'))
    await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true })
    await symlink(CLI, join(dir, 'node_modules', '.bin', 'certchain'))
    port = await freePort()
    env = {
      PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
      CERTCHAIN_RPC: `http://127.0.0.1:${port}`,
      npm_config_loglevel: 'error',
    }
    // `npm start` runs `certchain dev`; here on a free port so tests never clash with a dev node.
    dev = spawnCli(['dev', '--rpc-port', String(port), '--p2p-port', String(await freePort()), '--log-level', 'warn'], { cwd: dir, env })
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, dev)
  })

  afterAll(async () => {
    dev.kill('SIGINT')
    await exited(dev)
    await rm(dir, { recursive: true, force: true })
  })

  it('issues, verifies, revokes and verifies again with the commands the README gives, and prints what README shows', async () => {
    const script = await walkthroughCommands()
    // No `-e`: the last verify exits 1 and the walkthrough shows that exit code.
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const sh = spawn('bash', ['-o', 'pipefail', '-c', script], { cwd: dir, env: { ...process.env, ...env } })
      let out = ''
      sh.stdout.on('data', (d: Buffer) => (out += d.toString()))
      sh.stderr.on('data', (d: Buffer) => (out += d.toString()))
      sh.on('close', (code) => resolve({ code, out }))
    })
    expect(run.code, run.out).toBe(0)
    expect(run.out).toMatch(/issued certificate [0-9a-f]{64} at height \d+/)
    expect(run.out).toMatch(/^verdict: VALID \(certificate status on chain: valid/m)
    expect(run.out).toMatch(/revoked certificate [0-9a-f]{64}/)
    expect(run.out).toMatch(/✗ status\s+revoked at height \d+ by "kr.seoul.jongno" \(issued_in_error\)/)
    expect(run.out).toMatch(/^verdict: INVALID because status failed \(certificate status on chain: revoked/m)
    expect(run.out).toMatch(/^exit code: 1$/m)
    const certificate = JSON.parse(await readFile(join(dir, 'certificate.json'), 'utf8')) as { format: string }
    expect(certificate.format).toBe('certchain/certificate@1')

    const readme = await readFile(README, 'utf8')
    if (process.env.CERTCHAIN_UPDATE_README === '1') {
      await writeFile(README, readme.replace(OUTPUT_BLOCK, (_, open: string, _old: string, close: string) => open + run.out + close))
    }
    const sample = OUTPUT_BLOCK.exec(await readFile(README, 'utf8'))?.[2]
    expect(sample, 'README.md has no walkthrough output block').toBeDefined()
    expect(shape(sample!)).toBe(shape(run.out))
  }, 60_000)

  it('npm start prints the same commands as the README walkthrough', async () => {
    const banner = dev.output()
    const commands = (await walkthroughCommands()).trimEnd().split('\n')
    const printed = banner
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('npx certchain') || l.startsWith('echo '))
    expect(printed).toEqual(commands)
    // Off the default port, the banner says how to point the commands at this node.
    expect(banner).toContain(`export CERTCHAIN_RPC=http://127.0.0.1:${port}`)
  })

  it('wrote sample issuer keys readable by their owner only', async () => {
    const mode = (await stat(join(dir, '.certchain-dev', 'issuers', 'kr.seoul.jongno.json'))).mode & 0o777
    expect(mode).toBe(0o600)
  })
})
