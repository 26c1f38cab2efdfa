import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Bytes } from '../../../src/core/bytes.js'
import { decodeCanonical, encode } from '../../../src/core/encoding.js'
import { BlockSync, DEFAULT_SYNC_OPTIONS, type ConsensusEngine, type SyncNetwork } from '../../../src/consensus/index.js'
import { Ledger } from '../../../src/ledger/index.js'
import { makeProofChain, type ProofChain } from '../../helpers/proof-chain.js'

/** Pruning keeps headers, commits, indexes and trees: only block bodies go. */
describe('pruning old block bodies', () => {
  let pc: ProofChain
  let proofsBefore: Bytes[]
  let keepFrom: number

  beforeAll(async () => {
    pc = await makeProofChain({ small: true })
    const ledger = pc.ledger
    proofsBefore = await Promise.all(pc.certificates.map(async ({ file }) => encode(await ledger.proof(file.certificateId))))
    keepFrom = ledger.head.height - 2
    // Two steps: the limit bounds one batch, the second call continues where the first stopped.
    expect(await ledger.pruneBlocks(keepFrom, 5)).toBe(6)
    expect(await ledger.pruneBlocks(keepFrom, 1000)).toBe(keepFrom)
  }, 60_000)
  afterAll(() => pc.opened.cleanup())

  it('drops bodies below the base and keeps every header and commit', async () => {
    const { ledger } = pc
    expect(ledger.base).toBe(keepFrom)
    for (let h = 1; h <= ledger.head.height; h++) {
      const block = await ledger.getBlock(h)
      const signed = await ledger.getSignedHeader(h)
      expect(signed?.header.height).toBe(h)
      if (h < keepFrom) expect(block).toBeUndefined()
      else expect(block?.block.header).toEqual(signed?.header)
    }
    // Nothing more to do: the base stays.
    expect(await ledger.pruneBlocks(keepFrom, 1000)).toBe(keepFrom)
  })

  it('every certificate keeps the same proof and status', async () => {
    const after = await Promise.all(pc.certificates.map(async ({ file }) => encode(await pc.ledger.proof(file.certificateId))))
    expect(after).toEqual(proofsBefore)
    const states = await pc.ledger.getCertificates(pc.certificates.map((c) => c.file.certificateId))
    expect(states.every((e) => e !== undefined)).toBe(true)
  })

  it('block sync reports its base and serves no pruned height', async () => {
    const server = new BlockSync(DEFAULT_SYNC_OPTIONS, {
      ledger: pc.ledger,
      engine: undefined as unknown as ConsensusEngine,
      network: undefined as unknown as SyncNetwork,
      logger: pino({ level: 'silent' }),
      maxBlockBytes: 1 << 22,
    })
    const status = decodeCanonical(await server.handle(encode({ type: 'status' })), 1024) as { height: number; base: number }
    expect(status).toEqual({ height: pc.ledger.head.height, base: keepFrom })
    const pruned = decodeCanonical(await server.handle(encode({ type: 'blocks', from: 1, count: 10 })), 1 << 24) as { blocks: Bytes[]; base: number }
    expect(pruned).toEqual({ blocks: [], base: keepFrom })
    const kept = decodeCanonical(await server.handle(encode({ type: 'blocks', from: keepFrom, count: 10 })), 1 << 24) as { blocks: Bytes[] }
    expect(kept.blocks).toHaveLength(pc.ledger.head.height - keepFrom + 1)
  })

  it('the base survives a restart', async () => {
    await pc.ledger.close()
    const reopened = await Ledger.open(pc.opened.dir, pc.chain.genesis)
    try {
      expect(reopened.base).toBe(keepFrom)
      expect(await reopened.getBlock(1)).toBeUndefined()
      expect((await reopened.getSignedHeader(1))?.header.height).toBe(1)
    } finally {
      await reopened.close()
    }
  })
})
