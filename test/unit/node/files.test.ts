import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readLocalFile } from '../../../src/node/files.js'

describe('readLocalFile: local files are read within a bound (issue 10 #16)', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-files-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads a file up to the bound, byte for byte', async () => {
    const path = join(dir, 'ok.json')
    await writeFile(path, 'x'.repeat(100))
    expect((await readLocalFile(path, { what: 'config', maxBytes: 100 })).toString()).toBe('x'.repeat(100))
    await writeFile(path, '')
    expect((await readLocalFile(path, { what: 'config', maxBytes: 100 })).length).toBe(0)
  })

  it('refuses a file over the bound without reading it (FILE_TOO_LARGE)', async () => {
    const path = join(dir, 'big.json')
    await writeFile(path, '')
    await truncate(path, 8 * 1024 * 1024 * 1024) // 8 GiB, sparse: reading it would exhaust memory
    await expect(readLocalFile(path, { what: 'certificate file', maxBytes: 65536 })).rejects.toMatchObject({
      code: 'FILE_TOO_LARGE',
      message: `certificate file ${path} is larger than 65536 bytes`,
    })
  })

  it('names a missing file (FILE_NOT_FOUND), a directory (FILE_UNREADABLE), and takes one code for all when asked', async () => {
    await expect(readLocalFile(join(dir, 'nope'), { what: 'genesis', maxBytes: 10 })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: `genesis ${join(dir, 'nope')} does not exist` })
    await expect(readLocalFile(dir, { what: 'genesis', maxBytes: 10 })).rejects.toMatchObject({ code: 'FILE_UNREADABLE', message: expect.stringContaining('is a directory') })
    await expect(readLocalFile(join(dir, 'nope'), { what: 'key file', maxBytes: 10, code: 'INVALID_KEY_FILE' })).rejects.toMatchObject({ code: 'INVALID_KEY_FILE' })
  })
})
