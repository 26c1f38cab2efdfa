import { createServer, type Server } from 'node:net'
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { certificateFiles, prepareIssuance } from '../../src/client/index.js'
import { certificateFileToJson } from '../../src/core/certificate.js'
import { newKeyFile, saveKeyFile } from '../../src/node/keys.js'
import { startFakeRpc } from '../helpers/fake-rpc.js'
import { makeTestChain } from '../helpers/fixtures.js'
import { freePort, runCli, type CliRun } from '../helpers/process.js'

/** Every error path prints exactly one line `certchain: CODE: message`, no stack, and exits with `exit`. */
function expectError(run: CliRun, exit: number, pattern: RegExp): void {
  expect(run.code, run.stdout + run.stderr).toBe(exit)
  const lines = run.stderr.trimEnd().split('\n')
  expect(lines, run.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^certchain: [A-Z][A-Z0-9_]+: \S/)
  expect(lines[0]).toMatch(pattern)
}

describe('CLI usage, file and argument errors: one format, exit 2 (issue 12 B3, B5)', () => {
  let dir: string
  let key: string
  let cert: string
  let doc: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-inputs-'))
    key = join(dir, 'issuer.json')
    await saveKeyFile(key, newKeyFile('kr.seoul.jongno'))
    doc = join(dir, 'doc.txt')
    await writeFile(doc, 'a document')
    const identity = { issuer: 'kr.seoul.jongno', key: newKeyFile() }
    const prepared = prepareIssuance('certchain-test', identity, [{ type: 'kr.residence', document: Buffer.from('a document'), validFrom: 1, validUntil: 2 }])
    cert = join(dir, 'cert.json')
    await writeFile(cert, JSON.stringify(certificateFileToJson(certificateFiles('certchain-test', prepared, 1)[0]!)))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('files that do not exist exit 2 with FILE_NOT_FOUND or INVALID_KEY_FILE', async () => {
    expectError(await runCli(['verify', join(dir, 'nope.json'), '--document', doc]), 2, /^certchain: FILE_NOT_FOUND: certificate file .*nope\.json does not exist$/)
    expectError(await runCli(['verify', cert, '--document', join(dir, 'nope.txt')]), 2, /^certchain: FILE_NOT_FOUND: document .*nope\.txt does not exist$/)
    expectError(
      await runCli(['issue', '--key', join(dir, 'nope.json'), '--type', 'kr.residence', '--document', doc, '--out', join(dir, 'x.json')]),
      2,
      /^certchain: INVALID_KEY_FILE: key file .*nope\.json does not exist$/,
    )
    expectError(await runCli(['verify', dir, '--document', doc]), 2, /^certchain: FILE_UNREADABLE: certificate file .* is a directory/)
  }, 60_000)

  it('bad arguments exit 2 with INVALID_ARGUMENT or USAGE', async () => {
    expectError(await runCli(['revoke', '--key', key, '--id', '00']), 2, /^certchain: INVALID_ARGUMENT: --id must be 32 bytes \(64 hex characters\)$/)
    expectError(await runCli(['verify', cert, '--document-hash', 'zz']), 2, /^certchain: INVALID_ARGUMENT: --document-hash is not valid hex$/)
    expectError(await runCli(['verify', cert, '--document', doc, '--document-hash', 'ab'.repeat(32)]), 2, /^certchain: USAGE: verify needs exactly one of/)
    expectError(await runCli(['dev', '--rpc-port', 'many']), 2, /^certchain: INVALID_ARGUMENT: option '--rpc-port <port>' argument 'many' is invalid/)
  }, 60_000)

  it("commander's errors use the same format, with a hint", async () => {
    expectError(await runCli(['nonsense']), 2, /^certchain: UNKNOWN_COMMAND: unknown command 'nonsense'; see "certchain --help"$/)
    expectError(await runCli(['isue']), 2, /^certchain: UNKNOWN_COMMAND: unknown command 'isue' \(Did you mean issue\?\); see "certchain --help"$/)
    expectError(await runCli(['verify']), 2, /^certchain: USAGE: missing required argument 'certificate.json'; see "certchain verify --help"$/)
    expectError(await runCli(['issue', '--type', 'kr.residence']), 2, /^certchain: USAGE: required option '--key <file>' not specified; see "certchain issue --help"$/)
    expectError(await runCli(['genesis', 'validate', 'a', 'b']), 2, /^certchain: USAGE: too many arguments for 'validate'.*; see "certchain genesis validate --help"$/)
  }, 60_000)

  it('an unknown option is reported as such, not as a missing required one', async () => {
    expectError(await runCli(['issue', '--bogus']), 2, /^certchain: UNKNOWN_OPTION: unknown option '--bogus'; see "certchain issue --help"$/)
    expectError(await runCli(['issue', '--outdir', 'x']), 2, /^certchain: UNKNOWN_OPTION: unknown option '--outdir' \(Did you mean --out-dir\?\)/)
  }, 60_000)

  it('an RPC URL without http:// is refused as such, from the flag or from $CERTCHAIN_RPC', async () => {
    expectError(await runCli(['status', '--rpc', '127.0.0.1:26657']), 2, /INVALID_ARGUMENT: .*'127\.0\.0\.1:26657' is invalid\. needs http:\/\/ or https:\/\/ \(e\.g\. http:\/\/127\.0\.0\.1:26657\)/)
    expectError(await runCli(['status'], { env: { CERTCHAIN_RPC: 'localhost:26657' } }), 2, /INVALID_ARGUMENT: .*from env 'CERTCHAIN_RPC' is invalid\. needs http:\/\//)
  }, 60_000)

  it('no command at all prints the help on stderr and exits 2; --help and --version exit 0', async () => {
    const none = await runCli([])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/^Usage: certchain/)
    expect((await runCli(['--help'])).code).toBe(0)
    expect((await runCli(['--version'])).code).toBe(0)
  }, 60_000)

  it('an unknown certificate type is an argument error with a code (UNKNOWN_CERT_TYPE, exit 2)', async () => {
    const rpc = await startFakeRpc({
      'GET /v1/status': { body: { chainId: 'certchain-test' } },
      'GET /v1/types': { body: { types: [{ id: 'kr.residence', nameKo: 'a', nameEn: 'b', validityDays: 90, authorities: [] }] } },
    })
    try {
      expectError(
        await runCli(['issue', '--rpc', rpc.url, '--key', key, '--type', 'kr.passport', '--document', doc, '--out', join(dir, 'p.json')]),
        2,
        /^certchain: UNKNOWN_CERT_TYPE: issue: unknown certificate type "kr.passport" \(known: kr.residence\)$/,
      )
    } finally {
      await rpc.close()
    }
  }, 60_000)
})

