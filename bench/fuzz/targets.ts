/**
 * What the fuzzer runs: one line per decoder of outside bytes (name, format, decoder, valid values).
 * Add a format by adding a line to `decoderTargets` (or `rpcTargets` for a route's body).
 * Valid values are built from fast-check draws only (no random salts), so one seed is one input set.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { pino } from 'pino'
import { certificateFiles, type PreparedIssuance } from '../../src/client/index.js'
import { blockHash } from '../../src/core/block.js'
import { toBase64, toHex, type Bytes } from '../../src/core/bytes.js'
import { certificateFileFromJson, certificateFileToJson, certificateId, checkCertificateFile, documentHash, type CertificateFile } from '../../src/core/certificate.js'
import { createSigner, publicKeyFromSecret, sign } from '../../src/core/crypto.js'
import { CertchainError, type ErrorCode } from '../../src/core/errors.js'
import { decodeFinalizedBlock, encodeFinalizedBlock } from '../../src/core/block.js'
import { DEFAULT_CHAIN_PARAMS, parseGenesis } from '../../src/core/genesis.js'
import { sha256 } from '../../src/core/hash.js'
import { merkleRoot } from '../../src/core/merkle.js'
import { decodeTx, encodeTx, signedContent, signTx, txSignBytes, verifyTxSignature } from '../../src/core/tx.js'
import { CHAIN_FORMAT_VERSION, type Block, type CertificateRecord, type UnsignedTx } from '../../src/core/types.js'
import { voteSignBytes } from '../../src/core/vote.js'
import { decodeMessage } from '../../src/consensus/messages.js'
import { BlockSync, decodeBlocksAnswer, decodeStatusAnswer, DEFAULT_SYNC_OPTIONS, type SyncNetwork } from '../../src/consensus/sync.js'
import type { ConsensusEngine } from '../../src/consensus/engine.js'
import { Ledger } from '../../src/ledger/index.js'
import { admitBatch, admitTx, bundleLimits, decodeTxBundle, Mempool } from '../../src/mempool/index.js'
import { DEFAULT_CONFIG, parseConfig } from '../../src/node/config.js'
import { createMetrics } from '../../src/node/metrics.js'
import { createRpcServer, MAX_STATUS_BATCH, type RpcBackend } from '../../src/rpc/index.js'
import { proofFromJson, proofToJson, trustFromCheckpoint, verifyProof, type ProofBundle } from '../../src/light/index.js'
import { presentationFromJson, PresentationRequests, requestFromJson, requestToJson } from '../../src/wallet/index.js'
import { CBOR, JSON_TEXT, type FuzzTarget } from './harness.js'

const CHAIN = 'certchain-fuzz'
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024
const GENESIS_TIME = Date.parse('2024-01-01T00:00:00.000Z')

// Fixed keys: signatures are deterministic, so the same draws give the same bytes.
const issuerSecret = sha256(new TextEncoder().encode('fuzz issuer'))
const validatorSecret = sha256(new TextEncoder().encode('fuzz validator'))
const issuer = { id: 'kr.mois', key: { secretKey: issuerSecret, publicKey: publicKeyFromSecret(issuerSecret) } }
const validator = { id: 'validator-1', key: { secretKey: validatorSecret, publicKey: publicKeyFromSecret(validatorSecret) } }
const issuerSigner = createSigner(issuerSecret)
const validatorSigner = createSigner(validatorSecret)

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
const bytes64 = fc.uint8Array({ minLength: 64, maxLength: 64 })
const height = fc.integer({ min: 1, max: 1_000_000 })
const round = fc.integer({ min: 0, max: 50 })
/** Times near now, so admission sees live transactions. */
const soon = fc.integer({ min: 60_000, max: 30 * 60_000 }).map((ms) => Date.now() + ms)
const note = fc.option(fc.string({ maxLength: 40 }), { nil: undefined })

// ---- transactions ------------------------------------------------------------------------

