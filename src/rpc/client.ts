import { toBase64, toHex, type Bytes } from '../core/bytes.js'
import { encode } from '../core/encoding.js'
import type { CertificateFileJson } from '../core/certificate.js'
import type { CommittedEvidence, ProposalStatus } from '../ledger/index.js'
import type { StatusResponse } from './backend.js'
import type { evidenceView, issuerView, proposalView, registeredValidatorView, validatorView } from './views.js'

/** An error answered by a node (`code` from its JSON body), or UNAVAILABLE when it cannot be reached. */
export class RpcError extends Error {
  override readonly name = 'RpcError'
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly body?: unknown,
  ) {
    super(message)
  }
}

export type TxStatus =
  | { id: string; status: 'committed'; height: number; index: number }
  | { id: string; status: 'pending' }
  | { id: string; status: 'rejected'; code: string; message: string }
  | { id: string; status: 'unknown' }

/** One entry of a batch's answer: `id` is absent when the node could not decode the entry. */
export type BatchTxStatus = Exclude<TxStatus, { status: 'unknown' | 'rejected' }> | { id?: string; status: 'rejected'; code: string; message: string }

export interface VerifyCheck {
  name: string
  ok: boolean
  detail: string
}

export interface VerifyResponse {
  verdict: 'valid' | 'invalid'
  certificateId: string
  status: string
  checks: VerifyCheck[]
  height: number
  /** Present when verified as of a past height or time. */
  asOf?: { height: number; time: string }
  certificate: Record<string, unknown> | null
}

export interface PresentationResponse {
  verdict: 'valid' | 'invalid'
  certificateId: string
  status: string
  checks: (VerifyCheck & { code?: string })[]
  height: number
}

// The JSON the node answers with, typed from the views that build it.
export type ValidatorJson = ReturnType<typeof validatorView>
export type RegisteredValidatorJson = ReturnType<typeof registeredValidatorView>
export type IssuerJson = ReturnType<typeof issuerView>
export type ProposalJson = ReturnType<typeof proposalView>

export interface ValidatorsResponse {
  height: number
  /** Validators voting at `height`, in proposer order. */
  validators: ValidatorJson[]
  /** Every registered validator as of the registry that decides `height` (jailed ones included). */
  registered: RegisteredValidatorJson[]
}

export interface EvidenceResponse {
  /** Conflicting votes this node saw itself. */
  evidence: ReturnType<typeof evidenceView>[]
  /** Evidence committed on chain (it jailed its validator unless it was the last one voting). */
  committed: CommittedEvidence[]
}

/** A small client for a node's RPC, for integrators and the CLI. */
export class RpcClient {
  private readonly base: string

  constructor(
    url: string,
    private readonly options: { timeoutMs?: number } = {},
  ) {
    this.base = url.replace(/\/+$/, '')
  }

  status(): Promise<StatusResponse> {
    return this.request('GET', '/v1/status')
  }

  /** Submits a signed transaction; with `wait: 'commit'` resolves once it is in a block (or still pending at the node's timeout). */
  submitTx(tx: Bytes, options: { wait?: 'commit' } = {}): Promise<TxStatus> {
    const query = options.wait ? `?wait=${options.wait}` : ''
    return this.request('POST', `/v1/txs${query}`, { tx: toBase64(tx) })
  }

  /**
   * Submits signed transactions in one request (a DAG-CBOR array of their bytes); the answer has
   * one result per transaction, in order. With `wait: 'commit'` it comes once every admitted one
   * is in a block (or still pending at the node's timeout).
   */
  submitBatch(txs: readonly Bytes[], options: { wait?: 'commit' } = {}): Promise<{ results: BatchTxStatus[] }> {
    const query = options.wait ? `?wait=${options.wait}` : ''
    return this.send('POST', `/v1/txs/batch${query}`, { body: encode(txs), type: 'application/cbor' })
  }

  getTx(id: string | Bytes): Promise<TxStatus> {
    return this.request('GET', `/v1/txs/${typeof id === 'string' ? id : toHex(id)}`)
  }

  getCertificate(id: string | Bytes): Promise<Record<string, unknown> & { status: string }> {
    return this.request('GET', `/v1/certificates/${typeof id === 'string' ? id : toHex(id)}`)
  }

  certificateStatuses(ids: readonly string[]): Promise<{ height: number; results: { id: string; status: string }[] }> {
    return this.request('POST', '/v1/certificates/status', { ids })
  }

