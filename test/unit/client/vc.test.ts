import { readFile } from 'node:fs/promises'
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey'
import { DataIntegrityProof } from '@digitalbazaar/data-integrity'
import { createSignCryptosuite } from '@digitalbazaar/eddsa-jcs-2022-cryptosuite'
import * as vc from '@digitalbazaar/vc'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  CERTCHAIN_CONTEXT,
  certificateFiles,
  credentialFor,
  didKey,
  ed25519Multikey,
  prepareIssuance,
  signCredential,
  type VerifiableCredential,
} from '../../../src/client/index.js'
import { toHex } from '../../../src/core/bytes.js'
import type { CertificateFile } from '../../../src/core/certificate.js'
import { generateKeyPair, type KeyPair } from '../../../src/core/crypto.js'
import { expandSafely, offlineDocumentLoader, requestedUrls, verifyIndependently } from '../../helpers/vc-verifier.js'

const CHAIN = 'certchain-vc-test'
const DAY = 86_400_000
const validFrom = Date.parse('2026-01-01T00:00:00Z')
const validUntil = validFrom + 365 * DAY
const during = new Date(validFrom + 30 * DAY)
const created = validFrom + 1000

const issuerKey = generateKeyPair()
const holderKey = generateKeyPair()

function issue(holder?: KeyPair): CertificateFile {
  const prepared = prepareIssuance(CHAIN, { issuer: 'kr.seoul.jongno', key: issuerKey }, [
    {
      type: 'kr.residence',
      document: new TextEncoder().encode('resident registration of a test citizen'),
      validFrom,
      validUntil,
      ...(holder ? { holderKey: holder.publicKey } : {}),
    },
  ])
  return certificateFiles(CHAIN, prepared, 7)[0]!
}

function signedFor(file: CertificateFile, holder?: KeyPair): VerifiableCredential {
  return signCredential(credentialFor(file, holder ? { holderPublicKey: holder.publicKey } : {}), issuerKey, { created })
}

/** The credential with one character of the string at `path` replaced. */
function changeOneCharacter(credential: VerifiableCredential, path: string[]): unknown {
  const copy = structuredClone(credential) as unknown as Record<string, unknown>
  let node = copy
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>
  const last = path[path.length - 1]!
  const value = node[last] as string
  const at = value.length - 2
  // Another character of the same kind, so the value still parses (a date stays a date, base58 stays base58).
  const c = value[at]!
  const other = /[0-9]/.test(c) ? String((Number(c) % 8) + 1) : c === 'a' ? 'b' : 'a'
  node[last] = value.slice(0, at) + other + value.slice(at + 1)
  expect(node[last]).not.toBe(value)
  return copy
}

function proofErrors(verdict: { error: string[] }): string {
  return verdict.error.join('; ')
}

