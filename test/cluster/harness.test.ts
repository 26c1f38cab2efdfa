import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NetnsCluster, PREFIX, netnsAvailability, netnsSkipReason, waitFor } from './netns.js'

/**
 * Self-test of the namespace harness, without certchain: a tiny HTTP server per namespace.
 * Skipped (with the reason in its title) where namespaces are unavailable, except under CI=true.
 */
const skip = netnsSkipReason()
const suite = skip ? describe.skip : describe

const PORT = 8080
const SERVER = `require('http').createServer((q, s) => s.end('ok ' + process.env.NODE_INDEX)).listen(${PORT}, '0.0.0.0', () => console.log('listening'))`

/** GET from the test process (root namespace): the body, or undefined when unreachable. */
async function fromRoot(url: string, timeoutMs = 1000): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    return await res.text()
  } catch {
    return undefined
  }
}

/** GET from inside node i's namespace (a Node process there): the body, or undefined when unreachable. */
async function fromNode(cluster: NetnsCluster, i: number, url: string, timeoutMs = 1000): Promise<string | undefined> {
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(${timeoutMs}) }).then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(3))`
  const r = await cluster.exec(i, process.execPath, ['-e', script], { timeoutMs: timeoutMs + 5000 })
  return r.code === 0 ? r.stdout : undefined
}

/** A TCP connect from inside node i's namespace: 'connected', 'timeout' or the error code. */
async function connectOutcome(cluster: NetnsCluster, i: number, host: string, timeoutMs: number): Promise<string> {
  const script = `const s = require('net').connect(${PORT}, '${host}'); s.setTimeout(${timeoutMs}, () => { console.log('timeout'); process.exit(0) }); s.on('connect', () => { console.log('connected'); process.exit(0) }); s.on('error', (e) => { console.log(e.code); process.exit(0) })`
  const r = await cluster.exec(i, process.execPath, ['-e', script], { timeoutMs: timeoutMs + 5000 })
  return r.stdout.trim()
}

function ipOutput(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' })
}

suite(`network namespace harness${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let cluster: NetnsCluster
  const url = (i: number): string => `http://${cluster.address(i)}:${PORT}/`

  beforeAll(async () => {
    cluster = await NetnsCluster.create({ nodes: 3 })
    for (let i = 0; i < 3; i++) cluster.spawnCommand(i, process.execPath, ['-e', SERVER], { NODE_INDEX: String(i) })
  })

  afterAll(async () => {
    await cluster?.destroy()
  })

  it('is available here (root, iproute2, netns, veth, bridge)', () => {
    expect(netnsAvailability()).toEqual({ ok: true })
  })

  it('gives each node its own namespace and address, reachable from the root namespace', async () => {
    expect(new Set(cluster.addresses()).size).toBe(3)
    for (let i = 0; i < 3; i++) {
      expect(await waitFor(`node ${i} from root`, () => fromRoot(url(i)), { timeoutMs: 15_000 })).toBe(`ok ${i}`)
    }
    const names = ipOutput('netns', 'list')
    for (const ns of cluster.namespaces()) expect(names).toContain(ns)
    // Addresses only exist inside the cluster; the root namespace holds just its own veth end.
    const root = ipOutput('-4', '-o', 'addr', 'show')
    for (const a of cluster.addresses()) expect(root).not.toContain(`${a}/`)
    expect(root).toContain(`${cluster.hostAddress}/24`)
  })

  it('routes nothing but the cluster subnet inside a node namespace', async () => {
    const routes = await cluster.exec(1, 'ip', ['-4', 'route', 'show', 'table', 'all'])
    expect(routes.code).toBe(0)
    expect(routes.stdout).not.toMatch(/default/)
    const links = await cluster.exec(1, 'ip', ['-o', 'link', 'show'])
    expect(links.stdout.split('\n').filter(Boolean).map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])).toEqual(['lo', 'eth0'])
    // A node cannot reach anything outside (the root namespace's other addresses, the internet).
    const outside = ipOutput('-4', '-o', 'addr', 'show')
      .split('\n')
      .map((l) => /inet (\d+\.\d+\.\d+\.\d+)/.exec(l)?.[1])
      .filter((a): a is string => a !== undefined && a !== '127.0.0.1' && a !== cluster.hostAddress)
    for (const a of outside) {
      const r = await cluster.exec(1, process.execPath, ['-e', `require('net').connect(22, '${a}').on('connect', () => process.exit(0)).on('error', (e) => { console.log(e.code); process.exit(4) })`])
      expect(r.stdout.trim()).toBe('ENETUNREACH')
    }
  })

  it('lets namespaces reach each other directly', async () => {
    for (const [from, to] of [
      [0, 1],
      [1, 2],
      [2, 0],
    ] as const) {
      expect(await waitFor(`node ${from} -> node ${to}`, () => fromNode(cluster, from, url(to)), { timeoutMs: 15_000 })).toBe(`ok ${to}`)
    }
    // Loopback works inside a namespace.
    expect(await fromNode(cluster, 2, `http://127.0.0.1:${PORT}/`)).toBe('ok 2')
  })

  it('isolate cuts one node from everyone, heal restores it', async () => {
    await cluster.isolate(1)
    expect(await fromRoot(url(1), 500)).toBeUndefined()
    expect(await fromNode(cluster, 0, url(1), 500)).toBeUndefined()
    expect(await fromNode(cluster, 1, url(2), 500)).toBeUndefined()
    // The others are unaffected.
    expect(await fromNode(cluster, 0, url(2))).toBe('ok 2')
    expect(await fromRoot(url(0))).toBe('ok 0')
    await cluster.heal(1)
    expect(await waitFor('node 1 back from root', () => fromRoot(url(1)), { timeoutMs: 10_000 })).toBe('ok 1')
    expect(await waitFor('node 0 -> node 1 again', () => fromNode(cluster, 0, url(1)), { timeoutMs: 10_000 })).toBe('ok 1')
  })

  it('partition splits 2|1 while the test process still reaches everyone; healAll rejoins', async () => {
    await cluster.partition([0, 1], [2])
    expect(await fromNode(cluster, 0, url(1))).toBe('ok 1')
    expect(await fromNode(cluster, 1, url(0))).toBe('ok 0')
    expect(await fromNode(cluster, 0, url(2), 500)).toBeUndefined()
    expect(await fromNode(cluster, 1, url(2), 500)).toBeUndefined()
    expect(await fromNode(cluster, 2, url(0), 500)).toBeUndefined()
    expect(await fromNode(cluster, 2, url(1), 500)).toBeUndefined()
    for (let i = 0; i < 3; i++) expect(await fromRoot(url(i))).toBe(`ok ${i}`)
    // Silent: a connect gets no answer at all (no refusal, no ICMP), like a failed link.
    expect(await connectOutcome(cluster, 2, cluster.address(0), 1500)).toBe('timeout')
    await cluster.healAll()
    expect(await waitFor('node 0 -> node 2 after heal', () => fromNode(cluster, 0, url(2)))).toBe('ok 2')
    expect(await waitFor('node 2 -> node 1 after heal', () => fromNode(cluster, 2, url(1)))).toBe('ok 1')
  })

  it("partition { mode: 'unreachable' } fails connects at once with EHOSTUNREACH", async () => {
    await cluster.partition([0], [1, 2], { mode: 'unreachable' })
    expect(await connectOutcome(cluster, 0, cluster.address(1), 1500)).toBe('EHOSTUNREACH')
    expect(await connectOutcome(cluster, 2, cluster.address(0), 1500)).toBe('EHOSTUNREACH')
    expect(await connectOutcome(cluster, 1, cluster.address(2), 1500)).toBe('connected')
    expect(await fromRoot(url(0))).toBe('ok 0')
    await cluster.healAll()
    expect(await waitFor('node 0 -> node 1 after heal', () => fromNode(cluster, 0, url(1)))).toBe('ok 1')
  })

  it('kill stops a node process, restart runs the same command again', async () => {
    const before = cluster.process(0)!
    await cluster.kill(0, 'SIGKILL')
    expect(before.running()).toBe(false)
    expect((await before.exited).signal).toBe('SIGKILL')
    expect(await fromRoot(url(0), 500)).toBeUndefined()
    const after = await cluster.restart(0)
    expect(after.pid).not.toBe(before.pid)
    expect(await waitFor('node 0 restarted', () => fromRoot(url(0)), { timeoutMs: 15_000 })).toBe('ok 0')
    expect(after.output()).toContain('listening')
    // The restarted process runs in node 0's namespace.
    const ns = execFileSync('ip', ['netns', 'identify', String(after.pid)], { encoding: 'utf8' }).trim()
    expect(ns).toBe(cluster.namespace(0))
  })

  it('applies netem where the kernel supports it', async (ctx) => {
    if (!(await cluster.supportsNetem())) {
      // Not a harness failure: some VM kernels lack sch_netem. No scenario depends on it.
      await expect(cluster.netem(2, 'delay 200ms')).rejects.toThrow(/netem/)
      ctx.skip()
      return
    }
    await cluster.netem(2, 'delay 200ms')
    const started = Date.now()
    expect(await fromNode(cluster, 0, url(2), 5000)).toBe('ok 2')
    expect(Date.now() - started).toBeGreaterThanOrEqual(200)
    await cluster.healAll()
  })

  it('create removes the leftovers of a crashed run, and never touches a live run', async () => {
    // Simulate a run that died without cleaning up: namespaces and a root veth, no live owner.
    const dead = 'zzz' + String(process.pid % 100).padStart(2, '0')
    execFileSync('ip', ['netns', 'add', `${PREFIX}-br-${dead}`])
    execFileSync('ip', ['netns', 'add', `${PREFIX}-${dead}-0`])
    execFileSync('ip', ['link', 'add', `${PREFIX}${dead}h`, 'type', 'veth', 'peer', 'name', 'host', 'netns', `${PREFIX}-br-${dead}`])
    expect(NetnsCluster.remnants(dead)).toHaveLength(3)
    const other = await NetnsCluster.create({ nodes: 1 })
    try {
      expect(NetnsCluster.remnants(dead)).toEqual([])
      // The first cluster (live, same process) is intact.
      expect(NetnsCluster.remnants(cluster.id)).toHaveLength(4 + 1)
      expect(other.subnet).not.toBe(cluster.subnet)
      expect(await fromRoot(url(1))).toBe('ok 1')
    } finally {
      await other.destroy()
    }
    expect(NetnsCluster.remnants(other.id)).toEqual([])
  })

  it('destroy kills every process and removes every namespace and link; it is idempotent', async () => {
    const pids = [0, 1, 2].map((i) => cluster.process(i)!.pid)
    await Promise.all([cluster.destroy(), cluster.destroy()])
    await cluster.destroy()
    expect(NetnsCluster.remnants(cluster.id)).toEqual([])
    expect(ipOutput('netns', 'list')).not.toContain(cluster.id)
    expect(ipOutput('-o', 'link', 'show')).not.toContain(`${PREFIX}${cluster.id}`)
    expect(ipOutput('-4', '-o', 'addr', 'show')).not.toContain(cluster.hostAddress + '/')
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow()
    expect(() => cluster.address(0)).toThrow(/destroyed/)
  })
})
