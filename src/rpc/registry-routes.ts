import type { FastifyPluginCallback } from 'fastify'
import { CertchainError } from '../core/errors.js'
import { decodeCanonical } from '../core/encoding.js'
import type { ProposalRecord, ProposalStatus } from '../ledger/index.js'
import type { RpcBackend } from './backend.js'
import { EVIDENCE, ISSUER, ISSUERS, MEMBERS, PROPOSAL, PROPOSALS, responses, TYPES, VALIDATORS } from './responses.js'
import { ENTITY, UINT, pathParams, queryParams } from './schemas.js'
import { evidenceView, issuerView, proposalView, registeredValidatorView, validatorView } from './views.js'

const MAX_EVIDENCE_LISTED = 1000
const MAX_EVIDENCE_BYTES = 64 * 1024
const DEFAULT_PROPOSALS_LISTED = 100
export const MAX_PROPOSALS_LISTED = 1000
/**
 * Stored proposals one listing request reads at most, however few match its status filter: a
 * page ends there, and `next` says where the following one starts. Open ones come from the
 * committed state and are always complete.
 */
export const PROPOSALS_SCANNED = 1000
const SCAN_BATCH = 100

const STATUS_MEANINGS: Record<ProposalStatus, string> = {
  open: 'waiting for votes',
  passed: 'more than two thirds of the validators approved; the action was applied',
  rejected: 'enough validators disapproved that it can no longer pass',
  expired: 'not decided before its deadline',
  failed: 'passed, but the action no longer applied to the state (see failure)',
}
export const PROPOSAL_STATUSES = Object.keys(STATUS_MEANINGS) as readonly ProposalStatus[]

function invalid(message: string): never {
  throw new CertchainError('INVALID_REQUEST', message)
}

/**
 * Who may do what, and how that changes: validators per height, members, issuers with their key
 * history, certificate types, governance proposals with their tally, and equivocation evidence.
 */