describe('W3C VC 2.0 credentials (eddsa-jcs-2022), checked by an independent implementation', () => {
  beforeEach(() => {
    requestedUrls.length = 0
  })

  it('a holder-bound certificate: every field, and Digital Bazaar verifies it offline', async () => {
    const file = issue(holderKey)
    const credential = signedFor(file, holderKey)
    expect(credential['@context']).toEqual(['https://www.w3.org/ns/credentials/v2', 'https://w3id.org/certchain/v1'])
    expect(credential.type).toEqual(['VerifiableCredential', 'CertchainCertificate'])
    expect(credential.issuer).toBe(didKey(issuerKey.publicKey))
    expect(credential.issuer).toMatch(/^did:key:z6Mk/)
    expect(credential.validFrom).toBe('2026-01-01T00:00:00.000Z')
    expect(credential.validUntil).toBe(new Date(validUntil).toISOString())
    expect(credential.credentialSubject).toEqual({
      id: didKey(holderKey.publicKey),
      certificateId: toHex(file.certificateId),
      certificateType: 'kr.residence',
      certchainIssuer: 'kr.seoul.jongno',
      documentHash: toHex(file.record.docHash),
      documentSalt: toHex(file.salt),
    })
    expect(credential.credentialStatus).toEqual({
      id: `urn:certchain:${CHAIN}:certificate:${toHex(file.certificateId)}`,
      type: 'CertchainStatus2026',
      certificateId: toHex(file.certificateId),
      chainId: CHAIN,
    })
    expect(credential.proof).toMatchObject({
      type: 'DataIntegrityProof',
      cryptosuite: 'eddsa-jcs-2022',
      created: '2026-01-01T00:00:01Z',
      proofPurpose: 'assertionMethod',
      verificationMethod: `${credential.issuer}#${credential.issuer.slice('did:key:'.length)}`,
    })
    expect(credential.proof.proofValue).toMatch(/^z[1-9A-HJ-NP-Za-km-z]+$/)

    const verdict = await verifyIndependently(credential, { now: during })
    expect(verdict.verified, proofErrors(verdict)).toBe(true)
    // Offline: eddsa-jcs-2022 needs no context, only the issuer's did:key (resolved locally).
    expect(new Set(requestedUrls.map((u) => u.split('#')[0]))).toEqual(new Set([credential.issuer]))
  })

  it('is valid JSON-LD: safe-mode expansion offline defines every term, certchain terms in its vocabulary', async () => {
    const credential = signedFor(issue(holderKey), holderKey)
    const [expanded] = await expandSafely(credential)
    expect(requestedUrls).toEqual(['https://www.w3.org/ns/credentials/v2', 'https://w3id.org/certchain/v1'])
    const V = 'https://w3id.org/certchain/vocab#'
    expect(expanded!['@type']).toEqual(['https://www.w3.org/2018/credentials#VerifiableCredential', `${V}CertchainCertificate`])
    const [subject] = expanded!['https://www.w3.org/2018/credentials#credentialSubject'] as Record<string, unknown>[]
    expect(subject!['@id']).toBe(didKey(holderKey.publicKey))
    for (const term of ['certificateId', 'certificateType', 'certchainIssuer', 'documentHash', 'documentSalt']) {
      expect(subject![`${V}${term}`], term).toEqual([{ '@value': (credential.credentialSubject as unknown as Record<string, string>)[term] }])
    }
    const [status] = expanded!['https://www.w3.org/2018/credentials#credentialStatus'] as Record<string, unknown>[]
    expect(status!['@type']).toEqual([`${V}CertchainStatus2026`])
    expect(status![`${V}chainId`]).toEqual([{ '@value': CHAIN }])
    // The check has teeth: a term no context defines is refused in safe mode.
    await expect(expandSafely({ ...credential, credentialSubject: { ...credential.credentialSubject, undefinedTerm: 'x' } })).rejects.toThrow()
  })

  it('a certificate without a holder has a subject without id, and verifies', async () => {
    const credential = signedFor(issue())
    expect(credential.credentialSubject).not.toHaveProperty('id')
    const verdict = await verifyIndependently(credential, { now: during })
    expect(verdict.verified, proofErrors(verdict)).toBe(true)
  })

  it("the did:key and the proof are the same as Digital Bazaar's own for the same key", async () => {
    const theirs = await Ed25519Multikey.generate({ seed: issuerKey.secretKey })
    expect(ed25519Multikey(issuerKey.publicKey)).toBe(theirs.publicKeyMultibase)
    theirs.controller = didKey(issuerKey.publicKey)
    theirs.id = `${theirs.controller}#${theirs.publicKeyMultibase}`

    const file = issue(holderKey)
    const unsigned = credentialFor(file, { holderPublicKey: holderKey.publicKey })
    const suite = new DataIntegrityProof({ signer: theirs.signer(), cryptosuite: createSignCryptosuite(), date: '2026-01-01T00:00:01Z' })
    const signedByThem = await vc.issue({ credential: JSON.parse(JSON.stringify(unsigned)), suite, documentLoader: offlineDocumentLoader })
    // Ed25519 is deterministic: the same bytes signed give the same signature.
    expect(signedByThem).toEqual(signCredential(unsigned, issuerKey, { created }))
  })

  it.each([
    ['credentialSubject.documentHash', ['credentialSubject', 'documentHash']],
    ['credentialSubject.certificateId', ['credentialSubject', 'certificateId']],
    ['credentialSubject.id (another holder)', ['credentialSubject', 'id']],
    ['credentialSubject.certificateType', ['credentialSubject', 'certificateType']],
    ['validUntil', ['validUntil']],
    ['proof.proofValue', ['proof', 'proofValue']],
  ])('a one-character change in %s is refused', async (_name, path) => {
    const credential = signedFor(issue(holderKey), holderKey)
    expect((await verifyIndependently(credential, { now: during })).verified).toBe(true)
    const verdict = await verifyIndependently(changeOneCharacter(credential, path), { now: during })
    expect(verdict.verified).toBe(false)
    expect(proofErrors(verdict)).toMatch(/Invalid signature/)
  })

  it('a credential signed by a key that is not its issuer is refused (issuer changed to another did:key)', async () => {
    const credential = signedFor(issue(holderKey), holderKey)
    const other = didKey(generateKeyPair().publicKey)
    const verdict = await verifyIndependently({ ...credential, issuer: other }, { now: during })
    expect(verdict.verified).toBe(false)
  })

  it('after validUntil the independent verifier refuses it', async () => {
    const credential = signedFor(issue())
    const verdict = await verifyIndependently(credential, { now: new Date(validUntil + DAY) })
    expect(verdict.verified).toBe(false)
    expect(proofErrors(verdict)).toMatch(/validUntil|expired/i)
  })

  it('credentialStatus is checked: a certificate the chain does not answer valid is refused', async () => {
    const credential = signedFor(issue())
    const verdict = await verifyIndependently(credential, { now: during, isValid: () => false })
    expect(verdict.verified).toBe(false)
  })

  it('signCredential refuses a key that is not the issuance key (INVALID_REQUEST)', () => {
    const credential = credentialFor(issue())
    expect(() => signCredential(credential, generateKeyPair())).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }))
  })

  it('credentialFor refuses a holder key for a certificate that is not holder-bound, and a key of the wrong length (INVALID_REQUEST)', () => {
    expect(() => credentialFor(issue(), { holderPublicKey: holderKey.publicKey })).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringMatching(/not bound to a holder/) }),
    )
    expect(() => credentialFor(issue(holderKey), { holderPublicKey: holderKey.publicKey.slice(1) })).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringMatching(/32-byte/) }),
    )
  })

  it("README's copy of the certchain context document is the one certchain ships", async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8')
    const block = /its\ndocument is:\n\n```json\n([\s\S]*?)```/.exec(readme)
    expect(block, 'the context block in README').not.toBeNull()
    expect(JSON.parse(block![1]!)).toEqual(CERTCHAIN_CONTEXT)
  })

  it('signing a credential that already has a proof replaces the proof', () => {
    const credential = signedFor(issue())
    const again = signCredential(credential, issuerKey, { created })
    expect(again).toEqual(credential)
  })
})
