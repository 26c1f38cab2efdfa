import { open, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { bytesEqual, fromHex, toHex, type Bytes } from '../core/bytes.js'
import { createSigner } from '../core/crypto.js'
import type { Lock } from './engine.js'
import { STEP_ORDER, type SignStep } from './messages.js'

interface LastSigned {
  readonly height: number
  readonly round: number
  readonly step: number
  readonly signBytes: string
  readonly sig: string
  /** The lock held when this was signed (block hash in hex); absent while not locked. */
  readonly lock?: { readonly height: number; readonly round: number; readonly blockHash: string }
}


function compare(a: { height: number; round: number; step: number }, b: { height: number; round: number; step: number }): number {
  return a.height - b.height || a.round - b.round || a.step - b.step
}

async function readState(path: string): Promise<LastSigned | undefined> {
  try {
    const handle = await open(path, 'r')
    try {
      return JSON.parse(await handle.readFile('utf8')) as LastSigned
    } finally {
      await handle.close()
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * The only way a validator key signs consensus messages. Before a signature leaves this object,
 * its (height, round, step) and sign bytes are on disk (write, fsync, rename, fsync directory).
 * It never signs below the last signed (height, round, step), and at the same one it only repeats
 * the identical signature: a restarted validator cannot double-sign. The validator's lock is
 * written in the same file as the signature it justifies (a precommit follows a new lock), so
 * the lock is exactly as durable as the signature.
 */
export class SignerGuard {
  private chain: Promise<unknown> = Promise.resolve()

  private constructor(
    private readonly path: string,
    private readonly signer: ReturnType<typeof createSigner>,
    private last: LastSigned | undefined,
  ) {}

  static async open(path: string, secretKey: Bytes): Promise<SignerGuard> {
    return new SignerGuard(path, createSigner(secretKey), await readState(path))
  }

  get publicKey(): Bytes {
    return this.signer.publicKey
  }

  /** The last signed position (height, round, step 1-3), as persisted. */
  get lastSigned(): { height: number; round: number; step: number } | undefined {
    return this.last
  }

  /** The lock persisted with the last signature. */
  get lock(): Lock | undefined {
    const lock = this.last?.lock
    return lock && { height: lock.height, round: lock.round, blockHash: fromHex(lock.blockHash) }
  }

  /** Signs, or answers null when signing would be a double sign or a step backwards. */
  sign(height: number, round: number, step: SignStep, signBytes: Bytes, lock?: Lock): Promise<Bytes | null> {
    const run = this.chain.then(() => this.signNow(height, round, STEP_ORDER[step], signBytes, lock))
    this.chain = run.catch(() => undefined)
    return run
  }

  private async signNow(height: number, round: number, step: number, signBytes: Bytes, lock: Lock | undefined): Promise<Bytes | null> {
    const position = { height, round, step }
    if (this.last) {
      const order = compare(position, this.last)
      if (order < 0) return null
      if (order === 0) return bytesEqual(fromHex(this.last.signBytes), signBytes) ? fromHex(this.last.sig) : null
    }
    const sig = this.signer.sign(signBytes)
    const next: LastSigned = {
      height,
      round,
      step,
      signBytes: toHex(signBytes),
      sig: toHex(sig),
      ...(lock ? { lock: { height: lock.height, round: lock.round, blockHash: toHex(lock.blockHash) } } : {}),
    }
    await this.persist(next)
    this.last = next
    return sig
  }

  private async persist(state: LastSigned): Promise<void> {
    const tmp = `${this.path}.tmp`
    const handle = await open(tmp, 'w', 0o600)
    try {
      await handle.writeFile(JSON.stringify(state))
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, this.path)
    const dir = await open(dirname(this.path), 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
  }
}
