import { existsSync } from 'node:fs'
import { Argument, Option, type Command } from 'commander'
import {
  prepareIssuerKeyUpdate,
  prepareProposal,
  prepareVote,
  type IssuerIdentity,
  type IssuerKeyChanges,
  type ValidatorIdentity,
} from '../client/index.js'
import { fromHex, toHex, type Bytes } from '../core/bytes.js'
import type { KeyPair } from '../core/crypto.js'
import { CertchainError } from '../core/errors.js'
import { GOV_ACTION_TYPES, GOVERNABLE_PARAMS, parseGovAction, type GovAction, type GovActionType } from '../core/governance.js'
import type { ProposalStatus } from '../ledger/index.js'
import { issuerPublicKey, type Identity } from '../node/ceremony.js'
import { homePath, loadConfig } from '../node/config.js'
import { loadKeyFile, newKeyFile, saveKeyFile } from '../node/keys.js'
import { MAX_PROPOSALS_LISTED, PROPOSAL_STATUSES, RpcClient, type IssuerJson, type ProposalJson } from '../rpc/index.js'
import {
  collect,
  list,
  loadIssuerIdentity,
  parseDate,
  plural,
  positiveInt,
  printJson,
  printTable,
  publicKeyHex,
  readIdentityFile,
  rpcOption,
  submitAndWait,
} from './common.js'
import { UsageError, printable } from './output.js'

// ---- proposals: from flags to a GovAction ------------------------------------------------------

/** The action fields `gov propose` fills from flags. */
type Field = 'id' | 'name' | 'publicKey' | 'peerId' | 'types' | 'authorities' | 'nameKo' | 'nameEn' | 'validityDays' | 'key' | 'since' | 'params'

const FLAGS: Record<Field, string> = {
  id: '--id',
  name: '--name',
  publicKey: '--public-key',
  peerId: '--peer-id',
  types: '--types',
  authorities: '--authorities',
  nameKo: '--name-ko',
  nameEn: '--name-en',
  validityDays: '--validity-days',
  key: '--key',
  since: '--since',
  params: '--param',
}

interface ActionShape {
  readonly required: readonly Field[]
  /** An update changes at least one of these. */
  readonly optional?: readonly Field[]
  /** Lists left out for none, as in genesis: an issuer that only acts as an authority, a type without authorities. */
  readonly orNone?: readonly Field[]
}

/** Which flags each action takes; the values are then checked by the chain's own parser (parseGovAction). */
const ACTIONS: Record<GovActionType, ActionShape> = {
  addValidator: { required: ['id', 'name', 'publicKey', 'peerId'] },
  removeValidator: { required: ['id'] },
  unjailValidator: { required: ['id'] },
  addMember: { required: ['id', 'name', 'peerId'] },
  removeMember: { required: ['id'] },
  addIssuer: { required: ['id', 'name', 'publicKey'], orNone: ['types'] },
  updateIssuer: { required: ['id'], optional: ['name', 'types', 'publicKey'] },
  deactivateIssuer: { required: ['id'] },
  compromiseIssuerKey: { required: ['id', 'key', 'since'] },
  addType: { required: ['id', 'nameKo', 'nameEn', 'validityDays'], orNone: ['authorities'] },
  updateType: { required: ['id'], optional: ['nameKo', 'nameEn', 'validityDays', 'authorities'] },
  setParams: { required: ['params'] },
}

interface ProposeFlags {
  readonly id?: string
  readonly name?: string
  readonly publicKey?: Bytes
  readonly peerId?: string
  readonly identity?: string
  readonly types?: string[]
  readonly authorities?: string[]
  readonly nameKo?: string
  readonly nameEn?: string
  readonly validityDays?: number
  readonly key?: Bytes
  readonly since?: string
  readonly param: string[]
  readonly note?: string
}

type Fields = Partial<Record<Field, unknown>>

function parseParams(pairs: readonly string[]): Record<string, number> | undefined {
  if (pairs.length === 0) return undefined
  const params: Record<string, number> = {}
  for (const pair of pairs) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(pair)
    if (!m) throw new UsageError(`--param "${pair}" must be name=integer (names: ${Object.keys(GOVERNABLE_PARAMS).join(', ')})`)
    params[m[1]!] = Number(m[2])
  }
  return params
}