const record: fc.Arbitrary<CertificateRecord> = fc
  .record({ docHash: bytes32, holder: fc.option(bytes32, { nil: undefined }), validFrom: fc.integer({ min: GENESIS_TIME, max: GENESIS_TIME + 1e11 }), days: fc.integer({ min: 1, max: 365 }) })
  .map(({ docHash, holder, validFrom, days }) => ({ type: 'kr.residence', issuer: issuer.id, docHash, ...(holder ? { holder } : {}), validFrom, validUntil: validFrom + days * 86_400_000 }))

const signed = (unsigned: UnsignedTx, signer = issuerSigner) => signTx(CHAIN, unsigned, (m) => signer.sign(m))
const byIssuer = { signer: issuer.id, key: issuer.key.publicKey }
const byValidator = { signer: validator.id, key: validator.key.publicKey }

const vote = fc.record({
  type: fc.constantFrom('prevote', 'precommit'),
  height,
  round,
  blockHash: fc.option(bytes32, { nil: null }),
  validator: fc.constant(validator.id),
  sig: bytes64,
})

export const validTx = fc.oneof(
  fc.record({ records: fc.array(record, { minLength: 1, maxLength: 8 }), expiresAt: soon }).map((body) => signed({ kind: 'IssueCertificates', ...byIssuer, body })),
  fc
    .record({ ids: fc.array(bytes32, { minLength: 1, maxLength: 4 }), reason: fc.constantFrom('issued_in_error', 'fraud', 'superseded', 'other'), expiresAt: soon, note })
    .map(({ note: n, ...body }) => signed({ kind: 'RevokeCertificates', ...byIssuer, body: { ...body, ...(n === undefined ? {} : { note: n }) } })),
  fc.record({ id: bytes32, reason: fc.constantFrom('under_investigation', 'court_order', 'other'), expiresAt: soon }).map((body) => signed({ kind: 'SuspendCertificate', ...byIssuer, body })),
  fc.record({ id: bytes32, expiresAt: soon }).map((body) => signed({ kind: 'ReinstateCertificate', ...byIssuer, body })),
  fc.record({ add: fc.array(bytes32, { minLength: 1, maxLength: 3 }), expiresAt: soon }).map((body) => signed({ kind: 'UpdateIssuerKeys', ...byIssuer, body })),
  fc.record({ proposal: fc.integer({ min: 1, max: 1000 }), approve: fc.boolean(), expiresAt: soon }).map((body) => signed({ kind: 'Vote', ...byValidator, body }, validatorSigner)),
  fc
    .record({ params: fc.record({ proposalTtlBlocks: fc.integer({ min: 10, max: 1000 }) }), expiresAt: soon })
    .map(({ params, expiresAt }) => signed({ kind: 'Propose', ...byValidator, body: { action: { type: 'setParams', params }, expiresAt } }, validatorSigner)),
  fc
    .record({ first: vote, blockHash: bytes32, expiresAt: soon })
    .map(({ first, blockHash: other, expiresAt }) =>
      signed({ kind: 'ReportEquivocation', ...byValidator, body: { first, second: { ...first, blockHash: other }, expiresAt } }, validatorSigner),
    ),
)

// ---- blocks and consensus messages -------------------------------------------------------

const block = fc
  .record({ txs: fc.array(fc.uint8Array({ minLength: 1, maxLength: 120 }), { maxLength: 6 }), height, time: fc.integer({ min: GENESIS_TIME, max: GENESIS_TIME + 1e11 }), prevHash: bytes32, stateRoot: bytes32 })
  .map(({ txs, height: h, time, prevHash, stateRoot }): Block => ({
    header: {
      version: CHAIN_FORMAT_VERSION,
      chainId: CHAIN,
      height: h,
      time,
      prevHash,
      txRoot: merkleRoot(txs),
      txCount: txs.length,
      stateRoot,
      proposer: validator.id,
      validatorsHash: prevHash,
      nextValidatorsHash: stateRoot,
    },
    txs,
  }))

const finalizedBlock = fc.record({ block, round, sigs: fc.array(bytes64, { minLength: 1, maxLength: 4 }) }).map(({ block: b, round: r, sigs }) => ({
  block: b,
  commit: { height: b.header.height, round: r, blockHash: blockHash(b.header), signatures: sigs.map((sig, i) => ({ validator: `validator-${i + 1}`, sig })) },
}))

