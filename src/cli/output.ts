import { CertchainError } from '../core/errors.js'
import { RpcError } from '../rpc/index.js'

/** Exit codes: 0 success (or "valid"), 1 failure (or "not valid"), 2 usage or connection error. */
export const EXIT_OK = 0
export const EXIT_FAIL = 1
export const EXIT_USAGE = 2

/** A mistake on the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** Prints an error a user can cause as one clear line; only unexpected errors get a stack (with CERTCHAIN_DEBUG=1). */
export function reportError(err: unknown): number {
  if (err instanceof UsageError) {
    console.error(`certchain: ${err.message}`)
    return EXIT_USAGE
  }
  if (err instanceof RpcError) {
    console.error(`certchain: ${err.code}: ${err.message}`)
    return err.code === 'UNAVAILABLE' ? EXIT_USAGE : EXIT_FAIL
  }
  if (err instanceof CertchainError) {
    console.error(`certchain: ${err.code}: ${err.message}`)
    return EXIT_FAIL
  }
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number }
  if (e?.code === 'EADDRINUSE') {
    console.error(`certchain: cannot listen on ${e.address ?? ''}:${e.port ?? ''}: address already in use (is another node running?)`)
    return EXIT_FAIL
  }
  if (e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR') {
    console.error(`certchain: cannot access ${e.path ?? 'file'} (${e.code})`)
    return EXIT_FAIL
  }
  console.error(`certchain: unexpected error: ${(err as Error)?.message ?? String(err)}`)
  if (process.env.CERTCHAIN_DEBUG) console.error(err)
  else console.error('certchain: run with CERTCHAIN_DEBUG=1 for details')
  return EXIT_FAIL
}
