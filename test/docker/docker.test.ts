import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../cluster/netns.js'
import { ROOT, freePort } from '../helpers/process.js'
import { DockerEngine, dockerSkipReason, ensurePackages, type ExecResult } from './docker.js'

/** A README block between `<!-- NAME:start -->` and `<!-- NAME:end -->`, exactly as written. */
async function readmeBlock(name: string): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const match = new RegExp(`<!-- ${name}:start -->\\s*\`\`\`bash\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`).exec(readme)
  if (!match) throw new Error(`README.md has no ${name} block between the markers`)
  return match[1]!
}

function ok(run: ExecResult, what: string): string {
  expect(run.code, `${what}:\n${run.stdout}\n${run.stderr}`).toBe(0)
  return run.stdout
}

interface Status {
  readonly chainId: string
  readonly height: number
  readonly peers: number
  readonly validator: boolean
  readonly moniker: string
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

const ISSUED = /issued certificate ([0-9a-f]{64}) at height (\d+)/
const skip = dockerSkipReason()
const suite = skip ? describe.skip : describe
const NODES = ['validator0', 'validator1', 'validator2', 'validator3', 'member0'] as const
const portVariable = (node: string): string => `CERTCHAIN_PORT_${node.toUpperCase()}`

suite(`Docker image and compose cluster${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let engine: DockerEngine | undefined
  // Host ports for the compose cluster (free when chosen), through README's variables.
  let env: Record<string, string> = {}
  const timings: Record<string, number> = {}
  const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
    const started = Date.now()
    try {
      return await step()
    } finally {
      timings[what] = Math.round((Date.now() - started) / 100) / 10
    }
  }
  const docker = (): DockerEngine => {
    if (!engine) throw new Error('the Docker engine did not start')
    return engine
  }
  const rpc = (node: string): string => `http://127.0.0.1:${env[portVariable(node)]}`
  const compose = (args: string): Promise<ExecResult> => docker().shell(`docker compose -f config/docker-compose.yml ${args}`, env)
  const container = async (node: string): Promise<string> => ok(await compose(`ps -q ${node}`), `ps ${node}`).trim()
  const health = async (id: string): Promise<string> =>
    (await docker().mustDocker(['inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', id])).trim()
  const status = (node: string): Promise<Status> => getJson<Status>(`${rpc(node)}/v1/status`)
  /** Each node's health checks and last log lines, for a failure message. */
  const clusterDetail = async (): Promise<string> => {
    const parts: string[] = []
    for (const node of NODES) {
      const id = await container(node)
      const checks = await docker().docker(['inspect', '--format', '{{json .State.Health}}', id])
      const logs = await docker().docker(['logs', '--tail', '5', id])
      parts.push(`${node}: ${checks.stdout.trim()}\n${logs.stdout}${logs.stderr}`)
    }
    return parts.join('\n')
  }

  beforeAll(async () => {
    env = Object.fromEntries(await Promise.all(NODES.map(async (n) => [portVariable(n), String(await freePort())] as const)))
    if (process.env.CI === 'true') await timed('packages', ensurePackages)
    engine = await timed('engine start', () => DockerEngine.start())
    await timed('base image', () => docker().buildBase())
  }, 600_000)

  afterAll(async () => {
    try {
      await timed('teardown', async () => engine?.destroy())
    } finally {
      console.log(`docker scenario timings (s): ${JSON.stringify(timings)}`)
    }
  }, 300_000)

  it('builds the image and runs one node as README says: init into a volume, healthy, /healthz, clean stop', async () => {
    const lines = (await readmeBlock('docker-node')).split('\n').filter(Boolean)
    ok(await timed('image build', () => docker().shell(lines.filter((l) => l.startsWith('docker build')).join('\n'))), 'docker build')
    const run = ok(await timed('single node run', () => docker().shell(lines.filter((l) => !l.startsWith('docker build')).join('\n'))), 'README docker run')
    expect(run).toMatch(/[0-9a-f]{64}/) // `docker run -d` prints the container id

    expect((await docker().mustDocker(['inspect', '--format', '{{.Config.User}}', 'certchain'])).trim()).toBe('certchain')
    expect((await docker().mustDocker(['port', 'certchain-node', '26657'])).trim()).toBe('127.0.0.1:26657')
    await timed('single node healthy', () =>
      waitFor('the HEALTHCHECK to report healthy', async () => (await health('certchain-node')) === 'healthy', { timeoutMs: 90_000, intervalMs: 1_000 }),
    )
    expect(await getJson<{ ok: boolean; height: number }>('http://127.0.0.1:26657/healthz')).toEqual({ ok: true, height: 0 })
    expect((await getJson<Status>('http://127.0.0.1:26657/v1/status')).chainId).toBe('certchain-kr-example')

    ok(await timed('single node stop', () => docker().docker(['stop', 'certchain-node'])), 'docker stop')
    expect((await docker().mustDocker(['inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', 'certchain-node'])).trim()).toBe('0 false')
    const logs = await docker().docker(['logs', 'certchain-node'])
    expect(logs.stdout + logs.stderr).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/)
    expect(logs.stdout + logs.stderr).toMatch(/"msg":"node stopped"/)
    ok(await docker().docker(['rm', 'certchain-node']), 'docker rm')
  })

