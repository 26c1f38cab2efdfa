/**
 * A cluster of Linux network namespaces for multi-node tests: every node gets its own network
 * stack and address, so each runs with the standard ports and real TCP between them.
 *
 * Layout of a cluster with run id ID (5 characters [a-z0-9]) and subnet 10.231.K.0/24:
 *
 *   namespace cc-br-ID   bridge br0, and one port per node (p0, p1, …) plus "host"
 *   namespace cc-ID-I    lo (up) and eth0 = 10.231.K.(I+2)/24, the other end of pI
 *   root namespace       ccIDh = 10.231.K.1/24, the other end of "host" (so the test process can
 *                        reach every node's RPC directly; removed by destroy)
 *
 * Nothing else is configured: no default route anywhere inside the cluster, no forwarding, so a
 * node can reach only its own loopback and the other addresses of the cluster's /24.
 *
 * Faults:
 * - isolate(i) / heal(i): the bridge-side port of node i goes down / up. The node is cut from
 *   everyone, the test process included (packets are silently dropped: real timeouts).
 * - partition(a, b) / healAll(): inside each node's namespace, every address of the other group
 *   gets a permanent neighbour (ARP) entry with a MAC address no interface has, so its frames are
 *   flooded by the bridge and dropped by every receiver: a silent partition — connects time out,
 *   established connections stall until a keepalive gives up — as when a WAN link fails. With
 *   { mode: 'unreachable' } an `unreachable` route is used instead: connects fail at once with
 *   EHOSTUNREACH, as when a router answers ICMP unreachable. Either way only iproute2 is needed
 *   (no tc, no netfilter), nodes of one group exchange no packet with the other, and the test
 *   process (root namespace) still reaches every node. A node in neither group keeps talking to
 *   both (put members on one side explicitly).
 * - netem(i, spec): `tc qdisc replace dev eth0 root netem SPEC` inside node i's namespace; needs
 *   a kernel with sch_netem (CONFIG_NET_SCH_NETEM), which not every VM kernel has
 *   (see {@link NetnsCluster.supportsNetem}).
 *
 * Cleanup: destroy() is idempotent; it kills every process the cluster started, then deletes its
 * namespaces (which removes their veths, and with them the root veth). Live clusters are also
 * destroyed synchronously on process exit and on SIGINT/SIGTERM/SIGHUP. Each run records its
 * owner (pid + start time) in /run/certchain-netns; create() deletes every cc-* namespace/link
 * whose owner is gone (a crashed earlier run) and never touches a live run's (parallel test files).
 * Processes are started under `setpriv --pdeathsig KILL` when available, so they die with the
 * test process even when it is SIGKILLed.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync, type WriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI, ROOT } from '../helpers/process.js'

/** Every namespace and root link this harness creates starts with this. */
export const PREFIX = 'cc'
/** Node addresses are 10.231.K.(i+2); the test process (root namespace) is 10.231.K.1. */
export const SUBNET_BASE = '10.231'
const ID_RE = '[a-z0-9]{5}'
const NODE_NS_RE = new RegExp(`^${PREFIX}-(${ID_RE})-\\d+$`)
const BRIDGE_NS_RE = new RegExp(`^${PREFIX}-br-(${ID_RE})$`)
const PROBE_NS_RE = new RegExp(`^${PREFIX}-probe-(\\d+)$`)
const HOST_LINK_RE = new RegExp(`^${PREFIX}(${ID_RE})h$`)
const NODE_IF = 'eth0'
/** A locally administered MAC address no interface of the cluster has (partition target). */
const DEAD_MAC = '02:00:00:00:de:ad'
const OUTPUT_TAIL = 1 << 20

