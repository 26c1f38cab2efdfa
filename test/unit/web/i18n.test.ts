import { describe, expect, it } from 'vitest'
import type { LightCheckName } from '../../../src/light/index.js'
import type { PresentationCheckName } from '../../../src/wallet/presentation.js'
import { CHECK_NAMES, CODES, checkSentence, defaultLang, t } from '../../../web/i18n.js'

// Every check the verifiers produce, and every presentation failure code, reads as a sentence in
// both languages (the Record types make a missing name a compile error here).
const LIGHT: Record<LightCheckName, true> = {
  chain: true, commit: true, freshness: true, certificate_id: true, document_hash: true,
  issuer_signature: true, on_chain: true, issuer_authorized: true, status: true, validity_period: true,
}
const PRESENTATION: Record<PresentationCheckName, true> = { request: true, type: true, holder_binding: true, holder_key: true, holder_signature: true }
const FAILURE_CODES = ['NONCE_UNKNOWN', 'NONCE_USED', 'REQUEST_EXPIRED', 'TYPE_NOT_REQUESTED', 'NOT_HOLDER_BOUND', 'HOLDER_MISMATCH', 'BAD_HOLDER_SIGNATURE']

describe('verifier page strings', () => {
  it('has a passed and a failed sentence for every check name, in Korean and English, and they differ', () => {
    for (const name of [...Object.keys(LIGHT), ...Object.keys(PRESENTATION)]) {
      expect(CHECK_NAMES).toContain(name)
      for (const lang of ['ko', 'en'] as const) {
        const ok = checkSentence(lang, { name, ok: true })
        const bad = checkSentence(lang, { name, ok: false })
        expect(ok, `${lang} ${name}`).toBeTruthy()
        expect(bad, `${lang} ${name}`).toBeTruthy()
        expect(ok).not.toBe(bad)
      }
      expect(checkSentence('ko', { name, ok: true })).not.toBe(checkSentence('en', { name, ok: true }))
    }
  })

  it('has a sentence for every presentation failure code, distinct for the request codes', () => {
    expect([...CODES].sort()).toEqual([...FAILURE_CODES].sort())
    const request = new Set(['NONCE_UNKNOWN', 'NONCE_USED', 'REQUEST_EXPIRED'].map((code) => checkSentence('en', { name: 'request', ok: false, code })))
    expect(request.size).toBe(3)
    expect(checkSentence('ko', { name: 'request', ok: false, code: 'NONCE_USED' })).toContain('재사용')
  })

  it('names the status in a failed status line (revoked, suspended, expired)', () => {
    expect(checkSentence('en', { name: 'status', ok: false }, 'revoked')).toMatch(/revoked/)
    expect(checkSentence('ko', { name: 'status', ok: false }, 'revoked')).toContain('취소')
    expect(checkSentence('en', { name: 'status', ok: false }, 'suspended')).toMatch(/suspended/)
  })

  it('defaults to Korean for a Korean browser and English otherwise', () => {
    expect(defaultLang('ko-KR')).toBe('ko')
    expect(defaultLang('ko')).toBe('ko')
    expect(defaultLang('en-US')).toBe('en')
    expect(defaultLang(undefined)).toBe('en')
    expect(t('ko', 'verify')).not.toBe(t('en', 'verify'))
  })
})
