import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, ROOT, exited, freePort, spawnCli, waitForHttp } from '../helpers/process.js'

const README = join(ROOT, 'README.md')
const outputBlock = (name: string): RegExp => new RegExp(`(<!-- ${name}-output:start -->\\s*\`\`\`text\\n)([\\s\\S]*?)(\`\`\`\\s*<!-- ${name}-output:end -->)`)

/** A README walkthrough, exactly as written between its markers. */
async function walkthroughCommands(name = 'walkthrough'): Promise<string> {
  const readme = await readFile(README, 'utf8')
  const match = new RegExp(`<!-- ${name}:start -->\\s*\`\`\`bash\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`).exec(readme)
  if (!match) throw new Error(`README.md has no ${name} block between the markers`)
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
    .replace(/\d+ s old/g, '<n> s old')
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

  /** Runs a README walkthrough in the user's shell (no `-e`: a walkthrough may show a failing exit code). */
  async function run(name: string): Promise<string> {
    const script = await walkthroughCommands(name)
    const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const sh = spawn('bash', ['-o', 'pipefail', '-c', script], { cwd: dir, env: { ...process.env, ...env } })
      let out = ''
      sh.stdout.on('data', (d: Buffer) => (out += d.toString()))
      sh.stderr.on('data', (d: Buffer) => (out += d.toString()))
      sh.on('close', (code) => resolve({ code, out }))
    })
    expect(result.code, result.out).toBe(0)
    return result.out
  }

  /** The README's sample output of a walkthrough is what a real run prints (CERTCHAIN_UPDATE_README=1 rewrites it). */
  async function expectReadmeOutput(name: string, out: string): Promise<void> {
    const block = outputBlock(name)
    const readme = await readFile(README, 'utf8')
    if (process.env.CERTCHAIN_UPDATE_README === '1') {
      await writeFile(README, readme.replace(block, (_, open: string, _old: string, close: string) => open + out + close))
    }
    const sample = block.exec(await readFile(README, 'utf8'))?.[2]
    expect(sample, `README.md has no ${name} output block`).toBeDefined()
    expect(shape(sample!)).toBe(shape(out))
  }

  it('issues, verifies, revokes and verifies again with the commands the README gives, and prints what README shows', async () => {
    const out = await run('walkthrough')
    expect(out).toMatch(/issued certificate [0-9a-f]{64} at height \d+/)
    expect(out).toMatch(/^verdict: VALID \(certificate status on chain: valid/m)
    expect(out).toMatch(/revoked certificate [0-9a-f]{64}/)
    expect(out).toMatch(/✗ status\s+revoked at height \d+ by "kr.seoul.jongno" \(issued_in_error\)/)
    expect(out).toMatch(/^verdict: INVALID because status failed \(certificate status on chain: revoked/m)
    expect(out).toMatch(/^exit code: 1$/m)
    const certificate = JSON.parse(await readFile(join(dir, 'certificate.json'), 'utf8')) as { format: string }
    expect(certificate.format).toBe('certchain/certificate@1')
    await expectReadmeOutput('walkthrough', out)
  }, 60_000)

  it('the second walkthrough: a bank requests, a citizen presents from the CLI wallet, the bank checks it, and a replay is refused', async () => {
    const out = await run('walkthrough-presentation')
    expect(out).toMatch(/^presentation of [0-9a-f]{64} for ".*" written to presentation\.json/m)
    expect(out).toMatch(/✓ holder_signature/)
    expect(out).toMatch(/^verdict: VALID \(certificate status: valid/m)
    expect(out).toMatch(/✗ request +this request was already answered: a presentation is valid once \(NONCE_USED\)/)
    expect(out).toMatch(/^verdict: INVALID because NONCE_USED/m)
    expect(out).toMatch(/^exit code: 1$/m)
    const certificate = JSON.parse(await readFile(join(dir, 'my-certificate.json'), 'utf8')) as { holderSalt?: string; record: { holder?: string } }
    expect(certificate.holderSalt).toMatch(/^[0-9a-f]{64}$/)
    // The record holds the salted commitment, not the wallet key or its plain hash.
    const holder = JSON.parse(await readFile(join(dir, 'holder.pub.json'), 'utf8')) as { publicKey: string }
    expect(certificate.record.holder).not.toContain(holder.publicKey)
    await expectReadmeOutput('walkthrough-presentation', out)
  }, 90_000)

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