export const registryRoutes: FastifyPluginCallback<{ backend: RpcBackend }> = (app, { backend }, done) => {
  const { ledger } = backend

  app.get(
    '/v1/validators',
    {
      schema: {
        operationId: 'getValidators',
        summary: 'Validators of consensus at a height (default: the next block), in proposer order, and every registered validator',
        response: responses({ 200: VALIDATORS }, [400]),
        querystring: queryParams({ height: { ...UINT, description: 'from 1 to two past the last block' } }),
      },
    },
    async (request) => {
      const { height } = request.query as { height?: string }
      const next = ledger.head.height + 1
      const h = height === undefined ? next : Number(height)
      // Changes take effect two heights after their block, so the set is known up to head + 2.
      if (h < 1 || h > next + 1) invalid(`height must be from 1 to ${next + 1} (two past the last block)`)
      const [validators, registry] = await Promise.all([ledger.validatorsAt(h), ledger.registryAt(Math.max(0, h - 2))])
      return {
        height: h,
        validators: validators.map(validatorView),
        registered: registry.validatorRecords().map(registeredValidatorView),
      }
    },
  )

  app.get('/v1/members', { schema: { operationId: 'getMembers', summary: 'Registered member institutions (verifying nodes)', response: responses({ 200: MEMBERS }) } }, () => ({
    members: ledger.registry.members(),
  }))

  app.get('/v1/types', { schema: { operationId: 'getTypes', summary: 'Registered certificate types', response: responses({ 200: TYPES }) } }, () => ({
    types: ledger.registry.allTypes(),
  }))

  app.get('/v1/issuers', { schema: { operationId: 'getIssuers', summary: 'Registered issuers with their key history', response: responses({ 200: ISSUERS }) } }, () => ({
    issuers: ledger.registry.allIssuers().map(issuerView),
  }))

  app.get('/v1/issuers/:id', { schema: { operationId: 'getIssuer', summary: 'One issuer with its key history', params: pathParams({ id: ENTITY }), response: responses({ 200: ISSUER }, [400, 404]) } }, (request) => {
    const { id } = request.params as { id: string }
    const issuer = ledger.registry.issuer(id)
    if (!issuer) throw new CertchainError('ISSUER_NOT_FOUND', `issuer "${id}" is not registered`)
    return issuerView(issuer)
  })

  app.get(
    '/v1/governance/proposals',
    {
      schema: {
        operationId: 'getProposals',
        summary: 'Governance proposals, newest first, with votes and the tally among the validators of the next block',
        response: responses({ 200: PROPOSALS }, [400]),
        querystring: queryParams({
          status: {
            type: 'string',
            enum: PROPOSAL_STATUSES,
            description: Object.entries(STATUS_MEANINGS)
              .map(([s, meaning]) => `${s}: ${meaning}`)
              .join('; '),
          },
          limit: { ...UINT, description: `1 to ${MAX_PROPOSALS_LISTED} (default ${DEFAULT_PROPOSALS_LISTED})` },
          before: { ...UINT, description: 'only proposals numbered below this (the `next` of the previous page)' },
        }),
      },
    },
    async (request) => {
      const { status, limit, before } = request.query as { status?: ProposalStatus; limit?: string; before?: string }
      const n = limit === undefined ? DEFAULT_PROPOSALS_LISTED : Number(limit)
      if (n < 1 || n > MAX_PROPOSALS_LISTED) invalid(`limit must be from 1 to ${MAX_PROPOSALS_LISTED}`)
      const below = Math.min(before === undefined ? Infinity : Number(before), ledger.proposals.next)
      const head = ledger.head.height
      let page: { records: readonly ProposalRecord[]; next: number | null }
      if (status === 'open') {
        const open = [...ledger.proposals.open].reverse().filter((p) => p.id < below)
        page = { records: open.slice(0, n), next: open.length > n ? open[n - 1]!.id : null }
      } else page = await scanProposals(below, n, status)
      const voters = ledger.validators(head + 1)
      return { height: head, proposals: page.records.map((p) => proposalView(p, voters)), next: page.next }
    },
  )

  /**
   * Up to `n` stored proposals numbered below `below`, newest first, with `status` if given,
   * reading at most {@link PROPOSALS_SCANNED} records. `next` is where the following page
   * starts (null when every proposal was looked at).
   */
  async function scanProposals(below: number, n: number, status: ProposalStatus | undefined) {
    const records: ProposalRecord[] = []
    let cursor = below
    while (cursor > 1 && records.length < n && below - cursor < PROPOSALS_SCANNED) {
      // Unfiltered, every record read is listed: read no more than are wanted.
      const wanted = status === undefined ? n - records.length : SCAN_BATCH
      const ids = Array.from({ length: Math.min(wanted, SCAN_BATCH, cursor - 1, PROPOSALS_SCANNED - (below - cursor)) }, (_, i) => cursor - 1 - i)
      const batch = await Promise.all(ids.map((id) => ledger.getProposal(id)))
      for (const [i, p] of batch.entries()) {
        cursor = ids[i]!
        if (p && (status === undefined || p.status === status)) records.push(p)
        if (records.length === n) break
      }
    }
    return { records, next: cursor > 1 ? cursor : null }
  }

  app.get(
    '/v1/governance/proposals/:id',
    { schema: { operationId: 'getProposal', summary: 'One governance proposal with its votes and current tally', params: pathParams({ id: UINT }), response: responses({ 200: PROPOSAL }, [400, 404]) } },
    async (request) => {
      const id = Number((request.params as { id: string }).id)
      const proposal = await ledger.getProposal(id)
      if (!proposal) throw new CertchainError('PROPOSAL_NOT_FOUND', `there is no proposal ${id}`)
      return proposalView(proposal, ledger.validators(ledger.head.height + 1))
    },
  )

  app.get(
    '/v1/evidence',
    { schema: { operationId: 'getEvidence', summary: 'Equivocation evidence: conflicting signed votes this node saw, and evidence committed on chain', response: responses({ 200: EVIDENCE }) } },
    async () => {
      const stored = await ledger.listEvidence(MAX_EVIDENCE_LISTED)
      return {
        evidence: stored.map((bytes) => evidenceView(decodeCanonical(bytes, MAX_EVIDENCE_BYTES) as Parameters<typeof evidenceView>[0])),
        committed: ledger.registry.state.evidence,
      }
    },
  )

  done()
}