describe('local files are bounded in size (issue 10 #16)', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-sizes-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a huge certificate file is refused before it is read (FILE_TOO_LARGE, exit 2)', async () => {
    const huge = join(dir, 'huge.json')
    await writeFile(huge, '')
    await truncate(huge, 68 * 1024 * 1024) // sparse: costs no disk, but its size is what a reader sees
    await writeFile(join(dir, 'doc.txt'), 'x')
    expectError(await runCli(['verify', huge, '--document', join(dir, 'doc.txt')]), 2, /^certchain: FILE_TOO_LARGE: certificate file .*huge\.json is larger than 65536 bytes$/)
  }, 60_000)

  it('a huge genesis or key file is refused too', async () => {
    const genesis = join(dir, 'genesis.json')
    await writeFile(genesis, '')
    await truncate(genesis, 33 * 1024 * 1024)
    expectError(await runCli(['init', '--home', join(dir, 'home'), '--genesis', genesis]), 2, /^certchain: FILE_TOO_LARGE: genesis .* is larger than 33554432 bytes$/)
    const key = join(dir, 'key.json')
    await writeFile(key, '', { mode: 0o600 })
    await truncate(key, 1024 * 1024)
    expectError(await runCli(['keys', 'show', key]), 2, /^certchain: INVALID_KEY_FILE: key file .* is larger than 65536 bytes$/)
  }, 60_000)
})

describe('secret key files readable by others are refused (issue 10 #17)', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-keymode-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('KEY_FILE_INSECURE names the mode and the fix; CERTCHAIN_ALLOW_INSECURE_KEYS=1 overrides', async () => {
    const key = join(dir, 'issuer.json')
    await saveKeyFile(key, newKeyFile('kr.x'))
    expect((await runCli(['keys', 'show', key])).code).toBe(0)
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      await chmod(key, mode)
      expectError(
        await runCli(['keys', 'show', key]),
        2,
        new RegExp(`^certchain: KEY_FILE_INSECURE: key file .*issuer\\.json has mode 0${mode.toString(8)}: group or others may read it; run "chmod 600 .*issuer\\.json" \\(or set CERTCHAIN_ALLOW_INSECURE_KEYS=1 to load it anyway\\)$`),
      )
    }
    const allowed = await runCli(['keys', 'show', key], { env: { CERTCHAIN_ALLOW_INSECURE_KEYS: '1' } })
    expect(allowed.code, allowed.stderr).toBe(0)
    expect(JSON.parse(allowed.stdout)).toMatchObject({ issuer: 'kr.x' })
  }, 60_000)

  it('a node refuses to start with a validator key readable by others', async () => {
    const home = join(dir, 'node')
    const genesis = join(dir, 'genesis.json')
    await writeFile(genesis, JSON.stringify(makeTestChain().genesisJson))
    expect((await runCli(['init', '--home', home, '--genesis', genesis])).code).toBe(0)
    await chmod(join(home, 'validator_key.json'), 0o644)
    expectError(await runCli(['start', '--home', home, '--rpc-port', String(await freePort()), '--p2p-port', String(await freePort())]), 2, /KEY_FILE_INSECURE: key file .*validator_key\.json has mode 0644/)
  }, 60_000)
})