/** What an identity file (certchain export-identity) says for an action: the node's entry, or an issuer's key. */
function identityFields(type: GovActionType, identity: Identity, issuerId: string | undefined): Fields {
  switch (type) {
    case 'addValidator':
      if (identity.validatorPublicKey === undefined) {
        throw new CertchainError('INVALID_IDENTITY', `identity "${identity.id}" has no validator key: its node is a member node`)
      }
      return { id: identity.id, name: identity.name, peerId: identity.peerId, publicKey: fromHex(identity.validatorPublicKey) }
    case 'addMember':
      return { id: identity.id, name: identity.name, peerId: identity.peerId }
    case 'addIssuer':
      if (issuerId === undefined) throw new UsageError('addIssuer --identity needs --id: the issuer whose key the identity declares')
      return { publicKey: fromHex(issuerPublicKey(identity, issuerId)) }
    default:
      throw new UsageError(`--identity applies to addValidator, addMember and addIssuer, not ${type}`)
  }
}

/** The action the flags describe (flags win over the identity file); refuses flags the action does not take. */
function actionFromFlags(type: GovActionType, o: ProposeFlags, identity?: Identity): GovAction {
  const shape = ACTIONS[type]
  const flags: Fields = {
    id: o.id,
    name: o.name,
    publicKey: o.publicKey,
    peerId: o.peerId,
    types: o.types,
    authorities: o.authorities,
    nameKo: o.nameKo,
    nameEn: o.nameEn,
    validityDays: o.validityDays,
    key: o.key,
    since: o.since === undefined ? undefined : parseDate(o.since, '--since'),
    params: parseParams(o.param),
  }
  const takes = [...shape.required, ...(shape.optional ?? []), ...(shape.orNone ?? [])]
  const extra = (Object.keys(flags) as Field[]).filter((f) => flags[f] !== undefined && !takes.includes(f))
  if (extra.length > 0) throw new UsageError(`${type} does not take ${extra.map((f) => FLAGS[f]).join(', ')}`)
  const fields: Fields = { ...(identity ? identityFields(type, identity, o.id) : {}) }
  for (const f of takes) if (flags[f] !== undefined) fields[f] = flags[f]
  for (const f of shape.orNone ?? []) fields[f] ??= []
  const missing = shape.required.filter((f) => fields[f] === undefined)
  if (missing.length > 0) throw new UsageError(`${type} needs ${missing.map((f) => FLAGS[f]).join(', ')}`)
  if (shape.optional && !shape.optional.some((f) => fields[f] !== undefined)) {
    throw new UsageError(`${type} needs at least one of ${shape.optional.map((f) => FLAGS[f]).join(', ')}`)
  }
  return parseGovAction({ type, ...fields })
}

function actionsHelp(): string {
  const lines = GOV_ACTION_TYPES.map((t) => {
    const { required, optional = [], orNone = [] } = ACTIONS[t]
    const flags = [...required.map((f) => FLAGS[f]), ...orNone.map((f) => `[${FLAGS[f]}]`), ...(optional.length ? [`one or more of ${optional.map((f) => FLAGS[f]).join(' ')}`] : [])]
    return `  ${t.padEnd(20)} ${flags.join(' ')}`
  })
  return `\nActions and their flags (--identity FILE fills addValidator/addMember, and the key of addIssuer):\n${lines.join('\n')}\nParameters for setParams --param: ${Object.keys(GOVERNABLE_PARAMS).join(', ')}\n`
}

// ---- signing as a validator --------------------------------------------------------------------

interface SignerFlags {
  readonly rpc: string
  readonly home?: string
  readonly validatorKey?: string
  readonly validator?: string
}

function signerOptions(command: Command): Command {
  return rpcOption(command)
    .option('--home <dir>', "a validator's node home: sign with its validator key")
    .option('--validator-key <file>', 'sign with this validator key file instead')
    .option('--validator <id>', 'the validator id (default: looked up by the key)')
}

async function loadValidator(o: SignerFlags, client: RpcClient): Promise<ValidatorIdentity> {
  if ((o.home === undefined) === (o.validatorKey === undefined)) throw new UsageError('sign with --home DIR (a validator node home) or --validator-key FILE')
  let key: KeyPair
  if (o.home !== undefined) {
    const config = await loadConfig(o.home)
    if (config.validatorKeyFile === null) throw new UsageError(`${o.home} is a member node: it has no validator key`)
    key = await loadKeyFile(homePath(o.home, config.validatorKeyFile))
  } else key = await loadKeyFile(o.validatorKey!)
  if (o.validator !== undefined) return { id: o.validator, key }
  const publicKey = toHex(key.publicKey)
  const match = (await client.validators()).registered.find((v) => v.publicKey === publicKey)
  if (!match) throw new CertchainError('NOT_A_VALIDATOR', `validator key ${publicKey.slice(0, 16)}… is not registered on this chain`)
  return { id: match.id, key }
}