  it('runs the compose cluster: 4 validators + 1 member, healthy, meshed, on loopback, each with only its own keys', async () => {
    ok(await timed('compose up', async () => docker().shell(await readmeBlock('docker-compose-up'), env)), 'README compose up')
    await timed('compose healthy', () =>
      waitFor(
        'every node healthy',
        async () => {
          for (const node of NODES) if ((await health(await container(node))) !== 'healthy') return false
          return true
        },
        { timeoutMs: 180_000, intervalMs: 1_000 },
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await clusterDetail()}`)
      }),
    )
    const statuses = await timed('compose mesh', () =>
      waitFor(
        'every node connected to the 4 others and at one height',
        async () => {
          const all = await Promise.all(NODES.map(status))
          return all.every((s) => s.peers === 4 && s.height >= 1 && s.height === all[0]!.height) ? all : false
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      ),
    )
    expect(statuses.map((s) => s.moniker)).toEqual([...NODES])
    expect(statuses.map((s) => s.validator)).toEqual([true, true, true, true, false])
    expect(new Set(statuses.map((s) => s.chainId))).toEqual(new Set(['certchain-compose']))

    for (const node of NODES) {
      const id = await container(node)
      // Published on 127.0.0.1 only (CERTCHAIN_BIND's default).
      expect((await docker().mustDocker(['port', id, '26657'])).trim()).toBe(`127.0.0.1:${env[portVariable(node)]}`)
      // One volume, the node's own home: its own keys, no other node's, no issuer's.
      const mounts = (await docker().mustDocker(['inspect', '--format', '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}', id])).trim()
      expect(mounts, node).toBe(`config_${node}:/data`)
      const files = ok(await docker().docker(['exec', id, 'find', '/data', '-maxdepth', '1', '-type', 'f']), `files of ${node}`)
      const expected = ['/data/config.json', '/data/genesis.json', '/data/node_key.json', ...(node === 'member0' ? [] : ['/data/validator_key.json'])]
      expect(files.split('\n').filter(Boolean).sort(), node).toEqual(expected.sort())
      expect((await docker().mustDocker(['exec', id, 'stat', '-c', '%a %U', '/data/node_key.json'])).trim(), node).toBe('600 certchain')
    }
  })

  it('issues a certificate through the CLI container and verifies it through another node, as README says', async () => {
    const out = ok(await timed('issue and verify', async () => docker().shell(await readmeBlock('docker-compose-issue'), env)), 'README issue and verify')
    const issued = ISSUED.exec(out)
    expect(issued, out).not.toBeNull()
    expect(out).toMatch(/verdict: VALID/)
    // The member node, not the validator it was submitted to, answers for it on its published port.
    expect((await getJson<{ status: string }>(`${rpc('member0')}/v1/certificates/${issued![1]}`)).status).toBe('valid')
  })

  it('keeps finalizing with one validator killed, and the restarted validator catches up', async () => {
    const before = await status('validator0')
    ok(await compose('kill validator3'), 'kill validator3')
    const killed = await container('validator3')
    expect((await docker().mustDocker(['inspect', '--format', '{{.State.Running}}', killed])).trim()).toBe('false')

    // The three others (a quorum of 3 of 4) commit a new certificate and keep making blocks.
    const issueLine = (await readmeBlock('docker-compose-issue')).split('\n').find((l) => l.includes(' cli issue '))!
    const out = ok(await timed('issue with a validator down', () => docker().shell(issueLine.replace('certificate.json', 'certificate-2.json'), env)), 'issue while validator3 is down')
    const id = ISSUED.exec(out)![1]!
    const moved = await waitFor(
      'the three validators and the member two blocks past the kill, connected to each other only',
      async () => {
        const all = await Promise.all(['validator0', 'validator1', 'validator2', 'member0'].map(status))
        return all.every((s) => s.height >= before.height + 2 && s.peers === 3) ? all : false
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    )

    ok(await timed('validator restart', () => compose('start validator3')), 'start validator3')
    await timed('catch up', () =>
      waitFor(
        "validator3 at the others' height, with the certificate issued while it was down",
        async () => {
          const [back, other] = await Promise.all([status('validator3'), status('validator0')])
          if (back.height < moved[0]!.height || back.height < other.height - 1) return false
          return (await getJson<{ status: string }>(`${rpc('validator3')}/v1/certificates/${id}`)).status === 'valid'
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      ),
    )
    await waitFor('validator3 healthy again', async () => (await health(killed)) === 'healthy', { timeoutMs: 60_000, intervalMs: 1_000 })
  })

  it('takes the cluster down with its volumes, as README says', async () => {
    ok(await timed('compose down', async () => docker().shell(await readmeBlock('docker-compose-down'), env)), 'README compose down')
    expect((await docker().mustDocker(['ps', '-aq'])).trim()).toBe('')
    // Only the single node's volume is left; the engine teardown removes it.
    expect((await docker().mustDocker(['volume', 'ls', '-q'])).split('\n').filter(Boolean)).toEqual(['certchain-data'])
  })
})
