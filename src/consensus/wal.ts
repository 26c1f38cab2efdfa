import { open, type FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import type { Bytes } from '../core/bytes.js'

const HEADER = 8 // u32 length + u32 CRC-32 of the payload
/** The WAL is read in pieces this big (never whole: a WAL may exceed what one buffer can hold). */
const READ_CHUNK = 1024 * 1024

/**
 * Reads records front to back, holding at most one chunk plus one record in memory. Stops at the
 * first record that is torn (cut short), over the size limit, empty or fails its CRC.
 */
async function scan(handle: FileHandle, maxRecordBytes: number, onRecord: (payload: Bytes) => void): Promise<{ intact: number; size: number }> {
  const { size } = await handle.stat()
  let buffered = Buffer.alloc(0)
  let readAt = 0
  let intact = 0
  /** Makes sure `bytes` bytes are buffered (false at the end of the file): one read per chunk, no re-copying. */
  const fill = async (bytes: number): Promise<boolean> => {
    if (buffered.length >= bytes) return true
    if (buffered.length + (size - readAt) < bytes) return false
    const next = Buffer.allocUnsafe(Math.min(buffered.length + (size - readAt), Math.max(bytes, READ_CHUNK)))
    let filled = buffered.copy(next, 0)
    while (filled < next.length) {
      const { bytesRead } = await handle.read(next, filled, next.length - filled, readAt)
      if (bytesRead === 0) break
      filled += bytesRead
      readAt += bytesRead
    }
    buffered = next.subarray(0, filled)
    return buffered.length >= bytes
  }
  while (await fill(HEADER)) {
    const length = buffered.readUInt32BE(0)
    const checksum = buffered.readUInt32BE(4)
    if (length === 0 || length > maxRecordBytes || !(await fill(HEADER + length))) break
    const payload = buffered.subarray(HEADER, HEADER + length)
    if (crc32(payload) !== checksum) break
    onRecord(new Uint8Array(payload))
    intact += HEADER + length
    buffered = buffered.subarray(HEADER + length)
  }
  return { intact, size }
}

export interface WalOpenResult {
  readonly wal: ConsensusWal
  /** Payloads of the intact records `keep` kept, in order. */
  readonly records: Bytes[]
  /** Bytes dropped from the end: a record torn by a crash mid-write. */
  readonly droppedBytes: number
}

/**
 * The consensus write-ahead log of the height in progress: every message this validator signs or
 * receives, so a restarted validator resumes the height where it was. Records are framed with
 * their length and CRC-32; a torn last record is detected, dropped and the file truncated to the
 * last intact record, so a crash mid-write never becomes a crash loop.
 */
export class ConsensusWal {
  // Appends and resets run in the order they were asked for, even when callers do not await.
  private pending: Promise<unknown> = Promise.resolve()

  private constructor(
    private handle: FileHandle,
    private size: number,
    private readonly maxRecordBytes: number,
  ) {}

  /**
   * Opens (creating) the WAL and reads it as a stream: `keep` sees every intact record and says
   * which to return (the node keeps those of the height in progress), so memory is bounded by
   * what is kept, not by the file.
   */
  static async open(path: string, maxRecordBytes: number, keep: (payload: Bytes) => boolean = () => true): Promise<WalOpenResult> {
    const handle = await open(path, 'a+', 0o600)
    const records: Bytes[] = []
    const { intact: offset, size } = await scan(handle, maxRecordBytes, (payload) => {
      if (keep(payload)) records.push(payload)
    })
    const droppedBytes = size - offset
    if (droppedBytes > 0) {
      await handle.truncate(offset)
      await handle.sync()
    }
    return { wal: new ConsensusWal(handle, offset, maxRecordBytes), records, droppedBytes }
  }

  /** Appends a record; with `sync`, resolves only once it is on disk. */
  append(payload: Bytes, options: { sync: boolean }): Promise<void> {
    if (payload.length === 0 || payload.length > this.maxRecordBytes) {
      return Promise.reject(new RangeError(`WAL record of ${payload.length} bytes is empty or exceeds the limit`))
    }
    const frame = Buffer.alloc(HEADER + payload.length)
    frame.writeUInt32BE(payload.length, 0)
    frame.writeUInt32BE(crc32(payload), 4)
    frame.set(payload, HEADER)
    return this.then(async () => {
      await this.handle.write(frame, 0, frame.length, this.size)
      this.size += frame.length
      if (options.sync) await this.handle.sync()
    })
  }

  /** Starts over (after a height is committed: its messages are no longer needed). */
  reset(): Promise<void> {
    return this.then(async () => {
      await this.handle.truncate(0)
      await this.handle.sync()
      this.size = 0
    })
  }

  close(): Promise<void> {
    return this.then(() => this.handle.close())
  }

  private then(op: () => Promise<void>): Promise<void> {
    const run = this.pending.then(op)
    this.pending = run.catch(() => undefined)
    return run
  }
}
