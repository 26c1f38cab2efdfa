/**
 * A certchain testnet running in a {@link NetnsCluster}: one namespace per node, standard ports,
 * `certchain start` per node. Everything the scenarios assert goes through the nodes' RPC.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { afterAll, beforeEach } from 'vitest'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareIssuance, prepareRevocation, type IssuerIdentity, type PreparedIssuance } from '../../src/client/index.js'
import { fromHex, toHex } from '../../src/core/bytes.js'
import { createTestnet, initHome, type TestnetManifest } from '../../src/node/home.js'
import { DEFAULT_CONFIG, DEFAULT_P2P_PORT, DEFAULT_RPC_PORT, type NodeConfig } from '../../src/node/config.js'
import { loadKeyFile } from '../../src/node/keys.js'
import { RpcClient, RpcError, type TxStatus } from '../../src/rpc/index.js'
import { NetnsCluster, WaitAbort, waitFor } from './netns.js'

export const DAY_MS = 86_400_000

/** Consensus timing of the scenario clusters: short rounds, a block a second when idle. */
export const CLUSTER_CONSENSUS: Partial<NodeConfig['consensus']> = {
  blockIntervalMs: 100,
  timeoutProposeMs: 1000,
  timeoutPrevoteMs: 500,
  timeoutPrecommitMs: 500,
  timeoutDeltaMs: 250,
  gossipIntervalMs: 1000,
  heartbeatIntervalMs: 1000,
}
const STATUS_BATCH = 1000

export interface NodeStatusView {
  readonly height: number
  readonly latestBlockHash: string
  readonly catchingUp: boolean
  readonly peers: number
  readonly validatorId: string | null
}

export interface BlockView {
  readonly height: number
  readonly hash: string
  readonly header: { readonly proposer: string; readonly prevHash: string }
  readonly commit: { readonly round: number; readonly signatures: readonly { readonly validator: string }[] }
}

export interface ChainOptions {
  readonly validators: number
  readonly observers: number
  readonly chainId: string
  readonly consensus: Partial<NodeConfig['consensus']>
  /** Nodes not started by create (start them later with {@link ClusterChain.start}). */
  readonly deferred?: readonly number[]
  /**
   * Nodes outside genesis (governance admits them later), after the testnet's nodes: a home each
   * (with a validator key when `validator`), the chain's genesis, every testnet node as bootstrap.
   * They are not started by create.
   */
  readonly outsiders?: readonly { readonly name: string; readonly validator: boolean }[]
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++
        results[index] = await fn(items[index]!)
      }
    }),
  )
  return results
}

export class ClusterChain {
  /** Set when the chain failed to finalize once; later scenarios then fail at once instead of waiting again. */
  private stalled: string | undefined

  private constructor(
    readonly cluster: NetnsCluster,
    readonly manifest: TestnetManifest,
    readonly out: string,
    /** Validator ids by node index (null for members). */
    readonly validatorIds: readonly (string | null)[],
    /** Validator ids in proposer-rotation order: sorted by public key; proposer(h, r) = order[(h + r) mod n]. */
    readonly proposerOrder: readonly string[],
  ) {}