describe('a failed init leaves nothing behind (issue 12 B9)', () => {
  let dir: string
  let genesis: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-init-'))
    genesis = join(dir, 'genesis.json')
    await writeFile(genesis, JSON.stringify(makeTestChain().genesisJson, null, 2))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a missing genesis exits 2 and creates no home; then init with the right genesis works', async () => {
    const home = join(dir, 'home')
    expectError(await runCli(['init', '--home', home, '--genesis', join(dir, 'nope.json')]), 2, /^certchain: FILE_NOT_FOUND: genesis .*nope\.json does not exist$/)
    await expect(stat(home)).rejects.toMatchObject({ code: 'ENOENT' })
    const init = await runCli(['init', '--home', home, '--genesis', genesis])
    expect(init.code, init.stderr).toBe(0)
    expect((await readdir(home)).sort()).toEqual(['config.json', 'data', 'genesis.json', 'node_key.json', 'validator_key.json'])
    expect(await readFile(join(home, 'genesis.json'), 'utf8')).toBe(await readFile(genesis, 'utf8'))
  }, 60_000)

  it('an invalid genesis (exit 1) leaves an existing empty home empty', async () => {
    const home = join(dir, 'empty')
    await mkdir(home)
    const bad = join(dir, 'bad.json')
    await writeFile(bad, '{"chainId": ')
    expectError(await runCli(['init', '--home', home, '--genesis', bad]), 1, /^certchain: INVALID_GENESIS: .*bad\.json is not JSON/)
    await writeFile(bad, JSON.stringify({ ...makeTestChain().genesisJson, validators: [] }))
    expectError(await runCli(['init', '--home', home, '--genesis', bad]), 1, /^certchain: INVALID_GENESIS: .*at least one validator/)
    expect(await readdir(home)).toEqual([])
  }, 60_000)

  it('init into a home that holds a node is refused (exit 2) and changes nothing', async () => {
    const home = join(dir, 'home')
    const before = await readFile(join(home, 'node_key.json'), 'utf8')
    expectError(await runCli(['init', '--home', home]), 2, /^certchain: INVALID_CONFIG: .* already holds a node/)
    expect(await readFile(join(home, 'node_key.json'), 'utf8')).toBe(before)
  }, 60_000)
})

describe('a port in use is one coded line naming the port (issue 12 B4)', () => {
  let dir: string
  let holder: Server
  let taken: number
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-ports-'))
    holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    taken = (holder.address() as { port: number }).port
  })
  afterAll(async () => {
    await new Promise((resolve) => holder.close(resolve))
    await rm(dir, { recursive: true, force: true })
  })

  it('p2p port taken: PORT_IN_USE, no libp2p stack trace or faultTolerance hint', async () => {
    const run = await runCli(['dev', '--home', join(dir, 'dev'), '--rpc-port', String(await freePort()), '--p2p-port', String(taken), '--log-level', 'silent'])
    expectError(run, 2, new RegExp(`^certchain: PORT_IN_USE: p2p port ${taken} on 127\\.0\\.0\\.1 is already in use \\(another certchain node\\?\\); choose another with --p2p-port or p2p\\.listen$`))
    expect(run.stderr).not.toContain('faultTolerance')
  }, 60_000)

  it('RPC port taken: PORT_IN_USE', async () => {
    const run = await runCli(['dev', '--home', join(dir, 'dev'), '--rpc-port', String(taken), '--p2p-port', String(await freePort()), '--log-level', 'silent'])
    expectError(run, 2, new RegExp(`^certchain: PORT_IN_USE: RPC port ${taken} on 127\\.0\\.0\\.1 is already in use \\(another certchain node\\?\\); choose another with --rpc-port or rpc\\.port$`))
  }, 60_000)
})
