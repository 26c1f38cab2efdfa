import { contexts } from '@digitalbazaar/credentials-context'
import { DataIntegrityProof } from '@digitalbazaar/data-integrity'
import * as didMethodKey from '@digitalbazaar/did-method-key'
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey'
import { createVerifyCryptosuite } from '@digitalbazaar/eddsa-jcs-2022-cryptosuite'
import * as vc from '@digitalbazaar/vc'
import jsonld from 'jsonld'
import { CERTCHAIN_CONTEXT, CERTCHAIN_CONTEXT_URL } from '../../src/client/index.js'

// An independent verifier of certchain's VC 2.0 credentials: Digital Bazaar's implementation of
// VC 2.0, Data Integrity and eddsa-jcs-2022, with an offline document loader that knows only the
// W3C contexts bundled by @digitalbazaar/credentials-context and the certchain context certchain
// ships, and resolves did:key itself. Any other URL is refused, so a credential that needs the
// network does not verify. Credentials are checked as JSON text parsed afresh, as a wallet gets them.

const didKey = didMethodKey.driver()
didKey.use({ multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from })

/** URLs the verifier was asked to load, to show that nothing outside the bundle was needed. */
export const requestedUrls: string[] = []

export async function offlineDocumentLoader(url: string): Promise<{ contextUrl: null; documentUrl: string; document: unknown }> {
  requestedUrls.push(url)
  const context = url === CERTCHAIN_CONTEXT_URL ? CERTCHAIN_CONTEXT : contexts.get(url)
  if (context !== undefined) return { contextUrl: null, documentUrl: url, document: context }
  if (url.startsWith('did:key:')) return { contextUrl: null, documentUrl: url, document: await didKey.get({ url }) }
  throw new Error(`offline document loader: ${url} is not bundled`)
}

/**
 * Status as a VC wallet would check it: the entry must be certchain's type and name the subject's
 * certificate, and `isValid` stands in for asking a node of that chain.
 */
export function certchainStatusChecker(isValid: (chainId: string, certificateId: string) => boolean) {
  return ({ credential }: { credential: Record<string, unknown> }): Promise<{ verified: boolean; error?: Error }> => {
    const status = credential.credentialStatus as { type?: unknown; certificateId?: unknown; chainId?: unknown } | undefined
    const subject = credential.credentialSubject as { certificateId?: unknown } | undefined
    const refuse = (why: string) => Promise.resolve({ verified: false, error: new Error(why) })
    if (status?.type !== 'CertchainStatus2026') return refuse('not a CertchainStatus2026 entry')
    if (status.certificateId !== subject?.certificateId) return refuse('status names another certificate')
    const ok = typeof status.chainId === 'string' && typeof status.certificateId === 'string' && isValid(status.chainId, status.certificateId)
    return ok ? Promise.resolve({ verified: true }) : refuse('certificate not valid on chain')
  }
}

export interface IndependentVerdict {
  readonly verified: boolean
  /** The messages of every error, for assertions on why it was refused. */
  readonly error: string[]
}

export async function verifyIndependently(
  credential: unknown,
  options: { now?: Date; isValid?: (chainId: string, certificateId: string) => boolean } = {},
): Promise<IndependentVerdict> {
  const result = await vc.verifyCredential({
    credential: JSON.parse(JSON.stringify(credential)),
    suite: new DataIntegrityProof({ cryptosuite: createVerifyCryptosuite() }),
    documentLoader: offlineDocumentLoader,
    checkStatus: certchainStatusChecker(options.isValid ?? (() => true)),
    ...(options.now ? { now: options.now } : {}),
  })
  return { verified: result.verified, error: errorMessages(result) }
}

/** Every message in Digital Bazaar's verdict (its top error, the errors it wraps, each proof's, the status check's). */
function errorMessages(result: { error?: unknown; results?: unknown[]; statusResult?: { error?: unknown } }): string[] {
  const messages: string[] = []
  const collect = (e: unknown): void => {
    if (!(e instanceof Error)) return
    messages.push(e.message)
    for (const inner of (e as Error & { errors?: unknown[] }).errors ?? []) collect(inner)
  }
  collect(result.error)
  for (const r of result.results ?? []) collect((r as { error?: unknown }).error)
  collect(result.statusResult?.error)
  return messages
}

/**
 * JSON-LD expansion in safe mode (jsonld.js), as a Linked Data verifier processes a credential:
 * fails on any term no context defines. Offline, with the same loader.
 */
export async function expandSafely(credential: unknown): Promise<Record<string, unknown>[]> {
  return jsonld.expand(JSON.parse(JSON.stringify(credential)), { documentLoader: offlineDocumentLoader, safe: true })
}
