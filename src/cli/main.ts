import { existsSync } from 'node:fs'
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { CommanderError, type Command } from 'commander'
import {
  certificateFiles,
  prepareIssuance,
  prepareReinstatement,
  prepareRevocation,
  prepareSuspension,
  type NewCertificate,
  type PreparedIssuance,
  type SignedTransaction,
} from '../client/index.js'
import { toHex } from '../core/bytes.js'
import { certificateFileFromJson, certificateFileToJson, type CertificateFile, type CertificateFileJson } from '../core/certificate.js'
import { CertchainError } from '../core/errors.js'
import { REVOCATION_REASONS, SUSPENSION_REASONS, type RevocationReason, type SuspensionReason } from '../core/types.js'
import { loadConfig, parseConfig } from '../node/config.js'
import { createTestnet, initHome } from '../node/home.js'
import { readLocalFile } from '../node/files.js'
import { loadKeyFile, newKeyFile, peerIdOf, saveKeyFile } from '../node/keys.js'
import { createLogger } from '../node/logger.js'
import type { CertchainNode } from '../node/node.js'
import { RpcClient, RpcError } from '../rpc/index.js'
import { CliCommand, DEFAULT_RPC, hashDocument, hexArgument, holderPublicKey, loadIssuerIdentity, parseDate, positiveInt, rpcOption, submitAndWait } from './common.js'
import { registerGenesisCommands } from './genesis.js'
import { registerGovernanceCommands } from './gov.js'
import { writeCredentialFile } from './credential.js'
import { submitInBatches, TXS_PER_REQUEST } from './issue-batch.js'
import { registerProofCommands, verifyOffline, type OfflineVerifyOptions } from './proof.js'
import { registerWalletCommands } from './wallet.js'
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, UsageError, guardTerminal, printable, reportError } from './output.js'

const DAY_MS = 24 * 60 * 60 * 1000
/** Records per transaction when issuing a batch file, by default (one signature each). */
const BATCH_CHUNK = 1000

/** One certificate to issue, as given on the command line or as one line of a batch file. */
interface CertificateSpec {
  readonly document?: string
  readonly type?: string
  readonly holder?: string
  readonly validFrom?: string
  readonly validUntil?: string
}

function isCertificateSpec(value: unknown): value is CertificateSpec {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const known = ['document', 'type', 'holder', 'validFrom', 'validUntil']
  return Object.entries(value).every(([k, v]) => known.includes(k) && (v === undefined || typeof v === 'string'))
}

/** A certificate file is a few KiB (a record, a salt, a Merkle path of ~13 hashes). */
const MAX_CERTIFICATE_FILE_BYTES = 64 * 1024
/** Documents are read whole to be hashed with their salt when issuing. */
const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
/** A batch lists one short line per certificate. */
const MAX_BATCH_FILE_BYTES = 64 * 1024 * 1024

async function readCertificateFile(path: string): Promise<{ json: CertificateFileJson; file: CertificateFile }> {
  const text = (await readLocalFile(path, { what: 'certificate file', maxBytes: MAX_CERTIFICATE_FILE_BYTES })).toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new CertchainError('INVALID_CERTIFICATE_FILE', `${path} is not JSON`)
  }
  // Parse to check every field now, with a clear message; send the original JSON.
  return { json: json as CertificateFileJson, file: certificateFileFromJson(json) }
}

/**
 * Certificate files hold the salt, which is what keeps the document's hash unguessable: readable
 * by their owner only, and never silently replacing another certificate's file.
 */
