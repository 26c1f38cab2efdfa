import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exited, freePort, runCli, spawnCli, waitForHttp, type CliRun } from '../helpers/process.js'

const NO_STACK = /\n\s+at /
const HASH = /genesis hash: ([0-9a-f]{64})/

function expectOneLineError(run: CliRun, code: number, pattern: RegExp): void {
  expect(run.code, run.stdout + run.stderr).toBe(code)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr).not.toMatch(NO_STACK)
}

async function ok(args: string[]): Promise<CliRun> {
  const run = await runCli(args)
  expect(run.code, `certchain ${args.join(' ')}\n${run.stdout}${run.stderr}`).toBe(0)
  return run
}

function hashOf(run: CliRun): string {
  const hash = HASH.exec(run.stdout)?.[1]
  expect(hash, run.stdout).toBeDefined()
  return hash!
}

/** Four institutions, each on "its own machine" (its own directory): three validators and a bank. */
const INSTITUTIONS = [
  { dir: 'mois', id: 'val-mois', name: 'Ministry of the Interior and Safety', validator: true, issuer: 'kr.mois' },
  { dir: 'court', id: 'val-court', name: 'National Court Administration', validator: true, issuer: 'kr.court.seoul-family' },
  { dir: 'seoul', id: 'val-seoul', name: 'Seoul Metropolitan Government', validator: true, issuer: 'kr.seoul.jongno' },
  { dir: 'bank', id: 'kr.bank.kookmin', name: 'KB Kookmin Bank', validator: false, issuer: undefined },
] as const

