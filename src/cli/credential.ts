import { chmod, writeFile } from 'node:fs/promises'
import { credentialFor, signCredential } from '../client/index.js'
import type { Bytes } from '../core/bytes.js'
import type { CertificateFile } from '../core/certificate.js'
import type { KeyPair } from '../core/crypto.js'

/** `X.json` → `X.vc.json` (any other name gains `.vc.json`). */
export function credentialPath(certificatePath: string): string {
  return certificatePath.endsWith('.json') ? `${certificatePath.slice(0, -'.json'.length)}.vc.json` : `${certificatePath}.vc.json`
}

/**
 * `issue --vc`: the certificate as a W3C VC 2.0 credential beside its file, signed here with the
 * issuer's key like the issuance. Mode 0600 like the certificate file: it names the holder's key
 * and carries the document salt. Returns the path written.
 */
export async function writeCredentialFile(certificatePath: string, file: CertificateFile, key: KeyPair, holderPublicKey: Bytes | undefined): Promise<string> {
  const credential = signCredential(credentialFor(file, holderPublicKey ? { holderPublicKey } : {}), key)
  const path = credentialPath(certificatePath)
  await writeFile(path, JSON.stringify(credential, null, 2) + '\n', { mode: 0o600 })
  // writeFile's mode applies only when it creates the file.
  await chmod(path, 0o600)
  return path
}