  static async create(options: ChainOptions): Promise<ClusterChain> {
    const count = options.validators + options.observers
    const outsiders = options.outsiders ?? []
    const out = await mkdtemp(join(tmpdir(), 'certchain-cluster-'))
    const cluster = await NetnsCluster.create({ nodes: count + outsiders.length, logDir: join(out, 'logs') })
    try {
      const addresses = cluster.addresses()
      const testnet = await createTestnet({
        validators: options.validators,
        observers: options.observers,
        out: join(out, 'net'),
        chainId: options.chainId,
        hosts: addresses.slice(0, count),
        consensus: options.consensus,
      })
      const extra = await Promise.all(
        outsiders.map(async (o, k) => {
          const host = addresses[count + k]!
          const home = join(out, 'net', o.name)
          const init = await initHome(home, {
            moniker: o.name,
            validator: o.validator,
            genesisFile: join(out, 'net', 'genesis.json'),
            config: {
              rpc: { ...DEFAULT_CONFIG.rpc, host: '0.0.0.0', port: DEFAULT_RPC_PORT },
              p2p: { ...DEFAULT_CONFIG.p2p, listen: [`/ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT}`], bootstrap: testnet.nodes.map((n) => n.p2p) },
              consensus: { ...DEFAULT_CONFIG.consensus, ...options.consensus },
            },
          })
          return {
            name: o.name,
            home,
            rpcUrl: `http://${host}:${DEFAULT_RPC_PORT}`,
            p2p: `/ip4/${host}/tcp/${DEFAULT_P2P_PORT}/p2p/${init.peerId}`,
            peerId: init.peerId,
            // Not a genesis validator: helpers that list validators must not count it.
            validator: false,
          }
        }),
      )
      const manifest: TestnetManifest = { ...testnet, nodes: [...testnet.nodes, ...extra] }
      const genesis = JSON.parse(await readFile(join(out, 'net', 'genesis.json'), 'utf8')) as {
        validators: { id: string; publicKey: string }[]
      }
      // createTestnet names validator i "val-i"; members have no validator id.
      const validatorIds = manifest.nodes.map((n, i) => (n.validator ? `val-${i}` : null))
      const proposerOrder = [...genesis.validators]
        .sort((a, b) => Buffer.compare(Buffer.from(a.publicKey, 'hex'), Buffer.from(b.publicKey, 'hex')))
        .map((v) => v.id)
      const chain = new ClusterChain(cluster, manifest, out, validatorIds, proposerOrder)
      const deferred = new Set([...(options.deferred ?? []), ...extra.map((_, k) => count + k)])
      await Promise.all(chain.all.filter((i) => !deferred.has(i)).map((i) => chain.start(i)))
      return chain
    } catch (err) {
      await cluster.destroy()
      await rm(out, { recursive: true, force: true })
      throw err
    }
  }

  get size(): number {
    return this.manifest.nodes.length
  }

  get chainId(): string {
    return this.manifest.chainId
  }

  /** Node indexes of the validators / of the members. */
  get validators(): number[] {
    return this.manifest.nodes.flatMap((n, i) => (n.validator ? [i] : []))
  }

  get members(): number[] {
    return this.manifest.nodes.flatMap((n, i) => (n.validator ? [] : [i]))
  }

  get all(): number[] {
    return this.manifest.nodes.map((_, i) => i)
  }

  url(i: number): string {
    return this.manifest.nodes[i]!.rpcUrl
  }

  client(i: number, timeoutMs = 5000): RpcClient {
    return new RpcClient(this.url(i), { timeoutMs })
  }

  nodeOf(validatorId: string): number {
    const i = this.validatorIds.indexOf(validatorId)
    if (i < 0) throw new Error(`no node runs validator ${validatorId}`)
    return i
  }

  /**
   * Starts node i (`certchain start --home … --log-level warn` in its namespace; CLUSTER_LOG_LEVEL
   * overrides the level) and waits for /healthz.
   */
  async start(i: number): Promise<void> {
    const level = process.env.CLUSTER_LOG_LEVEL ?? 'warn'
    const proc = this.cluster.spawn(i, ['start', '--home', this.manifest.nodes[i]!.home, '--log-level', level])
    await this.waitHealthy(i, proc)
  }

  /** Restarts node i with the same command and waits for /healthz. */
  async restart(i: number): Promise<void> {
    const proc = await this.cluster.restart(i)
    await this.waitHealthy(i, proc)
  }

