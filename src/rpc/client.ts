import { toBase64, toHex, type Bytes } from '../core/bytes.js'
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
  certificate: Record<string, unknown> | null
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

  getTx(id: string | Bytes): Promise<TxStatus> {
    return this.request('GET', `/v1/txs/${typeof id === 'string' ? id : toHex(id)}`)
  }

  getCertificate(id: string | Bytes): Promise<Record<string, unknown> & { status: string }> {
    return this.request('GET', `/v1/certificates/${typeof id === 'string' ? id : toHex(id)}`)
  }

  certificateStatuses(ids: readonly string[]): Promise<{ height: number; results: { id: string; status: string }[] }> {
    return this.request('POST', '/v1/certificates/status', { ids })
  }

  verify(certificate: CertificateFileJson, evidence: { document: Bytes } | { documentHash: Bytes }): Promise<VerifyResponse> {
    const body =
      'document' in evidence
        ? { certificate, document: toBase64(evidence.document) }
        : { certificate, documentHash: toHex(evidence.documentHash) }
    return this.request('POST', '/v1/verify', body)
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

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response
    try {
      response = await fetch(this.base + path, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
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
