import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { prepareIssuance, type IssuerIdentity } from '../../src/client/index.js'
import { verifyCommit } from '../../src/consensus/index.js'
import { toHex } from '../../src/core/bytes.js'
import { parseGenesis } from '../../src/core/genesis.js'
import { Ledger } from '../../src/ledger/index.js'
import { createTestnet, type TestnetManifest } from '../../src/node/home.js'
import { loadKeyFile } from '../../src/node/keys.js'
import { RpcClient } from '../../src/rpc/index.js'
import { exited, freePort, runCli, spawnCli, waitForHttp } from '../helpers/process.js'

const DAY = 86_400_000

describe('durability: a SIGKILLed node reopens at its last committed block', () => {
  let dir: string
  let manifest: TestnetManifest
  let home: string
  let identity: IssuerIdentity

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-crash-'))
    // Short consensus timeouts: a kill can land after the signer guard made a signature durable
    // but before the WAL recorded the message; the restarted validator then cannot sign that step
    // again with other bytes and must time out into the next round. With the default timeouts
    // (3 s propose) every restart below would be killed before that, and nothing would commit.
    manifest = await createTestnet({
      validators: 1,
      out: dir,
      chainId: 'certchain-crash',
      // A free p2p port: other test files run nodes on the default one at the same time.
      p2pBasePort: await freePort(),
      consensus: { blockIntervalMs: 5, timeoutProposeMs: 200, timeoutPrevoteMs: 100, timeoutPrecommitMs: 100, timeoutDeltaMs: 50 },
    })
    home = manifest.nodes[0]!.home
    const issuer = manifest.issuers.find((i) => i.id === 'kr.seoul.jongno')!
    identity = { issuer: issuer.id, key: await loadKeyFile(issuer.keyFile) }
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('loses no acknowledged certificate and half-applies no block across kills mid-load', async () => {
    const acknowledged = new Map<string, number>()
    let highestAcknowledged = 0
    // Kill at different moments of the load: early, mid-stream, later.
    for (const killAfterMs of [300, 800, 1500]) {
      const port = await freePort()
      const child = spawnCli(['start', '--home', home, '--rpc-port', String(port), '--log-level', 'warn'])
      const url = `http://127.0.0.1:${port}`
      await waitForHttp(`${url}/healthz`, child)
      const client = new RpcClient(url, { timeoutMs: 5000 })
      const { chainId } = await client.status()
      let loading = true
      const worker = async (): Promise<void> => {
        while (loading) {
          const now = Date.now()
          const prepared = prepareIssuance(
            chainId,
            identity,
            Array.from({ length: 20 }, (_, i) => ({ type: 'kr.residence', document: Buffer.from(`doc ${now} ${i} ${Math.random()}`), validFrom: now, validUntil: now + DAY })),
          )
          try {
            const result = await client.submitTx(prepared.bytes, { wait: 'commit' })
            if (result.status === 'committed') {
              for (const id of prepared.certificateIds) acknowledged.set(toHex(id), result.height)
              highestAcknowledged = Math.max(highestAcknowledged, result.height)
            }
          } catch {
            return // the node was killed under us
          }
        }
      }
      const workers = Array.from({ length: 8 }, worker)
      await new Promise((r) => setTimeout(r, killAfterMs))
      child.kill('SIGKILL')
      loading = false
      await exited(child)
      await Promise.all(workers)
    }
    expect(acknowledged.size).toBeGreaterThan(0)

    const genesis = parseGenesis(JSON.parse(await readFile(join(home, 'genesis.json'), 'utf8')))
    const ledger = await Ledger.open(join(home, 'data', 'chain'), genesis)
    const replayDir = await mkdtemp(join(tmpdir(), 'certchain-replay-'))
    const replay = await Ledger.open(replayDir, genesis)
    try {
      expect(ledger.head.height).toBeGreaterThanOrEqual(highestAcknowledged)
      const ids = [...acknowledged.keys()]
      const entries = await ledger.getCertificates(ids.map((h) => Buffer.from(h, 'hex')))
      entries.forEach((entry, i) => {
        expect(entry, `certificate ${ids[i]} was acknowledged but is missing`).toBeDefined()
        expect(entry!.height).toBe(acknowledged.get(ids[i]!))
      })
      // Every stored block re-executes on an empty ledger to the same state: nothing half-applied.
      for (let h = 1; h <= ledger.head.height; h++) {
        const fb = await ledger.getBlock(h)
        expect(fb, `block ${h} missing below head ${ledger.head.height}`).toBeDefined()
        // and each is stored with a commit that proves it final
        expect(verifyCommit(genesis.chainId, await ledger.validatorsAt(h), fb!.block, fb!.commit)).toBeUndefined()
        await replay.commitBlock(await replay.executeBlock(fb!.block), fb!.commit)
      }
      expect(toHex(replay.head.stateRoot)).toBe(toHex(ledger.head.stateRoot))
      expect(replay.head.certificateCount).toBe(ledger.head.certificateCount)
      expect(toHex(replay.head.hash)).toBe(toHex(ledger.head.hash))
    } finally {
      await ledger.close()
      await replay.close()
      await rm(replayDir, { recursive: true, force: true })
    }
  }, 60_000)

  it('refuses a second process on the same data directory with DATA_DIR_LOCKED', async () => {
    const port = await freePort()
    const first = spawnCli(['start', '--home', home, '--rpc-port', String(port), '--log-level', 'warn'])
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`, first)
      const second = await runCli(['start', '--home', home, '--rpc-port', String(await freePort())])
      // a file error, like a port in use: exit 2
      expect(second.code).toBe(2)
      expect(second.stderr).toMatch(/DATA_DIR_LOCKED: data directory .* is in use by another certchain process/)
      expect(second.stderr).not.toMatch(/\n\s+at /) // one clear line, no stack trace
      // The first node is unharmed.
      const res = await fetch(`http://127.0.0.1:${port}/healthz`)
      expect(res.status).toBe(200)
    } finally {
      first.kill('SIGTERM')
      expect(await exited(first)).toBe(0)
    }
  })
})
