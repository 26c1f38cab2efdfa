import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCliNode, type CliNode } from '../helpers/cli-node.js'
import { freePort, runCli, type CliRun } from '../helpers/process.js'

const NO_STACK = /\n\s+at /

function expectOneLineError(run: CliRun, code: number, pattern: RegExp): void {
  expect(run.code, run.stdout + run.stderr).toBe(code)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr).not.toMatch(NO_STACK)
}

describe('certchain CLI', () => {
  let dir: string
  let rpc: string
  let node: CliNode
  let jongno: string
  let court: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-cli-'))
    node = await startCliNode(dir, 'certchain-cli')
    rpc = node.rpc
    jongno = join(dir, 'net', 'issuers', 'kr.seoul.jongno.json')
    court = join(dir, 'net', 'issuers', 'kr.court.seoul-family.json')
    await writeFile(join(dir, 'doc.txt'), 'family relationship certificate sample')
  })

  afterAll(async () => {
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('testnet writes a manifest with every node and issuer filled', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'net', 'testnet.json'), 'utf8'))
    expect(manifest.chainId).toBe('certchain-cli')
    expect(manifest.nodes).toHaveLength(1)
    expect(manifest.nodes[0]).toMatchObject({ name: 'validator0', validator: true, rpcUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) })
    expect(manifest.nodes[0].p2p).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/)
    expect(manifest.issuers.map((i: { id: string }) => i.id)).toContain('kr.seoul.jongno')
    for (const issuer of manifest.issuers) expect((await stat(issuer.keyFile)).mode & 0o777).toBe(0o600)
  })

  it('init creates a home with 0600 keys; keys show never prints the secret', async () => {
    const home = join(dir, 'home')
    const init = await runCli(['init', '--home', home, '--genesis', join(dir, 'net', 'genesis.json')])
    expect(init.code, init.stderr).toBe(0)
    for (const f of ['node_key.json', 'validator_key.json']) expect((await stat(join(home, f))).mode & 0o777).toBe(0o600)
    const secret = JSON.parse(await readFile(join(home, 'validator_key.json'), 'utf8')).secretKey as string
    const show = await runCli(['keys', 'show', join(home, 'validator_key.json')])
    expect(show.code).toBe(0)
    expect(show.stdout).not.toContain(secret)
    expect(JSON.parse(show.stdout).peerId).toMatch(/^12D3Koo/)
    expectOneLineError(await runCli(['init', '--home', home]), 2, /INVALID_CONFIG: .* already holds a node/)
  })

  it('keys new refuses to overwrite a key', async () => {
    const file = join(dir, 'k.json')
    expect((await runCli(['keys', 'new', '--out', file, '--issuer', 'kr.x'])).code).toBe(0)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expectOneLineError(await runCli(['keys', 'new', '--out', file]), 2, /already exists; refusing to overwrite/)
  })

  it('issues, suspends, reinstates; verify exits 0 when valid and 1 when not', async () => {
    const cert = join(dir, 'family.json')
    const doc = join(dir, 'doc.txt')
    const issue = await runCli(['issue', '--rpc', rpc, '--key', court, '--type', 'kr.family', '--document', doc, '--out', cert])
    expect(issue.code, issue.stderr).toBe(0)
    expect((await runCli(['verify', cert, '--document', doc, '--rpc', rpc])).code).toBe(0)
    const suspend = await runCli(['suspend', '--rpc', rpc, '--key', court, '--cert', cert, '--reason', 'court_order'])
    expect(suspend.code, suspend.stderr).toBe(0)
    const suspended = await runCli(['verify', cert, '--document', doc, '--rpc', rpc, '--json'])
    expect(suspended.code).toBe(1)
    expect(JSON.parse(suspended.stdout)).toMatchObject({ verdict: 'invalid', status: 'suspended' })
    expect((await runCli(['reinstate', '--rpc', rpc, '--key', court, '--cert', cert])).code).toBe(0)
    expect((await runCli(['verify', cert, '--document', doc, '--rpc', rpc])).code).toBe(0)
    await writeFile(join(dir, 'other.txt'), 'a different document')
    const wrongDoc = await runCli(['verify', cert, '--document', join(dir, 'other.txt'), '--rpc', rpc])
    expect(wrongDoc.code).toBe(1)
    expect(wrongDoc.stdout).toMatch(/✗ document_hash/)
  })

  it('issues a batch under one signature, one certificate file per line', async () => {
    const lines = [0, 1, 2].map((i) => JSON.stringify({ document: `batch-${i}.txt`, type: 'kr.residence' }))
    for (const i of [0, 1, 2]) await writeFile(join(dir, `batch-${i}.txt`), `resident registration ${i}`)
    await writeFile(join(dir, 'batch.jsonl'), lines.join('\n') + '\n')
    const out = join(dir, 'batch-out')
    const run = await runCli(['issue', '--rpc', rpc, '--key', jongno, '--batch', join(dir, 'batch.jsonl'), '--out-dir', out])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/issued 3 certificates in transaction [0-9a-f]{64}/)
    const files = await readdir(out)
    expect(files).toHaveLength(3)
    const docs = await Promise.all([0, 1, 2].map((i) => readFile(join(dir, `batch-${i}.txt`))))
    // Each file verifies against exactly one of the documents.
    for (const f of files) {
      const verdicts = await Promise.all(
        docs.map(async (_, i) => (await runCli(['verify', join(out, f), '--document', join(dir, `batch-${i}.txt`), '--rpc', rpc])).code),
      )
      expect(verdicts.filter((c) => c === 0)).toHaveLength(1)
    }
  })

  it('issue --batch --per-tx 1: one transaction per certificate, all sent through the batch endpoint; every file written 0600, progress on stderr', async () => {
    const n = 5
    for (let i = 0; i < n; i++) await writeFile(join(dir, `single-${i}.txt`), `resident registration, own transaction ${i}`)
    await writeFile(join(dir, 'singles.jsonl'), Array.from({ length: n }, (_, i) => JSON.stringify({ document: `single-${i}.txt`, type: 'kr.residence' })).join('\n'))
    const out = join(dir, 'singles-out')
    const run = await runCli(['issue', '--rpc', rpc, '--key', jongno, '--batch', join(dir, 'singles.jsonl'), '--out-dir', out, '--per-tx', '1'])
    expect(run.code, run.stderr).toBe(0)
    const issued = run.stdout.match(/issued 1 certificates in transaction [0-9a-f]{64} at height [1-9]\d*/g) ?? []
    expect(issued).toHaveLength(n)
    expect(new Set(issued.map((l) => l.split(' ')[5])).size).toBe(n)
    expect(run.stderr).toMatch(new RegExp(`progress: ${n}/${n} transactions answered`))
    const files = await readdir(out)
    expect(files).toHaveLength(n)
    for (const f of files) {
      expect((await stat(join(out, f))).mode & 0o777).toBe(0o600)
      expect(JSON.parse(await readFile(join(out, f), 'utf8')).height).toBeGreaterThan(0)
    }
    const first = files[0]!
    const verdicts = await Promise.all(Array.from({ length: n }, async (_, i) => (await runCli(['verify', join(out, first), '--document', join(dir, `single-${i}.txt`), '--rpc', rpc])).code))
    expect(verdicts.filter((c) => c === 0)).toHaveLength(1)
  })

  it('issue --batch: a transaction the chain refuses is reported with its lines and code, exit 1; the others are issued and written', async () => {
    const lines = [{ type: 'kr.residence' }, { type: 'kr.family' }, { type: 'kr.residence' }].map((l, i) => JSON.stringify({ document: `mixed-${i}.txt`, ...l }))
    for (let i = 0; i < 3; i++) await writeFile(join(dir, `mixed-${i}.txt`), `mixed batch document ${i}`)
    await writeFile(join(dir, 'mixed.jsonl'), lines.join('\n'))
    const out = join(dir, 'mixed-out')
    const run = await runCli(['issue', '--rpc', rpc, '--key', jongno, '--batch', join(dir, 'mixed.jsonl'), '--out-dir', out, '--per-tx', '1'])
    expect(run.code, run.stderr).toBe(1)
    expect(run.stderr).toMatch(/refused: transaction [0-9a-f]{64} \(lines 2–2 of the batch\): ISSUER_NOT_AUTHORIZED_FOR_TYPE: .*no files written for it/)
    expect(run.stderr).toMatch(/certchain: ISSUER_NOT_AUTHORIZED_FOR_TYPE: 1 of 3 transactions were refused/)
    expect(run.stdout.match(/issued 1 certificates/g)).toHaveLength(2)
    expect(await readdir(out)).toHaveLength(2)
  })

  it('issue --batch usage errors exit 2 before anything is sent: --per-tx 0, --per-tx without --batch', async () => {
    await writeFile(join(dir, 'usage.jsonl'), JSON.stringify({ document: 'doc.txt', type: 'kr.residence' }))
    const transactions = async (): Promise<number> => ((await (await fetch(`${rpc}/v1/status`)).json()) as { transactions: number }).transactions
    const before = await transactions()
    expectOneLineError(
      await runCli(['issue', '--rpc', rpc, '--key', jongno, '--batch', join(dir, 'usage.jsonl'), '--out-dir', join(dir, 'usage-out'), '--per-tx', '0']),
      2,
      /^certchain: INVALID_ARGUMENT: --per-tx must be a whole number of at least 1, not "0"\n$/,
    )
    expectOneLineError(
      await runCli(['issue', '--rpc', rpc, '--key', jongno, '--type', 'kr.residence', '--document', join(dir, 'doc.txt'), '--out', join(dir, 'u.json'), '--per-tx', '5']),
      2,
      /^certchain: USAGE: --per-tx applies to --batch only\n$/,
    )
    expect(await transactions()).toBe(before)
  })

  describe('errors a user can cause print one line and exit non-zero', () => {
    it('missing key file (exit 2: a file error)', async () => {
      expectOneLineError(
        await runCli(['issue', '--rpc', rpc, '--key', join(dir, 'nope.json'), '--type', 'kr.residence', '--document', join(dir, 'doc.txt'), '--out', join(dir, 'x.json')]),
        2,
        /INVALID_KEY_FILE: key file .*nope\.json does not exist/,
      )
    })

    it('corrupt key file (exit 2: a file error)', async () => {
      const bad = join(dir, 'corrupt.json')
      await writeFile(bad, '{"format":"certchain/key@1","type":"ed25519","publicKey":"00","secretKey":"zz"}', { mode: 0o600 })
      expectOneLineError(
        await runCli(['revoke', '--rpc', rpc, '--key', bad, '--id', 'ab'.repeat(32)]),
        2,
        /INVALID_KEY_FILE: .*corrupt\.json is not a valid certchain key file/,
      )
    })

    it('wrong issuer for a type', async () => {
      expectOneLineError(
        await runCli(['issue', '--rpc', rpc, '--key', court, '--type', 'kr.residence', '--document', join(dir, 'doc.txt'), '--out', join(dir, 'x.json')]),
        1,
        /ISSUER_NOT_AUTHORIZED_FOR_TYPE: issuer "kr.court.seoul-family" may not issue "kr.residence"/,
      )
    })

    it('unreachable node (exit 2)', async () => {
      const port = await freePort()
      expectOneLineError(await runCli(['status', '--rpc', `http://127.0.0.1:${port}`]), 2, /UNAVAILABLE: cannot reach the node .*ECONNREFUSED/)
    })

    it('bad arguments (exit 2)', async () => {
      expectOneLineError(await runCli(['verify']), 2, /missing required argument/)
      expectOneLineError(await runCli(['testnet', '--validators', 'x', '--out', dir]), 2, /must be a non-negative integer/)
      expectOneLineError(await runCli(['revoke', '--rpc', rpc, '--key', jongno]), 2, /revoke needs --id or --cert/)
      expectOneLineError(await runCli(['revoke', '--rpc', rpc, '--key', jongno, '--id', 'ab'.repeat(32), '--reason', 'bored']), 2, /--reason must be one of/)
      expectOneLineError(await runCli(['nonsense']), 2, /unknown command/)
    })

    it('start without a home (exit 2)', async () => {
      expectOneLineError(await runCli(['start', '--home', join(dir, 'missing')]), 2, /INVALID_CONFIG: .*config\.json does not exist/)
    })
  })
})
