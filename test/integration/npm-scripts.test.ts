import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, mkdir, readFile, readlink, rm, utimes, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, freePort, waitForHttp } from '../helpers/process.js'

/**
 * `npm run …` as a user types it, with npm's output kept for failures. In a process group of its
 * own, so the test can remove whatever npm left behind (the bug this pins) even when it fails.
 */
function npm(args: readonly string[]): ChildProcess & { output: () => string } {
  const child = spawn('npm', ['run', '-s', ...args], { cwd: ROOT, env: { ...process.env, npm_config_loglevel: 'error' }, detached: true })
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  return Object.assign(child, { output: () => output })
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

/** Waits until none of `ports` accepts a connection (the node's process has gone), or fails after `ms`. */
async function released(ports: readonly number[], ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const open = (await Promise.all(ports.map(listening))).some(Boolean)
    if (!open) return
    if (Date.now() > deadline) throw new Error(`ports ${ports.join(', ')} still held ${ms} ms after the signal`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('npm start and npm run devnet hand signals to the node (issue 12 B2)', () => {
  let dir: string
  const started: ChildProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-npm-'))
  })

  afterAll(async () => {
    // Nothing may outlive a failed test: every process of each npm's group is killed.
    for (const child of started) {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // the group is gone already
      }
    }
    await rm(dir, { recursive: true, force: true })
  })

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to the PID of "npm start" stops the dev node and frees its ports`, async () => {
      const [rpcPort, p2pPort] = [await freePort(), await freePort()]
      const child = npm(['start', '--', '--home', join(dir, `dev-${signal}`), '--rpc-port', String(rpcPort), '--p2p-port', String(p2pPort), '--log-level', 'warn'])
      started.push(child)
      await waitForHttp(`http://127.0.0.1:${rpcPort}/healthz`, child, 30_000)
      child.kill(signal)
      await exitOf(child)
      await released([rpcPort, p2pPort])
    }, 60_000)
  }

  it('SIGINT to the PID of "npm run devnet" stops the supervisor and every node', async () => {
    const rpcBase = await freePort()
    const p2pBase = await freePort()
    const child = npm(['devnet', '--', '--dir', join(dir, 'devnet'), '--validators', '2', '--rpc-port', String(rpcBase), '--p2p-port', String(p2pBase)])
    started.push(child)
    const ports = [rpcBase, rpcBase + 2, p2pBase, p2pBase + 2]
    await waitForHttp(`http://127.0.0.1:${rpcBase}/healthz`, child, 30_000)
    await waitForHttp(`http://127.0.0.1:${rpcBase + 2}/healthz`, child, 30_000)
    child.kill('SIGINT')
    await exitOf(child)
    await released(ports)
    expect(child.output()).toContain('stopping nodes')
  }, 90_000)
})

describe('npm start does not rebuild when dist/ is current (issue 12 B2)', () => {
  const script = join(ROOT, 'scripts', 'build-if-stale.js')
  const check = (root: string): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [script, '--check', root])
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.on('close', (code) => resolve({ code, out }))
    })

  it('dist/ built by the test setup is current', async () => {
    expect(await check(ROOT)).toEqual({ code: 0, out: 'dist/ is current\n' })
  })

  it('a source newer than dist/, or no dist/ at all, is stale', async () => {
    const root = await mkdtemp(join(tmpdir(), 'certchain-stale-'))
    try {
      expect((await check(root)).code).toBe(1)
      await mkdir(join(root, 'src', 'core'), { recursive: true })
      await mkdir(join(root, 'dist', 'src', 'cli'), { recursive: true })
      await writeFile(join(root, 'src', 'core', 'a.ts'), '')
      await writeFile(join(root, 'dist', 'src', 'cli', 'main.js'), '')
      const past = new Date(Date.now() - 60_000)
      await utimes(join(root, 'src', 'core', 'a.ts'), past, past)
      await utimes(join(root, 'src', 'core'), past, past)
      await utimes(join(root, 'src'), past, past)
      expect(await check(root)).toEqual({ code: 0, out: 'dist/ is current\n' })
      await writeFile(join(root, 'src', 'core', 'a.ts'), 'changed')
      const future = new Date(Date.now() + 60_000)
      await utimes(join(root, 'src', 'core', 'a.ts'), future, future)
      expect(await check(root)).toEqual({ code: 1, out: 'dist/ is stale\n' })
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe('npx certchain in a clone runs the clone, without installing it into npx\'s cache (issue 12 B10)', () => {
  it('npm ci (prepare) links node_modules/.bin/certchain to bin/certchain.js', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.prepare).toContain('node scripts/link-bin.js')
    const root = await mkdtemp(join(tmpdir(), 'certchain-link-'))
    try {
      await mkdir(join(root, 'node_modules', '.bin'), { recursive: true })
      for (let run = 0; run < 2; run++) {
        // twice: a second npm ci replaces the link instead of failing on it
        const code = await new Promise<number | null>((resolve) => spawn(process.execPath, [join(ROOT, 'scripts', 'link-bin.js'), root]).on('close', resolve))
        expect(code).toBe(0)
        expect(await readlink(join(root, 'node_modules', '.bin', 'certchain'))).toBe(join('..', '..', 'bin', 'certchain.js'))
      }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
