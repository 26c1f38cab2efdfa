// The Digital Bazaar libraries ship no TypeScript types; tests use them as an independent
// verifier of certchain's credentials, through only these calls.
declare module '@digitalbazaar/vc' {
  export function verifyCredential(options: {
    credential: unknown
    suite: unknown
    documentLoader: (url: string) => Promise<unknown>
    checkStatus?: (options: { credential: Record<string, unknown> }) => Promise<{ verified: boolean; error?: unknown }>
    now?: Date
  }): Promise<{ verified: boolean; error?: unknown; results?: unknown[]; statusResult?: { verified: boolean; error?: unknown } }>
  export function issue(options: { credential: unknown; suite: unknown; documentLoader: (url: string) => Promise<unknown> }): Promise<Record<string, unknown>>
}
declare module '@digitalbazaar/data-integrity' {
  export class DataIntegrityProof {
    constructor(options: { cryptosuite: unknown; signer?: unknown; date?: string })
  }
}
declare module '@digitalbazaar/eddsa-jcs-2022-cryptosuite' {
  export function createSignCryptosuite(): unknown
  export function createVerifyCryptosuite(): unknown
}
declare module '@digitalbazaar/ed25519-multikey' {
  export interface Multikey {
    id?: string
    controller?: string
    publicKeyMultibase: string
    publicKey: Uint8Array
    signer(): unknown
  }
  export function generate(options: { seed?: Uint8Array; id?: string; controller?: string }): Promise<Multikey>
  export function from(key: unknown): Promise<Multikey>
}
declare module '@digitalbazaar/did-method-key' {
  export function driver(): {
    use(options: { multibaseMultikeyHeader: string; fromMultibase: (key: unknown) => Promise<unknown> }): void
    get(options: { url: string }): Promise<Record<string, unknown>>
  }
}
declare module '@digitalbazaar/credentials-context' {
  export const contexts: Map<string, unknown>
}
declare module 'jsonld' {
  const jsonld: {
    expand(input: unknown, options: { documentLoader: (url: string) => Promise<unknown>; safe?: boolean }): Promise<Record<string, unknown>[]>
  }
  export default jsonld
}
