import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
})