const consensusMessage = fc.oneof(
  vote,
  fc.record({ type: fc.constant('proposal'), height, round, polRound: fc.integer({ min: -1, max: 3 }), block, validator: fc.constant(validator.id), sig: bytes64 }),
)

// ---- sync --------------------------------------------------------------------------------

const syncRequest = fc.oneof(fc.constant({ type: 'status' }), fc.record({ type: fc.constant('blocks'), from: fc.integer({ min: 1, max: 100 }), count: fc.integer({ min: 1, max: 1000 }) }))

/** A peer's answers, as the syncing node reads them: a height, or finalized blocks (each then decoded). */
const statusAnswer = fc.record({ height: fc.nat() })
const blocksAnswer = fc.record({ blocks: fc.array(finalizedBlock.map(encodeFinalizedBlock), { maxLength: 4 }) })

function readBlocksAnswer(bytes: Uint8Array): unknown {
  const { maxResponseBytes, batchBlocks } = DEFAULT_SYNC_OPTIONS
  return decodeBlocksAnswer(bytes, maxResponseBytes + 1024, batchBlocks).map((raw) => decodeFinalizedBlock(raw, MAX_MESSAGE_BYTES))
}

/** A sync server over a chain of 50 small blocks: what a peer's request can make it read. */
function syncServer(): BlockSync {
  const ledger = { head: { height: 50 }, base: 1, getBlockBytes: (h: number) => Promise.resolve(h <= 50 ? new Uint8Array(200) : undefined) }
  return new BlockSync(DEFAULT_SYNC_OPTIONS, {
    ledger: ledger as unknown as Ledger,
    engine: undefined as unknown as ConsensusEngine,
    network: undefined as unknown as SyncNetwork,
    logger: pino({ level: 'silent' }),
    maxBlockBytes: DEFAULT_CHAIN_PARAMS.maxBlockBytes,
  })
}

// ---- proof bundles, checkpoints, presentations --------------------------------------------

/** Bundles of the right shape with arbitrary hashes and signatures: the parser's and the light verifier's input space. */
const signedHeader = fc.record({ block, sigs: fc.array(bytes64, { minLength: 1, maxLength: 4 }), round }).map(({ block: b, sigs, round: r }) => ({
  header: b.header,
  commit: { height: b.header.height, round: r, blockHash: blockHash(b.header), signatures: sigs.map((sig, i) => ({ validator: `validator-${i + 1}`, sig })) },
}))
const sparsePath = fc.record({ index: fc.integer({ min: 0, max: 2 ** 20 }), siblings: fc.array(bytes32, { maxLength: 6 }) }).map(({ index, siblings }) => ({ index, present: 2 ** siblings.length - 1, siblings }))
const roots = fc.record({ certificateCount: fc.nat(1_000_000), certificates: bytes32, history: bytes32, proposals: bytes32, registry: bytes32 })
const entryProof = <T>(entry: fc.Arbitrary<T>) => fc.record({ entry, index: fc.nat(8), count: fc.integer({ min: 1, max: 9 }), path: fc.array(bytes32, { maxLength: 4 }), sectionPath: fc.array(bytes32, { maxLength: 3 }) })
const issuerEntry = fc.record({ id: fc.constant(issuer.id), name: fc.constant('MOIS'), types: fc.constant(['kr.residence']), active: fc.boolean(), keys: fc.array(fc.record({ publicKey: bytes32, addedHeight: fc.nat(100) }), { minLength: 1, maxLength: 3 }), addedHeight: fc.nat(100) })
const typeEntry = fc.constant({ id: 'kr.residence', nameKo: '주민등록표 등본', nameEn: 'Residence', validityDays: 90, authorities: [] as string[] })
const proofBundle = fc
  .record({ signed: signedHeader, changes: fc.array(fc.record({ s: signedHeader, next: fc.array(fc.record({ id: fc.constant(validator.id), publicKey: bytes32 }), { minLength: 1, maxLength: 3 }) }), { maxLength: 2 }), state: roots, leafTx: bytes32, leafKey: bytes32, id: bytes32, path: sparsePath, record: fc.record({ height: fc.nat(100), time: fc.nat(), stateRoot: bytes32 }), issuer: entryProof(issuerEntry), type: entryProof(typeEntry) })
  .map((d) => {
    const bundle: ProofBundle = {
      chainId: CHAIN,
      certificateId: d.id,
      header: d.signed.header,
      commit: d.signed.commit,
      validatorChanges: d.changes.map((c) => ({ header: c.s.header, commit: c.s.commit, nextValidators: c.next })),
      state: d.state,
      status: { leaf: { id: d.id, tx: d.leafTx, key: d.leafKey, issuedHeight: 3, issuedTime: GENESIS_TIME, state: 'active', since: 3, sinceTime: GENESIS_TIME }, path: d.path },
      issuance: { record: d.record, path: d.path, state: d.state, issuer: d.issuer, type: d.type },
    }
    return proofToJson(bundle)
  })
