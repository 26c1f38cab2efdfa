import { describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG, parseConfig } from '../../../src/node/config.js'
import { thrownCode } from '../../helpers/fixtures.js'

const message = (input: unknown): string => {
  try {
    parseConfig(input, 'config.json')
  } catch (err) {
    return (err as Error).message
  }
  throw new Error('expected a refusal')
}

describe('parseConfig', () => {
  it('fills every absent setting from the defaults and freezes the result', () => {
    const config = parseConfig({ moniker: 'bank', rpc: { port: 9000 } })
    expect(config.moniker).toBe('bank')
    expect(config.rpc).toEqual({ ...DEFAULT_CONFIG.rpc, port: 9000 })
    expect(config.consensus).toEqual(DEFAULT_CONFIG.consensus)
    expect(Object.isFrozen(config) && Object.isFrozen(config.rpc)).toBe(true)
    expect(parseConfig({ validatorKeyFile: null }).validatorKeyFile).toBeNull()
  })

  it('refuses with INVALID_CONFIG naming every bad field', () => {
    expect(thrownCode(() => parseConfig({ rpc: { prot: 1 } }))).toBe('INVALID_CONFIG')
    const text = message({ rpc: { prot: 1, port: '80' }, log: { level: 'loud' }, p2p: { listen: [1] }, mempool: 5 })
    expect(text).toMatch(/^config\.json: /)
    for (const part of ['rpc.prot is not a known setting', 'rpc.port must be a non-negative integer', 'log.level must be one of', 'p2p.listen must be a list of strings', 'mempool must be an object']) {
      expect(text).toContain(part)
    }
  })

  it('refuses a port over 65535 and a block interval longer than the heartbeat', () => {
    expect(message({ rpc: { port: 70000 } })).toContain('rpc.port must be at most 65535')
    expect(message({ consensus: { blockIntervalMs: 20_000, heartbeatIntervalMs: 10_000 } })).toContain('must not exceed consensus.heartbeatIntervalMs')
  })

  it('bundling of relayed transactions: defaults, a partial override, and bounds on window and caps', () => {
    expect(parseConfig({}).p2p.txBundle).toEqual({ windowMs: 5, maxTxs: 256, maxBytes: 1024 * 1024 })
    expect(parseConfig({ p2p: { txBundle: { windowMs: 0 } } }).p2p.txBundle).toEqual({ ...DEFAULT_CONFIG.p2p.txBundle, windowMs: 0 })
    const text = message({ p2p: { txBundle: { windowMs: 5000, maxTxs: 0, maxBytes: 8 * 1024 * 1024 } } })
    for (const part of ['p2p.txBundle.windowMs must be at most 1000', 'p2p.txBundle.maxTxs must be at least 1', 'p2p.txBundle.maxBytes must be between 1024 and']) expect(text).toContain(part)
  })

  it('verifyThreads: "auto" by default (kept as written, resolved by the node), 0 to 64 threads, anything else refused by name', () => {
    expect(parseConfig({}).verifyThreads).toBe('auto')
    for (const ok of [0, 1, 64, 'auto'] as const) expect(parseConfig({ verifyThreads: ok }).verifyThreads).toBe(ok)
    for (const bad of [-1, 1.5, 65, 'two', null, true]) expect(message({ verifyThreads: bad })).toContain('verifyThreads must be "auto" or an integer from 0 to 64')
  })
})
