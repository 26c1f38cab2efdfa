import { rm } from 'node:fs/promises'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeCanonical } from '../../../src/core/encoding.js'
import { DEFAULT_SNAPSHOT_LIMITS, type Ledger } from '../../../src/ledger/index.js'
import { trustFromGenesis } from '../../../src/light/index.js'
import { SnapshotFiles } from '../../../src/node/snapshots.js'
import { SnapshotServer, StateSync, type StateSyncNetwork } from '../../../src/node/statesync.js'
import { P2PError } from '../../../src/p2p/index.js'
import { makeTempDir, openLedger, type OpenedLedger } from '../../helpers/fixtures.js'
import { makeProofChain, type ProofChain } from '../../helpers/proof-chain.js'

const PEER = 'peer-1'

/** One serving peer; `chunkFault(n)` may throw instead of answering its n-th chunk request. */
function network(server: SnapshotServer, chunkFault: (n: number) => void): StateSyncNetwork & { bans: string[] } {
  let chunks = 0
  const bans: string[] = []
  return {
    bans,
    peers: () => (bans.includes(PEER) ? [] : [PEER]),
    request: async (_peer, request) => {
      const r = decodeCanonical(request, 1024, 'MALFORMED_ENCODING') as { type: string }
      if (r.type === 'chunk') chunkFault(chunks++)
      return server.handle(request)
    },
    ban: (peer) => {
      bans.push(peer)
      return Promise.resolve()
    },
  }
}

describe('state sync fetching', () => {
  let pc: ProofChain
  let dir: string
  let server: SnapshotServer
  let chunkCount: number
  const opened: OpenedLedger[] = []

  beforeAll(async () => {
    pc = await makeProofChain({ small: true })
    dir = await makeTempDir()
    const files = await SnapshotFiles.open(dir, 1, DEFAULT_SNAPSHOT_LIMITS)
    // Small chunks, so the snapshot has several and a fault can hit one in the middle.
    chunkCount = (await files.take(pc.ledger, 4096)).manifest.chunks.length
    server = new SnapshotServer({ ledger: pc.ledger, files: () => files })
  }, 60_000)
  afterAll(async () => {
    for (const o of opened) await o.cleanup()
    await pc.opened.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  const join = async (net: StateSyncNetwork, discoveryTimeoutMs: number, fetchers = 4): Promise<{ installed: boolean; target: Ledger }> => {
    const o = await openLedger(pc.chain)
    opened.push(o)
    const sync = new StateSync(
      { fetchers, discoveryTimeoutMs, requestTimeoutMs: 5_000, limits: DEFAULT_SNAPSHOT_LIMITS },
      { ledger: o.ledger, network: net, trust: trustFromGenesis(pc.chain.genesisJson), logger: pino({ level: 'silent' }) },
    )
    return { installed: await sync.run(), target: o.ledger }
  }

  it('a peer over its serving budget (P2P_BUSY) is asked again after a pause, and the install completes', async () => {
    // Every other chunk request is refused busy, as a serving peer does once its 8 MiB/s budget is drawn.
    const net = network(server, (n) => {
      if (n % 2 === 0) throw new P2PError('P2P_BUSY', 'over budget')
    })
    const { installed, target } = await join(net, 20_000)
    expect(installed).toBe(true)
    expect(target.head).toEqual(pc.ledger.head)
    expect(net.bans).toEqual([])
  }, 60_000)

  it('a peer whose every chunk is corrupted is banned once, however many fetchers caught it at once', async () => {
    const net = network(server, () => undefined)
    const corrupting: StateSyncNetwork = {
      ...net,
      request: async (peer, request, options) => {
        const answer = await net.request(peer, request, options)
        if ((decodeCanonical(request, 1024, 'MALFORMED_ENCODING') as { type: string }).type !== 'chunk') return answer
        const bad = answer.slice()
        bad[bad.length >> 1]! ^= 0xff
        return bad
      },
    }
    const { installed } = await join(corrupting, 1_500)
    expect(installed).toBe(false)
    expect(net.bans).toEqual([PEER])
  }, 60_000)

  it('an abandoned install is wiped: the ledger is empty again and replays the chain from genesis', async () => {
    expect(chunkCount).toBeGreaterThan(4)
    // The peer serves every chunk but the last, which it fails for good (not busy).
    const net = network(server, (n) => {
      if (n >= chunkCount - 1) throw new P2PError('P2P_PEER_UNREACHABLE', 'gone')
    })
    // One chunk at a time, so the first is applied before the last fails.
    const { installed, target } = await join(net, 1_500, 1)
    expect(installed).toBe(false)
    expect(target.head.height).toBe(0)
    // Block sync from genesis then replays the whole chain to the same state (a certificate left
    // over from the abandoned install would make its issuance fail as a duplicate).
    for (let h = 1; h <= pc.ledger.head.height; h++) {
      const { block, commit } = (await pc.ledger.getBlock(h))!
      await target.commitBlock(await target.executeBlock(block), commit)
    }
    expect(target.head).toEqual(pc.ledger.head)
  }, 60_000)
})
