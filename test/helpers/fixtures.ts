/**
 * Shared test fixtures: a small Korean test chain with fresh keys, signed transaction builders,
 * certificate files and a ledger in a throwaway directory. Used by unit and integration tests.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  blockHash,
  CertchainError,
  createSigner,
  decodeTx,
  documentHash,
  encodeTx,
  generateKeyPair,
  merkleProofs,
  newSalt,
  parseGenesis,
  sign,
  signTx,
  toHex,
  type Block,
  type Bytes,
  type CertificateFile,
  type CertificateRecord,
  type ChainParams,
  type Commit,
  type DecodedTx,
  type Genesis,
  type KeyPair,
  type Millis,
  type RevocationReason,
  type SignatureBatchVerifier,
  type SignedTx,
  type SuspensionReason,
  type UnsignedTx,
  type GovAction,
  type Vote,
  type VoteType,
  voteSignBytes,
} from '../../src/core/index.js'
import { Ledger, type BlockWrites, type ProposedBlock } from '../../src/ledger/index.js'

export const DAY: Millis = 24 * 60 * 60 * 1000
export const MINUTE: Millis = 60 * 1000
/** Default lifetime of a test transaction (`expiresAt = now + DEFAULT_TX_TTL`). */
export const DEFAULT_TX_TTL: Millis = 10 * MINUTE

export const ISSUER_IDS = ['kr.mois', 'kr.seoul.jongno', 'kr.court.seoul', 'kr.land.seoul', 'kr.retired'] as const
export type IssuerId = (typeof ISSUER_IDS)[number]

export const VALIDATOR_ID = 'validator-1'
export const DEFAULT_CHAIN_ID = 'certchain-test'
export const DEFAULT_GENESIS_TIME = '2024-01-01T00:00:00.000Z'

/** The genesis document as an operator writes it (JSON, keys as hex). */
export interface GenesisJson {
  chainId: string
  genesisTime: string
  params?: Partial<Record<keyof ChainParams, number>>
  certificateTypes: {
    id: string
    nameKo: string
    nameEn: string
    validityDays: number
    authorities: string[]
  }[]
  issuers: { id: string; name: string; publicKey: string; types: string[]; active?: boolean }[]
  validators: { id: string; name: string; publicKey: string; peerId: string }[]
  members: { id: string; name: string; peerId: string }[]
}

export interface TestChain {
  readonly genesis: Genesis
  readonly genesisJson: GenesisJson
  readonly keys: Readonly<Record<IssuerId, KeyPair>>
  readonly validatorKey: KeyPair
  /** Validator id of the chain's only validator (the proposer of every test block). */
  readonly proposer: string
}

export interface TestChainOptions {
  readonly chainId?: string
  readonly genesisTime?: string
  readonly params?: Partial<Record<keyof ChainParams, number>>
  /** Reuse keys (e.g. to build a second chain with the same issuers but another chain id). */
  readonly keys?: Readonly<Record<IssuerId, KeyPair>>
  readonly validatorKey?: KeyPair
  /** Last-minute edits to the genesis JSON before it is parsed. */
  readonly edit?: (json: GenesisJson) => void
}

/**
 * A fresh test chain: one validator; issuers kr.mois (residence, and authority over every
 * residence certificate), kr.seoul.jongno (residence), kr.court.seoul (family), kr.land.seoul
 * (land) and the inactive kr.retired (residence). Nobody issues kr.building.
 */
