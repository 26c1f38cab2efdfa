import { describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { parseKeyFile } from '../../../src/node/keys.js'
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
