import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { toHex } from '../core/bytes.js'
import { certificateFileFromJson } from '../core/certificate.js'
import { proofFromJson, trustFromCheckpoint, trustFromGenesis, verifyProof, type LightResult } from '../light/index.js'
import { RpcClient } from '../rpc/index.js'
import { DEFAULT_RPC, hashDocument, hexArgument, MAX_JSON_FILE_BYTES, positiveInt, readJsonAs } from './common.js'
import { EXIT_FAIL, EXIT_OK, UsageError, printable } from './output.js'

const DURATION = /^(\d+)(ms|s|m|h|d)$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `90s`, `15m`, `24h`, `7d` (or milliseconds as a bare number). */
export function parseDuration(value: string): number {
  if (/^\d+$/.test(value)) return Number(value)
  const m = DURATION.exec(value)
  if (!m) throw new UsageError(`"${value}" is not a duration (for example 90s, 15m, 24h, 7d)`)
  return Number(m[1]) * UNIT_MS[m[2]!]!
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
  const file = await readJsonAs(certPath, 'certificate file', certificateFileFromJson)
  const proof = await readJsonAs(o.proof, 'proof', proofFromJson)
  const trust = o.genesis
    ? await readJsonAs(o.genesis, 'genesis', trustFromGenesis, MAX_JSON_FILE_BYTES)
    : await readJsonAs(o.checkpoint!, 'checkpoint', trustFromCheckpoint)
  const documentHash = o.document ? await hashDocument(file.salt, o.document) : hexArgument(o.documentHash!, '--document-hash', 32)
  const result = verifyProof(file, proof, { trust, now: Date.now(), maxAgeMs, documentHash })
  if (o.json) console.log(JSON.stringify(result, null, 2))
  else printLightResult(result)
  process.exitCode = result.verdict === 'valid' ? EXIT_OK : EXIT_FAIL
}

function printLightResult(result: LightResult): void {
  const p = (v: unknown): string => printable(String(v))
  console.log(`certificate ${p(result.certificateId)} (offline)`)
  for (const c of result.checks) console.log(`  ${c.ok ? '✓' : '✗'} ${c.name.padEnd(18)} ${p(c.detail)}`)
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
      const file = await readJsonAs(certPath, 'certificate file', certificateFileFromJson)
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
