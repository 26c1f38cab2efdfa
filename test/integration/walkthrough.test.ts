import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, ROOT, exited, freePort, spawnCli, waitForHttp } from '../helpers/process.js'

/** The README's walkthrough, exactly as written between its markers. */
async function walkthroughCommands(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const match = /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme)
  if (!match) throw new Error('README.md has no walkthrough block between the markers')
  return match[1]!
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

  it('issues, verifies, revokes and verifies again with the commands the README gives', async () => {
    const script = await walkthroughCommands()
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const sh = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: dir, env: { ...process.env, ...env } })
      let out = ''
      sh.stdout.on('data', (d: Buffer) => (out += d.toString()))
      sh.stderr.on('data', (d: Buffer) => (out += d.toString()))
      sh.on('close', (code) => resolve({ code, out }))
    })
    expect(run.code, run.out).toBe(0)
    expect(run.out).toMatch(/issued certificate [0-9a-f]{64} at height \d+/)
    expect(run.out).toMatch(/verdict: VALID/)
    expect(run.out).toMatch(/revoked certificate [0-9a-f]{64}/)
    expect(run.out).toMatch(/✗ status\s+revoked at height \d+ by "kr.seoul.jongno" \(issued_in_error\)/)
    expect(run.out).toMatch(/verdict: INVALID \(status: revoked/)
    expect(run.out).toMatch(/not valid any more/)
    const certificate = JSON.parse(await readFile(join(dir, 'certificate.json'), 'utf8')) as { format: string }
    expect(certificate.format).toBe('certchain/certificate@1')
  }, 60_000)

  it('wrote sample issuer keys readable by their owner only', async () => {
    const mode = (await stat(join(dir, '.certchain-dev', 'issuers', 'kr.seoul.jongno.json'))).mode & 0o777
    expect(mode).toBe(0o600)
  })
})