const fuzzTrust = { chainId: CHAIN, height: 0, validators: [{ id: validator.id, publicKey: validator.key.publicKey }] }
const presentationRequest = fc
  .record({ nonce: bytes32, createdAt: fc.nat(), ttl: fc.integer({ min: 1, max: 600_000 }), types: fc.option(fc.array(fc.constantFrom('kr.residence', 'kr.family'), { maxLength: 2 }), { nil: undefined }) })
  .map((r) => requestToJson({ chainId: CHAIN, audience: { name: 'KB', node: '12D3KooWFuzz' }, nonce: r.nonce, createdAt: r.createdAt, expiresAt: r.createdAt + r.ttl, ...(r.types ? { types: r.types } : {}) }))

// ---- files: certificate, genesis, config -------------------------------------------------

/** An issuance signed with the fuzz issuer's key, with deterministic salts, and its holders' files. */
function issuance(records: readonly { record: CertificateRecord; salt: Bytes }[]): PreparedIssuance {
  const recs = records.map((r) => r.record)
  const tx = signed({ kind: 'IssueCertificates', ...byIssuer, body: { records: recs, expiresAt: GENESIS_TIME + 60_000 } })
  const certificateIds = recs.map(certificateId)
  const id = sha256(txSignBytes(CHAIN, tx.kind, tx.signer, signedContent(tx, certificateIds)))
  return { tx, bytes: encodeTx(tx), id, records: recs, salts: records.map((r) => r.salt), holderSalts: recs.map(() => undefined), certificateIds }
}

const withDocument = fc.record({ record, salt: bytes32, document: fc.uint8Array({ maxLength: 64 }) }).map(({ record: r, salt, document }) => ({
  record: { ...r, docHash: documentHash(salt, document) },
  salt,
  document,
}))

export const validCertificateFile = fc
  .tuple(fc.array(withDocument, { minLength: 1, maxLength: 4 }), fc.nat(), height)
  .map(([items, pick, h]) => {
    const files = certificateFiles(CHAIN, issuance(items), h)
    const i = pick % files.length
    return { file: certificateFileToJson(files[i]!), document: items[i]!.document }
  })

const hexKey = bytes32.map(toHex)
const RESIDENCE = [{ id: 'kr.residence', nameKo: '주민등록표 등본', nameEn: 'Resident registration certificate', validityDays: 90, authorities: [] }]
const genesisDocument = fc
  .record({
    chainId: fc.stringMatching(/^[a-z][a-z0-9-]{2,20}$/),
    genesisTime: fc.integer({ min: GENESIS_TIME, max: GENESIS_TIME + 1e11 }).map((t) => new Date(t).toISOString()),
    issuerKeys: fc.uniqueArray(hexKey, { minLength: 1, maxLength: 3 }),
    validatorKeys: fc.uniqueArray(hexKey, { minLength: 1, maxLength: 4 }),
    params: fc.record({ maxNoteLength: fc.integer({ min: 1, max: 1000 }), txMaxTtlMs: fc.integer({ min: 60_000, max: 86_400_000 }) }, { requiredKeys: [] }),
  })
  .map(({ chainId, genesisTime, issuerKeys, validatorKeys, params }) => ({
    chainId,
    genesisTime,
    params,
    certificateTypes: RESIDENCE,
    issuers: issuerKeys.map((publicKey, i) => ({ id: `kr.issuer${i}`, name: `Issuer ${i}`, publicKey, types: ['kr.residence'] })),
    validators: validatorKeys.map((publicKey, i) => ({ id: `validator-${i + 1}`, name: `Validator ${i + 1}`, publicKey, peerId: `12D3KooWFuzz${i}` })),
    members: [],
  }))

