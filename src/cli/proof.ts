import { readFile, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { fromHex, toHex } from '../core/bytes.js'
import { certificateFileFromJson } from '../core/certificate.js'
import { CertchainError } from '../core/errors.js'
import { proofFromJson, trustFromCheckpoint, trustFromGenesis, verifyProof, type LightResult } from '../light/index.js'
import { RpcClient } from '../rpc/index.js'
import { DEFAULT_RPC, positiveInt, readText } from './common.js'
import { EXIT_FAIL, EXIT_OK, UsageError } from './output.js'

const DURATION = /^(\d+)(ms|s|m|h|d)$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `90s`, `15m`, `24h`, `7d` (or milliseconds as a bare number). */
export function parseDuration(value: string): number {
  if (/^\d+$/.test(value)) return Number(value)
  const m = DURATION.exec(value)
  if (!m) throw new UsageError(`"${value}" is not a duration (for example 90s, 15m, 24h, 7d)`)
  return Number(m[1]) * UNIT_MS[m[2]!]!
}

/** Proof, checkpoint, genesis and certificate files are at most this large: reading one never costs more. */
const MAX_FILE_BYTES = 4 * 1024 * 1024

/** A JSON file the command line names: unreadable, oversized or not JSON is a usage error (exit 2). */
async function readJsonFile(path: string): Promise<unknown> {
  const text = await readText(path)
  if (text.length > MAX_FILE_BYTES) throw new UsageError(`${path} is larger than ${MAX_FILE_BYTES} bytes`)
  try {
    return JSON.parse(text)
  } catch {
    throw new UsageError(`${path} is not JSON`)
  }
}

/** A file's content parsed by `parse`; content that is not what the option says is a usage error (exit 2). */
async function readParsed<T>(path: string, parse: (json: unknown) => T): Promise<T> {
  const json = await readJsonFile(path)
  try {
    return parse(json)
  } catch (err) {
    if (err instanceof CertchainError) throw new UsageError(`${path}: ${err.code}: ${err.message}`)
    throw err
  }
}

export interface OfflineVerifyOptions {
  readonly document?: string
  readonly documentHash?: string
  readonly proof: string
  readonly genesis?: string
  readonly checkpoint?: string
  readonly maxAge: string
  readonly json?: boolean
}

/**
 * `certchain verify CERT --proof P --genesis G`: the whole check offline, by the light verifier
 * (the code a browser runs). No node is contacted; exit 0 valid, 1 not valid (stale included).
 */
export async function verifyOffline(certPath: string, o: OfflineVerifyOptions): Promise<void> {
  if (!o.genesis === !o.checkpoint) throw new UsageError('offline verify needs exactly one trust anchor: --genesis FILE or --checkpoint FILE')
  const maxAgeMs = parseDuration(o.maxAge)
  const file = await readParsed(certPath, certificateFileFromJson)
  const proof = await readParsed(o.proof, proofFromJson)
  const trust = o.genesis ? await readParsed(o.genesis, trustFromGenesis) : await readParsed(o.checkpoint!, trustFromCheckpoint)
  const evidence = o.document ? { document: new Uint8Array(await readDocument(o.document)) } : { documentHash: hexArg(o.documentHash!) }
  const result = verifyProof(file, proof, { trust, now: Date.now(), maxAgeMs, ...evidence })
  if (o.json) console.log(JSON.stringify(result, null, 2))
  else printLightResult(result)
  process.exitCode = result.verdict === 'valid' ? EXIT_OK : EXIT_FAIL
}

async function readDocument(path: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (err) {
    throw new UsageError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}

function hexArg(value: string): Uint8Array {
  try {
    return fromHex(value, 'document hash', 32)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

function printLightResult(result: LightResult): void {
  console.log(`certificate ${result.certificateId} (offline)`)
  for (const c of result.checks) console.log(`  ${c.ok ? '✓' : '✗'} ${c.name.padEnd(18)} ${c.detail}`)
  const failed = result.checks.filter((c) => !c.ok).map((c) => c.name)
  const at = result.provenAt ? `, proven at height ${result.provenAt.height} (${new Date(result.provenAt.time).toISOString()})` : ''
  const why = failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''
  console.log(`verdict: ${result.verdict.toUpperCase()} (status: ${result.status}${at}${why})`)
}

export function registerProofCommands(program: Command): void {
  program
    .command('proof')
    .description("fetch a certificate's proof bundle (certchain/proof@1) for offline verification")
    .argument('<certificate.json>')
    .requiredOption('--out <file>', 'where to write the proof')
    .option('--from <height>', 'leave out validator-set changes at or before this height (for a verifier that trusts a checkpoint there)', positiveInt)
    .option('--rpc <url>', 'node RPC URL', DEFAULT_RPC)
    .action(async (certPath: string, o: { out: string; from?: number; rpc: string }) => {
      const file = await readParsed(certPath, certificateFileFromJson)
      const json = await new RpcClient(o.rpc).proof(toHex(file.certificateId), o.from)
      // Check what the node sent parses before writing it: a holder must not carry a broken proof.
      const proof = proofFromJson(json)
      await writeFile(o.out, `${JSON.stringify(json, null, 2)}\n`)
      const size = Buffer.byteLength(JSON.stringify(json))
      console.log(`proof of ${toHex(file.certificateId)} at height ${proof.header.height} written to ${o.out} (${size} bytes, ${proof.validatorChanges.length} validator-set change(s))`)
    })

  program
    .command('checkpoint')
    .description('fetch a trust checkpoint (a header hash and the validators after it) to verify proofs with instead of the genesis')
    .requiredOption('--out <file>', 'where to write the checkpoint')
    .option('--height <h>', 'the checkpoint height (default: the head)', (v) => (v === '0' ? 0 : positiveInt(v)))
    .option('--rpc <url>', 'node RPC URL', DEFAULT_RPC)
    .action(async (o: { out: string; height?: number; rpc: string }) => {
      const json = await new RpcClient(o.rpc).checkpoint(o.height)
      const trust = trustFromCheckpoint(json)
      await writeFile(o.out, `${JSON.stringify(json, null, 2)}\n`)
      console.log(`checkpoint of ${trust.chainId} at height ${trust.height} (${trust.validators.length} validators) written to ${o.out}`)
    })
}
