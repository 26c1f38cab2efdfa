import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { certificateFiles, prepareIssuance, prepareRevocation } from '../../../src/client/index.js'
import { generateKeyPair, sign } from '../../../src/core/crypto.js'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import type { CertificateFile } from '../../../src/core/certificate.js'
import { proofFromJson, proofToJson, trustFromGenesis, type ProofBundle } from '../../../src/light/index.js'
import {
  preparePresentation,
  presentationFromJson,
  presentationSignBytes,
  presentationToJson,
  verifyPresentation,
  type NonceStore,
  type Presentation,
  type PresentationRequest,
} from '../../../src/wallet/index.js'
import { driveChain, type ChainDriver, type ProofChain } from '../../helpers/proof-chain.js'

// Holder-bound presentations: every check and its stable code, with an in-memory nonce store.

let pc: ProofChain & ChainDriver
const holder = generateKeyPair()
const stranger = generateKeyPair()
const DOCUMENT = new TextEncoder().encode('주민등록표 등본 — sample')
let bound: CertificateFile
let unbound: CertificateFile
let revoked: CertificateFile

class MemoryNonces implements NonceStore {
  readonly requests = new Map<string, { request: PresentationRequest; used: boolean }>()
  issue(request: PresentationRequest): PresentationRequest {
    this.requests.set(toHex(request.nonce), { request, used: false })
    return request
  }
  lookup(nonce: Bytes) {
    return Promise.resolve(this.requests.get(toHex(nonce)))
  }
  async markUsed(nonce: Bytes) {
    // A real store's write takes time: two answers racing must not both win.
    await new Promise((r) => setTimeout(r, 5))
    const entry = this.requests.get(toHex(nonce))
    if (!entry || entry.used) return false
    entry.used = true
    return true
  }
}

async function issue(holderKey?: Bytes): Promise<CertificateFile> {
  const { chain, ledger } = pc
  const issuance = prepareIssuance(
    chain.genesis.chainId,
    { issuer: 'kr.seoul.jongno', key: chain.keys['kr.seoul.jongno'] },
    [{ type: 'kr.residence', document: DOCUMENT, ...(holderKey ? { holderKey } : {}), validFrom: pc.time, validUntil: pc.time + 90 * 86_400_000 }],
    { now: pc.time },
  )
  await pc.block(issuance)
  return certificateFiles(chain.genesis.chainId, issuance, ledger.head.height)[0]!
}

beforeAll(async () => {
  pc = await driveChain(4)
  bound = await issue(holder.publicKey)
  unbound = await issue()
  revoked = await issue(holder.publicKey)
  const { chain } = pc
  await pc.block(prepareRevocation(chain.genesis.chainId, { issuer: 'kr.seoul.jongno', key: chain.keys['kr.seoul.jongno'] }, [revoked.certificateId], 'issued_in_error', { now: pc.time }))
  await pc.block()
}, 120_000)

afterAll(async () => {
  await pc?.opened.cleanup()
})

const proofOf = async (file: CertificateFile): Promise<ProofBundle> => proofFromJson(JSON.parse(JSON.stringify(proofToJson((await pc.ledger.proof(file.certificateId))!))))

function newRequest(nonces: MemoryNonces, extra: Partial<PresentationRequest> = {}): PresentationRequest {
  return nonces.issue({
    chainId: pc.chain.genesis.chainId,
    audience: { name: 'KB국민은행 여의도지점', node: '12D3KooWBank' },
    nonce: crypto.getRandomValues(new Uint8Array(32)),
    createdAt: pc.time,
    expiresAt: pc.time + 300_000,
    ...extra,
  })
}

async function judge(p: Presentation, nonces: MemoryNonces, options: { now?: number; allowUnbound?: boolean; document?: Bytes } = {}) {
  const result = await verifyPresentation(p, {
    trust: trustFromGenesis(pc.chain.genesisJson),
    now: options.now ?? pc.time,
    maxAgeMs: 3_600_000,
    nonces,
    document: options.document ?? DOCUMENT,
    ...(options.allowUnbound ? { allowUnbound: true } : {}),
  })
  return { ...result, failed: result.checks.filter((c) => !c.ok).map((c) => c.code ?? c.name) }
}

/** A presentation signed by `key` whatever the certificate is bound to (what a thief or a careless wallet would make). */
function forced(request: PresentationRequest, file: CertificateFile, proof: ProofBundle, key = holder): Presentation {
  return { request, certificate: file, proof, holderKey: key.publicKey, signature: sign(key.secretKey, presentationSignBytes(request, file.certificateId, proof)) }
}

