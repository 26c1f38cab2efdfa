import { afterEach, describe, expect, it, vi } from 'vitest'
import { EXIT_FAIL, EXIT_USAGE, UsageError, printable, reportError } from '../../../src/cli/output.js'
import { CertchainError } from '../../../src/core/errors.js'
import { RpcError } from '../../../src/rpc/index.js'

describe('printable: text from outside cannot drive the terminal (issue 10 #15)', () => {
  it('escapes C0 and C1 controls, DEL, line separators and bidirectional overrides', () => {
    expect(printable('a\u001b[2Kb')).toBe('a\\u{1b}[2Kb')
    expect(printable('ok\rVALID')).toBe('ok\\u{d}VALID')
    expect(printable('x\ny\tz')).toBe('x\\u{a}y\\u{9}z')
    expect(printable('\u009b2J\u007f')).toBe('\\u{9b}2J\\u{7f}')
    expect(printable('\u202eDILAVNI\u2066\u2028')).toBe('\\u{202e}DILAVNI\\u{2066}\\u{2028}')
  })

  it('keeps newlines and tabs only in multiline mode, and leaves other text alone', () => {
    expect(printable('x\ny\tz\u001b', { multiline: true })).toBe('x\ny\tz\\u{1b}')
    expect(printable('주민등록표 등본 ✓ "kr.residence"')).toBe('주민등록표 등본 ✓ "kr.residence"')
  })
})

describe('reportError: one line `certchain: CODE: message` and the exit code (issue 12 B3, B5)', () => {
  const lines: string[] = []
  afterEach(() => {
    lines.length = 0
    vi.restoreAllMocks()
  })
  const report = (err: unknown): number => {
    vi.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line))
    return reportError(err)
  }

  it.each([
    ['a usage error', new UsageError('verify needs --document'), EXIT_USAGE, 'certchain: USAGE: verify needs --document'],
    ['a coded usage error', new UsageError('x exists', 'FILE_EXISTS'), EXIT_USAGE, 'certchain: FILE_EXISTS: x exists'],
    ['an unreachable node', new RpcError('UNAVAILABLE', 'cannot reach the node', 0), EXIT_USAGE, 'certchain: UNAVAILABLE: cannot reach the node'],
    ['a refusal by the node', new RpcError('NOT_AUTHORIZED', 'no', 403), EXIT_FAIL, 'certchain: NOT_AUTHORIZED: no'],
    ['a missing file', new CertchainError('FILE_NOT_FOUND', 'genesis g does not exist'), EXIT_USAGE, 'certchain: FILE_NOT_FOUND: genesis g does not exist'],
    ['an insecure key', new CertchainError('KEY_FILE_INSECURE', 'k'), EXIT_USAGE, 'certchain: KEY_FILE_INSECURE: k'],
    ['a port in use', new CertchainError('PORT_IN_USE', 'p'), EXIT_USAGE, 'certchain: PORT_IN_USE: p'],
    ['an invalid genesis', new CertchainError('INVALID_GENESIS', 'bad'), EXIT_FAIL, 'certchain: INVALID_GENESIS: bad'],
    ['a raw ENOENT', Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', path: '/x' }), EXIT_USAGE, 'certchain: FILE_NOT_FOUND: /x does not exist'],
  ])('%s', (_what, err, exit, line) => {
    expect(report(err)).toBe(exit)
    expect(lines).toEqual([line])
  })

  it('an unexpected error is INTERNAL, with a pointer to CERTCHAIN_DEBUG', () => {
    expect(report(new TypeError('boom'))).toBe(EXIT_FAIL)
    expect(lines[0]).toBe('certchain: INTERNAL: unexpected error: boom')
  })

  it('escapes control characters in the message', () => {
    report(new RpcError('X', 'a\u001b[1Ab\nverdict: VALID', 400))
    expect(lines).toEqual(['certchain: X: a\\u{1b}[1Ab\\u{a}verdict: VALID'])
  })
})
