import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, runCli, spawnCli, waitForHttp, exited } from '../helpers/process.js'

// certchain proof / checkpoint / verify --proof: fetched while the node runs, verified after it
// stopped, so the offline path provably contacts no node.
describe('certchain proof and offline verify', () => {
  let dir: string
  let rpc: string
  let node: ReturnType<typeof spawnCli> | undefined
  const f = (name: string) => join(dir, name)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-cli-proof-'))
    expect((await runCli(['testnet', '--validators', '1', '--out', f('net'), '--chain-id', 'certchain-proof'])).code).toBe(0)
    const configFile = f('net/validator0/config.json')
    const config = JSON.parse(await readFile(configFile, 'utf8')) as { p2p: { listen: string[] } }
    config.p2p.listen = [`/ip4/127.0.0.1/tcp/${await freePort()}`]
    await writeFile(configFile, JSON.stringify(config, null, 2))
    const port = await freePort()
    rpc = `http://127.0.0.1:${port}`
    node = spawnCli(['start', '--home', f('net/validator0'), '--rpc-port', String(port), '--log-level', 'warn'])
    await waitForHttp(`${rpc}/healthz`, node)
    await writeFile(f('doc.txt'), '주민등록표 등본')
    await writeFile(f('other.txt'), 'another document')
    const key = f('net/issuers/kr.seoul.jongno.json')
    const issue = await runCli(['issue', '--key', key, '--type', 'kr.residence', '--document', f('doc.txt'), '--out', f('cert.json'), '--rpc', rpc])
    expect(issue.code, issue.stderr).toBe(0)
    const fetched = await runCli(['proof', f('cert.json'), '--out', f('proof.json'), '--rpc', rpc])
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(fetched.stdout).toMatch(/^proof of [0-9a-f]{64} at height \d+ written to .*proof\.json \(\d+ bytes, 0 validator-set change\(s\)\)/)
    expect((await runCli(['checkpoint', '--out', f('checkpoint.json'), '--rpc', rpc])).code).toBe(0)
    // online --at: as of the issue height it was valid
    const height = JSON.parse(await readFile(f('cert.json'), 'utf8')).height as number
    const at = await runCli(['verify', f('cert.json'), '--document', f('doc.txt'), '--at', String(height), '--rpc', rpc])
    expect(at.code, at.stdout + at.stderr).toBe(0)
    expect(at.stdout).toMatch(new RegExp(`verdict: VALID \\(certificate status on chain: valid, as of height ${height} `))
    const before = await runCli(['verify', f('cert.json'), '--document', f('doc.txt'), '--at', String(height - 1), '--rpc', rpc])
    expect(before.code).toBe(1)
    expect(before.stdout).toContain('not_yet_issued')
    // a verifier's request with its QR code as a PNG (the terminal QR needs a TTY)
    const request = await runCli(['request', 'new', '--types', 'kr.residence', '--ttl', '120', '--out', f('request.json'), '--qr', f('request.png'), '--rpc', rpc])
    expect(request.code, request.stderr).toBe(0)
    expect(JSON.parse(await readFile(f('request.json'), 'utf8'))).toMatchObject({ format: 'certchain/presentation-request@1', types: ['kr.residence'] })
    expect((await readFile(f('request.png'))).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    const tooLong = await runCli(['request', 'new', '--ttl', '601', '--out', f('r2.json'), '--rpc', rpc])
    expect(tooLong.code).toBe(2)
    expect(tooLong.stderr).toMatch(/--ttl is at most 600 seconds/)
    node.kill('SIGTERM')
    await exited(node)
    node = undefined
  }, 90_000)

  afterAll(async () => {
    if (node) {
      node.kill('SIGTERM')
      await exited(node)
    }
    await rm(dir, { recursive: true, force: true })
  })

  const verify = (...extra: string[]) => runCli(['verify', f('cert.json'), '--proof', f('proof.json'), ...extra])

  it('with every node stopped: VALID against the genesis, and against a checkpoint (exit 0)', async () => {
    const run = await verify('--document', f('doc.txt'), '--genesis', f('net/genesis.json'))
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.stdout).toContain('(offline)')
    expect(run.stdout).toMatch(/✓ commit +header \d+ signed by more than 2\/3/)
    expect(run.stdout).toMatch(/verdict: VALID/)
    const cp = await verify('--document-hash', JSON.parse(await readFile(f('cert.json'), 'utf8')).record.docHash, '--checkpoint', f('checkpoint.json'), '--json')
    expect(cp.code, cp.stdout + cp.stderr).toBe(0)
    expect(JSON.parse(cp.stdout)).toMatchObject({ verdict: 'valid', status: 'valid' })
  })

  it('exit 1 when not valid: a stale proof (--max-age), another document', async () => {
    const stale = await verify('--document', f('doc.txt'), '--genesis', f('net/genesis.json'), '--max-age', '1ms')
    expect(stale.code).toBe(1)
    expect(stale.stdout).toMatch(/✗ freshness/)
    expect(stale.stdout).toMatch(/verdict: INVALID .*failed: freshness\)/)
    const other = await verify('--document', f('other.txt'), '--genesis', f('net/genesis.json'))
    expect(other.code).toBe(1)
    expect(other.stdout).toMatch(/failed: document_hash/)
  })

  it('exit 2 on usage and file errors, with one line', async () => {
    const cases: [string[], RegExp][] = [
      [['--document', f('doc.txt')], /exactly one trust anchor/],
      [['--document', f('doc.txt'), '--genesis', f('net/genesis.json'), '--checkpoint', f('checkpoint.json')], /exactly one trust anchor/],
      [['--document', f('doc.txt'), '--genesis', f('nope.json')], /FILE_NOT_FOUND: .*nope\.json/],
      [['--document', f('doc.txt'), '--genesis', f('doc.txt')], /is not JSON/],
      [['--document', f('doc.txt'), '--genesis', f('net/genesis.json'), '--max-age', 'soon'], /not a duration/],
      [['--document', f('nope.txt'), '--genesis', f('net/genesis.json')], /FILE_NOT_FOUND: .*nope\.txt/],
      [['--document', f('doc.txt'), '--genesis', f('net/genesis.json'), '--at', '3'], /--at asks a node/],
    ]
    for (const [args, pattern] of cases) {
      const run = await verify(...args)
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2)
      expect(run.stderr).toMatch(pattern)
      expect(run.stderr.trim().split('\n')).toHaveLength(1)
    }
    await writeFile(f('broken-proof.json'), JSON.stringify({ format: 'certchain/proof@1' }))
    const broken = await runCli(['verify', f('cert.json'), '--proof', f('broken-proof.json'), '--document', f('doc.txt'), '--genesis', f('net/genesis.json')])
    expect(broken.code).toBe(2)
    expect(broken.stderr).toMatch(/INVALID_PROOF: .*broken-proof\.json: proof: field "chainId" is missing/)
  })
})
