import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { resolve } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import type { IssuerIdentity, SignedTransaction } from '../client/index.js'
import { fromHex, type Bytes } from '../core/bytes.js'
import { CertchainError } from '../core/errors.js'
import { parseIdentity, type Identity } from '../node/ceremony.js'
import { loadKeyFile } from '../node/keys.js'
import type { RpcClient, TxStatus } from '../rpc/index.js'
import { fileProblem, readLocalFile } from '../node/files.js'
import { UsageError, printable, type UsageCode } from './output.js'

/** What the client commands share: option parsers, key and identity files, submitting, tables. */

export const DEFAULT_RPC = 'http://127.0.0.1:26657'

/** An RPC URL must name its scheme: "127.0.0.1:26657" would otherwise parse as a URL of scheme "127.0.0.1:". */
export function rpcUrl(value: string): string {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new InvalidArgumentError(`needs http:// or https:// (e.g. http://${value.replace(/^[a-z]+:\/\//i, '')})`)
  }
  return value
}

/** `--rpc URL`, defaulting to $CERTCHAIN_RPC or the local node; checked like the flag. */
export function rpcOption(command: Command): Command {
  return command.addOption(new Option('--rpc <url>', 'node RPC URL').env('CERTCHAIN_RPC').default(DEFAULT_RPC).argParser(rpcUrl))
}

const COMMANDER_CODES: Record<string, UsageCode> = {
  'commander.unknownCommand': 'UNKNOWN_COMMAND',
  'commander.unknownOption': 'UNKNOWN_OPTION',
  'commander.invalidArgument': 'INVALID_ARGUMENT',
  'commander.optionMissingArgument': 'INVALID_ARGUMENT',
}

/**
 * The program's command class. Commander's own errors become UsageErrors, so they print through
 * the CLI's one error formatter with a code and a pointer to the command's help; and an unknown
 * option is reported before a missing required one (`issue --bogus` is about --bogus, not --key).
 */
export class CliCommand extends Command {
  override createCommand(name?: string): CliCommand {
    return new CliCommand(name)
  }

  override error(message: string, options?: { code?: string }): never {
    const names = [this.name()]
    for (let c = this.parent; c; c = c.parent) names.unshift(c.name())
    const text = message.replace(/^error: /, '').replace(/\n/g, ' ')
    const code = options?.code === undefined ? 'USAGE' : (COMMANDER_CODES[options.code] ?? 'USAGE')
    throw new UsageError(`${text}; see "${names.join(' ')} --help"`, code)
  }

  /** Called by commander before it looks at unknown options; the unknown option is the better error. */
  missingMandatoryOptionValue(option: Option): never {
    const unknown = this.args.find((a) => a.startsWith('-') && a.length > 1)
    const flag = unknown?.split('=')[0]
    if (unknown !== undefined && !this.options.some((o) => o.long === flag || o.short === flag)) {
      // commander's own message, with its "did you mean" suggestion
      ;(this as unknown as { unknownOption(flag: string): never }).unknownOption(unknown)
    }
    return this.error(`error: required option '${option.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' })
  }
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

/** Hex given on the command line (an id, a hash); malformed hex is an argument error (exit 2). */
export function hexArgument(value: string, what: string, length?: number): Bytes {
  try {
    return fromHex(value, what, length)
  } catch (err) {
    throw new UsageError((err as Error).message, 'INVALID_ARGUMENT')
  }
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

/** Identity, genesis and other JSON files the command line names: small, read whole. */
export const MAX_JSON_FILE_BYTES = 32 * 1024 * 1024

/** A file the command line names but that cannot be read is a file error (exit 2), not invalid content. */
export async function readText(path: string, what: string, maxBytes = MAX_JSON_FILE_BYTES): Promise<string> {
  return (await readLocalFile(path, { what, maxBytes })).toString('utf8')
}

/** An institution's identity file (`certchain export-identity`). */
export async function readIdentityFile(path: string): Promise<Identity> {
  const text = await readText(path, 'identity file')
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
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map((c) => printable(String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)))
  for (const row of cells) console.log((indent + row.map((c, i) => c.padEnd(widths[i]!)).join('  ')).trimEnd())
}

/** "1 validator", "2 validators". */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

/** SHA-256(salt ‖ document), streamed from the file: the document never leaves this machine. */
export async function hashDocument(salt: Uint8Array, path: string): Promise<Uint8Array> {
  const hash = createHash('sha256').update(salt)
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  } catch (err) {
    const problem = fileProblem(err)
    if (problem) throw new CertchainError(problem.code, `document ${path} ${problem.why}`)
    throw err
  }
  return new Uint8Array(hash.digest())
}

/**
 * A holder's public key as given to `issue --holder`: 64 hex digits, or a file holding it (the
 * JSON `certchain keys show` prints, a key file's `publicKey`, or the hex alone). Never needs the
 * holder's secret: only `publicKey` is read.
 */
export async function holderPublicKey(value: string, base: string, where: string): Promise<Bytes> {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return hexArgument(value, `${where}: holder public key`, 32)
  if (/^[0-9a-fA-F]+$/.test(value)) throw new UsageError(`${where}: the holder public key must be 32 bytes (64 hex characters), not ${value.length} hex characters`, 'INVALID_ARGUMENT')
  const text = (await readText(resolve(base, value), 'holder public key file', 64 * 1024)).trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) return hexArgument(text, `${where}: holder public key`, 32)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new UsageError(`${where}: --holder ${value} is neither 64 hex digits nor a file with a public key`, 'INVALID_ARGUMENT')
  }
  const key = (json as { publicKey?: unknown } | null)?.publicKey
  if (typeof key !== 'string') throw new UsageError(`${where}: ${value} has no "publicKey"`, 'INVALID_ARGUMENT')
  return hexArgument(key, `${where}: ${value} publicKey`, 32)
}

/**
 * A JSON file the command line names, parsed by `parse`: unreadable or oversized (FILE_*), not
 * JSON, or not what the option says (the parser's code) is a usage error, exit 2.
 */
export async function readJsonAs<T>(path: string, what: string, parse: (json: unknown) => T, maxBytes = 4 * 1024 * 1024): Promise<T> {
  const text = await readText(path, what, maxBytes)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new UsageError(`${path} is not JSON`, 'INVALID_ARGUMENT')
  }
  try {
    return parse(json)
  } catch (err) {
    if (err instanceof CertchainError) throw new UsageError(`${path}: ${err.message}`, err.code)
    throw err
  }
}
