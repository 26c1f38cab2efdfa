/**
 * A Docker engine of the test's own, for the image and compose scenarios (test/docker).
 *
 * It needs root and Debian's `docker.io`, `docker-compose` and `debootstrap` (installed here when
 * missing under CI=true). It starts its own `dockerd` (own socket, data root, exec root and pid
 * file) with `--iptables=false --ip-forward=false`, so the host's firewall and ip_forward are never
 * touched (checked: both are snapshotted before and compared after). Without iptables there is no
 * NAT, so containers reach nothing beyond the host: `npm ci` inside `docker build` goes through a
 * CONNECT proxy this process runs on the bridge address, which tunnels to the npm registry only
 * (the Docker client's `proxies` setting hands it to every build). The base image the Dockerfile
 * starts FROM is built locally (test/docker/base-image.sh), since Docker Hub is out of reach.
 *
 * `docker compose` is the Compose v2 command README uses; where only Compose v1 exists, a CLI plugin
 * shim in the test's own client config runs `docker-compose` for it.
 *
 * Cleanup: destroy() removes every container, volume, network and image of the engine, stops the
 * daemon by its PID, deletes its directories and the `docker0` bridge it created. An owner record
 * (pid + start time) lets the next run clean up after a run that crashed, and refuses to run next
 * to a live one.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { ROOT } from '../helpers/process.js'
import { waitFor } from '../cluster/netns.js'

/** The image tag the Dockerfile starts FROM (built locally, never pulled). */
export const BASE_TAG = 'node:24-bookworm-slim'
const STATE = '/run/certchain-docker'
const DATA_ROOT = '/var/lib/certchain-docker'
const SOCKET = `${STATE}/docker.sock`
const PIDFILE = `${STATE}/dockerd.pid`
const OWNER = `${STATE}/owner.json`
const BRIDGE = 'docker0'
const REGISTRY_HOST = 'registry.npmjs.org'
const PACKAGES = { dockerd: 'docker.io', 'docker-compose': 'docker-compose', debootstrap: 'debootstrap' } as const

export interface ExecResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

function exec(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: options.env ?? process.env, cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (child.exitCode ?? 1) : 0, stdout, stderr })
    })
  })
}

async function must(file: string, args: readonly string[], options: Parameters<typeof exec>[2] = {}): Promise<string> {
  const r = await exec(file, args, options)
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

function commandExists(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, name)))
}

/** Why the Docker scenarios cannot run here, or undefined. Under CI=true they always run (and fail if they cannot). */
export function dockerSkipReason(): string | undefined {
  if (process.env.CI === 'true') return undefined
  if (process.getuid?.() !== 0) return 'needs root (starts its own Docker daemon)'
  const missing = Object.entries(PACKAGES).filter(([bin]) => !commandExists(bin)).map(([, pkg]) => pkg)
  if (missing.length > 0) return `needs ${missing.join(', ')} (apt-get install ${missing.join(' ')}; CI installs them)`
  return undefined
}

/** Installs the Debian packages the scenarios need (when missing), without letting them start any service. */
export async function ensurePackages(): Promise<void> {
  const missing = [...new Set(Object.entries(PACKAGES).filter(([bin]) => !commandExists(bin)).map(([, pkg]) => pkg))]
  if (missing.length === 0) return
  // No package may start a daemon of its own (docker.io would start dockerd with its firewall rules).
  const policy = '/usr/sbin/policy-rc.d'
  const ownPolicy = !existsSync(policy)
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    await must('apt-get', ['update', '-qq'], { env })
    await must('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env })
  } finally {
    if (ownPolicy) rmSync(policy, { force: true })
  }
}

