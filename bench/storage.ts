/**
 * Disk bytes per certificate: builds a chain through the Ledger directly (batched issuance, as a
 * ministry would, plus optional single-certificate transactions), compacts LevelDB, and reports
 * the directory's size per certificate with a per-bucket breakdown of the logical bytes (keys +
 * values before LevelDB's compression). One JSON document on stdout.
 *
 *   npm run bench:storage                               1,000,000 certificates in 1,000-record txs
 *   npm run bench:storage -- --certificates N --records N --txs-per-block N --single N
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Level } from 'level'
import { createSigner, encodeTx, signTx, type Bytes, type CertificateRecord } from '../src/core/index.js'
import { Ledger } from '../src/ledger/index.js'
import { benchChain, commitOf, ISSUER, VALIDATOR, type BenchChain } from './ledger-chain.js'
import { progress } from './harness.js'
import { round } from './load.js'

const DAY_MS = 24 * 60 * 60 * 1000
/** Bucket names by first key byte (src/ledger/store.ts). */
const BUCKETS = ['meta', 'block', 'blockHash', 'tx', 'cert', 'tree', 'evidence', 'registry', 'proposal', 'history', 'height', 'setChange', 'issuance']

/** Signed issuance bytes of `records` certificates with random document hashes (cheaper to make than prepareIssuance's salted files). */
function issuanceBytes(chain: BenchChain, sign: (m: Bytes) => Bytes, records: number, now: number): Bytes {
  const hashes = randomBytes(32 * records)
  const list: CertificateRecord[] = Array.from({ length: records }, (_, i) => ({
    type: 'kr.residence',
    issuer: ISSUER,
    docHash: new Uint8Array(hashes.buffer, hashes.byteOffset + i * 32, 32),
    validFrom: now,
    validUntil: now + 90 * DAY_MS,
  }))
  const tx = signTx(chain.genesis.chainId, { kind: 'IssueCertificates', signer: ISSUER, key: chain.issuer.publicKey, body: { records: list, expiresAt: now + 50 * 60 * 1000 } }, sign)
  return encodeTx(tx)
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size
  return total
}

/** Builds blocks of `txsPerBlock` transactions until `txs` are committed. */
async function build(ledger: Ledger, chain: BenchChain, txs: number, txsPerBlock: number, records: number): Promise<void> {
  const signer = createSigner(chain.issuer.secretKey)
  for (let done = 0; done < txs; ) {
    const n = Math.min(txsPerBlock, txs - done)
    const now = Date.now()
    const decoded = Array.from({ length: n }, () => ledger.decodeTx(issuanceBytes(chain, (m) => signer.sign(m), records, now)))
    const proposed = await ledger.proposeBlock(decoded, now, VALIDATOR)
    if (proposed.rejected.length > 0) throw new Error(`refused: ${proposed.rejected[0]!.error.message}`)
    await ledger.commitBlock(proposed.writes, commitOf(chain, proposed.writes.block))
    done += n
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      certificates: { type: 'string', default: '1000000' },
      records: { type: 'string', default: '1000' },
      'txs-per-block': { type: 'string', default: '25' },
      single: { type: 'string', default: '0' },
    },
  })
  const certificates = Number(values.certificates)
  const records = Number(values.records)
  const single = Number(values.single)
  const chain = benchChain()
  const tmp = await mkdtemp(join(tmpdir(), 'certchain-bench-storage-'))
  const dir = join(tmp, 'chain')
  try {
    const started = performance.now()
    const ledger = await Ledger.open(dir, chain.genesis)
    const batchTxs = Math.ceil((certificates - single) / records)
    progress(`storage: ${batchTxs} issuances of ${records} records, ${single} single-certificate issuances`)
    await build(ledger, chain, batchTxs, Number(values['txs-per-block']), records)
    await build(ledger, chain, single, 2000, 1)
    const head = ledger.head
    await ledger.close()
    const buildSeconds = (performance.now() - started) / 1000
    progress(`storage: built ${head.certificateCount} certificates in ${head.height} blocks (${round(buildSeconds)} s); compacting`)
    const db = new Level<Bytes, Bytes>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    const before = await dirBytes(dir)
    // Under Node, level is classic-level, whose compactRange its browser-neutral types leave out.
    await (db as unknown as { compactRange(start: Bytes, end: Bytes): Promise<void> }).compactRange(Uint8Array.of(0), Uint8Array.of(255))
    const logical: Record<string, { entries: number; bytes: number }> = {}
    for await (const [k, v] of db.iterator()) {
      const name = BUCKETS[k[0]!] ?? `bucket${k[0]}`
      const b = (logical[name] ??= { entries: 0, bytes: 0 })
      b.entries++
      b.bytes += k.length + v.length
    }
    await db.close()
    const after = await dirBytes(dir)
    const perCert = (n: number): number => round(n / head.certificateCount, 1)
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'storage',
          node: process.version,
          certificates: head.certificateCount,
          singleCertificateTxs: single,
          recordsPerBatchTx: records,
          blocks: head.height,
          buildSeconds: round(buildSeconds),
          diskBytesBeforeCompaction: before,
          diskBytes: after,
          diskBytesPerCertificate: perCert(after),
          target: 200,
          logicalBytesPerCertificate: Object.fromEntries(Object.entries(logical).map(([name, b]) => [name, { entries: b.entries, bytesPerCertificate: perCert(b.bytes) }])),
        },
        null,
        2,
      )}\n`,
    )
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

await main()