export interface ExecResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface ClusterProcess {
  readonly node: number
  readonly pid: number
  readonly command: readonly string[]
  /** Everything the process printed (stdout and stderr interleaved; the last MiB). */
  output(): string
  running(): boolean
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export interface NetnsClusterOptions {
  readonly nodes: number
  /** When set, each node's processes also append their output to LOGDIR/node<i>.log. */
  readonly logDir?: string
}

interface SpawnSpec {
  readonly command: string
  readonly args: readonly string[]
  readonly env: NodeJS.ProcessEnv
}

interface OwnerState {
  readonly id: string
  readonly pid: number
  readonly startTime: string
  readonly subnet?: number
}

// ---- small process helpers -----------------------------------------------------------------

function run(command: string, args: readonly string[], timeoutMs = 20_000): Promise<ExecResult> {
  return new Promise((resolveRun) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown }) | null
      const code = e ? (typeof e.code === 'number' ? e.code : -1) : 0
      resolveRun({ code, stdout, stderr: e && code === -1 ? `${stderr}${e.message}` : stderr })
    })
  })
}

/** Runs `ip ARGS`; throws with the command and its stderr when it fails. */
async function ip(...args: string[]): Promise<string> {
  const r = await run('ip', args)
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`)
  return r.stdout
}

function ipSync(args: readonly string[]): { ok: boolean; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 })
    return { ok: true, stdout, stderr: '' }
  } catch (err) {
    const e = err as { stderr?: string | Buffer; message: string }
    return { ok: false, stdout: '', stderr: e.stderr ? String(e.stderr) : e.message }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22 (starttime); fields after the parenthesised command name.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function killPid(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

let setprivAvailable: boolean | undefined
function hasSetpriv(): boolean {
  if (setprivAvailable === undefined) {
    try {
      execFileSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore', timeout: 5000 })
      setprivAvailable = true
    } catch {
      setprivAvailable = false
    }
  }
  return setprivAvailable
}

// ---- availability ----------------------------------------------------------------------------

let availability: { ok: true } | { ok: false; reason: string } | undefined

/** Whether this process can build namespace clusters (root, iproute2, netns, veth, bridge); cached. */
export function netnsAvailability(): { ok: true } | { ok: false; reason: string } {
  if (availability) return availability
  const check = (): { ok: true } | { ok: false; reason: string } => {
    if (process.platform !== 'linux') return { ok: false, reason: `needs Linux network namespaces (platform is ${process.platform})` }
    if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (creates network namespaces with ip netns)' }
    try {
      execFileSync('ip', ['-V'], { stdio: 'ignore', timeout: 5000 })
    } catch {
      return { ok: false, reason: '"ip" not found: install iproute2 (apt-get install -y iproute2)' }
    }
    const ns = `${PREFIX}-probe-${process.pid}`
    ipSync(['netns', 'del', ns])
    const steps: string[][] = [
      ['netns', 'add', ns],
      ['-n', ns, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1'],
      ['-n', ns, 'link', 'add', 'probebr', 'type', 'bridge'],
    ]
    try {
      for (const step of steps) {
        const r = ipSync(step)
        if (!r.ok) return { ok: false, reason: `ip ${step.join(' ')} failed: ${r.stderr.trim()}` }
      }
      return { ok: true }
    } finally {
      ipSync(['netns', 'del', ns])
    }
  }
  availability = check()
  return availability
}

/**
 * Why cluster tests should be skipped here, or undefined to run them. Under CI (CI=true) they
 * always run, so a machine without namespaces fails loudly instead of passing silently.
 */
export function netnsSkipReason(): string | undefined {
  if (process.env.CI === 'true') return undefined
  const a = netnsAvailability()
  return a.ok ? undefined : a.reason
}

// ---- owner records and leftovers -------------------------------------------------------------

function stateDir(): string {
  const dir = existsSync('/run') ? '/run/certchain-netns' : join(tmpdir(), 'certchain-netns')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

function readOwner(id: string): OwnerState | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir(), `${id}.json`), 'utf8')) as OwnerState
  } catch {
    return undefined
  }
}

function ownerAlive(owner: OwnerState | undefined): boolean {
  if (!owner) return false
  return pidAlive(owner.pid) && processStartTime(owner.pid) === owner.startTime
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // not there
  }
}

function listNamespaces(): string[] {
  const r = ipSync(['netns', 'list'])
  return r.ok ? r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean) : []
}

function listRootLinks(): string[] {
  const r = ipSync(['-o', 'link', 'show'])
  if (!r.ok) return []
  return r.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined)
}

/** Kills every process inside a namespace, then deletes it (synchronously; errors ignored). */
function deleteNamespaceSync(ns: string): void {
  const pids = ipSync(['netns', 'pids', ns])
  if (pids.ok) for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) killPid(Number(pid))
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = ipSync(['netns', 'del', ns])
    if (r.ok || /No such file/i.test(r.stderr) || !listNamespaces().includes(ns)) return
    execFileSync('sleep', ['0.1'])
  }
}

/** Deletes everything belonging to run `id` (namespaces, root link, owner and subnet records). */
function deleteRunSync(id: string): void {
  for (const ns of listNamespaces()) {
    const m = NODE_NS_RE.exec(ns) ?? BRIDGE_NS_RE.exec(ns)
    if (m?.[1] === id) deleteNamespaceSync(ns)
  }
  if (listRootLinks().includes(`${PREFIX}${id}h`)) ipSync(['link', 'del', `${PREFIX}${id}h`])
  const dir = stateDir()
  for (const file of readdirSync(dir)) {
    if (file.startsWith('subnet-')) {
      try {
        if (readFileSync(join(dir, file), 'utf8').trim() === id) unlinkQuiet(join(dir, file))
      } catch {
        // raced with another cleanup
      }
    }
  }
  unlinkQuiet(join(dir, `${id}.json`))
}

/** Deletes namespaces, root links and records left by runs whose process is gone. Returns their ids. */
export function cleanupLeftovers(): string[] {
  const ids = new Set<string>()
  for (const ns of listNamespaces()) {
    const probe = PROBE_NS_RE.exec(ns)
    if (probe) {
      if (!pidAlive(Number(probe[1]))) deleteNamespaceSync(ns)
      continue
    }
    const m = NODE_NS_RE.exec(ns) ?? BRIDGE_NS_RE.exec(ns)
    if (m?.[1]) ids.add(m[1])
  }
  for (const link of listRootLinks()) {
    const m = HOST_LINK_RE.exec(link)
    if (m?.[1]) ids.add(m[1])
  }
  const dir = stateDir()
  for (const file of readdirSync(dir)) {
    const m = new RegExp(`^(${ID_RE})\\.json$`).exec(file)
    if (m?.[1]) ids.add(m[1])
    if (file.startsWith('subnet-')) {
      try {
        ids.add(readFileSync(join(dir, file), 'utf8').trim())
      } catch {
        // raced
      }
    }
  }
  const removed: string[] = []
  for (const id of ids) {
    if (!new RegExp(`^${ID_RE}$`).test(id) || ownerAlive(readOwner(id))) continue
    deleteRunSync(id)
    removed.push(id)
  }
  return removed
}

/** /24s of 10.231.0.0/16 already in use in the root namespace (by anyone). */
function subnetsInUse(): Set<number> {
  const used = new Set<number>()
  const text = ipSync(['-4', '-o', 'addr', 'show']).stdout + ipSync(['-4', 'route', 'show', 'table', 'all']).stdout
  const re = new RegExp(`${SUBNET_BASE.replace('.', '\\.')}\\.(\\d+)\\.`, 'g')
  for (const m of text.matchAll(re)) used.add(Number(m[1]))
  return used
}

/** Reserves a free subnet K (1..254) with an exclusive lock file naming the run. */
function reserveSubnet(id: string): number {
  const dir = stateDir()
  const start = (parseInt(id, 36) % 254) + 1
  const used = subnetsInUse()
  for (let n = 0; n < 254; n++) {
    const k = ((start - 1 + n) % 254) + 1
    if (used.has(k)) continue
    const lock = join(dir, `subnet-${k}`)
    try {
      writeFileSync(lock, id, { flag: 'wx' })
      return k
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
  throw new Error(`no free /24 left in ${SUBNET_BASE}.0.0/16`)
}

// ---- global cleanup hooks --------------------------------------------------------------------

const live = new Set<NetnsCluster>()
let hooksInstalled = false

function installHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', () => {
    for (const cluster of [...live]) cluster.destroySync()
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      for (const cluster of [...live]) cluster.destroySync()
      process.removeListener(signal, onSignal)
      // Keep the default behaviour (terminate) unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    }
    process.on(signal, onSignal)
  }
}

// ---- the cluster -----------------------------------------------------------------------------

interface TrackedProcess extends ClusterProcess {
  readonly child: ChildProcess
}

export class NetnsCluster {
  private readonly processes = new Map<number, TrackedProcess[]>()
  private readonly specs = new Map<number, SpawnSpec>()
  private readonly isolated = new Set<number>()
  /** "i>j" → how node i's packets to node j are cut. */
  private readonly cuts = new Map<string, 'silent' | 'unreachable'>()
  private readonly netemNodes = new Set<number>()
  private readonly logs = new Map<number, WriteStream>()
  private destroying: Promise<void> | undefined
  private destroyed = false

  private constructor(
    /** Run id: 5 characters [a-z0-9], part of every name this cluster creates. */
    readonly id: string,
    /** K in 10.231.K.0/24. */
    readonly subnet: number,
    readonly size: number,
    private readonly logDir: string | undefined,
  ) {}

  /** Builds the bridge, one namespace per node, and the root namespace's veth; see the file comment. */
  static async create(options: NetnsClusterOptions): Promise<NetnsCluster> {
    const available = netnsAvailability()
    if (!available.ok) throw new Error(`network namespace cluster unavailable: ${available.reason}`)
    if (!Number.isSafeInteger(options.nodes) || options.nodes < 1 || options.nodes > 250) {
      throw new Error(`nodes must be 1..250 (got ${options.nodes})`)
    }
    installHooks()
    cleanupLeftovers()
    let id: string
    do {
      id = [...randomBytes(5)].map((b) => (b % 36).toString(36)).join('')
    } while (existsSync(join(stateDir(), `${id}.json`)))
    const owner: OwnerState = { id, pid: process.pid, startTime: processStartTime(process.pid) ?? '' }
    writeFileSync(join(stateDir(), `${id}.json`), JSON.stringify(owner))
    let subnet: number
    try {
      subnet = reserveSubnet(id)
    } catch (err) {
      deleteRunSync(id)
      throw err
    }
    writeFileSync(join(stateDir(), `${id}.json`), JSON.stringify({ ...owner, subnet }))
    if (options.logDir) mkdirSync(options.logDir, { recursive: true })
    const cluster = new NetnsCluster(id, subnet, options.nodes, options.logDir)
    live.add(cluster)
    try {
      await cluster.build()
    } catch (err) {
      await cluster.destroy()
      throw err
    }
    return cluster
  }

  private async build(): Promise<void> {
    const br = this.bridgeNamespace
    await ip('netns', 'add', br)
    await ip('-n', br, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', br, 'link', 'set', 'br0', 'up')
    for (let i = 0; i < this.size; i++) {
      const ns = this.namespace(i)
      await ip('netns', 'add', ns)
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
      // Created directly inside the two namespaces: the pair never appears in the root namespace.
      await ip('link', 'add', NODE_IF, 'netns', ns, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', br)
      await ip('-n', br, 'link', 'set', `p${i}`, 'master', 'br0')
      await ip('-n', br, 'link', 'set', `p${i}`, 'up')
      await ip('-n', ns, 'addr', 'add', `${this.address(i)}/24`, 'dev', NODE_IF)
      await ip('-n', ns, 'link', 'set', NODE_IF, 'up')
    }
    const host = this.hostInterface
    await ip('link', 'add', host, 'type', 'veth', 'peer', 'name', 'host', 'netns', br)
    await ip('-n', br, 'link', 'set', 'host', 'master', 'br0')
    await ip('-n', br, 'link', 'set', 'host', 'up')
    await ip('addr', 'add', `${this.hostAddress}/24`, 'dev', host)
    await ip('link', 'set', host, 'up')
  }

  // ---- names and addresses ----

  get bridgeNamespace(): string {
    return `${PREFIX}-br-${this.id}`
  }

  namespace(i: number): string {
    this.check(i)
    return `${PREFIX}-${this.id}-${i}`
  }

  /** Every namespace of this cluster (nodes, then the bridge). */
  namespaces(): string[] {
    return [...Array.from({ length: this.size }, (_, i) => this.namespace(i)), this.bridgeNamespace]
  }

  /** The root namespace's end of the veth into the bridge. */
  get hostInterface(): string {
    return `${PREFIX}${this.id}h`
  }

  get hostAddress(): string {
    return `${SUBNET_BASE}.${this.subnet}.1`
  }

  address(i: number): string {
    this.check(i)
    return `${SUBNET_BASE}.${this.subnet}.${i + 2}`
  }

  addresses(): string[] {
    return Array.from({ length: this.size }, (_, i) => this.address(i))
  }

  private check(i: number): void {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.size) throw new RangeError(`node ${i} is not in this cluster of ${this.size}`)
    if (this.destroyed) throw new Error(`cluster ${this.id} is destroyed`)
  }

  // ---- processes ----

  /** Runs a command to completion inside node i's namespace (`ip netns exec`). Never throws on exit code. */
  exec(i: number, command: string, args: readonly string[] = [], options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.namespace(i), command, ...args], options.timeoutMs ?? 20_000)
  }

  /**
   * Starts a long-running command inside node i's namespace and collects its output. It becomes
   * node i's restartable process (see {@link restart}).
   */
  spawnCommand(i: number, command: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): ClusterProcess {
    const spec: SpawnSpec = { command, args: [...args], env }
    this.specs.set(i, spec)
    return this.launch(i, spec)
  }

  /** Starts `certchain ARGS` (built CLI, this Node binary) inside node i's namespace. */
  spawn(i: number, args: readonly string[], env: NodeJS.ProcessEnv = {}): ClusterProcess {
    return this.spawnCommand(i, process.execPath, [CLI, ...args], env)
  }

  private launch(i: number, spec: SpawnSpec): ClusterProcess {
    const ns = this.namespace(i)
    const guard = hasSetpriv() ? ['setpriv', '--pdeathsig', 'KILL', '--'] : []
    const argv = ['netns', 'exec', ns, ...guard, spec.command, ...spec.args]
    // `ip netns exec` execs the command in place, so the child's pid is the command's pid.
    const child = spawn('ip', argv, { cwd: ROOT, env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    let log = this.logs.get(i)
    if (this.logDir && !log) {
      log = createWriteStream(join(this.logDir, `node${i}.log`), { flags: 'a' })
      this.logs.set(i, log)
    }
    log?.write(`==== ${new Date().toISOString()} start: ${spec.command} ${spec.args.join(' ')}\n`)
    const onData = (d: Buffer): void => {
      const text = d.toString()
      output += text
      if (output.length > OUTPUT_TAIL) output = output.slice(output.length - OUTPUT_TAIL)
      log?.write(text)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
      child.once('error', (err) => {
        output += `\n[spawn error] ${err.message}\n`
        resolveExit({ code: -1, signal: null })
      })
      child.once('close', (code, signal) => {
        log?.write(`==== ${new Date().toISOString()} exit: code ${code} signal ${signal}\n`)
        resolveExit({ code, signal })
      })
    })
    let done = false
    void exited.then(() => (done = true))
    const tracked: TrackedProcess = {
      node: i,
      pid: child.pid ?? -1,
      command: [spec.command, ...spec.args],
      child,
      output: () => output,
      running: () => !done,
      exited,
    }
    const list = this.processes.get(i) ?? []
    list.push(tracked)
    this.processes.set(i, list)
    return tracked
  }

  /** Node i's most recently started process. */
  process(i: number): ClusterProcess | undefined {
    return this.processes.get(i)?.at(-1)
  }

  running(i: number): boolean {
    return (this.processes.get(i) ?? []).some((p) => p.running())
  }

  /** Output of every process node i ran, oldest first. */
  output(i: number): string {
    return (this.processes.get(i) ?? []).map((p) => p.output()).join(`\n==== (restart) ====\n`)
  }

  /** Signals every running process of node i and waits for them to exit (SIGKILL after timeoutMs). */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 10_000): Promise<void> {
    this.check(i)
    const running = (this.processes.get(i) ?? []).filter((p) => p.running())
    for (const p of running) p.child.kill(signal)
    await Promise.all(
      running.map(async (p) => {
        const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs)
        await p.exited
        clearTimeout(timer)
      }),
    )
  }

  /** Stops node i's processes (SIGTERM, then SIGKILL) if running, and starts its last command again. */
  async restart(i: number): Promise<ClusterProcess> {
    const spec = this.specs.get(i)
    if (!spec) throw new Error(`node ${i} has never been started`)
    await this.kill(i, 'SIGTERM')
    return this.launch(i, spec)
  }

  // ---- faults ----

  /** Cuts node i from everyone (the test process too): its bridge port goes down. */
  async isolate(i: number): Promise<void> {
    this.check(i)
    await ip('-n', this.bridgeNamespace, 'link', 'set', `p${i}`, 'down')
    this.isolated.add(i)
  }

  async heal(i: number): Promise<void> {
    this.check(i)
    await ip('-n', this.bridgeNamespace, 'link', 'set', `p${i}`, 'up')
    this.isolated.delete(i)
  }

  /**
   * No packet between the groups; the test process still reaches every node, nodes in neither
   * group are not affected. 'silent' (default): frames to the other group go to a MAC address
   * nobody has (permanent neighbour entries), so they vanish — timeouts, like a failed link.
   * 'unreachable': `unreachable` routes, so connects fail at once with EHOSTUNREACH.
   */
  async partition(groupA: readonly number[], groupB: readonly number[], options: { mode?: 'silent' | 'unreachable' } = {}): Promise<void> {
    for (const i of [...groupA, ...groupB]) this.check(i)
    if (groupA.some((i) => groupB.includes(i))) throw new Error('partition groups overlap')
    const mode = options.mode ?? 'silent'
    for (const [from, to] of [
      [groupA, groupB],
      [groupB, groupA],
    ] as const) {
      for (const i of from) {
        for (const j of to) {
          const key = `${i}>${j}`
          if (this.cuts.has(key)) continue
          if (mode === 'silent') {
            await ip('-n', this.namespace(i), 'neigh', 'replace', this.address(j), 'lladdr', DEAD_MAC, 'dev', NODE_IF, 'nud', 'permanent')
          } else {
            await ip('-n', this.namespace(i), 'route', 'add', 'unreachable', `${this.address(j)}/32`)
          }
          this.cuts.set(key, mode)
        }
      }
    }
  }

  /** Applies netem to node i's link (both its directions through the bridge are its eth0 egress and ingress). */
  async netem(i: number, spec: string): Promise<void> {
    this.check(i)
    const r = await run('tc', ['-n', this.namespace(i), 'qdisc', 'replace', 'dev', NODE_IF, 'root', 'netem', ...spec.trim().split(/\s+/)])
    if (r.code !== 0) {
      const hint = /unknown|No such file/i.test(r.stderr)
        ? ' (this kernel has no sch_netem: CONFIG_NET_SCH_NETEM; or tc is missing: apt-get install -y iproute2)'
        : ''
      throw new Error(`tc netem ${spec} on node ${i} failed: ${r.stderr.trim()}${hint}`)
    }
    this.netemNodes.add(i)
  }

  async clearNetem(i: number): Promise<void> {
    this.check(i)
    await run('tc', ['-n', this.namespace(i), 'qdisc', 'del', 'dev', NODE_IF, 'root'])
    this.netemNodes.delete(i)
  }

  /** Whether this kernel and tc support netem (tries it on node 0 and removes it). */
  async supportsNetem(): Promise<boolean> {
    const r = await run('tc', ['-n', this.namespace(0), 'qdisc', 'add', 'dev', NODE_IF, 'root', 'netem', 'delay', '1ms'])
    if (r.code !== 0) return false
    await run('tc', ['-n', this.namespace(0), 'qdisc', 'del', 'dev', NODE_IF, 'root'])
    return true
  }

  /** Undoes every fault: isolated ports up, partition routes and netem removed. */
  async healAll(): Promise<void> {
    for (const [key, mode] of [...this.cuts]) {
      const [i, j] = key.split('>').map(Number) as [number, number]
      const args =
        mode === 'silent'
          ? ['-n', this.namespace(i), 'neigh', 'del', this.address(j), 'dev', NODE_IF]
          : ['-n', this.namespace(i), 'route', 'del', 'unreachable', `${this.address(j)}/32`]
      const r = await run('ip', args)
      if (r.code !== 0 && !/No such|Cannot find/i.test(r.stderr)) throw new Error(`cannot undo partition ${key}: ${r.stderr.trim()}`)
      this.cuts.delete(key)
    }
    for (const i of [...this.isolated]) await this.heal(i)
    for (const i of [...this.netemNodes]) await this.clearNetem(i)
  }

  // ---- teardown ----

  /** Kills every process and deletes every namespace and link of this cluster. Idempotent. */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      const all = [...this.processes.values()].flat().filter((p) => p.running())
      for (const p of all) p.child.kill('SIGKILL')
      await Promise.race([Promise.all(all.map((p) => p.exited)), sleep(5000)])
      this.destroySync()
    })()
    return this.destroying
  }

  /** The synchronous part of {@link destroy}, also used from the process exit hook. */
  destroySync(): void {
    if (this.destroyed) return
    for (const p of [...this.processes.values()].flat()) if (p.running()) p.child.kill('SIGKILL')
    for (const log of this.logs.values()) log.end()
    this.logs.clear()
    this.destroyed = true
    live.delete(this)
    deleteRunSync(this.id)
  }

  /** Names of this cluster's namespaces and root link that still exist (empty after destroy). */
  static remnants(id: string): string[] {
    return [
      ...listNamespaces().filter((ns) => (NODE_NS_RE.exec(ns) ?? BRIDGE_NS_RE.exec(ns))?.[1] === id),
      ...listRootLinks().filter((l) => l === `${PREFIX}${id}h`),
    ]
  }
}

/** Thrown by a {@link waitFor} probe to stop waiting at once (e.g. the process being waited for exited). */
export class WaitAbort extends Error {
  override readonly name = 'WaitAbort'
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or throws after timeoutMs.
 * Errors thrown by the probe count as "not yet", except {@link WaitAbort}, which ends the wait.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number; detail?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000)
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      if (err instanceof WaitAbort) throw err
      lastError = err
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new Error(`timed out after ${options.timeoutMs ?? 20_000} ms waiting for ${what}${cause}${options.detail ? `\n${options.detail()}` : ''}`)
    }
    await sleep(options.intervalMs ?? 100)
  }
}