const configDocument = fc.record(
  {
    moniker: fc.string({ minLength: 1, maxLength: 20 }),
    rpc: fc.record({ port: fc.integer({ min: 1, max: 65535 }), rateLimitPerSecond: fc.nat({ max: 1000 }), maxConnections: fc.integer({ min: 1, max: 1000 }) }, { requiredKeys: [] }),
    consensus: fc.record({ blockIntervalMs: fc.integer({ min: 1, max: 1000 }), timeoutProposeMs: fc.integer({ min: 1, max: 10_000 }) }, { requiredKeys: [] }),
    mempool: fc.record({ maxTxs: fc.nat(), maxBytes: fc.nat() }, { requiredKeys: [] }),
    log: fc.record({ level: fc.constantFrom('info', 'warn', 'silent') }),
  },
  { requiredKeys: [] },
)

const utf8 = new TextDecoder()

/**
 * A JSON file's text as its loader reads it: not JSON is the loader's coded refusal (as
 * loadConfig answers INVALID_CONFIG), so only what the parser after it throws can be a crash.
 */
function jsonFile(bytes: Uint8Array, code: ErrorCode): unknown {
  try {
    return JSON.parse(utf8.decode(bytes))
  } catch (err) {
    throw new CertchainError(code, `not JSON: ${(err as Error).message}`)
  }
}

/** Decoders of bytes from peers, files and clients that need no server. */
export function decoderTargets(): FuzzTarget[] {
  const sync = syncServer()
  const [fuzzFile] = certificateFiles(CHAIN, issuance([{ record: { type: 'kr.residence', issuer: issuer.id, docHash: new Uint8Array(32), validFrom: GENESIS_TIME, validUntil: GENESIS_TIME + 1 }, salt: new Uint8Array(32) }]), 3) as [CertificateFile]
  return [
    {
      name: 'transaction',
      format: CBOR,
      decode: (b) => verifyTxSignature(decodeTx(CHAIN, b, DEFAULT_CHAIN_PARAMS)),
      valid: validTx.map((tx) => ({ ...tx })),
    },
    { name: 'finalized block (gossip, sync, storage)', format: CBOR, decode: (b) => decodeFinalizedBlock(b, MAX_MESSAGE_BYTES), valid: finalizedBlock },
    { name: 'consensus message (votes, proposals)', format: CBOR, decode: (b) => decodeMessage(b, MAX_MESSAGE_BYTES), valid: consensusMessage },
    {
      name: 'transaction bundle (gossip)',
      format: CBOR,
      // What gossip validation does before admission: the bundle's checks, then each transaction's decoding.
      decode: (b) => decodeTxBundle(b, bundleLimits(DEFAULT_CHAIN_PARAMS)).map((tx) => verifyTxSignature(decodeTx(CHAIN, tx, DEFAULT_CHAIN_PARAMS))),
      valid: fc.array(validTx.map(encodeTx), { minLength: 1, maxLength: 5 }),
    },
    { name: 'sync request', format: CBOR, decode: (b) => sync.handle(b), valid: syncRequest },
    { name: 'sync status answer', format: CBOR, decode: decodeStatusAnswer, valid: statusAnswer },
    { name: 'sync blocks answer', format: CBOR, decode: readBlocksAnswer, valid: blocksAnswer },
    {
      name: 'certificate file',
      format: JSON_TEXT,
      decode: (b) => checkCertificateFile(certificateFileFromJson(jsonFile(b, 'INVALID_CERTIFICATE_FILE'))),
      valid: validCertificateFile.map((c) => c.file),
    },
    { name: 'genesis', format: JSON_TEXT, decode: (b) => parseGenesis(jsonFile(b, 'INVALID_GENESIS')), valid: genesisDocument },
    { name: 'config', format: JSON_TEXT, decode: (b) => parseConfig(jsonFile(b, 'INVALID_CONFIG')), valid: configDocument },
    {
      name: 'proof bundle',
      format: JSON_TEXT,
      decode: (b) => verifyProof(fuzzFile, proofFromJson(jsonFile(b, 'INVALID_PROOF')), { trust: fuzzTrust, now: GENESIS_TIME, maxAgeMs: 1e12, documentHash: new Uint8Array(32) }),
      valid: proofBundle,
    },
    { name: 'checkpoint', format: JSON_TEXT, decode: (b) => trustFromCheckpoint(jsonFile(b, 'INVALID_PROOF')), valid: fc.constant({ format: 'certchain/checkpoint@1', chainId: CHAIN, height: 5, headerHash: '00'.repeat(32), validators: [{ id: validator.id, publicKey: toHex(validator.key.publicKey) }] }) },
    { name: 'presentation request', format: JSON_TEXT, decode: (b) => requestFromJson(jsonFile(b, 'INVALID_PRESENTATION')), valid: presentationRequest },
    {
      name: 'presentation',
      format: JSON_TEXT,
      decode: (b) => presentationFromJson(jsonFile(b, 'INVALID_PRESENTATION')),
      valid: fc.record({ request: presentationRequest, proof: proofBundle, key: bytes32, sig: bytes64 }).map((p) => ({ format: 'certchain/presentation@1', request: p.request, certificate: certificateFileToJson(fuzzFile), proof: p.proof, holderKey: toHex(p.key), signature: toHex(p.sig) })),
    },
  ]
}