  private async waitHealthy(i: number, proc: { running(): boolean; output(): string }): Promise<void> {
    await waitFor(
      `${this.manifest.nodes[i]!.name} /healthz`,
      async () => {
        if (!proc.running()) throw new WaitAbort(`${this.manifest.nodes[i]!.name} exited before /healthz answered:\n${proc.output().slice(-4000)}`)
        const res = await fetch(`${this.url(i)}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined)
        return res?.ok === true
      },
      { timeoutMs: 30_000, detail: () => proc.output().slice(-4000) },
    )
  }

  async identity(issuerId = 'kr.seoul.jongno'): Promise<IssuerIdentity> {
    return { issuer: issuerId, key: await loadKeyFile(join(this.out, 'net', 'issuers', `${issuerId}.json`)) }
  }

  // ---- reading the chain (RPC only) ----

  async status(i: number, timeoutMs = 2000): Promise<NodeStatusView | undefined> {
    try {
      return await this.client(i, timeoutMs).status()
    } catch {
      return undefined
    }
  }

  async heights(nodes: readonly number[] = this.all): Promise<(number | undefined)[]> {
    return Promise.all(nodes.map(async (i) => (await this.status(i))?.height))
  }

  async block(i: number, height: number | 'latest', timeoutMs = 10_000): Promise<BlockView> {
    return (await this.client(i, timeoutMs).block(height)) as unknown as BlockView
  }

  /** One line per node: name, height, peers, catching up — for failure messages. */
  async describe(): Promise<string> {
    const lines = await Promise.all(
      this.all.map(async (i) => {
        const s = await this.status(i)
        const name = this.manifest.nodes[i]!.name
        return s
          ? `${name}: height ${s.height} peers ${s.peers} catchingUp ${s.catchingUp} hash ${s.latestBlockHash.slice(0, 12)}`
          : `${name}: unreachable${this.cluster.running(i) ? '' : ' (not running)'}`
      }),
    )
    return lines.join('\n')
  }

  /** The last lines of every node's output (for failure messages). */
  logTails(lines = 30): string {
    return this.all
      .map((i) => `---- ${this.manifest.nodes[i]!.name}\n${this.cluster.output(i).split('\n').slice(-lines).join('\n')}`)
      .join('\n')
  }

  /** Waits until every node in `nodes` reports a height of at least `target`. */
  async waitHeight(nodes: readonly number[], target: number | (() => Promise<number>), what: string, timeoutMs = 60_000): Promise<number[]> {
    let describe = ''
    return waitFor(
      what,
      async () => {
        const t = typeof target === 'number' ? target : await target()
        const hs = await this.heights(nodes)
        describe = `target ${t}, heights ${JSON.stringify(hs)}`
        return hs.every((h) => h !== undefined && h >= t) ? (hs as number[]) : undefined
      },
      { timeoutMs, intervalMs: 200, detail: () => describe },
    )
  }

  /** Waits until each of `nodes` gets `delta` blocks past its current height (first seen height if unreachable now). */
  async waitAdvance(nodes: readonly number[], delta: number, what: string, timeoutMs = 30_000): Promise<number[]> {
    const start = await this.heights(nodes)
    let last: (number | undefined)[] = start
    return waitFor(
      what,
      async () => {
        last = await this.heights(nodes)
        last.forEach((h, k) => (start[k] ??= h))
        return last.every((h, k) => h !== undefined && h >= start[k]! + delta) ? (last as number[]) : undefined
      },
      { timeoutMs, intervalMs: 200, detail: () => `heights at start ${JSON.stringify(start)}, now ${JSON.stringify(last)}` },
    )
  }

  /**
   * Fails at once when an earlier scenario found the chain stalled; otherwise waits (up to
   * timeoutMs) until every node in `nodes` finalizes at least one more block.
   */
  async requireLive(nodes: readonly number[] = this.all, timeoutMs = 30_000): Promise<void> {
    if (this.stalled) throw new Error(`the chain stopped finalizing earlier; not retrying:\n${this.stalled}`)
    try {
      await this.waitAdvance(nodes, 1, 'the chain to finalize a block', timeoutMs)
    } catch (err) {
      this.stalled = `${(err as Error).message}\n${await this.describe()}\n${this.logTails(15)}`
      throw new Error(this.stalled)
    }
  }

  /** Waits until `node` is within one block of the highest height among `others`. */
  async waitCaughtUp(node: number, others: readonly number[], what: string, timeoutMs = 60_000): Promise<number> {
    let detail = ''
    return waitFor(
      what,
      async () => {
        const [h, ...rest] = await this.heights([node, ...others])
        detail = `${node}: ${h}, others ${JSON.stringify(rest)}`
        const top = Math.max(...rest.map((x) => x ?? 0))
        return h !== undefined && h >= top - 1 && h > 0 ? h : undefined
      },
      { timeoutMs, intervalMs: 200, detail: () => detail },
    )
  }

  /** Every (height, node) whose block hash differs from the first node's, for heights from..to. */
  async blockHashMismatches(nodes: readonly number[], from: number, to: number): Promise<string[]> {
    const heights = Array.from({ length: Math.max(0, to - from + 1) }, (_, k) => from + k)
    const rows = await mapLimit(heights, 8, async (h) => {
      const hashes = await Promise.all(nodes.map(async (i) => (await this.block(i, h)).hash))
      return hashes.every((x) => x === hashes[0]) ? undefined : `height ${h}: ${nodes.map((i, k) => `${i}=${hashes[k]!.slice(0, 16)}`).join(' ')}`
    })
    return rows.filter((r): r is string => r !== undefined)
  }

  /** Statuses of `ids` on node i, through POST /v1/certificates/status in batches. */
  async certificateStatuses(i: number, ids: readonly string[]): Promise<Map<string, string>> {
    const result = new Map<string, string>()
    const client = this.client(i, 30_000)
    for (let k = 0; k < ids.length; k += STATUS_BATCH) {
      const { results } = await client.certificateStatuses(ids.slice(k, k + STATUS_BATCH))
      for (const r of results) result.set(r.id, r.status)
    }
    return result
  }

  /** GET /v1/evidence on node i: the list of equivocation evidence it holds. */
  async evidence(i: number): Promise<unknown[]> {
    const res = await fetch(`${this.url(i)}/v1/evidence`, { signal: AbortSignal.timeout(10_000) })
    const text = await res.text()
    if (!res.ok) throw new Error(`GET ${this.url(i)}/v1/evidence answered HTTP ${res.status}: ${text.slice(0, 300)}`)
    const body = JSON.parse(text) as unknown
    if (Array.isArray(body)) return body as unknown[]
    if (body && typeof body === 'object') {
      const list = Object.values(body).find(Array.isArray)
      if (list) return list as unknown[]
    }
    throw new Error(`GET /v1/evidence: no list in ${text.slice(0, 300)}`)
  }

  async destroy(options: { keep?: boolean } = {}): Promise<void> {
    const keep = options.keep || process.env.CLUSTER_KEEP === '1'
    if (keep) {
      console.error(`cluster ${this.cluster.id}: keeping ${this.out} (node logs in ${join(this.out, 'logs')})\n${this.logTails(40)}`)
    }
    await this.cluster.destroy()
    if (!keep) await rm(this.out, { recursive: true, force: true })
  }
}

/**
 * Registers a suite's teardown: stops the load and destroys the cluster, keeping its directory
 * (node logs) when any test of the suite failed, so the failure can be read afterwards.
 */
export function tearDownAfterSuite(resources: () => { chain?: ClusterChain; load?: Load }): void {
  let failed = false
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      failed = true
    })
  })
  afterAll(async () => {
    const { chain, load } = resources()
    await load?.stop()
    await chain?.destroy({ keep: failed })
  }, 60_000)
}

// ---- load ------------------------------------------------------------------------------------

export interface Acknowledged {
  readonly height: number
  readonly node: number
}

export interface LoadStats {
  submitted: number
  committed: number
  pending: number
  unavailable: number
  rejected: Record<string, number>
  errors: Record<string, number>
}

/**
 * Issues certificates through the RPC with `?wait=commit`, round-robin over target nodes, and
 * remembers every certificate a node acknowledged as committed (and the statuses it should have).
 */
export class Load {
  /** Certificate id (hex) → the commit the RPC acknowledged. */
  readonly acknowledged = new Map<string, Acknowledged>()
  /** Certificate id (hex) → the status every node must report. */
  readonly expected = new Map<string, string>()
  /** Committed issuances, to build certificate files. */
  readonly issuances: { prepared: PreparedIssuance; height: number; documents: Buffer[] }[] = []
  readonly stats: LoadStats = { submitted: 0, committed: 0, pending: 0, unavailable: 0, rejected: {}, errors: {} }
  private counter = 0
  private running: Promise<void>[] = []
  private stopping = false

  constructor(
    private readonly chain: ClusterChain,
    private readonly identity: IssuerIdentity,
  ) {}

  get highestAcknowledged(): number {
    let h = 0
    for (const a of this.acknowledged.values()) h = Math.max(h, a.height)
    return h
  }

  /** Prepares and submits one issuance of `records` certificates to node `target`; the RPC's answer. */
  async issueOnce(target: number, records = 2): Promise<TxStatus | undefined> {
    const now = Date.now()
    const documents = Array.from({ length: records }, (_, k) => Buffer.from(`cluster doc ${now} ${this.counter++} ${k} ${Math.random()}`))
    const prepared = prepareIssuance(
      this.chain.chainId,
      this.identity,
      documents.map((document) => ({ type: 'kr.residence', document, validFrom: now - 60_000, validUntil: now + DAY_MS })),
    )
    this.stats.submitted++
    let result: TxStatus
    try {
      result = await this.chain.client(target, 45_000).submitTx(prepared.bytes, { wait: 'commit' })
    } catch (err) {
      if (err instanceof RpcError) {
        if (err.code === 'UNAVAILABLE') this.stats.unavailable++
        else if (err.status >= 400 && err.status < 500) this.stats.rejected[err.code] = (this.stats.rejected[err.code] ?? 0) + 1
        else this.stats.errors[err.code] = (this.stats.errors[err.code] ?? 0) + 1
      } else {
        const name = (err as Error).name
        this.stats.errors[name] = (this.stats.errors[name] ?? 0) + 1
      }
      return undefined
    }
    if (result.status === 'committed') {
      this.stats.committed++
      for (const id of prepared.certificateIds) {
        this.acknowledged.set(toHex(id), { height: result.height, node: target })
        this.expected.set(toHex(id), 'valid')
      }
      this.issuances.push({ prepared, height: result.height, documents })
    } else if (result.status === 'pending') this.stats.pending++
    else if (result.status === 'rejected') this.stats.rejected[result.code] = (this.stats.rejected[result.code] ?? 0) + 1
    return result
  }

  /** Issues `count` transactions with `concurrency` in flight, round-robin over `targets`. */
  async issue(count: number, targets: readonly number[], concurrency = 16, records = 2): Promise<TxStatus[]> {
    const results: TxStatus[] = []
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const k = next++
          const r = await this.issueOnce(targets[k % targets.length]!, records)
          if (r) results.push(r)
        }
      }),
    )
    return results
  }

  /** Background load until {@link stop}: `concurrency` workers, round-robin over `targets`. */
  start(targets: readonly number[], concurrency = 4, records = 2): void {
    this.stopping = false
    let k = 0
    for (let w = 0; w < concurrency; w++) {
      this.running.push(
        (async () => {
          while (!this.stopping) {
            const r = await this.issueOnce(targets[k++ % targets.length]!, records)
            // Do not spin against a node that is down.
            if (!r) await sleep(200)
          }
        })(),
      )
    }
  }

  /** Stops the background load; waits for the requests in flight (each at most the RPC's wait). */
  async stop(): Promise<void> {
    this.stopping = true
    await Promise.all(this.running)
    this.running = []
  }

  /** Revokes `ids` (hex) through node `target` and waits for the commit; they must then read "revoked". */
  async revoke(ids: readonly string[], target: number): Promise<TxStatus> {
    const signed = prepareRevocation(
      this.chain.chainId,
      this.identity,
      ids.map((id) => fromHex(id, 'id', 32)),
      'issued_in_error',
    )
    const result = await this.chain.client(target, 45_000).submitTx(signed.bytes, { wait: 'commit' })
    if (result.status === 'committed') for (const id of ids) this.expected.set(id, 'revoked')
    return result
  }

  summary(): string {
    return `load: ${JSON.stringify(this.stats)}, acknowledged certificates ${this.acknowledged.size}, highest acknowledged height ${this.highestAcknowledged}`
  }
}