// ---- printing ----------------------------------------------------------------------------------

function fieldText(value: unknown): string {
  if (Array.isArray(value)) return value.join(',') || '(none)'
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')
  }
  return String(value)
}

/** An action's fields other than its type, as `name value` pairs for people. */
function actionFields(action: ProposalJson['action']): [string, string][] {
  return Object.entries(action as Record<string, unknown>)
    .filter(([k]) => k !== 'type')
    .map(([k, v]) => [k, fieldText(v)])
}

/** One line: the action and what it is about. */
function actionSummary(action: ProposalJson['action']): string {
  return 'id' in action ? `${action.type} ${action.id}` : `${action.type} ${actionFields(action).map(([, v]) => v).join(' ')}`
}

function tallyText({ tally }: ProposalJson): string {
  return `${tally.yes} yes, ${tally.no} no of ${plural(tally.of, 'validator')} (${tally.needed} needed)`
}

function printProposal(p: ProposalJson): void {
  console.log(`proposal ${p.id}: ${p.status}${p.failure ? ` (${printable(p.failure.code)}: ${printable(p.failure.message)})` : ''}`)
  console.log(`  action    ${printable(p.action.type)}`)
  for (const [k, v] of actionFields(p.action)) console.log(`    ${k.padEnd(12)} ${printable(String(v))}`)
  if (p.note !== null) console.log(`  note      ${printable(p.note)}`)
  console.log(`  proposer  ${p.proposer} at height ${p.height} (transaction ${p.txId})`)
  console.log(p.closedHeight === null ? `  deadline  height ${p.deadline}` : `  closed    at height ${p.closedHeight}`)
  console.log(`  tally     ${tallyText(p)}`)
  printTable(
    ['validator', 'vote', 'height'],
    p.votes.map((v) => [v.validator, v.approve ? 'yes' : 'no', v.height]),
    '  ',
  )
}

function keyState(k: IssuerJson['keys'][number]): string {
  if (k.compromisedSince !== null) return `compromised since ${k.compromisedSince} (declared at height ${k.compromisedHeight})`
  return k.current ? 'current' : 'retired'
}

function printIssuer(issuer: IssuerJson): void {
  const state = issuer.active ? 'active' : `deactivated at height ${issuer.deactivatedHeight}`
  console.log(`issuer ${printable(issuer.id)}: ${printable(issuer.name)} (${state})`)
  console.log(`  types   ${printable(issuer.types.join(', ')) || '(none: an authority only)'}`)
  console.log(`  added   at height ${issuer.addedHeight}`)
  console.log('  keys    each signs from the block after "added" until the block that retires it')
  printTable(
    ['public key', 'added', 'retired', 'state'],
    issuer.keys.map((k) => [k.publicKey, k.addedHeight, k.retiredHeight ?? '-', keyState(k)]),
    '  ',
  )
}

// ---- commands ----------------------------------------------------------------------------------

/**
 * Registers governance (`certchain gov …`), issuer key changes (`certchain issuer-keys …`) and the
 * registry queries (`issuers`, `issuer`, `validators`, `members`).
 */