/**
 * Certificates on the RPC targets' chain: a status batch of known ids reads and answers every
 * entry, the most a valid batch can cost.
 */
const ON_CHAIN = MAX_STATUS_BATCH

/** Commits one block issuing {@link ON_CHAIN} certificates; returns their ids in hex. */
async function commitCertificates(ledger: Ledger): Promise<string[]> {
  const time = GENESIS_TIME + 1000
  const records = Array.from({ length: ON_CHAIN }, (_, i): CertificateRecord => ({
    type: 'kr.residence',
    issuer: issuer.id,
    docHash: sha256(new TextEncoder().encode(`fuzz document ${i}`)),
    validFrom: GENESIS_TIME,
    validUntil: Date.now() + 365 * 86_400_000,
  }))
  const tx = signed({ kind: 'IssueCertificates', ...byIssuer, body: { records, expiresAt: time + 60_000 } })
  const { writes, included } = await ledger.proposeBlock([ledger.decodeTx(encodeTx(tx), time)], time, validator.id)
  if (included.length !== 1) throw new Error('the fuzz chain refused its own issuance')
  const hash = blockHash(writes.block.header)
  const { height } = writes.block.header
  await ledger.commitBlock(writes, { height, round: 0, blockHash: hash, signatures: [{ validator: validator.id, sig: sign(validatorSecret, voteSignBytes(CHAIN, 'precommit', height, 0, hash)) }] })
  return records.map((r) => toHex(certificateId(r)))
}

/**
 * The RPC targets' mempool: the node's stores bounded low enough that a run reaches every bound,
 * so its memory samples show what stays once they are full (a node's defaults,
 * DEFAULT_MEMPOOL_OPTIONS, bound the same structures higher).
 */
const FUZZ_MEMPOOL = { maxTxs: 500, maxBytes: 4 * 1024 * 1024, rejectionMemory: 2000, failureMemory: 1000 }

/**
 * Request bodies through a real RPC server (parser, schemas, handlers, error mapping), injected
 * in process, over a real ledger whose genesis registers the fuzz issuer and validator and whose
 * first block issues {@link ON_CHAIN} certificates. A 5xx or an answer that is not JSON with a
 * code is a crash. Socket-level limits are tested on their own. `stores` tells how full the
 * mempool that valid submissions fill is.
 */
