import type { Millis } from '../core/types.js'
import type { CertificateEntry } from './store.js'

export type CertificateStatus = 'valid' | 'revoked' | 'suspended' | 'expired' | 'not_yet_valid'

/** A certificate's status at `now`: revocation and suspension win over the validity period. */
export function certificateStatus(entry: CertificateEntry, now: Millis): CertificateStatus {
  if (entry.state === 'revoked') return 'revoked'
  if (entry.state === 'suspended') return 'suspended'
  if (now < entry.record.validFrom) return 'not_yet_valid'
  if (now >= entry.record.validUntil) return 'expired'
  return 'valid'
}
