import { open } from 'node:fs/promises'
import { CertchainError, type ErrorCode } from '../core/errors.js'

/** Sizes of the local files a node or the CLI reads whole; each is far above any honest file. */
export const MAX_KEY_FILE_BYTES = 64 * 1024
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024
/** Thousands of institutions with a few keys each fit in a few MiB. */
export const MAX_GENESIS_FILE_BYTES = 32 * 1024 * 1024

const ERRNO: Record<string, { code: ErrorCode; why: string }> = {
  ENOENT: { code: 'FILE_NOT_FOUND', why: 'does not exist' },
  ENOTDIR: { code: 'FILE_NOT_FOUND', why: 'does not exist (a parent is not a directory)' },
  EACCES: { code: 'FILE_UNREADABLE', why: 'cannot be read (permission denied)' },
  EPERM: { code: 'FILE_UNREADABLE', why: 'cannot be read (operation not permitted)' },
  EISDIR: { code: 'FILE_UNREADABLE', why: 'is a directory, not a file' },
}

/** The code and the words for a file system error a user can cause (missing, unreadable, a directory). */
export function fileProblem(err: unknown): { code: ErrorCode; why: string } | undefined {
  return ERRNO[(err as NodeJS.ErrnoException)?.code ?? '']
}

export interface ReadLocalFileOptions {
  /** What the file is, for messages ("key file", "genesis"). */
  readonly what: string
  readonly maxBytes: number
  /** One code for every failure (e.g. INVALID_KEY_FILE); default: FILE_NOT_FOUND, FILE_UNREADABLE, FILE_TOO_LARGE. */
  readonly code?: ErrorCode
}

/**
 * Reads a whole local file, refusing one over `maxBytes` before reading it: a hostile or mistaken
 * file (a 68 MB "certificate") costs a stat, not its size in memory. Reads at most one byte more
 * than its size, so a file that grows after the stat is refused too.
 */
export async function readLocalFile(path: string, options: ReadLocalFileOptions): Promise<Buffer> {
  const fail = (code: ErrorCode, why: string): never => {
    throw new CertchainError(options.code ?? code, `${options.what} ${path} ${why}`)
  }
  const tooLarge = (): never => fail('FILE_TOO_LARGE', `is larger than ${options.maxBytes} bytes`)
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    const known = fileProblem(err)
    return fail(known?.code ?? 'FILE_UNREADABLE', known?.why ?? `cannot be read (${(err as Error).message})`)
  }
  try {
    const stats = await handle.stat()
    if (stats.isDirectory()) return fail('FILE_UNREADABLE', ERRNO.EISDIR!.why)
    if (stats.size > options.maxBytes) return tooLarge()
    // One byte of room beyond the size seen, to notice a file that grows while it is read.
    const buffer = Buffer.alloc(stats.size + 1)
    let length = 0
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > stats.size) return stats.size === options.maxBytes ? tooLarge() : fail('FILE_UNREADABLE', 'changed while it was read')
    return buffer.subarray(0, length)
  } catch (err) {
    if (err instanceof CertchainError) throw err
    const known = fileProblem(err)
    return fail(known?.code ?? 'FILE_UNREADABLE', known?.why ?? `cannot be read (${(err as Error).message})`)
  } finally {
    await handle.close()
  }
}
