import { CertchainError, type ErrorCode } from '../core/errors.js'
import { fileProblem } from '../node/files.js'
import { RpcError } from '../rpc/index.js'

/** Exit codes: 0 success (or "valid"), 1 "not valid" or refused, 2 usage, file or connection error. */
export const EXIT_OK = 0
export const EXIT_FAIL = 1
export const EXIT_USAGE = 2

/** Codes of the CLI's own usage errors (the node's codes are in core/errors.ts). */
export type UsageCode = 'USAGE' | 'UNKNOWN_COMMAND' | 'UNKNOWN_OPTION' | 'INVALID_ARGUMENT' | 'FILE_EXISTS' | 'TX_PENDING'

/** A mistake on the command line (or an answer the CLI cannot wait for): printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
  constructor(
    message: string,
    readonly code: UsageCode | ErrorCode = 'USAGE',
  ) {
    super(message)
  }
}

/**
 * Node error codes that mean a local input (file, home, port) is missing or unusable: exit 2 like
 * a usage error. Every other code means a document or request was judged and refused: exit 1.
 */
const LOCAL_INPUT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'FILE_NOT_FOUND',
  'FILE_UNREADABLE',
  'FILE_TOO_LARGE',
  'INVALID_KEY_FILE',
  'KEY_FILE_INSECURE',
  'INVALID_CONFIG',
  'DATA_DIR_LOCKED',
  'GENESIS_MISMATCH',
  'PORT_IN_USE',
])

/**
 * Makes text from outside (files, a node's answers, arguments) safe to print: C0 and C1 control
 * characters, DEL, and the Unicode line and bidirectional-override controls are shown as \u{…}
 * escapes, so a hostile file cannot move the cursor, clear a line or draw a fake verdict.
 * Newlines and tabs are kept only when `multiline` is set (JSON output the CLI formats itself).
 */
export function printable(text: string, options: { multiline?: boolean } = {}): string {
  const unsafe = options.multiline ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu : /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu
  return text.replace(unsafe, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`)
}

/**
 * Everything the CLI prints goes through console.log/console.error: escape terminal controls
 * there too, so a field printed without printable() still cannot move the cursor or clear a line.
 * (Commands format their own newlines; fields that may hold one are escaped with printable().)
 */
export function guardTerminal(): void {
  for (const name of ['log', 'error'] as const) {
    const write = console[name].bind(console)
    console[name] = (...args: unknown[]) => write(...args.map((a) => (typeof a === 'string' ? printable(a, { multiline: true }) : a)))
  }
}

/** The one error line of the CLI: `certchain: CODE: message`. */
function printError(code: string, message: string): void {
  console.error(`certchain: ${printable(code)}: ${printable(message)}`)
}

/** Prints any error as one line and returns the exit code; only unexpected errors get a stack (with CERTCHAIN_DEBUG=1). */
export function reportError(err: unknown): number {
  if (err instanceof UsageError) {
    printError(err.code, err.message)
    return EXIT_USAGE
  }
  if (err instanceof RpcError) {
    printError(err.code, err.message)
    return err.code === 'UNAVAILABLE' ? EXIT_USAGE : EXIT_FAIL
  }
  if (err instanceof CertchainError) {
    printError(err.code, err.message)
    return LOCAL_INPUT_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAIL
  }
  const file = fileProblem(err)
  if (file) {
    printError(file.code, `${(err as NodeJS.ErrnoException).path ?? 'a file'} ${file.why}`)
    return EXIT_USAGE
  }
  printError('INTERNAL', `unexpected error: ${(err as Error)?.message ?? String(err)}`)
  if (process.env.CERTCHAIN_DEBUG) console.error(err)
  else console.error('certchain: run with CERTCHAIN_DEBUG=1 for details')
  return EXIT_FAIL
}