export async function rpcTargets(): Promise<{ targets: FuzzTarget[]; stores: () => Record<string, number>; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'certchain-fuzz-'))
  const genesisDocument = {
    chainId: CHAIN,
    genesisTime: new Date(GENESIS_TIME).toISOString(),
    certificateTypes: RESIDENCE,
    issuers: [{ id: issuer.id, name: 'MOIS', publicKey: toHex(issuer.key.publicKey), types: ['kr.residence'] }],
    validators: [{ id: validator.id, name: 'Validator 1', publicKey: toHex(validator.key.publicKey), peerId: '12D3KooWFuzzValidator' }],
    members: [],
  }
  const genesis = parseGenesis(genesisDocument)
  const ledger = await Ledger.open(join(dir, 'chain'), genesis)
  const onChain = await commitCertificates(ledger)
  const presentations = await PresentationRequests.open(join(dir, 'presentations'), 1000)
  const mempool = new Mempool(FUZZ_MEMPOOL)
  const metrics = createMetrics({ defaultMetrics: false })
  const backend: RpcBackend = {
    ledger,
    mempool,
    metrics,
    status: () => {
      throw new Error('not used by the fuzzed routes')
    },
    submitTx: (bytes) => admitTx(ledger, mempool, bytes, Date.now()),
    submitBatch: (entries, onAdmitted) => admitBatch(ledger, mempool, entries, Date.now(), onAdmitted),
    waitForCommit: () => Promise.resolve(undefined),
    now: () => Date.now(),
    presentations,
    audience: () => ({ name: 'fuzz verifier', node: '12D3KooWFuzzValidator' }),
    genesisDocument,
  }
  const server = await createRpcServer({ ...DEFAULT_CONFIG.rpc, port: 0, rateLimitPerSecond: 0 }, { backend, logger: pino({ level: 'silent' }), metrics })
  const post = (path: string, contentType?: string) => async (body: Uint8Array) => {
    const res = await server.inject({ method: 'POST', url: path, body, ...(contentType ? { contentType } : {}) })
    let answer: { code?: ErrorCode; message?: string } | undefined
    try {
      answer = JSON.parse(res.body) as typeof answer
    } catch {
      answer = undefined
    }
    // 503 is a coded refusal for now (MEMPOOL_FULL, RPC_BUSY); any other 5xx is a fault.
    if ((res.status >= 500 && res.status !== 503) || answer === undefined) throw new Error(`HTTP ${res.status}: ${JSON.stringify(answer)}`)
    if (res.status >= 400) {
      if (typeof answer.code !== 'string' || typeof answer.message !== 'string') throw new Error(`HTTP ${res.status} without {code, message}`)
      throw new CertchainError(answer.code, answer.message)
    }
  }
  const targets: FuzzTarget[] = [
    { name: 'rpc POST /v1/txs', format: JSON_TEXT, decode: post('/v1/txs'), valid: validTx.map((tx) => ({ tx: toBase64(encodeTx(tx)) })) },
    {
      name: 'rpc POST /v1/verify',
      format: JSON_TEXT,
      decode: post('/v1/verify'),
      valid: fc.tuple(validCertificateFile, fc.boolean()).map(([c, byHash]) =>
        byHash ? { certificate: c.file, documentHash: toHex(documentHash(Buffer.from(c.file.salt, 'hex'), c.document)) } : { certificate: c.file, document: toBase64(c.document) },
      ),
    },
    {
      name: 'rpc POST /v1/certificates/status',
      format: JSON_TEXT,
      decode: post('/v1/certificates/status'),
      valid: fc.oneof(
        fc.record({ ids: fc.array(fc.oneof(hexKey, fc.constantFrom(...onChain)), { minLength: 1, maxLength: 20 }) }),
        // The largest batch, every id on the chain.
        fc.nat(ON_CHAIN - 1).map((from) => ({ ids: [...onChain.slice(from), ...onChain.slice(0, from)] })),
      ),
    },
    { name: 'rpc POST /v1/txs/batch (CBOR)', format: CBOR, decode: post('/v1/txs/batch', 'application/cbor'), valid: fc.array(validTx.map(encodeTx), { minLength: 1, maxLength: 5 }) },
    { name: 'rpc POST /v1/txs/batch (JSON)', format: JSON_TEXT, decode: post('/v1/txs/batch'), valid: fc.array(validTx.map((tx) => toBase64(encodeTx(tx))), { minLength: 1, maxLength: 5 }).map((txs) => ({ txs })) },
  ]
  return {
    targets,
    stores: () => ({ mempoolTxs: mempool.size, mempoolBytes: mempool.bytes }),
    async close() {
      await server.close()
      await ledger.close()
      await presentations.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
