import { open, type FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import type { Bytes } from '../core/bytes.js'

const HEADER = 8 // u32 length + u32 CRC-32 of the payload

export interface WalOpenResult {
  readonly wal: ConsensusWal
  /** Payloads of every intact record, in order. */
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

  static async open(path: string, maxRecordBytes: number): Promise<WalOpenResult> {
    const handle = await open(path, 'a+', 0o600)
    const data = await handle.readFile()
    const records: Bytes[] = []
    let offset = 0
    while (offset + HEADER <= data.length) {
      const length = data.readUInt32BE(offset)
      const checksum = data.readUInt32BE(offset + 4)
      if (length > maxRecordBytes || offset + HEADER + length > data.length) break
      const payload = data.subarray(offset + HEADER, offset + HEADER + length)
      if (crc32(payload) !== checksum) break
      records.push(new Uint8Array(payload))
      offset += HEADER + length
    }
    const droppedBytes = data.length - offset
    if (droppedBytes > 0) {
      await handle.truncate(offset)
      await handle.sync()
    }
    return { wal: new ConsensusWal(handle, offset, maxRecordBytes), records, droppedBytes }
  }

  /** Appends a record; with `sync`, resolves only once it is on disk. */
  append(payload: Bytes, options: { sync: boolean }): Promise<void> {
    if (payload.length > this.maxRecordBytes) return Promise.reject(new RangeError(`WAL record of ${payload.length} bytes exceeds the limit`))
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
