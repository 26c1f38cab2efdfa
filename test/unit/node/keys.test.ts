import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { MAX_KEY_FILE_BYTES } from '../../../src/node/files.js'
import { loadKeyFile, newKeyFile, parseKeyFile, saveKeyFile } from '../../../src/node/keys.js'
import { thrownCode } from '../../helpers/fixtures.js'

const file = (fields: Record<string, unknown>): string => {
  const key = generateKeyPair()
  return JSON.stringify({ format: 'certchain/key@1', type: 'ed25519', publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey), ...fields })
}

describe('parseKeyFile', () => {
  it('reads a valid key file, with or without an issuer', () => {
    expect(parseKeyFile(file({ issuer: 'kr.mois' })).issuer).toBe('kr.mois')
    expect(parseKeyFile(file({})).issuer).toBeUndefined()
  })

  it.each([
    ['not JSON', '{nope', /not JSON/],
    ['another format', file({ format: 'other' }), /format must be/],
    ['a short secret key', file({ secretKey: 'abcd' }), /secretKey must be 32 bytes/],
    ['a public key of another secret', file({ publicKey: toHex(generateKeyPair().publicKey) }), /publicKey does not belong to secretKey/],
    ['a non-string issuer', file({ issuer: 7 }), /issuer must be a string/],
  ])('refuses %s with INVALID_KEY_FILE', (_what, text, pattern) => {
    expect(thrownCode(() => parseKeyFile(text, 'k.json'))).toBe('INVALID_KEY_FILE')
    expect(() => parseKeyFile(text, 'k.json')).toThrow(pattern)
  })
})

describe('loadKeyFile refuses a secret key that others may read (issue 10 #17)', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-keys-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('loads a 0600 key; refuses 0644, 0640 and 0660 with KEY_FILE_INSECURE unless allowed', async () => {
    const path = join(dir, 'k.json')
    const key = newKeyFile('kr.mois')
    await saveKeyFile(path, key)
    expect((await loadKeyFile(path)).issuer).toBe('kr.mois')
    for (const mode of [0o644, 0o640, 0o660, 0o606]) {
      await chmod(path, mode)
      await expect(loadKeyFile(path)).rejects.toMatchObject({ code: 'KEY_FILE_INSECURE', message: expect.stringContaining(`mode 0${mode.toString(8)}`) })
      expect(toHex((await loadKeyFile(path, { allowInsecure: true })).publicKey)).toBe(toHex(key.publicKey))
    }
    // 0400 (read-only for the owner) is as private as 0600
    await chmod(path, 0o400)
    expect((await loadKeyFile(path)).issuer).toBe('kr.mois')
  })

  it('refuses an oversized key file before reading it (INVALID_KEY_FILE)', async () => {
    const path = join(dir, 'big.json')
    await writeFile(path, ' '.repeat(MAX_KEY_FILE_BYTES + 1), { mode: 0o600 })
    await expect(loadKeyFile(path)).rejects.toMatchObject({ code: 'INVALID_KEY_FILE', message: expect.stringContaining(`is larger than ${MAX_KEY_FILE_BYTES} bytes`) })
  })
})
