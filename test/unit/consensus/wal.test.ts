import { appendFile, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConsensusWal } from '../../../src/consensus/wal.js'

describe('ConsensusWal', () => {
  let dir: string
  let path: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-wal-'))
    path = join(dir, 'wal')
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function writeRecords(n: number): Promise<void> {
    const { wal } = await ConsensusWal.open(path, 1024)
    for (let i = 0; i < n; i++) await wal.append(Buffer.from(`record ${i}`), { sync: i === n - 1 })
    await wal.close()
  }

  it('replays every record in order after reopening', async () => {
    await writeRecords(5)
    const { wal, records, droppedBytes } = await ConsensusWal.open(path, 1024)
    await wal.close()
    expect(records.map((r) => Buffer.from(r).toString())).toEqual([0, 1, 2, 3, 4].map((i) => `record ${i}`))
    expect(droppedBytes).toBe(0)
  })

  it('drops a torn last record (crash mid-write) and truncates the file to the last intact one', async () => {
    await writeRecords(3)
    const intact = (await stat(path)).size
    // A frame header promising 100 bytes followed by only 10: the process died mid-write.
    const torn = Buffer.alloc(18)
    torn.writeUInt32BE(100, 0)
    await appendFile(path, torn)
    const { wal, records, droppedBytes } = await ConsensusWal.open(path, 1024)
    expect(records).toHaveLength(3)
    expect(droppedBytes).toBe(18)
    expect((await stat(path)).size).toBe(intact)
    // Appending after recovery continues a valid log.
    await wal.append(Buffer.from('after'), { sync: true })
    await wal.close()
    const again = await ConsensusWal.open(path, 1024)
    await again.wal.close()
    expect(again.records.map((r) => Buffer.from(r).toString())).toEqual(['record 0', 'record 1', 'record 2', 'after'])
  })

  it('stops at a record whose checksum does not match', async () => {
    await writeRecords(3)
    const data = await readFile(path)
    data[data.length - 1]! ^= 0xff // corrupt the payload of the last record
    await writeFile(path, data)
    const { wal, records } = await ConsensusWal.open(path, 1024)
    await wal.close()
    expect(records).toHaveLength(2)
  })

  it('reset empties the log', async () => {
    await writeRecords(3)
    const { wal } = await ConsensusWal.open(path, 1024)
    await wal.reset()
    await wal.close()
    const { wal: reopened, records } = await ConsensusWal.open(path, 1024)
    await reopened.close()
    expect(records).toHaveLength(0)
  })

  it('reads a WAL larger than 2 GiB as a stream and keeps only the records asked for', async () => {
    // 33 records of 64 MiB whose payloads are holes (a sparse file reads them as zeros): 2.06 GiB
    // on paper, a few hundred bytes on disk. Read whole, it cannot be opened at all.
    const length = 64 * 1024 * 1024
    const header = Buffer.alloc(8)
    header.writeUInt32BE(length, 0)
    header.writeUInt32BE(crc32(Buffer.alloc(length)), 4)
    const handle = await open(path, 'w')
    let offset = 0
    for (let i = 0; i < 33; i++) {
      await handle.write(header, 0, 8, offset)
      offset += 8 + length
    }
    await handle.truncate(offset)
    await handle.close()
    await appendFile(path, Buffer.concat([Buffer.from([0, 0, 0, 4]), uint32(crc32(Buffer.from('kept'))), Buffer.from('kept')]))
    expect((await stat(path)).size).toBeGreaterThan(2 ** 31)

    let seen = 0
    const { wal, records, droppedBytes } = await ConsensusWal.open(path, length, (payload) => {
      seen++
      return payload.length === 4
    })
    await wal.close()
    expect(seen).toBe(34)
    expect(records.map((r) => Buffer.from(r).toString())).toEqual(['kept'])
    expect(droppedBytes).toBe(0)
  }, 60_000)
})

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