export function registerGovernanceCommands(program: Command): void {
  const gov = program.command('gov').description('governance: validators propose and vote on registry and parameter changes')

  signerOptions(
    gov
      .command('propose')
      .description('propose a change, signed with a validator key; prints the proposal number once committed')
      .addArgument(new Argument('<action-type>', 'what to change (see below)').choices(GOV_ACTION_TYPES)),
  )
    .option('--id <id>', 'the validator, member, issuer or certificate type the action is about')
    .option('--name <name>', 'display name')
    .option('--public-key <hex>', 'validator or issuer public key', publicKeyHex)
    .option('--peer-id <id>', 'libp2p peer id of the node')
    .option('--identity <file>', 'identity file (certchain export-identity)')
    .option('--types <list>', 'comma-separated certificate types the issuer may issue', list)
    .option('--authorities <list>', 'comma-separated issuers that may change the status of any certificate of the type', list)
    .option('--name-ko <name>', 'Korean name of the certificate type')
    .option('--name-en <name>', 'English name of the certificate type')
    .option('--validity-days <n>', 'default validity of the certificate type', positiveInt)
    .option('--key <hex>', 'the issuer key to declare compromised', publicKeyHex)
    .option('--since <iso>', 'compromised since (certificates it signed from then on read as revoked)')
    .option('--param <name=value>', 'a chain parameter to set; repeatable', collect, [])
    .option('--note <text>', 'a short public note (why)')
    .option('--json', 'print the proposal as JSON')
    .addHelpText('after', actionsHelp())
    .action(async (type: GovActionType, o: ProposeFlags & SignerFlags & { json?: boolean }) => {
      const action = actionFromFlags(type, o, o.identity === undefined ? undefined : await readIdentityFile(o.identity))
      const client = new RpcClient(o.rpc)
      const [{ chainId }, validator] = await Promise.all([client.status(), loadValidator(o, client)])
      const signed = prepareProposal(chainId, validator, action, o.note === undefined ? {} : { note: o.note })
      const committed = await submitAndWait(client, signed)
      // Numbers are assigned at commit; the newest proposals include the one just committed.
      const txId = toHex(signed.id)
      const proposal = (await client.proposals({ limit: MAX_PROPOSALS_LISTED })).proposals.find((p) => p.txId === txId)
      if (!proposal) throw new UsageError(`proposal transaction ${txId} is committed at height ${committed.height}; find it with "certchain gov list"`)
      if (o.json) return printJson(proposal)
      console.log(`proposal ${proposal.id} (${actionSummary(proposal.action)}) committed at height ${committed.height}: ${proposal.status}`)
      console.log(`  ${tallyText(proposal)}`)
    })

  signerOptions(
    gov
      .command('vote')
      .description('vote on an open proposal, signed with a validator key')
      .argument('<id>', 'proposal number', positiveInt)
      .addArgument(new Argument('<vote>', 'approve or not').choices(['yes', 'no'])),
  )
    .option('--json', 'print the proposal after the vote as JSON')
    .action(async (id: number, vote: 'yes' | 'no', o: SignerFlags & { json?: boolean }) => {
      const client = new RpcClient(o.rpc)
      const [{ chainId }, validator] = await Promise.all([client.status(), loadValidator(o, client)])
      const committed = await submitAndWait(client, prepareVote(chainId, validator, id, vote === 'yes'))
      const proposal = await client.proposal(id)
      if (o.json) return printJson(proposal)
      console.log(`${validator.id} voted ${vote} on proposal ${id} at height ${committed.height}; the proposal is ${proposal.status}`)
      console.log(`  ${tallyText(proposal)}`)
    })

  rpcOption(gov.command('list').description('proposals, newest first'))
    .addOption(new Option('--status <status>', 'only proposals with this status').choices(PROPOSAL_STATUSES))
    .option('--limit <n>', `at most this many (1 to ${MAX_PROPOSALS_LISTED})`, positiveInt)
    .option('--json', 'print JSON')
    .action(async (o: { rpc: string; status?: ProposalStatus; limit?: number; json?: boolean }) => {
      const answer = await new RpcClient(o.rpc).proposals({
        ...(o.status === undefined ? {} : { status: o.status }),
        ...(o.limit === undefined ? {} : { limit: o.limit }),
      })
      if (o.json) return printJson(answer)
      if (answer.proposals.length === 0) return void console.log(o.status === undefined ? 'no proposals' : `no ${o.status} proposals`)
      printTable(
        ['id', 'status', 'action', 'proposer', 'height', 'votes', 'note'],
        answer.proposals.map((p) => [p.id, p.status, actionSummary(p.action), p.proposer, p.height, `${p.tally.yes}/${p.tally.needed} yes, ${p.tally.no} no`, p.note ?? '']),
      )
    })

  rpcOption(gov.command('show').description('one proposal with its votes').argument('<id>', 'proposal number', positiveInt))
    .option('--json', 'print JSON')
    .action(async (id: number, o: { rpc: string; json?: boolean }) => {
      const proposal = await new RpcClient(o.rpc).proposal(id)
      if (o.json) return printJson(proposal)
      printProposal(proposal)
    })

  rpcOption(program.command('issuers').description('registered issuers'))
    .option('--json', 'print JSON')
    .action(async (o: { rpc: string; json?: boolean }) => {
      const { issuers } = await new RpcClient(o.rpc).issuers()
      if (o.json) return printJson(issuers)
      printTable(
        ['id', 'name', 'active', 'types', 'keys'],
        issuers.map((i) => [i.id, i.name, i.active ? 'yes' : 'no', i.types.join(',') || '-', `${i.keys.filter((k) => k.current).length} current of ${i.keys.length}`]),
      )
    })

  rpcOption(program.command('issuer').description('one issuer with its key history').argument('<id>', 'issuer id'))
    .option('--json', 'print JSON')
    .action(async (id: string, o: { rpc: string; json?: boolean }) => {
      const issuer = await new RpcClient(o.rpc).issuer(id)
      if (o.json) return printJson(issuer)
      printIssuer(issuer)
    })

  rpcOption(program.command('validators').description('validators voting at a height, in proposer order, and every registered one'))
    .option('--height <h>', 'block height (default: the next block)', positiveInt)
    .option('--json', 'print JSON')
    .action(async (o: { rpc: string; height?: number; json?: boolean }) => {
      const answer = await new RpcClient(o.rpc).validators(o.height)
      if (o.json) return printJson(answer)
      console.log(`${plural(answer.validators.length, 'validator')} voting at height ${answer.height}, in proposer order:`)
      printTable(
        ['id', 'name', 'public key', 'peer id'],
        answer.validators.map((v) => [v.id, v.name, v.publicKey, v.peerId]),
        '  ',
      )
      const jailed = answer.registered.filter((v) => v.jailedHeight !== null)
      if (jailed.length > 0) console.log(`jailed: ${jailed.map((v) => `${v.id} (at height ${v.jailedHeight})`).join(', ')}`)
    })

  rpcOption(program.command('members').description('registered member institutions (verifying nodes)'))
    .option('--json', 'print JSON')
    .action(async (o: { rpc: string; json?: boolean }) => {
      const { members } = await new RpcClient(o.rpc).members()
      if (o.json) return printJson(members)
      if (members.length === 0) return void console.log('no members')
      printTable(
        ['id', 'name', 'peer id'],
        members.map((m) => [m.id, m.name, m.peerId]),
      )
    })

  const issuerKeys = program.command('issuer-keys').description("an issuer's own key changes, signed with one of its current keys")
  const keyCommand = (name: string, description: string): Command =>
    rpcOption(issuerKeys.command(name).description(description))
      .requiredOption('--key <file>', 'a current key of the issuer (it signs the change)')
      .option('--issuer <id>', 'issuer id (default: from the key file)')
  /** Signs, submits and waits for the change; returns the height of its block. */
  const submitKeyChange = async (rpc: string, identity: IssuerIdentity, changes: IssuerKeyChanges): Promise<number> => {
    const client = new RpcClient(rpc)
    const { chainId } = await client.status()
    return (await submitAndWait(client, prepareIssuerKeyUpdate(chainId, identity, changes))).height
  }

  keyCommand('add', 'add a key (the file is created when missing); it signs from the next block')
    .requiredOption('--new-key <file>', 'key file of the new key')
    .action(async (o: { rpc: string; key: string; issuer?: string; newKey: string }) => {
      const identity = await loadIssuerIdentity(o.key, o.issuer)
      const created = !existsSync(o.newKey)
      const newKey = created ? newKeyFile(identity.issuer) : await loadKeyFile(o.newKey)
      if (created) await saveKeyFile(o.newKey, newKey)
      const height = await submitKeyChange(o.rpc, identity, { add: [newKey.publicKey] })
      console.log(`added key ${toHex(newKey.publicKey)} to issuer ${identity.issuer} at height ${height}${created ? ` (new key file ${o.newKey})` : ''}`)
    })

  keyCommand('retire', 'retire a key: what it signed stays valid, it signs nothing new')
    .requiredOption('--public-key <hex>', 'the key to retire', publicKeyHex)
    .action(async (o: { rpc: string; key: string; issuer?: string; publicKey: Bytes }) => {
      const identity = await loadIssuerIdentity(o.key, o.issuer)
      const height = await submitKeyChange(o.rpc, identity, { retire: [o.publicKey] })
      console.log(`retired key ${toHex(o.publicKey)} of issuer ${identity.issuer} at height ${height}`)
    })

  keyCommand('compromise', 'declare a key compromised: certificates it signed from --since on read as revoked (key_compromised)')
    .requiredOption('--public-key <hex>', 'the compromised key (not the one signing)', publicKeyHex)
    .requiredOption('--since <iso>', 'when the key may first have been misused')
    .action(async (o: { rpc: string; key: string; issuer?: string; publicKey: Bytes; since: string }) => {
      const since = parseDate(o.since, '--since')
      const identity = await loadIssuerIdentity(o.key, o.issuer)
      const height = await submitKeyChange(o.rpc, identity, { compromised: [{ key: o.publicKey, since }] })
      console.log(`declared key ${toHex(o.publicKey)} of issuer ${identity.issuer} compromised since ${new Date(since).toISOString()} at height ${height}`)
    })
}