describe('certchain genesis ceremony', () => {
  let dir: string
  let genesis: string
  const home = (dir_: string): string => join(dir, dir_, 'node')
  const identity = (dir_: string): string => join(dir, dir_, 'identity.json')

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-ceremony-'))
    genesis = join(dir, 'coordinator', 'genesis.json')
    // Institution side: a node home and (for agencies) an issuer key, then only the public identity.
    await Promise.all(
      INSTITUTIONS.map(async (inst) => {
        await ok(['init', '--home', home(inst.dir), '--moniker', inst.id, ...(inst.validator ? [] : ['--no-validator'])])
        const issuerKey = join(dir, inst.dir, 'issuer_key.json')
        if (inst.issuer) await ok(['keys', 'new', '--issuer', inst.issuer, '--out', issuerKey])
        await ok([
          'export-identity',
          '--home',
          home(inst.dir),
          '--id',
          inst.id,
          '--name',
          inst.name,
          ...(inst.issuer ? ['--issuer-key', issuerKey] : []),
          '--out',
          identity(inst.dir),
        ])
      }),
    )
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('identity files hold public keys and the peer id, never a secret key', async () => {
    for (const inst of INSTITUTIONS) {
      const text = await readFile(identity(inst.dir), 'utf8')
      const secretFiles = [join(home(inst.dir), 'node_key.json'), ...(inst.validator ? [join(home(inst.dir), 'validator_key.json')] : [])]
      if (inst.issuer) secretFiles.push(join(dir, inst.dir, 'issuer_key.json'))
      for (const f of secretFiles) expect(text).not.toContain((JSON.parse(await readFile(f, 'utf8')) as { secretKey: string }).secretKey)
      expect(Object.keys(JSON.parse(text) as object).sort()).toEqual(
        ['format', 'id', 'name', 'peerId', ...(inst.validator ? ['validatorPublicKey'] : []), ...(inst.issuer ? ['issuerKeys'] : [])].sort(),
      )
    }
    // To stdout without --out.
    const run = await ok(['export-identity', '--home', home('bank'), '--id', 'kr.bank.kookmin'])
    expect(JSON.parse(run.stdout)).toMatchObject({ format: 'certchain/identity@1', id: 'kr.bank.kookmin', peerId: expect.stringMatching(/^12D3KooW/) })
  })

  it('the coordinator assembles genesis; validate prints the hash every operator then checks', async () => {
    await ok(['genesis', 'new', '--chain-id', 'certchain-ceremony', '--genesis-time', '2027-01-01T00:00:00Z', '--out', genesis])
    await ok(['genesis', 'add-type', genesis, '--id', 'kr.residence', '--name-ko', '주민등록표 등본', '--name-en', 'Resident registration', '--validity-days', '90', '--authorities', 'kr.mois'])
    await ok(['genesis', 'add-type', genesis, '--id', 'kr.family', '--name-ko', '가족관계증명서', '--name-en', 'Family relationship', '--validity-days', '90'])
    await ok(['genesis', 'add-issuer', genesis, '--id', 'kr.mois', '--name', 'MOIS', '--identity', identity('mois'), '--types', 'kr.residence'])
    await ok(['genesis', 'add-issuer', genesis, '--id', 'kr.court.seoul-family', '--name', 'Seoul Family Court', '--identity', identity('court'), '--types', 'kr.family'])
    await ok(['genesis', 'add-issuer', genesis, '--id', 'kr.seoul.jongno', '--name', 'Jongno-gu Office', '--identity', identity('seoul'), '--types', 'kr.residence'])
    for (const inst of INSTITUTIONS.filter((i) => i.validator)) await ok(['genesis', 'add-validator', genesis, '--identity', identity(inst.dir)])
    const last = await ok(['genesis', 'add-member', genesis, '--identity', identity('bank')])
    expect(last.stdout).toContain('added member "kr.bank.kookmin"')

    const validate = await ok(['genesis', 'validate', genesis])
    const hash = hashOf(validate)
    expect(hashOf(last)).toBe(hash)
    expect(validate.stdout).toContain('chain "certchain-ceremony": 3 validator(s), 1 member(s), 3 issuer(s), 2 certificate type(s)')
    // Warnings do not make a genesis invalid.
    expect(validate.stdout).toMatch(/^warning: only 3 validator\(s\)/m)
    expect(validate.stdout).not.toMatch(/^problem:/m)

    const json = JSON.parse((await ok(['genesis', 'validate', genesis, '--json'])).stdout) as Record<string, unknown>
    expect(json).toMatchObject({ valid: true, chainId: 'certchain-ceremony', hash, problems: [] })

    // Every operator copies the file into their home and gets the same hash.
    for (const inst of INSTITUTIONS) {
      await copyFile(genesis, join(home(inst.dir), 'genesis.json'))
      expect(hashOf(await ok(['genesis', 'validate', join(home(inst.dir), 'genesis.json')]))).toBe(hash)
    }
  })

  it('a node starts from the ceremony-built genesis', async () => {
    const nodeHome = home('mois')
    const configFile = join(nodeHome, 'config.json')
    const config = JSON.parse(await readFile(configFile, 'utf8')) as { p2p: { listen: string[] } }
    // Off the default p2p port, which other test files' nodes use too.
    config.p2p.listen = [`/ip4/127.0.0.1/tcp/${await freePort()}`]
    await writeFile(configFile, JSON.stringify(config, null, 2))
    const port = await freePort()
    const node = spawnCli(['start', '--home', nodeHome, '--rpc-port', String(port), '--log-level', 'warn'])
    try {
      const rpc = `http://127.0.0.1:${port}`
      await waitForHttp(`${rpc}/healthz`, node)
      const status = (await (await fetch(`${rpc}/v1/status`)).json()) as { chainId: string; validatorId: string }
      expect(status).toMatchObject({ chainId: 'certchain-ceremony', validatorId: 'val-mois' })
      const body = (await (await fetch(`${rpc}/v1/issuers`)).json()) as { issuers: { id: string }[] }
      const declared = (JSON.parse(await readFile(identity('mois'), 'utf8')) as { issuerKeys: Record<string, string> }).issuerKeys['kr.mois']!
      expect(body.issuers.map((i) => i.id).sort()).toEqual(['kr.court.seoul-family', 'kr.mois', 'kr.seoul.jongno'])
      expect(JSON.stringify(body.issuers.find((i) => i.id === 'kr.mois'))).toContain(declared)
    } finally {
      node.kill('SIGTERM')
      await exited(node)
    }
  })

  it('validate lists every problem of a bad genesis and exits 1', async () => {
    const doc = JSON.parse(await readFile(genesis, 'utf8')) as {
      issuers: { id: string; publicKey: string; types: string[] }[]
      validators: { id: string; peerId: string }[]
      members: { peerId: string }[]
    }
    doc.issuers[0]!.types.push('kr.passport')
    doc.issuers[1]!.publicKey = 'not-hex'
    doc.validators[1]!.id = doc.validators[0]!.id
    doc.members[0]!.peerId = doc.validators[2]!.peerId
    const bad = join(dir, 'bad-genesis.json')
    await writeFile(bad, JSON.stringify(doc, null, 2))
    const run = await runCli(['genesis', 'validate', bad])
    expect(run.code, run.stderr).toBe(1)
    expect(run.stdout).not.toMatch(HASH)
    for (const problem of [
      'problem: issuers[0].types names unknown certificate type "kr.passport"',
      'problem: issuers[1].publicKey is not valid hex',
      'problem: duplicate node id "val-mois"',
      'problem: duplicate peer id',
    ]) {
      expect(run.stdout).toContain(problem)
    }
    expect(run.stdout).toMatch(/^NOT VALID: 4 problem\(s\)/m)
    const json = await runCli(['genesis', 'validate', bad, '--json'])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, problems: expect.arrayContaining([expect.stringContaining('kr.passport')]) })

    await writeFile(bad, '{"chainId": ')
    const notJson = await runCli(['genesis', 'validate', bad])
    expect(notJson.code).toBe(1)
    expect(notJson.stdout).toMatch(/^problem: not JSON/m)
  })

  describe('mistakes print one line and exit non-zero', () => {
    it('usage errors exit 2', async () => {
      expectOneLineError(await runCli(['genesis', 'validate']), 2, /missing required argument/)
      expectOneLineError(await runCli(['genesis', 'validate', join(dir, 'missing.json')]), 2, /FILE_NOT_FOUND: genesis .*missing\.json does not exist/)
      expectOneLineError(await runCli(['genesis', 'new', '--chain-id', 'x', '--out', genesis]), 2, /already exists; pass --force to overwrite it/)
      expectOneLineError(await runCli(['genesis', 'add-issuer', genesis, '--id', 'kr.x', '--name', 'X']), 2, /exactly one of --identity or --public-key/)
      expectOneLineError(await runCli(['genesis', 'add-type', genesis, '--id', 'kr.x', '--name-ko', 'a', '--name-en', 'b', '--validity-days', 'many']), 2, /must be an integer/)
    })

    it('refused entries exit 1 with INVALID_GENESIS and leave the file unchanged', async () => {
      const before = await readFile(genesis, 'utf8')
      expectOneLineError(
        await runCli(['genesis', 'add-validator', genesis, '--identity', identity('mois')]),
        1,
        /INVALID_GENESIS: cannot add validator "val-mois": node id "val-mois" is already registered/,
      )
      expectOneLineError(await runCli(['genesis', 'add-validator', genesis, '--identity', identity('bank')]), 1, /has no validatorPublicKey/)
      expectOneLineError(
        await runCli(['genesis', 'add-issuer', genesis, '--id', 'kr.x', '--name', 'X', '--public-key', 'ab'.repeat(32), '--types', 'kr.passport']),
        1,
        /INVALID_GENESIS: cannot add issuer "kr.x": types names unknown certificate type "kr.passport"/,
      )
      expectOneLineError(await runCli(['genesis', 'add-issuer', genesis, '--id', 'kr.x', '--name', 'X', '--identity', identity('bank')]), 1, /INVALID_IDENTITY: .*has no key for issuer "kr.x"/)
      expect(await readFile(genesis, 'utf8')).toBe(before)
    })

    it('a bad identity file names its bad fields (INVALID_IDENTITY)', async () => {
      const bad = join(dir, 'bad-identity.json')
      await writeFile(bad, JSON.stringify({ format: 'certchain/identity@1', id: 'x', peerId: '', secretKey: 'ab' }))
      expectOneLineError(
        await runCli(['genesis', 'add-member', genesis, '--identity', bad]),
        1,
        /INVALID_IDENTITY: .*bad-identity\.json is not a valid identity: secretKey is not a known field; name must be a non-empty string; peerId must be a non-empty string/,
      )
    })

    it('genesis new --force overwrites', async () => {
      const fresh = join(dir, 'fresh.json')
      await ok(['genesis', 'new', '--chain-id', 'one', '--out', fresh])
      await ok(['genesis', 'new', '--chain-id', 'two', '--out', fresh, '--force'])
      expect(JSON.parse(await readFile(fresh, 'utf8'))).toMatchObject({ chainId: 'two', validators: [] })
    })
  })
})
