import { createHash } from 'node:crypto'
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { certificateFiles, prepareIssuance } from '../../src/client/index.js'
import { certificateFileFromJson, certificateFileToJson, checkCertificateFile } from '../../src/core/certificate.js'
import { newKeyFile, saveKeyFile } from '../../src/node/keys.js'
import { startFakeRpc, type FakeRoutes, type RecordedRequest } from '../helpers/fake-rpc.js'
import { runCli } from '../helpers/process.js'

const CHAIN = 'certchain-test'
const TYPES = { types: [{ id: 'kr.residence', nameKo: '주민등록표 등본', nameEn: 'Resident registration', validityDays: 90, authorities: [] }] }

/** What POST /v1/verify answers in these tests: the CLI prints it, so it is the node's word. */
function verifyAnswer(overrides: { checks?: { name: string; ok: boolean; detail: string }[]; status?: string; verdict?: 'valid' | 'invalid'; certificateId?: string } = {}): unknown {
  const checks = overrides.checks ?? [{ name: 'document_hash', ok: true, detail: 'SHA-256(salt || document) matches the record' }]
  return {
    verdict: overrides.verdict ?? (checks.every((c) => c.ok) ? 'valid' : 'invalid'),
    certificateId: overrides.certificateId ?? 'ab'.repeat(32),
    status: overrides.status ?? 'valid',
    checks,
    height: 5,
    certificate: null,
  }
}