/** The firewall and forwarding state, to prove the run left them as they were. */
async function networkState(): Promise<string> {
  const parts = [`ip_forward=${readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()}`]
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    // Counters change with traffic; rules and policies are what must stay.
    if (commandExists(tool)) parts.push((await exec(tool, [])).stdout.replace(/\[\d+:\d+\]/g, '').replace(/^#.*$/gm, ''))
  }
  if (commandExists('nft')) parts.push((await exec('nft', ['list', 'ruleset'])).stdout)
  return parts.join('\n')
}

function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`)
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function processStartTime(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]
  } catch {
    return undefined
  }
}

interface Owner {
  readonly pid: number
  readonly startTime: string | undefined
  readonly createdBridge: boolean
}

async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 100))
  }
  return true
}

async function stopPid(pid: number): Promise<void> {
  if (!pidAlive(pid)) return
  process.kill(pid, 'SIGTERM')
  if (!(await waitExit(pid, 30_000))) {
    process.kill(pid, 'SIGKILL')
    await waitExit(pid, 5_000)
  }
}

/** A CONNECT proxy on ADDRESS that tunnels to the npm registry's HTTPS port and refuses everything else. */
function startRegistryProxy(address: string): Promise<Server> {
  const sockets = new Set<Socket>()
  const server = createServer((_req, res) => {
    res.writeHead(403).end()
  })
  server.on('connect', (req: { url?: string }, client: Socket, head: Buffer) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => client.destroy())
    if (req.url !== `${REGISTRY_HOST}:443`) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n')
      return
    }
    const upstream = connect(443, REGISTRY_HOST, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
  })
  // close() waits for open tunnels; the engine is gone by then, so end them.
  const close = server.close.bind(server)
  server.close = (cb) => {
    for (const s of sockets) s.destroy()
    return close(cb)
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, address, () => resolve(server))
  })
}

export class DockerEngine {
  /** Environment for `docker`, `docker compose` and README commands against this engine. */
  readonly env: NodeJS.ProcessEnv
  private destroyed = false

  private constructor(
    private readonly daemon: ChildProcess,
    private readonly proxy: Server,
    private readonly firewallBefore: string,
    private readonly createdBridge: boolean,
    clientConfig: string,
  ) {
    this.env = { ...process.env, DOCKER_HOST: `unix://${SOCKET}`, DOCKER_CONFIG: clientConfig, DOCKER_BUILDKIT: '0' }
  }

  static async start(): Promise<DockerEngine> {
    if (process.getuid?.() !== 0) throw new Error('the Docker scenarios need root')
    await cleanLeftovers()
    const firewallBefore = await networkState()
    const createdBridge = !linkExists(BRIDGE)
    mkdirSync(DATA_ROOT, { recursive: true, mode: 0o700 })
    const daemon = spawnDaemon()
    writeFileSync(OWNER, JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid), createdBridge } satisfies Owner))
    try {
      return await DockerEngine.connect(daemon, firewallBefore, createdBridge)
    } catch (err) {
      if (daemon.pid !== undefined) await stopPid(daemon.pid)
      removeState(createdBridge)
      throw err
    }
  }

  private static async connect(daemon: ChildProcess, firewallBefore: string, createdBridge: boolean): Promise<DockerEngine> {
    await waitForDaemon(daemon)
    // The host's address on the default bridge, where build containers find the proxy.
    const gateway = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(await must('ip', ['-4', '-o', 'addr', 'show', 'dev', BRIDGE]))?.[1]
    if (!gateway) throw new Error(`${BRIDGE} has no IPv4 address`)
    const proxy = await startRegistryProxy(gateway)
    const proxyUrl = `http://${gateway}:${(proxy.address() as AddressInfo).port}`
    const clientConfig = join(STATE, 'client')
    mkdirSync(join(clientConfig, 'cli-plugins'), { recursive: true })
    writeFileSync(join(clientConfig, 'config.json'), JSON.stringify({ proxies: { default: { httpProxy: proxyUrl, httpsProxy: proxyUrl, noProxy: 'localhost,127.0.0.1' } } }))
    const engine = new DockerEngine(daemon, proxy, firewallBefore, createdBridge, clientConfig)
    if ((await exec('docker', ['compose', 'version'], { env: engine.env })).code !== 0) installComposeShim(clientConfig)
    return engine
  }

  docker(args: readonly string[]): Promise<ExecResult> {
    return exec('docker', args, { env: this.env })
  }

  async mustDocker(args: readonly string[]): Promise<string> {
    return must('docker', args, { env: this.env })
  }

  /** Runs a shell command line (README's, as written) from the repository root against this engine. */
  shell(script: string, env: NodeJS.ProcessEnv = {}): Promise<ExecResult> {
    return exec('bash', ['-e', '-o', 'pipefail', '-c', script], { env: { ...this.env, ...env } })
  }

  /** The locally built base image the Dockerfile starts FROM. */
  async buildBase(): Promise<void> {
    await must('bash', [join(ROOT, 'test/docker/base-image.sh'), BASE_TAG], { env: this.env })
  }

  /** The daemon's log, for failure messages. */
  log(): string {
    try {
      return readFileSync(join(STATE, 'dockerd.log'), 'utf8').slice(-8000)
    } catch {
      return ''
    }
  }

  /**
   * Removes everything the engine holds, stops it, deletes its state, and fails if the firewall or
   * ip_forward differ from before. Idempotent.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    const problems: string[] = []
    if (this.daemon.exitCode === null) {
      const left = await emptyEngine()
      if (left) problems.push(left)
    }
    await new Promise<void>((r) => this.proxy.close(() => r()))
    if (this.daemon.pid !== undefined) await stopPid(this.daemon.pid)
    removeState(this.createdBridge)
    const after = await networkState()
    if (after !== this.firewallBefore) problems.push(`firewall or ip_forward changed:\n--- before\n${this.firewallBefore}\n--- after\n${after}`)
    if (problems.length) throw new Error(problems.join('\n'))
  }
}

const ENGINE_ENV = { ...process.env, DOCKER_HOST: `unix://${SOCKET}` }

function spawnDaemon(): ChildProcess {
  mkdirSync(STATE, { recursive: true, mode: 0o700 })
  const log = openSync(join(STATE, 'dockerd.log'), 'a')
  return spawn(
    'dockerd',
    ['--iptables=false', '--ip-forward=false', '--ip-masq=false', '--data-root', DATA_ROOT, '--exec-root', join(STATE, 'exec'), '--pidfile', PIDFILE, '--host', `unix://${SOCKET}`],
    { stdio: ['ignore', log, log] },
  )
}

async function waitForDaemon(daemon: ChildProcess): Promise<void> {
  await waitFor('dockerd to answer', async () => daemon.exitCode === null && (await exec('docker', ['version'], { env: ENGINE_ENV })).code === 0, {
    timeoutMs: 60_000,
    intervalMs: 250,
    detail: () => readFileSync(join(STATE, 'dockerd.log'), 'utf8').slice(-4000),
  })
}

/** Removes every container, volume, network and image of the engine; says what is left, if anything. */
async function emptyEngine(): Promise<string | undefined> {
  const list = async (args: string[]): Promise<string[]> => (await exec('docker', args, { env: ENGINE_ENV })).stdout.split('\n').filter(Boolean)
  const containers = await list(['ps', '-aq'])
  if (containers.length) await exec('docker', ['rm', '-f', '-v', ...containers], { env: ENGINE_ENV })
  const volumes = await list(['volume', 'ls', '-q'])
  if (volumes.length) await exec('docker', ['volume', 'rm', '-f', ...volumes], { env: ENGINE_ENV })
  await exec('docker', ['network', 'prune', '-f'], { env: ENGINE_ENV })
  const images = await list(['images', '-aq'])
  if (images.length) await exec('docker', ['rmi', '-f', ...new Set(images)], { env: ENGINE_ENV })
  const left = (await exec('docker', ['system', 'df', '--format', '{{.Type}} {{.TotalCount}}'], { env: ENGINE_ENV })).stdout
  const empty = /^Images 0$/m.test(left) && /^Containers 0$/m.test(left) && /^Local Volumes 0$/m.test(left)
  return empty ? undefined : `engine not empty before stop:\n${left}`
}