export function makeTestChain(opts: TestChainOptions = {}): TestChain {
  const keys =
    opts.keys ?? (Object.fromEntries(ISSUER_IDS.map((id) => [id, generateKeyPair()])) as Record<IssuerId, KeyPair>)
  const validatorKey = opts.validatorKey ?? generateKeyPair()
  const genesisJson: GenesisJson = {
    chainId: opts.chainId ?? DEFAULT_CHAIN_ID,
    genesisTime: opts.genesisTime ?? DEFAULT_GENESIS_TIME,
    ...(opts.params === undefined ? {} : { params: { ...opts.params } }),
    certificateTypes: [
      { id: 'kr.residence', nameKo: '주민등록표 등본', nameEn: 'Resident registration certificate', validityDays: 90, authorities: ['kr.mois'] },
      { id: 'kr.family', nameKo: '가족관계증명서', nameEn: 'Family relation certificate', validityDays: 90, authorities: [] },
      { id: 'kr.land', nameKo: '토지대장', nameEn: 'Land register', validityDays: 365, authorities: [] },
      { id: 'kr.building', nameKo: '건축물대장', nameEn: 'Building register', validityDays: 365, authorities: [] },
    ],
    issuers: [
      { id: 'kr.mois', name: '행정안전부', publicKey: toHex(keys['kr.mois'].publicKey), types: ['kr.residence'] },
      { id: 'kr.seoul.jongno', name: '서울특별시 종로구청', publicKey: toHex(keys['kr.seoul.jongno'].publicKey), types: ['kr.residence'] },
      { id: 'kr.court.seoul', name: '서울가정법원', publicKey: toHex(keys['kr.court.seoul'].publicKey), types: ['kr.family'] },
      { id: 'kr.land.seoul', name: '서울특별시 토지정보과', publicKey: toHex(keys['kr.land.seoul'].publicKey), types: ['kr.land'] },
      { id: 'kr.retired', name: '폐지된 기관', publicKey: toHex(keys['kr.retired'].publicKey), types: ['kr.residence'], active: false },
    ],
    validators: [
      { id: VALIDATOR_ID, name: 'Test validator', publicKey: toHex(validatorKey.publicKey), peerId: '12D3KooWTestValidator1' },
    ],
    members: [],
  }
  opts.edit?.(genesisJson)
  const genesis = parseGenesis(JSON.parse(JSON.stringify(genesisJson)))
  return { genesis, genesisJson, keys, validatorKey, proposer: VALIDATOR_ID }
}

// ---- transactions -------------------------------------------------------------------------

export interface TxOptions {
  /** Base time for defaults (validity, expiry). Default: Date.now(). */
  readonly now?: Millis
  /** Default: now + 10 minutes. */
  readonly expiresAt?: Millis
  /** Key that signs. Default: the registered key of the signer. Required for unknown issuers. */
  readonly signWith?: KeyPair
  /** Public key put in the transaction. Default: signWith's public key. */
  readonly key?: Bytes
  /** Chain id the signature is made for. Default: the test chain's id. */
  readonly chainId?: string
  readonly note?: string
}

export interface IssueOptions extends TxOptions {
  /** Certificate type for generated records. Default: the issuer's first registered type. */
  readonly type?: string
}

/** A built, signed transaction: `bytes` is what a client submits. */
export interface BuiltTx {
  readonly bytes: Bytes
  readonly tx: SignedTx
}

/** The secret half of a generated record: the document and the salt of its doc hash. */
export interface DocumentSecret {
  readonly salt: Bytes
  readonly document: Bytes
}

export type SignedIssueTx = Extract<SignedTx, { kind: 'IssueCertificates' }>

export interface IssuedTx extends BuiltTx {
  readonly tx: SignedIssueTx
  readonly records: readonly CertificateRecord[]
  /** For each record: salt and document when the fixture generated the doc hash. */
  readonly secrets: readonly (DocumentSecret | undefined)[]
}

function keyOf(chain: TestChain, signer: string, opts: TxOptions): KeyPair {
  const key = opts.signWith ?? (chain.keys as Partial<Record<string, KeyPair>>)[signer]
  if (key === undefined) throw new Error(`fixtures: no key for "${signer}"; pass signWith`)
  return key
}