async function writeCertificateFile(path: string, value: CertificateFileJson, force: boolean): Promise<void> {
  await mkdir(dirname(resolve(path)), { recursive: true })
  try {
    await writeFile(path, JSON.stringify(value, null, 2) + '\n', { mode: 0o600, flag: force ? 'w' : 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${path} already exists; pass --force to overwrite it`, 'FILE_EXISTS')
    throw err
  }
  // An overwritten file keeps its old mode; the umask can only remove bits.
  await chmod(path, 0o600)
}

function refuseExisting(paths: readonly string[], force: boolean): void {
  if (force) return
  const taken = paths.find((p) => existsSync(p))
  if (taken !== undefined) throw new UsageError(`${taken} already exists; pass --force to overwrite it`, 'FILE_EXISTS')
}

/**
 * Submits an issuance and waits for its block. When the answer is "pending" or the node stops
 * answering, the transaction may still be committed: the caller writes the certificate files
 * anyway (height 0 = pending), so no salt is lost.
 */
async function submitIssuance(client: RpcClient, prepared: SignedTransaction): Promise<{ height: number } | { pending: string }> {
  try {
    const result = await client.submitTx(prepared.bytes, { wait: 'commit' })
    if (result.status === 'committed') return { height: result.height }
    if (result.status === 'pending') return { pending: 'accepted but not yet in a block' }
    throw new CertchainError('INTERNAL', `transaction ${result.id} was not committed (${result.status})`)
  } catch (err) {
    if (err instanceof RpcError && err.code === 'UNAVAILABLE') return { pending: `sent, but no answer came (${err.message})` }
    throw err
  }
}

function pendingError(txId: string, why: string, where: string): UsageError {
  return new UsageError(
    `transaction ${txId} was ${why}; ${where} written with "height": 0 (pending); check with "certchain tx ${txId}": once committed, the files verify as they are`,
    'TX_PENDING',
  )
}

async function runNode(
  home: string,
  overrides: { rpcHost?: string; rpcPort?: number; p2pPort?: number; logLevel?: string; stateSync?: boolean; trust?: string },
  banner?: (node: CertchainNode) => void,
): Promise<void> {
  const loaded = await loadConfig(home)
  const { p2pPort } = overrides
  const config = parseConfig({
    ...loaded,
    p2p: { ...loaded.p2p, listen: p2pPort === undefined ? loaded.p2p.listen : loaded.p2p.listen.map((a) => a.replace(/\/tcp\/\d+/, `/tcp/${p2pPort}`)) },
    rpc: { ...loaded.rpc, ...(overrides.rpcHost ? { host: overrides.rpcHost } : {}), ...(overrides.rpcPort !== undefined ? { port: overrides.rpcPort } : {}) },
    log: { level: overrides.logLevel ?? loaded.log.level },
    stateSync: {
      ...loaded.stateSync,
      ...(overrides.stateSync ? { enabled: true } : {}),
      ...(overrides.trust === undefined ? {} : { trustFile: resolve(overrides.trust) }),
    },
  })
  const logger = createLogger({ level: config.log.level })
  // Loaded here so client commands do not pay for the server's modules.
  const { CertchainNode } = await import('../node/node.js')
  const node = await CertchainNode.create({ home, config, logger })
  let stopping: Promise<void> | undefined
  const shutdown = (signal: string): void => {
    if (stopping) return
    logger.info({ signal }, 'shutting down')
    stopping = node.stop().then(
      () => process.exit(EXIT_OK),
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown')
        process.exit(EXIT_FAIL)
      },
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  try {
    await node.start()
  } catch (err) {
    await node.stop().catch(() => undefined)
    throw err
  }
  banner?.(node)
}

/**
 * The README's five-minute walkthrough, word for word (test/integration/walkthrough.test.ts
 * compares them), with this dev chain's key path and, off the default port, its RPC URL.
 */
export function walkthroughCommands(key: string, rpc: string): string[] {
  return [
    ...(rpc === DEFAULT_RPC ? [] : [`export CERTCHAIN_RPC=${rpc}`]),
    'echo "주민등록표 등본: sample document" > document.txt',
    `npx certchain issue --key ${key} --type kr.residence --document document.txt --out certificate.json`,
    'npx certchain verify certificate.json --document document.txt',
    `npx certchain revoke --key ${key} --cert certificate.json --reason issued_in_error`,
    'npx certchain verify certificate.json --document document.txt; echo "exit code: $?"',
  ]
}

function printDevBanner(node: CertchainNode, home: string): void {
  const rpc = node.rpcUrl
  const key = relative(process.cwd(), join(home, 'issuers', 'kr.seoul.jongno.json'))
  const s = node.status()
  console.log(`
certchain dev — single-validator chain "${s.chainId}", height ${s.height}
  RPC:          ${rpc}
  Status:       ${rpc}/v1/status
  Issuer keys:  ${relative(process.cwd(), join(home, 'issuers'))}/   (sample agencies; never use outside dev)

Try the README's walkthrough in another terminal, in this directory:
${walkthroughCommands(key, rpc)
  .map((c) => `  ${c}`)
  .join('\n')}

Ctrl-C stops the node; the chain stays in ${relative(process.cwd(), home) || '.'}/ (--reset starts over).
`)
}

function buildProgram(): Command {
  const program = new CliCommand()
  program
    .name('certchain')
    .description('Node and tools for certchain, a permissioned blockchain of public certificates')
    .version('0.1.0')
    .exitOverride()

  program
    .command('init')
    .description('create a node home: config, node key, validator key (mode 0600), data directory')
    .requiredOption('--home <dir>', 'node home directory')
    .option('--genesis <file>', 'genesis.json of the chain to join')
    .option('--moniker <name>', 'a name for this node')
    .option('--no-validator', 'do not create a validator key (member/observer node)')
    .action(async (o: { home: string; genesis?: string; moniker?: string; validator: boolean }) => {
      const r = await initHome(resolve(o.home), { ...(o.genesis ? { genesisFile: o.genesis } : {}), ...(o.moniker ? { moniker: o.moniker } : {}), validator: o.validator })
      console.log(`initialized ${r.home}`)
      console.log(`  peer id:              ${r.peerId}`)
      if (r.validatorPublicKey) console.log(`  validator public key: ${r.validatorPublicKey}`)
      if (!o.genesis) console.log(`next: copy the chain's genesis.json into ${r.home}/, then run: certchain start --home ${o.home}`)
    })

  program
    .command('start')
    .description('run a node (JSON logs, pretty on a terminal); stops cleanly on SIGINT/SIGTERM')
    .requiredOption('--home <dir>', 'node home directory')
    .option('--rpc-host <host>', 'override rpc.host')
    .option('--rpc-port <port>', 'override rpc.port', positiveInt)
    .option('--p2p-port <port>', 'override the port of p2p.listen', positiveInt)
    .option('--log-level <level>', 'override log.level')
    .option('--state-sync', 'an empty node joins from a peer\'s snapshot (stateSync.enabled)')
    .option('--trust <checkpoint.json>', 'trust anchor for state sync: a checkpoint file (default: the genesis)')
    .action(async (o: { home: string; rpcHost?: string; rpcPort?: number; p2pPort?: number; logLevel?: string; stateSync?: boolean; trust?: string }) => {
      await runNode(resolve(o.home), o)
    })

  program
    .command('dev')
    .description('run a single-validator chain from the example genesis with sample issuer keys')
    .option('--home <dir>', 'where the dev chain lives', '.certchain-dev')
    .option('--reset', 'delete the dev chain first')
    .option('--rpc-port <port>', 'RPC port', positiveInt)
    .option('--p2p-port <port>', 'p2p port', positiveInt)
    .option('--log-level <level>', 'log level', 'info')
    .action(async (o: { home: string; reset?: boolean; rpcPort?: number; p2pPort?: number; logLevel: string }) => {
      const home = resolve(o.home)
      if (o.reset) await rm(home, { recursive: true, force: true })
      if (!existsSync(join(home, 'testnet.json'))) {
        await createTestnet({ validators: 1, out: home, chainId: 'certchain-dev' })
      }
      await runNode(join(home, 'validator0'), o, (node) => printDevBanner(node, home))
    })

  program
    .command('devnet')
    .description('run a local cluster (default 4 validators) on loopback, one process per node; Ctrl-C stops all')
    .option('--dir <dir>', 'where the cluster lives', '.certchain-devnet')
    .option('--validators <n>', 'number of validators', positiveInt, 4)
    .option('--observers <k>', 'number of member nodes', positiveInt, 0)
    .option('--reset', 'delete the cluster first')
    .option('--rpc-port <port>', 'RPC port of the first node; each next node +2 (when the cluster is created)', positiveInt)
    .option('--p2p-port <port>', 'p2p port of the first node; each next node +2 (when the cluster is created)', positiveInt)
    .action(async (o: { dir: string; validators: number; observers: number; reset?: boolean; rpcPort?: number; p2pPort?: number }) => {
      const dir = resolve(o.dir)
      if (o.reset) await rm(dir, { recursive: true, force: true })
      if (!existsSync(join(dir, 'testnet.json'))) {
        await createTestnet({
          validators: o.validators,
          observers: o.observers,
          out: dir,
          chainId: 'certchain-devnet',
          ...(o.rpcPort === undefined ? {} : { rpcBasePort: o.rpcPort }),
          ...(o.p2pPort === undefined ? {} : { p2pBasePort: o.p2pPort }),
        })
      }
      const { runDevnet } = await import('./devnet.js')
      await runDevnet(dir)
    })

  program
    .command('testnet')
    .description('generate homes, genesis and issuer keys for a local cluster, and DIR/testnet.json')
    .requiredOption('--validators <n>', 'number of validators', positiveInt)
    .option('--observers <k>', 'number of member (observer) nodes', positiveInt, 0)
    .requiredOption('--out <dir>', 'output directory')
    .option('--hosts <list>', 'comma-separated address per node, validators first')
    .option('--chain-id <id>', 'chain id', 'certchain-testnet')
    .action(async (o: { validators: number; observers: number; out: string; hosts?: string; chainId: string }) => {
      const manifest = await createTestnet({
        validators: o.validators,
        observers: o.observers,
        out: o.out,
        chainId: o.chainId,
        ...(o.hosts ? { hosts: o.hosts.split(',').map((h) => h.trim()) } : {}),
      })
      console.log(`testnet "${manifest.chainId}" (genesis ${manifest.genesisHash.slice(0, 16)}…) in ${resolve(o.out)}`)
      for (const n of manifest.nodes) console.log(`  ${n.name.padEnd(12)} ${n.validator ? 'validator' : 'member   '} ${n.rpcUrl}  ${n.home}`)
      console.log(`  issuer keys: ${join(resolve(o.out), 'issuers')}/`)
    })

  registerGenesisCommands(program)

  const keys = program.command('keys').description('Ed25519 key files')
  keys
    .command('new')
    .description('generate a key file (mode 0600)')
    .requiredOption('--out <file>', 'where to write the key')
    .option('--issuer <id>', 'the issuer id this key signs for')
    .action(async (o: { out: string; issuer?: string }) => {
      const key = newKeyFile(o.issuer)
      await saveKeyFile(o.out, key)
      console.log(`wrote ${o.out}`)
      console.log(`public key: ${toHex(key.publicKey)}`)
    })
  keys
    .command('show')
    .description('print the public parts of a key file')
    .argument('<file>')
    .action(async (file: string) => {
      const key = await loadKeyFile(file)
      console.log(JSON.stringify({ publicKey: toHex(key.publicKey), issuer: key.issuer ?? null, peerId: await peerIdOf(key) }, null, 2))
    })

  rpcOption(program.command('issue').description('hash and sign certificates locally, submit, wait for the block, write certificate files'))
    .requiredOption('--key <file>', "issuer's key file")
    .option('--issuer <id>', 'issuer id (default: from the key file)')
    .option('--type <type>', 'certificate type, e.g. kr.residence')
    .option('--document <file>', 'the document (only its salted hash leaves this machine)')
    .option('--holder <pubkey|file>', "bind to the holder's wallet key: its public key in hex, or a file with it (certchain keys show HOLDER.json); the record holds only a salted commitment")
    .option('--valid-from <date>', 'start of validity (default: now)')
    .option('--valid-until <date>', "end of validity (default: the type's validity period)")
    .option('--out <file>', 'certificate file to write')
    .option('--batch <file.jsonl>', 'one certificate per line: {"document","type"?,"holder"?,"validFrom"?,"validUntil"?}')
    .option('--out-dir <dir>', 'directory for the certificate files of a batch')
    .option('--per-tx <n>', `certificates per transaction in a batch (default ${BATCH_CHUNK}; 1 gives each its own transaction); transactions go ${TXS_PER_REQUEST} to a request`)
    .option('--force', 'overwrite existing certificate files')
    .option('--vc', 'also write each certificate as a W3C VC 2.0 credential, CERT.vc.json, signed with the issuer key')
    .action(async (o: Record<string, string | undefined> & { force?: boolean; vc?: boolean }) => {
      const force = o.force === true
      if (!o.batch && (!o.document || !o.out)) throw new UsageError('issue needs --document and --out (or --batch and --out-dir)')
      if (o.batch && !o.outDir) throw new UsageError('--batch needs --out-dir')
      if (!o.batch && o.perTx !== undefined) throw new UsageError('--per-tx applies to --batch only')
      const perTx = o.perTx === undefined ? BATCH_CHUNK : Number(o.perTx)
      if (!Number.isSafeInteger(perTx) || perTx < 1) throw new UsageError(`--per-tx must be a whole number of at least 1, not "${o.perTx}"`, 'INVALID_ARGUMENT')
      if (o.out) refuseExisting([o.out], force)
      const identity = await loadIssuerIdentity(o.key!, o.issuer)
      const client = new RpcClient(o.rpc!)
      const [{ chainId }, { types }] = await Promise.all([client.status(), client.types()])
      const validityDays = new Map(types.map((t) => [t.id, t.validityDays]))
      const now = Date.now()
      const describe = async (spec: CertificateSpec, base: string, line: string): Promise<NewCertificate> => {
        const type = spec.type ?? o.type
        if (!type) throw new UsageError(`${line}: no certificate type (--type or "type")`)
        const days = validityDays.get(type)
        if (days === undefined) throw new UsageError(`${line}: unknown certificate type "${type}" (known: ${[...validityDays.keys()].join(', ')})`, 'UNKNOWN_CERT_TYPE')
        if (typeof spec.document !== 'string') throw new UsageError(`${line}: no document`)
        const validFrom = spec.validFrom ? parseDate(spec.validFrom, 'validFrom') : now
        const validUntil = spec.validUntil ? parseDate(spec.validUntil, 'validUntil') : validFrom + days * DAY_MS
        if (validUntil <= validFrom) throw new UsageError(`${line}: validity must end after it starts`)
        const holderKey = spec.holder ? await holderPublicKey(spec.holder, base, line) : undefined
        return {
          type,
          document: await readLocalFile(resolve(base, spec.document), { what: 'document', maxBytes: MAX_DOCUMENT_BYTES }),
          validFrom,
          validUntil,
          ...(holderKey ? { holderKey } : {}),
        }
      }
      if (o.batch && o.outDir) {
        const lines = (await readLocalFile(o.batch, { what: 'batch file', maxBytes: MAX_BATCH_FILE_BYTES })).toString('utf8').split('\n').map((l) => l.trim())
        const specs: NewCertificate[] = []
        for (const [i, l] of lines.entries()) {
          if (!l) continue
          let spec: unknown
          try {
            spec = JSON.parse(l)
          } catch {
            throw new UsageError(`${o.batch}:${i + 1}: not JSON`)
          }
          if (!isCertificateSpec(spec)) {
            throw new UsageError(`${o.batch}:${i + 1}: expected {"document": path, "type"?, "holder"?, "validFrom"?, "validUntil"?} with string values`)
          }
          specs.push(await describe(spec, dirname(resolve(o.batch)), `${o.batch}:${i + 1}`))
        }
        if (specs.length === 0) throw new UsageError(`${o.batch} lists no certificates`)
        const outDir = o.outDir
        const issuances: PreparedIssuance[] = []
        for (let start = 0; start < specs.length; start += perTx) issuances.push(prepareIssuance(chainId, identity, specs.slice(start, start + perTx)))
        const path = (id: Uint8Array): string => join(outDir, `${toHex(id)}.json`)
        // Every file is checked before anything is sent: a refusal here leaves the chain untouched.
        refuseExisting(issuances.flatMap((p) => p.certificateIds.map(path)), force)
        await mkdir(outDir, { recursive: true })
        const firstSpec = new Map(issuances.map((p, i) => [p, i * perTx]))
        const refused: { code: string; message: string }[] = []
        const pending: PreparedIssuance[] = []
        let pendingWhy = ''
        await submitInBatches(
          client,
          issuances,
          async (prepared, outcome) => {
            const lines = `lines ${firstSpec.get(prepared)! + 1}–${firstSpec.get(prepared)! + prepared.records.length} of the batch`
            if ('rejected' in outcome) {
              refused.push(outcome.rejected)
              console.error(`refused: transaction ${toHex(prepared.id)} (${lines}): ${outcome.rejected.code}: ${outcome.rejected.message}; no files written for it`)
              return
            }
            const height = 'height' in outcome ? outcome.height : 0
            for (const [n, file] of certificateFiles(chainId, prepared, height).entries()) {
              await writeCertificateFile(path(file.certificateId), certificateFileToJson(file), force)
              if (o.vc) await writeCredentialFile(path(file.certificateId), file, identity.key, specs[firstSpec.get(prepared)! + n]!.holderKey)
            }
            if ('pending' in outcome) {
              pending.push(prepared)
              pendingWhy = outcome.pending
            } else console.log(`issued ${prepared.records.length} certificates in transaction ${toHex(prepared.id)} at height ${height}`)
          },
          (answered, total) => {
            if (total > 1) console.error(`progress: ${answered}/${total} transactions answered`)
          },
        )
        if (refused.length > 0) {
          const also = pending.length > 0 ? `; ${pending.length} more are pending, their files written with "height": 0` : ''
          const [first] = refused as [{ code: string; message: string }]
          throw new RpcError(first.code, `${refused.length} of ${issuances.length} transactions were refused (first: ${first.code}: ${first.message}); their certificates are not issued${also}`, 0)
        }
        if (pending.length === 1) throw pendingError(toHex(pending[0]!.id), pendingWhy, `its ${pending[0]!.records.length} certificate files in ${outDir}/ are`)
        if (pending.length > 1) {
          throw new UsageError(
            `${pending.length} of ${issuances.length} transactions were ${pendingWhy} (${pending.slice(0, 3).map((p) => toHex(p.id)).join(', ')}${pending.length > 3 ? ', …' : ''}); their certificate files in ${outDir}/ are written with "height": 0 (pending); check each with "certchain tx ID": once committed, the files verify as they are`,
            'TX_PENDING',
          )
        }
        console.log(`certificate files in ${outDir}/`)
        return
      }
      const out = o.out!
      const spec = await describe({ document: o.document, holder: o.holder, validFrom: o.validFrom, validUntil: o.validUntil }, process.cwd(), 'issue')
      const prepared = prepareIssuance(chainId, identity, [spec])
      const outcome = await submitIssuance(client, prepared)
      const [file] = certificateFiles(chainId, prepared, 'height' in outcome ? outcome.height : 0)
      await writeCertificateFile(out, certificateFileToJson(file!), force)
      const credential = o.vc ? await writeCredentialFile(out, file!, identity.key, spec.holderKey) : undefined
      if ('pending' in outcome) throw pendingError(toHex(prepared.id), outcome.pending, `the certificate file ${out} is`)
      console.log(`issued certificate ${toHex(file!.certificateId)} at height ${outcome.height}`)
      console.log(`certificate file: ${out}`)
      if (credential) console.log(`credential: ${credential}`)
    })

  const statusCommand = (
    name: 'revoke' | 'suspend' | 'reinstate',
    description: string,
    reasons: readonly string[] | undefined,
    defaultReason: string | undefined,
  ): void => {
    const cmd = rpcOption(program.command(name).description(description))
      .requiredOption('--key <file>', 'key file of the issuing agency or an authority for the type')
      .option('--issuer <id>', 'issuer id (default: from the key file)')
      .option('--id <id>', 'certificate id (hex)')
      .option('--cert <file>', 'take the certificate id from a certificate file')
      .option('--note <text>', 'short public note (no personal data)')
    if (reasons) cmd.option('--reason <code>', `one of: ${reasons.join(', ')}`, defaultReason)
    cmd.action(async (o: { rpc: string; key: string; issuer?: string; id?: string; cert?: string; note?: string; reason?: string }) => {
      const id = o.id !== undefined ? hexArgument(o.id, '--id', 32) : o.cert ? (await readCertificateFile(o.cert)).file.certificateId : undefined
      if (!id) throw new UsageError(`${name} needs --id or --cert`)
      if (reasons && !reasons.includes(o.reason!)) throw new UsageError(`--reason must be one of: ${reasons.join(', ')}`)
      const identity = await loadIssuerIdentity(o.key, o.issuer)
      const client = new RpcClient(o.rpc)
      const { chainId } = await client.status()
      const options = o.note ? { note: o.note } : {}
      const signed =
        name === 'revoke'
          ? prepareRevocation(chainId, identity, [id], o.reason as RevocationReason, options)
          : name === 'suspend'
            ? prepareSuspension(chainId, identity, id, o.reason as SuspensionReason, options)
            : prepareReinstatement(chainId, identity, id, options)
      const committed = await submitAndWait(client, signed)
      const past = { revoke: 'revoked', suspend: 'suspended', reinstate: 'reinstated' }[name]
      console.log(`${past} certificate ${toHex(id)} at height ${committed.height}`)
    })
  }
  statusCommand('revoke', 'revoke a certificate (permanent)', REVOCATION_REASONS, 'other')
  statusCommand('suspend', 'suspend a certificate until reinstated', SUSPENSION_REASONS, 'under_investigation')
  statusCommand('reinstate', 'lift a suspension', undefined, undefined)

  rpcOption(program.command('verify').description('check a certificate file and document against a node; exit 0 valid, 1 not valid, 2 usage/file/connection error'))
    .argument('<certificate.json>')
    .option('--document <file>', 'the document the citizen submitted')
    .option('--document-hash <hex>', 'SHA-256(salt || document), instead of the document')
    .option('--at <height|time>', 'verify as of a block height or an ISO-8601 time (online only)')
    .option('--proof <file>', 'verify offline with this proof bundle (certchain proof); contacts no node')
    .option('--genesis <file>', 'offline: the trust anchor, the chain\'s genesis')
    .option('--checkpoint <file>', 'offline: the trust anchor, a checkpoint (certchain checkpoint)')
    .option('--max-age <duration>', 'offline: a proof older than this is stale, so not valid', '24h')
    .option('--json', 'print the full JSON answer')
    .action(async (certPath: string, o: OfflineVerifyOptions & { rpc: string; at?: string; proof?: string }) => {
      if (!o.document === !o.documentHash) throw new UsageError('verify needs exactly one of --document or --document-hash')
      if (o.proof !== undefined) {
        if (o.at !== undefined) throw new UsageError('--at asks a node; an offline proof shows the status as of its header')
        return verifyOffline(certPath, { ...o, proof: o.proof })
      }
      if (o.genesis !== undefined || o.checkpoint !== undefined) throw new UsageError('--genesis and --checkpoint go with --proof (offline verification)')
      const certificate = await readCertificateFile(certPath)
      // Hashed here: the document never leaves this machine, only SHA-256(salt || document) does.
      const documentHash = o.document ? await hashDocument(certificate.file.salt, o.document) : hexArgument(o.documentHash!, '--document-hash', 32)
      // Neither salt leaves this machine: with the hash, the node needs the record, not the secrets.
      const { salt: _salt, holderSalt: _holderSalt, ...withoutSalts } = certificate.json
      const result = await new RpcClient(o.rpc).verify(withoutSalts, { documentHash }, o.at)
      if (o.json) console.log(JSON.stringify(result, null, 2))
      else {
        const p = (v: unknown): string => printable(String(v))
        console.log(`certificate ${p(result.certificateId)}`)
        for (const c of result.checks) console.log(`  ${c.ok ? '✓' : '✗'} ${p(c.name).padEnd(18)} ${p(c.detail)}`)
        const failed = result.checks.filter((c) => !c.ok).map((c) => p(c.name))
        // The status is the certificate's on chain; say so, lest "status: valid" read as the verdict on this document.
        const why = result.verdict === 'valid' || failed.length === 0 ? '' : ` because ${failed.join(', ')} failed`
        const asOf = result.asOf ? `as of height ${p(result.asOf.height)} (${p(result.asOf.time)})` : `checked at height ${p(result.height)}`
        console.log(`verdict: ${p(result.verdict).toUpperCase()}${why} (certificate status on chain: ${p(result.status)}, ${asOf})`)
      }
      process.exitCode = result.verdict === 'valid' ? EXIT_OK : EXIT_FAIL
    })

  rpcOption(program.command('status').description("print a node's status"))
    .option('--json', 'print JSON')
    .action(async (o: { rpc: string; json?: boolean }) => {
      const s = await new RpcClient(o.rpc).status()
      if (o.json) return void console.log(JSON.stringify(s, null, 2))
      const p = (v: unknown): string => printable(String(v))
      console.log(`chain        ${p(s.chainId)}`)
      console.log(`height       ${p(s.height)} (${p(s.latestBlockTime)})`)
      console.log(`block hash   ${p(s.latestBlockHash)}`)
      console.log(`node         ${p(s.moniker)} ${p(s.nodeId)}`)
      console.log(`validator    ${s.validator ? `yes (${p(s.validatorId)})` : 'no'}`)
      console.log(`validators   ${s.validators} voting at the next height`)
      console.log(`proposals    ${s.openProposals} open`)
      console.log(`catching up  ${s.catchingUp ? 'yes' : 'no'}`)
      console.log(`peers        ${s.peers}`)
      console.log(`mempool      ${s.mempool.txs} transactions`)
      console.log(`certificates ${s.certificates}`)
    })

  rpcOption(program.command('tx').description('status of a transaction'))
    .argument('<id>')
    .action(async (id: string, o: { rpc: string }) => {
      console.log(JSON.stringify(await new RpcClient(o.rpc).getTx(id), null, 2))
    })

  registerGovernanceCommands(program)
  registerProofCommands(program)
  registerWalletCommands(program)

  return program
}

export async function main(argv: readonly string[]): Promise<void> {
  guardTerminal()
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // Only help and version get here (CliCommand turns every commander error into a
      // UsageError); help after a missing command is a usage error.
      process.exitCode = err.exitCode === 0 ? EXIT_OK : EXIT_USAGE
      return
    }
    process.exitCode = reportError(err)
  }
}
