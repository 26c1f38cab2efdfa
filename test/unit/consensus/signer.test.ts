import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { generateKeyPair, verify } from '../../../src/core/crypto.js'
import { SignerGuard } from '../../../src/consensus/signer.js'

describe('SignerGuard: no double signing, never backwards, across restarts', () => {
  let dir: string
  const key = generateKeyPair()
  const bytes = (s: string): Uint8Array => Buffer.from(s)

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-signer-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('signs increasing positions and refuses a different message at the same position', async () => {
    const guard = await SignerGuard.open(join(dir, 'state.json'), key.secretKey)
    const a = await guard.sign(5, 0, 'prevote', bytes('prevote block A'))
    expect(a).not.toBeNull()
    expect(verify(key.publicKey, bytes('prevote block A'), a!)).toBe(true)
    expect(await guard.sign(5, 0, 'prevote', bytes('prevote block B'))).toBeNull()
    // The identical message is answered with the identical signature (safe to re-send).
    expect(await guard.sign(5, 0, 'prevote', bytes('prevote block A'))).toEqual(a)
    expect(await guard.sign(5, 0, 'precommit', bytes('precommit A'))).not.toBeNull()
  })

  it('refuses to go back in height, round or step', async () => {
    const guard = await SignerGuard.open(join(dir, 'state.json'), key.secretKey)
    expect(await guard.sign(7, 2, 'prevote', bytes('x'))).not.toBeNull()
    expect(await guard.sign(7, 2, 'proposal', bytes('p'))).toBeNull()
    expect(await guard.sign(7, 1, 'precommit', bytes('c'))).toBeNull()
    expect(await guard.sign(6, 9, 'precommit', bytes('c'))).toBeNull()
    expect(await guard.sign(8, 0, 'proposal', bytes('p8'))).not.toBeNull()
  })

  it('remembers the last signature after a restart (state is on disk before the signature is returned)', async () => {
    const path = join(dir, 'state.json')
    const first = await SignerGuard.open(path, key.secretKey)
    const sig = await first.sign(10, 1, 'precommit', bytes('commit A'))
    const restarted = await SignerGuard.open(path, key.secretKey)
    expect(restarted.lastSigned).toMatchObject({ height: 10, round: 1, step: 3 })
    expect(await restarted.sign(10, 1, 'precommit', bytes('commit B'))).toBeNull()
    expect(await restarted.sign(10, 1, 'precommit', bytes('commit A'))).toEqual(sig)
    expect(await restarted.sign(10, 0, 'prevote', bytes('old'))).toBeNull()
  })
})