/** Signs and encodes any unsigned transaction (its `key` field is used as given). */
export function signEncode(chain: TestChain, unsigned: UnsignedTx, signWith: KeyPair, chainId?: string): BuiltTx {
  const signer = createSigner(signWith.secretKey)
  const tx = signTx(chainId ?? chain.genesis.chainId, unsigned, (message) => signer.sign(message))
  return { bytes: encodeTx(tx), tx }
}

function build(
  chain: TestChain,
  unsigned: { kind: UnsignedTx['kind']; signer: string; body: UnsignedTx['body'] },
  opts: TxOptions,
): BuiltTx {
  const signWith = keyOf(chain, unsigned.signer, opts)
  const tx = { ...unsigned, key: opts.key ?? signWith.publicKey } as UnsignedTx
  return signEncode(chain, tx, signWith, opts.chainId)
}

function expiresAt(opts: TxOptions): Millis {
  return opts.expiresAt ?? (opts.now ?? Date.now()) + DEFAULT_TX_TTL
}

function defaultType(chain: TestChain, issuerId: string): string {
  return chain.genesis.issuers.find((i) => i.id === issuerId)?.types[0] ?? 'kr.residence'
}

/**
 * A certificate record with defaults: the issuer's first type, a salted hash of a random
 * document, valid from `now` for the type's validity period.
 */
export function makeRecord(
  chain: TestChain,
  issuerId: string,
  input: Partial<CertificateRecord> = {},
  opts: IssueOptions = {},
): { record: CertificateRecord; secret?: DocumentSecret } {
  const now = opts.now ?? Date.now()
  const type = input.type ?? opts.type ?? defaultType(chain, issuerId)
  const days = chain.genesis.certificateTypes.find((t) => t.id === type)?.validityDays ?? 90
  let secret: DocumentSecret | undefined
  let docHash = input.docHash
  if (docHash === undefined) {
    secret = { salt: newSalt(), document: new Uint8Array(randomBytes(48)) }
    docHash = documentHash(secret.salt, secret.document)
  }
  const validFrom = input.validFrom ?? now
  const record: CertificateRecord = {
    type,
    issuer: input.issuer ?? issuerId,
    docHash,
    ...(input.holder === undefined ? {} : { holder: input.holder }),
    validFrom,
    validUntil: input.validUntil ?? validFrom + days * DAY,
  }
  return secret === undefined ? { record } : { record, secret }
}

/** IssueCertificates by `issuerId`: `count` generated records, or the given (partial) records. */
export function issueTx(
  chain: TestChain,
  issuerId: string,
  records: number | readonly Partial<CertificateRecord>[] = 1,
  opts: IssueOptions = {},
): IssuedTx {
  const inputs = typeof records === 'number' ? Array.from({ length: records }, () => ({})) : records
  const made = inputs.map((input) => makeRecord(chain, issuerId, input, opts))
  const built = build(
    chain,
    { kind: 'IssueCertificates', signer: issuerId, body: { records: made.map((m) => m.record), expiresAt: expiresAt(opts) } },
    opts,
  )
  return { bytes: built.bytes, tx: built.tx as SignedIssueTx, records: made.map((m) => m.record), secrets: made.map((m) => m.secret) }
}

export function revokeTx(
  chain: TestChain,
  issuerId: string,
  ids: readonly Bytes[],
  opts: TxOptions & { reason?: RevocationReason } = {},
): BuiltTx {
  const body = {
    ids,
    reason: opts.reason ?? 'issued_in_error',
    ...(opts.note === undefined ? {} : { note: opts.note }),
    expiresAt: expiresAt(opts),
  }
  return build(chain, { kind: 'RevokeCertificates', signer: issuerId, body }, opts)
}

export function suspendTx(
  chain: TestChain,
  issuerId: string,
  id: Bytes,
  opts: TxOptions & { reason?: SuspensionReason } = {},
): BuiltTx {
  const body = {
    id,
    reason: opts.reason ?? 'under_investigation',
    ...(opts.note === undefined ? {} : { note: opts.note }),
    expiresAt: expiresAt(opts),
  }
  return build(chain, { kind: 'SuspendCertificate', signer: issuerId, body }, opts)
}

