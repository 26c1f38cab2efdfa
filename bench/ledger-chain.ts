/** A one-validator chain driven through the Ledger directly, for the execution and storage benches. */
import { generateKeyPair, prepareIssuance, sign, toHex, type KeyPair, type PreparedIssuance } from '../src/index.js'
import { parseGenesis, voteSignBytes, type Genesis } from '../src/core/index.js'
import { blockHash } from '../src/core/block.js'
import type { Commit } from '../src/core/types.js'

export const ISSUER = 'kr.mois'
export const VALIDATOR = 'validator-1'
const DAY_MS = 24 * 60 * 60 * 1000

export interface BenchChain {
  readonly genesis: Genesis
  readonly issuer: KeyPair
  readonly validator: KeyPair
}

/** A one-validator, one-issuer chain whose blocks hold `maxBlockTxs` transactions of any size the params allow. */
export function benchChain(params: Record<string, number> = {}): BenchChain {
  const issuer = generateKeyPair()
  const validator = generateKeyPair()
  const genesis = parseGenesis({
    chainId: 'certchain-bench',
    genesisTime: new Date(Date.now() - DAY_MS).toISOString(),
    params: { maxBlockTxs: 20_000, maxRecordsPerTx: 5000, ...params },
    certificateTypes: [{ id: 'kr.residence', nameKo: '주민등록표 등본', nameEn: 'Resident registration certificate', validityDays: 90, authorities: [] }],
    issuers: [{ id: ISSUER, name: '행정안전부', publicKey: toHex(issuer.publicKey), types: ['kr.residence'] }],
    validators: [{ id: VALIDATOR, name: 'Bench validator', publicKey: toHex(validator.publicKey), peerId: '12D3KooWBenchValidator1' }],
    members: [],
  })
  return { genesis, issuer, validator }
}

/** `count` signed issuances of `records` fresh certificates each. */
export function issuances(chain: BenchChain, count: number, records: number): PreparedIssuance[] {
  const now = Date.now()
  const document = new Uint8Array(64)
  return Array.from({ length: count }, () =>
    prepareIssuance(
      chain.genesis.chainId,
      { issuer: ISSUER, key: chain.issuer },
      Array.from({ length: records }, () => ({ type: 'kr.residence', document, validFrom: now, validUntil: now + 90 * DAY_MS })),
      { ttlMs: 50 * 60 * 1000 },
    ),
  )
}

/** The single validator's precommit over a block: the commit a one-validator chain stores. */
export function commitOf(chain: BenchChain, block: { header: Parameters<typeof blockHash>[0] }): Commit {
  const hash = blockHash(block.header)
  const { height } = block.header
  return { height, round: 0, blockHash: hash, signatures: [{ validator: VALIDATOR, sig: sign(chain.validator.secretKey, voteSignBytes(chain.genesis.chainId, 'precommit', height, 0, hash)) }] }
}

