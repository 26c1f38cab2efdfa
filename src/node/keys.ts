import { chmod, mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { bytesEqual, concatBytes, fromHex, toHex, type Bytes } from '../core/bytes.js'
import { generateKeyPair, publicKeyFromSecret, type KeyPair } from '../core/crypto.js'
import { CertchainError } from '../core/errors.js'
import { MAX_KEY_FILE_BYTES, readLocalFile } from './files.js'

export const KEY_FILE_FORMAT = 'certchain/key@1'

/** An Ed25519 key pair as stored on disk (mode 0600), optionally labelled with the issuer it signs for. */
export interface KeyFile extends KeyPair {
  readonly issuer?: string
}

export function newKeyFile(issuer?: string): KeyFile {
  return { ...generateKeyPair(), ...(issuer === undefined ? {} : { issuer }) }
}

/** Writes a key file readable by its owner only. Refuses to overwrite an existing key. */
export async function saveKeyFile(path: string, key: KeyFile, options: { overwrite?: boolean } = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const json = {
    format: KEY_FILE_FORMAT,
    type: 'ed25519',
    ...(key.issuer === undefined ? {} : { issuer: key.issuer }),
    publicKey: toHex(key.publicKey),
    secretKey: toHex(key.secretKey),
  }
  try {
    await writeFile(path, JSON.stringify(json, null, 2) + '\n', { mode: 0o600, flag: options.overwrite ? 'w' : 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CertchainError('INVALID_KEY_FILE', `${path} already exists; refusing to overwrite a key`)
    }
    throw err
  }
  // The umask can only remove bits; make sure nobody else can read a secret key.
  await chmod(path, 0o600)
}

/** Set to 1 to load secret key files that group or others may read (as on file systems without modes). */
export const INSECURE_KEYS_ENV = 'CERTCHAIN_ALLOW_INSECURE_KEYS'

export interface LoadKeyOptions {
  /** Load a key file that group or others can read or write; default: refuse (KEY_FILE_INSECURE). */
  readonly allowInsecure?: boolean
}

/**
 * Loads and checks a key file: format, lengths, and that the public key matches the secret.
 * Like ssh with a private key, a file that group or others may read or write is refused: the
 * secret may already be known, and its owner should hear it before anything is signed with it.
 */
export async function loadKeyFile(path: string, options: LoadKeyOptions = {}): Promise<KeyFile> {
  const bytes = await readLocalFile(path, { what: 'key file', maxBytes: MAX_KEY_FILE_BYTES, code: 'INVALID_KEY_FILE' })
  const allowInsecure = options.allowInsecure ?? process.env[INSECURE_KEYS_ENV] === '1'
  const mode = (await stat(path)).mode & 0o777
  if ((mode & 0o077) !== 0 && !allowInsecure && process.platform !== 'win32') {
    throw new CertchainError(
      'KEY_FILE_INSECURE',
      `key file ${path} has mode 0${mode.toString(8)}: group or others may read it; run "chmod 600 ${path}" (or set ${INSECURE_KEYS_ENV}=1 to load it anyway)`,
    )
  }
  return parseKeyFile(bytes.toString('utf8'), path)
}

export function parseKeyFile(text: string, path = 'key file'): KeyFile {
  const bad = (why: string): never => {
    throw new CertchainError('INVALID_KEY_FILE', `${path} is not a valid certchain key file: ${why}`)
  }
  let json: Record<string, unknown>
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    return bad('not JSON')
  }
  if (json === null || typeof json !== 'object') bad('not a JSON object')
  if (json.format !== KEY_FILE_FORMAT || json.type !== 'ed25519') bad(`format must be "${KEY_FILE_FORMAT}" with type "ed25519"`)
  if (typeof json.secretKey !== 'string' || typeof json.publicKey !== 'string') bad('secretKey and publicKey are required')
  let secretKey: Bytes
  let publicKey: Bytes
  try {
    secretKey = fromHex(json.secretKey as string, 'secretKey', 32)
    publicKey = fromHex(json.publicKey as string, 'publicKey', 32)
  } catch (err) {
    return bad((err as Error).message)
  }
  if (!bytesEqual(publicKeyFromSecret(secretKey), publicKey)) bad('publicKey does not belong to secretKey')
  if (json.issuer !== undefined && typeof json.issuer !== 'string') bad('issuer must be a string')
  return { secretKey, publicKey, ...(typeof json.issuer === 'string' ? { issuer: json.issuer } : {}) }
}

/**
 * The libp2p peer id of a node key (the node key is an Ed25519 libp2p identity). libp2p is loaded
 * on first use: it costs a third of a second, which short CLI commands should not pay.
 */
export async function peerIdOf(key: KeyPair): Promise<string> {
  const [{ privateKeyFromRaw }, { peerIdFromPrivateKey }] = await Promise.all([import('@libp2p/crypto/keys'), import('@libp2p/peer-id')])
  return peerIdFromPrivateKey(privateKeyFromRaw(concatBytes(key.secretKey, key.publicKey))).toString()
}