  /** Verification by the node, now or as of `at` (a height or an ISO-8601 time). */
  verify(certificate: CertificateFileJson | Omit<CertificateFileJson, 'salt' | 'holderSalt'>, evidence: { document: Bytes } | { documentHash: Bytes }, at?: string): Promise<VerifyResponse> {
    const body = {
      certificate,
      ...('document' in evidence ? { document: toBase64(evidence.document) } : { documentHash: toHex(evidence.documentHash) }),
      ...(at === undefined ? {} : { at }),
    }
    return this.request('POST', '/v1/verify', body)
  }

  /** The certchain/proof@1 bundle of a certificate (JSON as served), with set changes after `from`. */
  proof(id: string, from?: number): Promise<Record<string, unknown>> {
    return this.request('GET', `/v1/certificates/${id}/proof${from === undefined ? '' : `?from=${from}`}`)
  }

  /** A single-use presentation request from this verifier node: `{request, uri, qrSvg}`. */
  presentationRequest(options: { types?: readonly string[]; purpose?: string; ttlSeconds?: number } = {}): Promise<{ request: Record<string, unknown>; uri: string; qrSvg: string }> {
    return this.request('POST', '/v1/presentation-requests', options)
  }

  /** The node's check of a presentation; a valid answer uses up its request. */
  verifyPresentation(presentation: unknown, documentHash: Bytes, options: { allowUnbound?: boolean } = {}): Promise<PresentationResponse> {
    return this.request('POST', '/v1/presentations/verify', { presentation, documentHash: toHex(documentHash), ...(options.allowUnbound ? { allowUnbound: true } : {}) })
  }

  /** A trust checkpoint (certchain/checkpoint@1) at `height` (default: the head). */
  checkpoint(height?: number): Promise<Record<string, unknown>> {
    return this.request('GET', `/v1/checkpoint${height === undefined ? '' : `?height=${height}`}`)
  }

  types(): Promise<{ types: { id: string; nameKo: string; nameEn: string; validityDays: number; authorities: string[] }[] }> {
    return this.request('GET', '/v1/types')
  }

  /** Validators at `height` (default: the next block) and every registered one. */
  validators(height?: number): Promise<ValidatorsResponse> {
    return this.request('GET', `/v1/validators${height === undefined ? '' : `?height=${height}`}`)
  }

  members(): Promise<{ members: { id: string; name: string; peerId: string }[] }> {
    return this.request('GET', '/v1/members')
  }

  issuers(): Promise<{ issuers: IssuerJson[] }> {
    return this.request('GET', '/v1/issuers')
  }

  issuer(id: string): Promise<IssuerJson> {
    return this.request('GET', `/v1/issuers/${encodeURIComponent(id)}`)
  }

  /** Proposals, newest first, a page at a time: pass `next` of one answer as `before` to get the following page. */
  proposals(filter: { status?: ProposalStatus; limit?: number; before?: number } = {}): Promise<{ height: number; proposals: ProposalJson[]; next: number | null }> {
    const query = new URLSearchParams()
    if (filter.status !== undefined) query.set('status', filter.status)
    if (filter.limit !== undefined) query.set('limit', String(filter.limit))
    if (filter.before !== undefined) query.set('before', String(filter.before))
    const qs = query.toString()
    return this.request('GET', `/v1/governance/proposals${qs ? `?${qs}` : ''}`)
  }

  proposal(id: number): Promise<ProposalJson> {
    return this.request('GET', `/v1/governance/proposals/${id}`)
  }

  evidence(): Promise<EvidenceResponse> {
    return this.request('GET', '/v1/evidence')
  }

  block(height: number | 'latest'): Promise<Record<string, unknown> & { height: number; hash: string }> {
    return this.request('GET', `/v1/blocks/${height}`)
  }

  /** A request with a JSON body (or none); the answer is JSON either way. */
  private request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.send(method, path, body === undefined ? undefined : { body: JSON.stringify(body), type: 'application/json' })
  }

  private async send<T>(method: string, path: string, payload?: { body: string | Uint8Array; type: string }): Promise<T> {
    let response: Response
    try {
      response = await fetch(this.base + path, {
        method,
        ...(payload === undefined ? {} : { body: payload.body, headers: { 'content-type': payload.type } }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
      })
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } }
      const cause = e.cause?.code ?? e.cause?.message ?? e.message
      throw new RpcError('UNAVAILABLE', `cannot reach the node at ${this.base} (${cause})`, 0)
    }
    const text = await response.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new RpcError('INVALID_RESPONSE', `${method} ${path}: HTTP ${response.status} with a non-JSON body`, response.status)
    }
    if (!response.ok && response.status !== 202) {
      const e = json as { code?: string; message?: string }
      throw new RpcError(e.code ?? 'HTTP_' + response.status, e.message ?? `HTTP ${response.status}`, response.status, json)
    }
    return json as T
  }
}
