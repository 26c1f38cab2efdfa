import { randomBytes } from 'node:crypto'
import type { Bytes } from './bytes.js'
import { checkCertificateFileWith, MIN_SALT_LENGTH, type CertificateFile, type OfflineChecks } from './certificate-file.js'
import { verify } from './crypto.js'
import { encode } from './encoding.js'
import { CertchainError } from './errors.js'
import { sha256 } from './hash.js'
import type { CertificateRecord } from './types.js'

export * from './certificate-file.js'

/** The certificate id: SHA-256 of the record's canonical encoding. Anyone with the file can recompute it. */
export function certificateId(record: CertificateRecord): Bytes {
  return sha256(encode(record))
}

export function newSalt(): Bytes {
  return new Uint8Array(randomBytes(MIN_SALT_LENGTH * 2))
}

/** SHA-256(salt || document): what goes on chain in place of the document. */
export function documentHash(salt: Bytes, document: Bytes): Bytes {
  if (salt.length < MIN_SALT_LENGTH) {
    throw new CertchainError('INVALID_REQUEST', `salt must be at least ${MIN_SALT_LENGTH} bytes`)
  }
  return sha256(salt, document)
}

/** Recomputes the certificate id and checks the issuer's signature over it (node:crypto). */
export function checkCertificateFile(file: CertificateFile): OfflineChecks {
  return checkCertificateFileWith({ sha256, verify }, file)
}