export function reinstateTx(chain: TestChain, issuerId: string, id: Bytes, opts: TxOptions = {}): BuiltTx {
  const body = { id, ...(opts.note === undefined ? {} : { note: opts.note }), expiresAt: expiresAt(opts) }
  return build(chain, { kind: 'ReinstateCertificate', signer: issuerId, body }, opts)
}

/** Decodes transaction bytes for the test chain (shape only; signatures are checked by the ledger). */
export function decode(chain: TestChain, tx: Bytes | BuiltTx): DecodedTx {
  return decodeTx(chain.genesis.chainId, tx instanceof Uint8Array ? tx : tx.bytes, chain.genesis.params)
}

// ---- certificate files --------------------------------------------------------------------

/**
 * The holder's certificate files for every record of a committed issuance, as the issuer hands
 * them out: record, salt, and the Merkle path from the certificate id to the signed batch root.
 */
export function certificateFiles(chain: TestChain, issued: IssuedTx, height: number): CertificateFile[] {
  const decoded = decode(chain, issued)
  const proofs = merkleProofs(decoded.certificateIds)
  return issued.records.map((record, index) => {
    const secret = issued.secrets[index]
    if (secret === undefined) throw new Error(`fixtures: record ${index} has no generated document`)
    return {
      chainId: chain.genesis.chainId,
      certificateId: decoded.certificateIds[index]!,
      record,
      salt: secret.salt,
      issuance: {
        txId: decoded.id,
        signer: issued.tx.signer,
        key: issued.tx.key,
        signature: issued.tx.sig,
        expiresAt: issued.tx.body.expiresAt,
        count: issued.records.length,
        index,
        proof: proofs[index]!,
      },
      height,
    }
  })
}

// ---- ledger -------------------------------------------------------------------------------

export interface OpenedLedger {
  readonly ledger: Ledger
  readonly dir: string
  /** Closes the ledger (if still open) and deletes its directory. Safe to call twice. */
  cleanup(): Promise<void>
}

