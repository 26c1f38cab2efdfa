import { readFile } from 'node:fs/promises'
import { InvalidArgumentError, type Command } from 'commander'
import type { IssuerIdentity, SignedTransaction } from '../client/index.js'
import { fromHex, type Bytes } from '../core/bytes.js'
import { CertchainError } from '../core/errors.js'
import { parseIdentity, type Identity } from '../node/ceremony.js'
import { loadKeyFile } from '../node/keys.js'
import type { RpcClient, TxStatus } from '../rpc/index.js'
import { UsageError } from './output.js'

/** What the client commands share: option parsers, key and identity files, submitting, tables. */

export const DEFAULT_RPC = process.env.CERTCHAIN_RPC ?? 'http://127.0.0.1:26657'

/** `--rpc URL`, defaulting to $CERTCHAIN_RPC or the local node. */
export function rpcOption(command: Command): Command {
  return command.option('--rpc <url>', 'node RPC URL', DEFAULT_RPC)
}

export function positiveInt(value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer')
  return n
}

/** A comma-separated list, blanks dropped. */
export function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

/** For repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** A 32-byte public key in hex, refused as a usage error. */
export function publicKeyHex(value: string): Bytes {
  try {
    return fromHex(value, 'public key', 32)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
}

export function parseDate(value: string, what: string): number {
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw new UsageError(`${what} "${value}" is not a date (use ISO 8601, e.g. 2027-01-31)`)
  return ms
}

export async function loadIssuerIdentity(keyFile: string, issuer?: string): Promise<IssuerIdentity> {
  const key = await loadKeyFile(keyFile)
  const id = issuer ?? key.issuer
  if (!id) throw new UsageError(`${keyFile} names no issuer; pass --issuer ID`)
  return { issuer: id, key }
}

/** A file the command line names but that cannot be read is a usage error (exit 2), not invalid content. */
export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}

/** An institution's identity file (`certchain export-identity`). */
export async function readIdentityFile(path: string): Promise<Identity> {
  const text = await readText(path)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new CertchainError('INVALID_IDENTITY', `${path} is not JSON: ${(err as Error).message}`)
  }
  return parseIdentity(json, path)
}

/** Submits and waits for the block; anything but "committed" is an error naming the transaction. */
export async function submitAndWait(client: RpcClient, signed: SignedTransaction): Promise<Extract<TxStatus, { status: 'committed' }>> {
  const result = await client.submitTx(signed.bytes, { wait: 'commit' })
  if (result.status === 'committed') return result
  throw new UsageError(
    result.status === 'pending'
      ? `transaction ${result.id} is accepted but not yet in a block; check later with "certchain tx ${result.id}"`
      : `transaction ${result.id} was not committed (${result.status})`,
  )
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2))
}

/** Left-aligned columns, two spaces apart, under upper-case headers; `indent` before every line. */
export function printTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[], indent = ''): void {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(String))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)))
  for (const row of cells) console.log((indent + row.map((c, i) => c.padEnd(widths[i]!)).join('  ')).trimEnd())
}

/** "1 validator", "2 validators". */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}
