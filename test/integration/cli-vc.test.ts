import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCliNode, type CliNode } from '../helpers/cli-node.js'
import { runCli } from '../helpers/process.js'
import { verifyIndependently } from '../helpers/vc-verifier.js'

// `certchain issue --vc` against a running node: the credentials it writes are checked by an
// independent VC 2.0 implementation, with the certificate's status asked of the node.

describe('certchain issue --vc', () => {
  let dir: string
  let rpc: string
  let node: CliNode
  let issuerKey: string
  let holderPublicKey: string

  /** Statuses from the node, as a VC wallet's status check for CertchainStatus2026 would ask it. */
  async function statuses(ids: string[]): Promise<Map<string, string>> {
    const response = await fetch(`${rpc}/v1/certificates/status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids }) })
    const body = (await response.json()) as { results: { id: string; status: string }[] }
    return new Map(body.results.map((r) => [r.id, r.status]))
  }

  async function verifyWithNode(credential: { credentialStatus: { certificateId: string } }): Promise<Awaited<ReturnType<typeof verifyIndependently>>> {
    const known = await statuses([credential.credentialStatus.certificateId])
    return verifyIndependently(credential, { isValid: (chainId, id) => chainId === 'certchain-vc' && known.get(id) === 'valid' })
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-vc-'))
    node = await startCliNode(dir, 'certchain-vc')
    rpc = node.rpc
    issuerKey = join(node.net, 'issuers', 'kr.seoul.jongno.json')
    await writeFile(join(dir, 'doc.txt'), 'resident registration sample')
    const holder = join(dir, 'holder.json')
    expect((await runCli(['keys', 'new', '--out', holder])).code).toBe(0)
    holderPublicKey = JSON.parse((await runCli(['keys', 'show', holder])).stdout).publicKey as string
  })

  afterAll(async () => {
    await node?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('writes CERT.vc.json (mode 0600) beside the certificate; Digital Bazaar verifies it; a one-character change is refused', async () => {
    const cert = join(dir, 'residence.json')
    const run = await runCli(['issue', '--rpc', rpc, '--key', issuerKey, '--type', 'kr.residence', '--document', join(dir, 'doc.txt'), '--holder', holderPublicKey, '--out', cert, '--vc'])
    expect(run.code, run.stderr).toBe(0)
    const vcPath = join(dir, 'residence.vc.json')
    expect(run.stdout).toContain(`credential: ${vcPath}`)
    expect((await stat(vcPath)).mode & 0o777).toBe(0o600)
    const file = JSON.parse(await readFile(cert, 'utf8'))
    const credential = JSON.parse(await readFile(vcPath, 'utf8'))
    expect(credential.credentialSubject.certificateId).toBe(file.certificateId)
    expect(credential.credentialSubject.id).toMatch(/^did:key:z6Mk/)
    expect(credential.credentialStatus).toMatchObject({ type: 'CertchainStatus2026', certificateId: file.certificateId, chainId: 'certchain-vc' })

    const verdict = await verifyWithNode(credential)
    expect(verdict.verified, verdict.error.join('; ')).toBe(true)

    const text = await readFile(vcPath, 'utf8')
    const hash = credential.credentialSubject.documentHash as string
    const changed = hash.slice(0, -1) + (hash.endsWith('0') ? '1' : '0')
    const tampered = await verifyWithNode(JSON.parse(text.replace(hash, changed)))
    expect(tampered.verified).toBe(false)
    expect(tampered.error.join('; ')).toMatch(/Invalid signature/)
  })

  it('a revoked certificate: the signature still verifies, the status check refuses it', async () => {
    const cert = join(dir, 'revoked.json')
    const run = await runCli(['issue', '--rpc', rpc, '--key', issuerKey, '--type', 'kr.residence', '--document', join(dir, 'doc.txt'), '--out', cert, '--vc'])
    expect(run.code, run.stderr).toBe(0)
    const revoke = await runCli(['revoke', '--rpc', rpc, '--key', issuerKey, '--cert', cert, '--reason', 'issued_in_error'])
    expect(revoke.code, revoke.stderr).toBe(0)
    const verdict = await verifyWithNode(JSON.parse(await readFile(join(dir, 'revoked.vc.json'), 'utf8')))
    expect(verdict.verified).toBe(false)
    expect(verdict.error.join('; ')).toMatch(/not valid on chain/)
    expect(verdict.error.join('; ')).not.toMatch(/Invalid signature/)
  })

  it('--batch --vc writes one credential per certificate in --out-dir, the holder only where the line binds one', async () => {
    const batch = join(dir, 'batch.jsonl')
    await writeFile(batch, [JSON.stringify({ document: 'doc.txt', type: 'kr.residence', holder: holderPublicKey }), JSON.stringify({ document: 'doc.txt', type: 'kr.residence' })].join('\n'))
    const out = join(dir, 'batch-out')
    const run = await runCli(['issue', '--rpc', rpc, '--key', issuerKey, '--batch', batch, '--out-dir', out, '--vc'])
    expect(run.code, run.stderr).toBe(0)
    const names = (await readdir(out)).sort()
    const certs = names.filter((n) => !n.endsWith('.vc.json'))
    expect(certs).toHaveLength(2)
    expect(names.filter((n) => n.endsWith('.vc.json')).sort()).toEqual(certs.map((n) => n.replace(/\.json$/, '.vc.json')).sort())
    let bound = 0
    for (const name of certs) {
      const file = JSON.parse(await readFile(join(out, name), 'utf8'))
      const vcPath = join(out, name.replace(/\.json$/, '.vc.json'))
      expect((await stat(vcPath)).mode & 0o777).toBe(0o600)
      const credential = JSON.parse(await readFile(vcPath, 'utf8'))
      expect(credential.credentialSubject.certificateId).toBe(file.certificateId)
      expect('id' in credential.credentialSubject).toBe(file.record.holder !== undefined)
      if (file.record.holder !== undefined) bound++
      const verdict = await verifyWithNode(credential)
      expect(verdict.verified, verdict.error.join('; ')).toBe(true)
    }
    expect(bound).toBe(1)
  })

  it('a holder key that is not 32 bytes is refused before anything is issued (INVALID_ARGUMENT, exit 2, no files)', async () => {
    const cert = join(dir, 'short-holder.json')
    const run = await runCli(['issue', '--rpc', rpc, '--key', issuerKey, '--type', 'kr.residence', '--document', join(dir, 'doc.txt'), '--holder', holderPublicKey.slice(2), '--out', cert, '--vc'])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/INVALID_ARGUMENT: .*holder public key must be 32 bytes/)
    await expect(stat(cert)).rejects.toThrow(/ENOENT/)
    await expect(stat(join(dir, 'short-holder.vc.json'))).rejects.toThrow(/ENOENT/)
  })

  it('without --vc no credential is written', async () => {
    const cert = join(dir, 'plain.json')
    const run = await runCli(['issue', '--rpc', rpc, '--key', issuerKey, '--type', 'kr.residence', '--document', join(dir, 'doc.txt'), '--out', cert])
    expect(run.code, run.stderr).toBe(0)
    await expect(stat(join(dir, 'plain.vc.json'))).rejects.toThrow(/ENOENT/)
  })
})