describe('certificate files and the verifier terminal, against a stand-in node', () => {
  let dir: string
  let key: string
  let doc: string
  let cert: string
  let salt: Buffer
  let rpc: Awaited<ReturnType<typeof startFakeRpc>> | undefined

  const serve = async (routes: FakeRoutes): Promise<{ url: string; requests: RecordedRequest[] }> => {
    rpc = await startFakeRpc({ 'GET /v1/status': { body: { chainId: CHAIN } }, 'GET /v1/types': { body: TYPES }, ...routes })
    return rpc
  }
  const issueArgs = (url: string, out: string): string[] => ['issue', '--rpc', url, '--key', key, '--type', 'kr.residence', '--document', doc, '--out', out]

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-certfiles-'))
    key = join(dir, 'issuer.json')
    await saveKeyFile(key, newKeyFile('kr.seoul.jongno'))
    doc = join(dir, 'document.txt')
    await writeFile(doc, '주민등록표 등본: a citizen')
    const prepared = prepareIssuance(CHAIN, { issuer: 'kr.seoul.jongno', key: newKeyFile() }, [{ type: 'kr.residence', document: await readFile(doc), validFrom: 1, validUntil: 2 }])
    const file = certificateFiles(CHAIN, prepared, 3)[0]!
    salt = Buffer.from(file.salt)
    cert = join(dir, 'cert.json')
    await writeFile(cert, JSON.stringify(certificateFileToJson(file)))
  })

  afterEach(async () => {
    await rpc?.close()
    rpc = undefined
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('verify --document hashes locally and sends only SHA-256(salt || document) (issue 10 #13)', async () => {
    const node = await serve({ 'POST /v1/verify': { body: verifyAnswer() } })
    const run = await runCli(['verify', cert, '--document', doc, '--rpc', node.url])
    expect(run.code, run.stderr).toBe(0)
    const [sent] = node.requests.filter((r) => r.url === '/v1/verify')
    const body = sent!.body as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['certificate', 'documentHash'])
    const expected = createHash('sha256').update(salt).update(await readFile(doc)).digest('hex')
    expect(body.documentHash).toBe(expected)
    expect(JSON.stringify(body)).not.toContain(Buffer.from(await readFile(doc)).toString('base64'))
    // nor the salt: the node needs the record, not the secret that keeps the hash unguessable
    expect(body.certificate).not.toHaveProperty('salt')
    expect(JSON.stringify(body)).not.toContain(Buffer.from(salt).toString('hex'))
  }, 60_000)

  it("verify's INVALID line says which checks failed, and that the status is the certificate's on chain (issue 12 B10)", async () => {
    const node = await serve({
      'POST /v1/verify': {
        body: verifyAnswer({
          checks: [
            { name: 'document_hash', ok: false, detail: 'the document does not match the record' },
            { name: 'status', ok: true, detail: 'not revoked or suspended' },
          ],
        }),
      },
    })
    const run = await runCli(['verify', cert, '--document', doc, '--rpc', node.url])
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/^verdict: INVALID because document_hash failed \(certificate status on chain: valid, checked at height 5\)$/m)
    expect(run.stdout).not.toMatch(/\(status: valid/)
  }, 60_000)

  it('text from a hostile file or node cannot drive the terminal: control characters are escaped (issue 10 #15)', async () => {
    const fake = '\r\u001b[2K\u001b[1A✓ all good\nverdict: VALID'
    const node = await serve({
      'POST /v1/verify': {
        body: verifyAnswer({
          certificateId: `ab\u009b2K\u202e`,
          checks: [{ name: `chain${fake}`, ok: false, detail: `file is for chain "x${fake}"` }],
          status: `valid\u001b[8m`,
        }),
      },
    })
    const run = await runCli(['verify', cert, '--document', doc, '--rpc', node.url])
    expect(run.code).toBe(1)
    for (const raw of ['\u001b', '\r', '\u009b', '\u202e']) expect(run.stdout).not.toContain(raw)
    expect(run.stdout).toContain('\\u{1b}[2K')
    const lines = run.stdout.trimEnd().split('\n')
    expect(lines.filter((l) => l.startsWith('verdict:'))).toHaveLength(1)
    expect(lines.at(-1)).toMatch(/^verdict: INVALID because chain.* failed/)
    const json = await runCli(['verify', cert, '--document', doc, '--rpc', node.url, '--json'])
    for (const raw of ['\u001b', '\r', '\u009b', '\u202e']) expect(json.stdout).not.toContain(raw)
  }, 60_000)

  it('issue writes the certificate file readable by its owner only (0600) (issue 10 #14)', async () => {
    const node = await serve({ 'POST /v1/txs': ({ body }) => ({ body: { id: txIdOf(body), status: 'committed', height: 7, index: 0 } }) })
    const out = join(dir, 'issued.json')
    const run = await runCli(issueArgs(node.url, out))
    expect(run.code, run.stderr).toBe(0)
    expect((await stat(out)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(out, 'utf8'))).toMatchObject({ height: 7 })
  }, 60_000)

  it('issue refuses to overwrite a certificate file before submitting anything; --force overwrites, 0600 again', async () => {
    const node = await serve({ 'POST /v1/txs': ({ body }) => ({ body: { id: txIdOf(body), status: 'committed', height: 8, index: 0 } }) })
    const out = join(dir, 'taken.json')
    await writeFile(out, 'someone else\'s certificate', { mode: 0o644 })
    await chmod(out, 0o644)
    const refused = await runCli(issueArgs(node.url, out))
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/^certchain: FILE_EXISTS: .*taken\.json already exists; pass --force to overwrite it\n$/)
    expect(node.requests.filter((r) => r.method === 'POST')).toEqual([])
    expect(await readFile(out, 'utf8')).toBe("someone else's certificate")
    const forced = await runCli([...issueArgs(node.url, out), '--force'])
    expect(forced.code, forced.stderr).toBe(0)
    expect((await stat(out)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(out, 'utf8'))).toMatchObject({ format: 'certchain/certificate@1', height: 8 })
  }, 60_000)

  it('an issue that times out waiting for the block still writes the certificate file, marked pending (TX_PENDING, exit 2)', async () => {
    const node = await serve({ 'POST /v1/txs': ({ body }) => ({ status: 202, body: { id: txIdOf(body), status: 'pending' } }) })
    const out = join(dir, 'pending.json')
    const run = await runCli(issueArgs(node.url, out))
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^certchain: TX_PENDING: transaction [0-9a-f]{64} was accepted but not yet in a block; the certificate file .*pending\.json is written with "height": 0 \(pending\); check with "certchain tx [0-9a-f]{64}"/)
    expect((await stat(out)).mode & 0o777).toBe(0o600)
    const json = JSON.parse(await readFile(out, 'utf8')) as { height: number; salt: string }
    expect(json.height).toBe(0)
    // The salt is kept and the file is complete: its id and signature check out offline.
    expect(json.salt).toMatch(/^[0-9a-f]{64}$/)
    expect(checkCertificateFile(certificateFileFromJson(json))).toMatchObject({ idMatches: true, signatureValid: true })
  }, 60_000)

  it('a batch that gets no answer still writes every certificate file, marked pending', async () => {
    const lines = [0, 1].map((i) => JSON.stringify({ document: `b${i}.txt` }))
    for (const i of [0, 1]) await writeFile(join(dir, `b${i}.txt`), `document ${i}`)
    await writeFile(join(dir, 'batch.jsonl'), lines.join('\n'))
    // The node answers status and types, then drops the connection of the submission.
    const flaky = await serve({ 'POST /v1/txs/batch': { status: 0, body: null } })
    const outDir = join(dir, 'batch-out')
    const run = await runCli(['issue', '--rpc', flaky.url, '--key', key, '--type', 'kr.residence', '--batch', join(dir, 'batch.jsonl'), '--out-dir', outDir])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/TX_PENDING: transaction [0-9a-f]{64} was sent, but no answer came \(cannot reach the node.*\); its 2 certificate files in .*batch-out\/ are written with "height": 0/)
    const files = await readdir(outDir)
    expect(files).toHaveLength(2)
    for (const f of files) {
      expect((await stat(join(outDir, f))).mode & 0o777).toBe(0o600)
      expect(JSON.parse(await readFile(join(outDir, f), 'utf8'))).toMatchObject({ height: 0 })
    }
  }, 60_000)

  it('issue --batch sends again what the node answered RATE_LIMITED, and writes every file once committed', async () => {
    for (const i of [0, 1, 2]) await writeFile(join(dir, `r${i}.txt`), `rate-limited document ${i}`)
    await writeFile(join(dir, 'limited.jsonl'), [0, 1, 2].map((i) => JSON.stringify({ document: `r${i}.txt` })).join('\n'))
    let calls = 0
    const node = await serve({
      'POST /v1/txs/batch': ({ body }) => {
        calls++
        const results = (body as Uint8Array[]).map((tx, i) =>
          calls === 1 && i > 0 ? { status: 'rejected', code: 'RATE_LIMITED', message: 'past the budget' } : { id: txIdOf(Buffer.from(tx).toString('hex')), status: 'committed', height: 6 + calls, index: i },
        )
        return { body: { results } }
      },
    })
    const outDir = join(dir, 'limited-out')
    const run = await runCli(['issue', '--rpc', node.url, '--key', key, '--type', 'kr.residence', '--batch', join(dir, 'limited.jsonl'), '--out-dir', outDir, '--per-tx', '1'])
    expect(run.code, run.stderr).toBe(0)
    const sent = node.requests.filter((r) => r.url.startsWith('/v1/txs/batch')).map((r) => (r.body as Uint8Array[]).length)
    expect(sent).toEqual([3, 2])
    expect(node.requests.every((r) => r.method !== 'POST' || r.url === '/v1/txs/batch?wait=commit')).toBe(true)
    expect(run.stdout.match(/issued 1 certificates in transaction [0-9a-f]{64} at height (7|8)/g)).toHaveLength(3)
    const heights = await Promise.all((await readdir(outDir)).map(async (f) => (JSON.parse(await readFile(join(outDir, f), 'utf8')) as { height: number }).height))
    expect(heights.sort()).toEqual([7, 8, 8])
  }, 60_000)
})

/** The transaction id the stand-in answers with (any 64 hex characters serve; the CLI prints it). */
function txIdOf(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex')
}