describe('verifyPresentation', () => {
  it('valid once: the first answer uses the nonce, a replay is NONCE_USED', async () => {
    const nonces = new MemoryNonces()
    const p = preparePresentation(newRequest(nonces), bound, await proofOf(bound), holder.secretKey)
    // travels as JSON
    const travelled = presentationFromJson(JSON.parse(JSON.stringify(presentationToJson(p))))
    const first = await judge(travelled, nonces)
    expect(first.failed).toEqual([])
    expect(first.verdict).toBe('valid')
    expect(first.checks.map((c) => c.name).slice(0, 5)).toEqual(['request', 'type', 'holder_binding', 'holder_key', 'holder_signature'])
    const replay = await judge(travelled, nonces)
    expect(replay.verdict).toBe('invalid')
    expect(replay.failed).toEqual(['NONCE_USED'])
  })

  it('two answers racing for one request: exactly one is valid', async () => {
    const nonces = new MemoryNonces()
    const p = preparePresentation(newRequest(nonces), bound, await proofOf(bound), holder.secretKey)
    const results = await Promise.all([judge(p, nonces), judge(p, nonces), judge(p, nonces)])
    expect(results.filter((r) => r.verdict === 'valid')).toHaveLength(1)
    expect(results.filter((r) => r.failed.includes('NONCE_USED'))).toHaveLength(2)
  })

  it('NONCE_UNKNOWN: a request this verifier never issued, or quoted differently than issued', async () => {
    const nonces = new MemoryNonces()
    const other = new MemoryNonces()
    const p = preparePresentation(newRequest(other), bound, await proofOf(bound), holder.secretKey)
    expect((await judge(p, nonces)).failed).toEqual(['NONCE_UNKNOWN'])
    const issued = newRequest(nonces)
    const requoted = preparePresentation({ ...issued, expiresAt: issued.expiresAt + 600_000 }, bound, await proofOf(bound), holder.secretKey)
    expect((await judge(requoted, nonces)).failed).toEqual(['NONCE_UNKNOWN'])
  })

  it('REQUEST_EXPIRED after the request\'s expiry, and nothing is used up', async () => {
    const nonces = new MemoryNonces()
    const request = newRequest(nonces)
    const p = preparePresentation(request, bound, await proofOf(bound), holder.secretKey)
    expect((await judge(p, nonces, { now: request.expiresAt })).failed).toEqual(['REQUEST_EXPIRED'])
    expect(nonces.requests.get(toHex(request.nonce))?.used).toBe(false)
  })

  it('TYPE_NOT_REQUESTED when the request names other types', async () => {
    const nonces = new MemoryNonces()
    const p = preparePresentation(newRequest(nonces, { types: ['kr.family', 'kr.land'] }), bound, await proofOf(bound), holder.secretKey)
    expect((await judge(p, nonces)).failed).toEqual(['TYPE_NOT_REQUESTED'])
    const asked = preparePresentation(newRequest(nonces, { types: ['kr.residence'] }), bound, await proofOf(bound), holder.secretKey)
    expect((await judge(asked, nonces)).verdict).toBe('valid')
  })

  it('NOT_HOLDER_BOUND by default for a bearer certificate; accepted with allowUnbound', async () => {
    const nonces = new MemoryNonces()
    const proof = await proofOf(unbound)
    expect(() => preparePresentation(newRequest(nonces), unbound, proof, holder.secretKey)).toThrow(expect.objectContaining({ code: 'NOT_HOLDER_BOUND' }))
    const p = forced(newRequest(nonces), unbound, proof)
    expect((await judge(p, nonces)).failed).toEqual(['NOT_HOLDER_BOUND', 'HOLDER_MISMATCH'])
    expect((await judge(p, nonces, { allowUnbound: true })).verdict).toBe('valid')
  })

  it('HOLDER_MISMATCH: a copy of the file presented from another wallet', async () => {
    const nonces = new MemoryNonces()
    const proof = await proofOf(bound)
    expect(() => preparePresentation(newRequest(nonces), bound, proof, stranger.secretKey)).toThrow(expect.objectContaining({ code: 'HOLDER_MISMATCH' }))
    expect((await judge(forced(newRequest(nonces), bound, proof, stranger), nonces)).failed).toEqual(['HOLDER_MISMATCH'])
  })

  it('BAD_HOLDER_SIGNATURE: a signature that does not cover this request, certificate and proof', async () => {
    const nonces = new MemoryNonces()
    const p = preparePresentation(newRequest(nonces), bound, await proofOf(bound), holder.secretKey)
    const bad = Uint8Array.from(p.signature)
    bad[5]! ^= 1
    expect((await judge({ ...p, signature: bad }, nonces)).failed).toEqual(['BAD_HOLDER_SIGNATURE'])
    // a fresh proof swapped in after signing
    await pc.block()
    expect((await judge({ ...p, proof: await proofOf(bound) }, nonces)).failed).toEqual(['BAD_HOLDER_SIGNATURE'])
  })

  it('then every check of the proof bundle and the document: a revoked certificate, a tampered document', async () => {
    const nonces = new MemoryNonces()
    const r = await judge(preparePresentation(newRequest(nonces), revoked, await proofOf(revoked), holder.secretKey), nonces)
    expect(r.failed).toEqual(['status'])
    expect(r.status).toBe('revoked')
    const tampered = await judge(preparePresentation(newRequest(nonces), bound, await proofOf(bound), holder.secretKey), nonces, {
      document: new TextEncoder().encode('주민등록표 등본 — altered'),
    })
    expect(tampered.failed).toEqual(['document_hash'])
  })

  it('presentationFromJson refuses malformed presentations with a code', () => {
    expect(() => presentationFromJson({ format: 'certchain/presentation@1' })).toThrow(expect.objectContaining({ code: 'INVALID_PRESENTATION' }))
    expect(() => presentationFromJson(null)).toThrow(expect.objectContaining({ code: 'INVALID_PRESENTATION' }))
  })
})
