/**
 * Governance from the command line, end to end: a two-validator chain of `certchain start`
 * processes, operators proposing and voting with their node homes, the registry queries, and an
 * issuer rotating and declaring compromised its own keys. Two validators, so a proposal stays
 * open until the second one votes (more than two thirds of two is two).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exited, freePort, runCli, spawnCli, waitForHttp, type CliRun } from '../helpers/process.js'

const NO_STACK = /\n\s+at /

function expectOneLineError(run: CliRun, code: number, pattern: RegExp): void {
  expect(run.code, run.stdout + run.stderr).toBe(code)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr.trim().split('\n')).toHaveLength(1)
  expect(run.stderr).not.toMatch(NO_STACK)
}

async function ok(args: string[]): Promise<CliRun> {
  const run = await runCli(args)
  expect(run.code, `certchain ${args.join(' ')}\n${run.stdout}${run.stderr}`).toBe(0)
  return run
}

const proposalNumber = (run: CliRun): number => {
  const m = /^proposal (\d+) \(/.exec(run.stdout)
  expect(m, run.stdout).not.toBeNull()
  return Number(m![1])
}

describe('certchain gov, issuers, validators, members, issuer-keys', () => {
  let dir: string
  let rpc: string
  const nodes: ReturnType<typeof spawnCli>[] = []
  const v0 = (): string => join(dir, 'net', 'validator0')
  const v1 = (): string => join(dir, 'net', 'validator1')
  /** Runs a client command against the chain. */
  const cli = (args: string[]): Promise<CliRun> => runCli([...args, '--rpc', rpc])

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-cli-gov-'))
    await ok(['testnet', '--validators', '2', '--out', join(dir, 'net'), '--chain-id', 'certchain-gov'])
    const manifest = JSON.parse(await readFile(join(dir, 'net', 'testnet.json'), 'utf8')) as { nodes: { home: string; peerId: string }[] }
    // Free ports instead of the standard ones, which other test files' nodes use too.
    const p2pPorts = [await freePort(), await freePort()]
    const rpcPorts = [await freePort(), await freePort()]
    for (const [i, n] of manifest.nodes.entries()) {
      const file = join(n.home, 'config.json')
      const config = JSON.parse(await readFile(file, 'utf8')) as { p2p: { listen: string[]; bootstrap: string[] } }
      const other = manifest.nodes[1 - i]!
      config.p2p.listen = [`/ip4/127.0.0.1/tcp/${p2pPorts[i]}`]
      config.p2p.bootstrap = [`/ip4/127.0.0.1/tcp/${p2pPorts[1 - i]}/p2p/${other.peerId}`]
      await writeFile(file, JSON.stringify(config, null, 2))
      nodes.push(spawnCli(['start', '--home', n.home, '--rpc-port', String(rpcPorts[i]), '--log-level', 'warn']))
    }
    rpc = `http://127.0.0.1:${rpcPorts[0]}`
    await Promise.all(nodes.map((n, i) => waitForHttp(`http://127.0.0.1:${rpcPorts[i]}/healthz`, n)))
  })

  afterAll(async () => {
    for (const n of nodes) n.kill('SIGTERM')
    await Promise.all(nodes.map(exited))
    await rm(dir, { recursive: true, force: true })
  })

  it('validators, members, issuers and issuer print the registry; --json prints the RPC answer', async () => {
    const validators = await ok(['validators', '--rpc', rpc])
    expect(validators.stdout).toMatch(/^2 validators voting at height \d+, in proposer order:/)
    expect(validators.stdout).toMatch(/val-0\s+Validator 0\s+[0-9a-f]{64}\s+12D3Koo/)
    expect(validators.stdout).toMatch(/val-1\s+Validator 1/)
    const json = JSON.parse((await cli(['validators', '--height', '1', '--json'])).stdout)
    expect(json.height).toBe(1)
    expect(json.registered.map((v: { id: string }) => v.id).sort()).toEqual(['val-0', 'val-1'])

    expect((await ok(['members', '--rpc', rpc])).stdout).toMatch(/^ID\s+NAME\s+PEER ID\n/)
    const issuers = await ok(['issuers', '--rpc', rpc])
    expect(issuers.stdout).toMatch(/kr\.seoul\.jongno\s+.+\s+yes\s+kr\.residence\s+1 current of 1/)
    const jongnoKey = JSON.parse(await readFile(join(dir, 'net', 'issuers', 'kr.seoul.jongno.json'), 'utf8')).publicKey as string
    const issuer = await ok(['issuer', 'kr.seoul.jongno', '--rpc', rpc])
    expect(issuer.stdout).toMatch(/^issuer kr\.seoul\.jongno: .* \(active\)/)
    expect(issuer.stdout).toMatch(new RegExp(`${jongnoKey}\\s+0\\s+-\\s+current`))
    expect(JSON.parse((await cli(['issuer', 'kr.seoul.jongno', '--json'])).stdout).keys[0].publicKey).toBe(jongnoKey)

    const status = await ok(['status', '--rpc', rpc])
    expect(status.stdout).toMatch(/validators\s+2 voting at the next height/)
    expect(status.stdout).toMatch(/proposals\s+0 open/)
  })

  it('addMember from an identity file stays open until the second validator approves', async () => {
    const bank = join(dir, 'bank')
    await ok(['init', '--home', bank, '--no-validator', '--moniker', 'kr.bank.shinhan'])
    const identity = join(dir, 'bank-identity.json')
    await ok(['export-identity', '--home', bank, '--id', 'kr.bank.shinhan', '--name', 'Shinhan Bank', '--out', identity])

    const proposed = await cli(['gov', 'propose', 'addMember', '--identity', identity, '--home', v0(), '--note', 'joins as a verifier'])
    expect(proposed.code, proposed.stderr).toBe(0)
    expect(proposed.stdout).toMatch(/^proposal \d+ \(addMember kr\.bank\.shinhan\) committed at height \d+: open\n {2}1 yes, 0 no of 2 validators \(2 needed\)/)
    const id = proposalNumber(proposed)

    const open = await cli(['gov', 'list', '--status', 'open'])
    expect(open.stdout).toMatch(new RegExp(`^${id}\\s+open\\s+addMember kr\\.bank\\.shinhan\\s+val-0\\s+\\d+\\s+1/2 yes, 0 no\\s+joins as a verifier`, 'm'))
    expect((await cli(['status'])).stdout).toMatch(/proposals\s+1 open/)

    expectOneLineError(await cli(['gov', 'vote', String(id), 'yes', '--home', v0()]), 1, /^certchain: ALREADY_VOTED: "val-0" already voted on proposal/)

    const voted = await cli(['gov', 'vote', String(id), 'yes', '--home', v1()])
    expect(voted.code, voted.stderr).toBe(0)
    expect(voted.stdout).toMatch(new RegExp(`^val-1 voted yes on proposal ${id} at height \\d+; the proposal is passed\\n {2}2 yes, 0 no of 2 validators`))
    const members = JSON.parse((await cli(['members', '--json'])).stdout) as { id: string; name: string }[]
    expect(members).toContainEqual(expect.objectContaining({ id: 'kr.bank.shinhan', name: 'Shinhan Bank' }))

    const show = await cli(['gov', 'show', String(id)])
    expect(show.stdout).toMatch(new RegExp(`^proposal ${id}: passed\\n {2}action {4}addMember\\n {4}id {11}kr\\.bank\\.shinhan`))
    expect(show.stdout).toMatch(/note {6}joins as a verifier/)
    expect(show.stdout).toMatch(/val-0\s+yes\s+\d+\n\s+val-1\s+yes\s+\d+/)
    expectOneLineError(await cli(['gov', 'vote', String(id), 'no', '--home', v1()]), 1, /^certchain: PROPOSAL_CLOSED: /)
  })

  it('a "no" from the second validator rejects a proposal', async () => {
    const proposed = await cli(['gov', 'propose', 'setParams', '--param', 'proposalTtlBlocks=50', '--home', v0()])
    expect(proposed.code, proposed.stderr).toBe(0)
    const id = proposalNumber(proposed)
    const voted = await cli(['gov', 'vote', String(id), 'no', '--validator-key', join(v1(), 'validator_key.json')])
    expect(voted.code, voted.stderr).toBe(0)
    expect(voted.stdout).toMatch(/the proposal is rejected/)
    const shown = JSON.parse((await cli(['gov', 'show', String(id), '--json'])).stdout)
    expect(shown).toMatchObject({ id, status: 'rejected', action: { type: 'setParams', params: { proposalTtlBlocks: 50 } }, tally: { yes: 1, no: 1, of: 2, needed: 2 } })
    const rejected = JSON.parse((await cli(['gov', 'list', '--status', 'rejected', '--json'])).stdout)
    expect(rejected.proposals.map((p: { id: number }) => p.id)).toEqual([id])
  })

  it('addIssuer passes; the new issuer issues, rotates its key and declares the old one compromised', async () => {
    const busanKey = join(dir, 'busan.json')
    const created = await ok(['keys', 'new', '--issuer', 'kr.busan', '--out', busanKey])
    const oldKey = /public key: ([0-9a-f]{64})/.exec(created.stdout)![1]!
    const proposed = await cli(['gov', 'propose', 'addIssuer', '--id', 'kr.busan', '--name', 'Busan City Hall', '--public-key', oldKey, '--types', 'kr.residence', '--home', v0(), '--json'])
    expect(proposed.code, proposed.stderr).toBe(0)
    const proposal = JSON.parse(proposed.stdout)
    expect(proposal).toMatchObject({ status: 'open', action: { type: 'addIssuer', id: 'kr.busan', publicKey: oldKey, types: ['kr.residence'] } })
    await ok(['gov', 'vote', String(proposal.id), 'yes', '--home', v1(), '--rpc', rpc])

    const doc = join(dir, 'doc.txt')
    await writeFile(doc, 'resident registration, Busan')
    const cert = join(dir, 'busan-cert.json')
    await ok(['issue', '--rpc', rpc, '--key', busanKey, '--type', 'kr.residence', '--document', doc, '--out', cert])
    expect((await cli(['verify', cert, '--document', doc])).code).toBe(0)

    const newKeyFile = join(dir, 'busan-2.json')
    const added = await cli(['issuer-keys', 'add', '--key', busanKey, '--new-key', newKeyFile])
    expect(added.code, added.stderr).toBe(0)
    const newKey = JSON.parse(await readFile(newKeyFile, 'utf8')) as { publicKey: string; issuer: string }
    expect(newKey.issuer).toBe('kr.busan')
    expect(added.stdout).toMatch(new RegExp(`^added key ${newKey.publicKey} to issuer kr\\.busan at height \\d+ \\(new key file `))

    const retired = await cli(['issuer-keys', 'retire', '--key', newKeyFile, '--public-key', oldKey])
    expect(retired.code, retired.stderr).toBe(0)
    const retiredAt = Number(/at height (\d+)/.exec(retired.stdout)![1])
    // The retired key's certificate stays valid; the old key signs nothing new.
    expect((await cli(['verify', cert, '--document', doc])).code).toBe(0)
    expectOneLineError(
      await cli(['issue', '--key', busanKey, '--type', 'kr.residence', '--document', doc, '--out', join(dir, 'x.json')]),
      1,
      /^certchain: ISSUER_KEY_RETIRED: /,
    )
    expectOneLineError(await cli(['issuer-keys', 'retire', '--key', newKeyFile, '--public-key', newKey.publicKey]), 1, /^certchain: LAST_ISSUER_KEY: /)
    expectOneLineError(
      await cli(['issuer-keys', 'compromise', '--key', newKeyFile, '--public-key', newKey.publicKey, '--since', '2020-01-01']),
      1,
      /^certchain: COMPROMISED_KEY_SIGNED: /,
    )

    const compromised = await cli(['issuer-keys', 'compromise', '--key', newKeyFile, '--public-key', oldKey, '--since', '2020-01-01T00:00:00Z'])
    expect(compromised.code, compromised.stderr).toBe(0)
    expect(compromised.stdout).toMatch(new RegExp(`^declared key ${oldKey} of issuer kr\\.busan compromised since 2020-01-01T00:00:00\\.000Z at height \\d+`))
    const history = await cli(['issuer', 'kr.busan'])
    expect(history.stdout).toMatch(new RegExp(`${oldKey}\\s+\\d+\\s+${retiredAt}\\s+compromised since 2020-01-01T00:00:00.000Z`))
    expect(history.stdout).toMatch(new RegExp(`${newKey.publicKey}\\s+\\d+\\s+-\\s+current`))
    const verdict = await cli(['verify', cert, '--document', doc, '--json'])
    expect(verdict.code).toBe(1)
    expect(JSON.parse(verdict.stdout)).toMatchObject({ verdict: 'invalid', status: 'revoked' })
    expect(JSON.parse(verdict.stdout).checks).toContainEqual(expect.objectContaining({ name: 'status', ok: false, detail: expect.stringMatching(/key_compromised/) }))
  })

  describe('errors print one line with the code; exit 1 for refusals, 2 for usage', () => {
    it('refusals by the node or the chain', async () => {
      expectOneLineError(await cli(['issuer', 'kr.nowhere']), 1, /^certchain: ISSUER_NOT_FOUND: issuer "kr.nowhere" is not registered/)
      expectOneLineError(await cli(['gov', 'show', '9999']), 1, /^certchain: PROPOSAL_NOT_FOUND: there is no proposal 9999/)
      expectOneLineError(await cli(['validators', '--height', '99999999']), 1, /^certchain: INVALID_REQUEST: height must be from 1 to/)
      expectOneLineError(await cli(['gov', 'vote', '9999', 'yes', '--home', v0()]), 1, /^certchain: UNKNOWN_PROPOSAL: /)
      expectOneLineError(await cli(['gov', 'propose', 'removeMember', '--id', 'kr.nowhere', '--home', v0()]), 1, /^certchain: UNKNOWN_MEMBER: /)
      expectOneLineError(await cli(['gov', 'propose', 'removeMember', '--id', 'Not An Id', '--home', v0()]), 1, /^certchain: MALFORMED_TX: action: id must match/)
      const stranger = join(dir, 'stranger.json')
      await ok(['keys', 'new', '--out', stranger])
      expectOneLineError(
        await cli(['gov', 'propose', 'removeMember', '--id', 'kr.univ.snu', '--validator-key', stranger]),
        1,
        /^certchain: NOT_A_VALIDATOR: validator key [0-9a-f]{16}… is not registered on this chain/,
      )
      expectOneLineError(
        await cli(['gov', 'propose', 'removeMember', '--id', 'kr.univ.snu', '--validator-key', stranger, '--validator', 'val-0']),
        1,
        /^certchain: NOT_A_VALIDATOR: the signing key is not the key of validator "val-0"/,
      )
      expectOneLineError(await cli(['gov', 'propose', 'removeMember', '--id', 'kr.univ.snu', '--home', join(dir, 'bank')]), 2, /is a member node: it has no validator key/)
    })

    it('usage errors', async () => {
      expectOneLineError(await cli(['gov', 'propose', 'addIssuer', '--home', v0()]), 2, /^certchain: USAGE: addIssuer needs --id, --name, --public-key$/m)
      expectOneLineError(await cli(['gov', 'propose', 'updateType', '--id', 'kr.land', '--home', v0()]), 2, /updateType needs at least one of --name-ko, --name-en, --validity-days, --authorities/)
      expectOneLineError(await cli(['gov', 'propose', 'removeMember', '--id', 'x', '--types', 'a', '--home', v0()]), 2, /removeMember does not take --types/)
      expectOneLineError(await cli(['gov', 'propose', 'removeMember', '--id', 'x', '--identity', join(dir, 'bank-identity.json'), '--home', v0()]), 2, /--identity applies to addValidator, addMember and addIssuer, not removeMember/)
      expectOneLineError(await cli(['gov', 'propose', 'setParams', '--param', 'proposalTtlBlocks', '--home', v0()]), 2, /--param "proposalTtlBlocks" must be name=integer/)
      expectOneLineError(await cli(['gov', 'propose', 'compromiseIssuerKey', '--id', 'kr.mois', '--key', 'ab'.repeat(32), '--since', 'yesterday', '--home', v0()]), 2, /--since "yesterday" is not a date/)
      expectOneLineError(await cli(['gov', 'propose', 'addIssuer', '--public-key', 'xyz', '--home', v0()]), 2, /public key is not valid hex/)
      expectOneLineError(await cli(['gov', 'propose', 'removeMember', '--id', 'x']), 2, /sign with --home DIR \(a validator node home\) or --validator-key FILE/)
      expectOneLineError(await cli(['gov', 'propose', 'makeKing', '--home', v0()]), 2, /value 'makeKing' is invalid for argument 'action-type'\. Allowed choices are addValidator, /)
      expectOneLineError(await cli(['gov', 'vote', '1', 'maybe', '--home', v0()]), 2, /value 'maybe' is invalid for argument 'vote'\. Allowed choices are yes, no/)
      expectOneLineError(await cli(['gov', 'list', '--status', 'closed']), 2, /option '--status <status>' argument 'closed' is invalid\. Allowed choices are open, passed, rejected, expired, failed/)
      expectOneLineError(await cli(['issuer-keys', 'retire', '--key', join(dir, 'busan-2.json')]), 2, /required option '--public-key <hex>' not specified/)
    })
  })
})