/** Opens a ledger for `chain` in a fresh temporary directory (or `dir`). Call `cleanup()` after. */
export async function openLedger(chain: TestChain, opts: { dir?: string; verifier?: SignatureBatchVerifier } = {}): Promise<OpenedLedger> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'certchain-ledger-')))
  const ledger = await Ledger.open(dir, chain.genesis, opts.verifier ? { verifier: opts.verifier } : {})
  let done = false
  return {
    ledger,
    dir,
    async cleanup() {
      if (done) return
      done = true
      await ledger.close().catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A fresh empty temporary directory (the caller deletes it). */
export function makeTempDir(prefix = 'certchain-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

/**
 * The commit that finalizes `block` on the test chain: the single validator's real precommit
 * signature over `voteSignBytes(chainId, 'precommit', height, round, blockHash)`.
 */
export function commitFor(chain: TestChain, block: Block, round = 0): Commit {
  const hash = blockHash(block.header)
  const { height } = block.header
  const sig = sign(chain.validatorKey.secretKey, voteSignBytes(chain.genesis.chainId, 'precommit', height, round, hash))
  return { height, round, blockHash: hash, signatures: [{ validator: chain.proposer, sig }] }
}

/** Commits executed (or proposed) block writes with a real commit for their block; returns the commit. */
export async function commitWrites(ledger: Ledger, chain: TestChain, writes: BlockWrites, round = 0): Promise<Commit> {
  const commit = commitFor(chain, writes.block, round)
  await ledger.commitBlock(writes, commit)
  return commit
}

/**
 * Proposes a block from the given transactions at `time` (default now) and commits it with a
 * real single-validator commit. Returns the proposal, including the transactions it left out and why.
 */
export async function commitTxs(
  ledger: Ledger,
  chain: TestChain,
  txs: readonly (Bytes | BuiltTx | DecodedTx)[],
  time: Millis = Date.now(),
): Promise<ProposedBlock> {
  const decoded = txs.map((t) => ('signBytes' in t ? t : decode(chain, t)))
  const proposed = await ledger.proposeBlock(decoded, time, chain.proposer)
  await commitWrites(ledger, chain, proposed.writes)
  return proposed
}

// ---- assertions ---------------------------------------------------------------------------

/**
 * The code of the CertchainError `fn` throws, or undefined when it does not throw. Any other
 * error is re-thrown, so a crash never passes for a rejection.
 */
export function thrownCode(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof CertchainError) return err.code
    throw err
  }
  return undefined
}

// ---- governance ---------------------------------------------------------------------------

/** A validator that signs governance transactions in tests. */
export interface TestValidator {
  readonly id: string
  readonly key: KeyPair
}

/** The test chain's own validator (validator-1). */
export function chainValidator(chain: TestChain): TestValidator {
  return { id: chain.proposer, key: chain.validatorKey }
}

/**
 * A test chain with `count` validators: validator-1 (the chain's proposer) and generated
 * validator-2…N. Their keys are returned in id order.
 */
export function makeMultiValidatorChain(count: number, opts: TestChainOptions = {}): { chain: TestChain; validators: TestValidator[] } {
  const extra = Array.from({ length: count - 1 }, (_, i) => ({ id: `validator-${i + 2}`, key: generateKeyPair() }))
  const chain = makeTestChain({
    ...opts,
    edit: (g) => {
      for (const v of extra) g.validators.push({ id: v.id, name: v.id, publicKey: toHex(v.key.publicKey), peerId: `12D3KooWTest${v.id}` })
      opts.edit?.(g)
    },
  })
  return { chain, validators: [chainValidator(chain), ...extra] }
}

function signedBy(chain: TestChain, unsigned: UnsignedTx, key: KeyPair, opts: TxOptions): BuiltTx {
  return signEncode(chain, { ...unsigned, key: opts.key ?? key.publicKey }, opts.signWith ?? key, opts.chainId)
}

export function proposeTx(chain: TestChain, by: TestValidator, action: GovAction, opts: TxOptions = {}): BuiltTx {
  const body = { action, ...(opts.note === undefined ? {} : { note: opts.note }), expiresAt: expiresAt(opts) }
  return signedBy(chain, { kind: 'Propose', signer: by.id, key: by.key.publicKey, body }, by.key, opts)
}

export function voteTx(chain: TestChain, by: TestValidator, proposal: number, approve: boolean, opts: TxOptions = {}): BuiltTx {
  return signedBy(chain, { kind: 'Vote', signer: by.id, key: by.key.publicKey, body: { proposal, approve, expiresAt: expiresAt(opts) } }, by.key, opts)
}

export function issuerKeysTx(
  chain: TestChain,
  issuerId: string,
  change: { add?: Bytes[]; retire?: Bytes[]; compromised?: { key: Bytes; since: Millis }[] },
  opts: TxOptions = {},
): BuiltTx {
  return build(chain, { kind: 'UpdateIssuerKeys', signer: issuerId, body: { ...change, expiresAt: expiresAt(opts) } }, opts)
}

/** A vote of `by` signed for real, for evidence. */
export function signedVote(chain: TestChain, by: TestValidator, height: number, round: number, hash: Bytes | null, type: VoteType = 'prevote'): Vote {
  const sig = sign(by.key.secretKey, voteSignBytes(chain.genesis.chainId, type, height, round, hash))
  return { type, height, round, blockHash: hash, validator: by.id, sig }
}

export function evidenceTx(chain: TestChain, reporter: TestValidator, first: Vote, second: Vote, opts: TxOptions = {}): BuiltTx {
  const body = { first, second, expiresAt: expiresAt(opts) }
  return signedBy(chain, { kind: 'ReportEquivocation', signer: reporter.id, key: reporter.key.publicKey, body }, reporter.key, opts)
}