function removeState(createdBridge: boolean): void {
  if (createdBridge && linkExists(BRIDGE)) execFileSync('ip', ['link', 'delete', BRIDGE])
  // A stopped daemon leaves no mounts; a killed one leaves its data root bind-mounted on itself
  // (and container layers, shm, netns files), which would make the removal fail with EBUSY.
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => [DATA_ROOT, STATE].some((own) => point === own || point.startsWith(`${own}/`)))
  for (const point of mounts.reverse()) execFileSync('umount', ['-l', point])
  rmSync(DATA_ROOT, { recursive: true, force: true })
  rmSync(STATE, { recursive: true, force: true })
}

/**
 * Empties and stops the engine of a crashed earlier run (starting it again on its data root when
 * it died too, so its containers are stopped and their mounts released) and removes its state;
 * refuses to run beside a live run.
 */
async function cleanLeftovers(): Promise<void> {
  if (!existsSync(STATE) && !existsSync(DATA_ROOT)) return
  const owner = existsSync(OWNER) ? (JSON.parse(readFileSync(OWNER, 'utf8')) as Owner) : undefined
  if (owner && pidAlive(owner.pid) && processStartTime(owner.pid) === owner.startTime) {
    throw new Error(`another Docker scenario run (pid ${owner.pid}) owns ${STATE}; one at a time`)
  }
  const old = existsSync(PIDFILE) ? Number(readFileSync(PIDFILE, 'utf8').trim()) : undefined
  let pid = old && pidAlive(old) && readFileSync(`/proc/${old}/cmdline`, 'utf8').includes(SOCKET) ? old : undefined
  if (pid === undefined && existsSync(DATA_ROOT)) {
    const daemon = spawnDaemon()
    await waitForDaemon(daemon)
    pid = daemon.pid
  }
  if (pid !== undefined) {
    await emptyEngine()
    await stopPid(pid)
  }
  removeState(owner?.createdBridge ?? false)
}

/** `docker compose` for a client that only has Compose v1: a CLI plugin that hands over to `docker-compose`. */
function installComposeShim(clientConfig: string): void {
  const path = join(clientConfig, 'cli-plugins', 'docker-compose')
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      '# Docker CLI plugin: `docker compose ARGS` runs Compose v1 `docker-compose ARGS`.',
      'if [ "$1" = docker-cli-plugin-metadata ]; then',
      `  echo '{"SchemaVersion":"0.1.0","Vendor":"certchain tests","Version":"v1-shim","ShortDescription":"Compose v1 as docker compose"}'`,
      '  exit 0',
      'fi',
      'shift',
      'exec docker-compose "$@"',
      '',
    ].join('\n'),
  )
  chmodSync(path, 0o755)
}
