import { afterEach, describe, expect, it } from 'vitest'
import { blockHash } from '../../../src/core/block.js'
import { verify } from '../../../src/core/crypto.js'
import { voteSignBytes, type ConsensusMessage, type Vote } from '../../../src/consensus/messages.js'
import { quorum } from '../../../src/consensus/vote-set.js'
import { SimNetwork, simBlock, type SimNode } from '../../helpers/sim.js'
import { sha256 } from '../../../src/core/hash.js'

let net: SimNetwork | undefined

afterEach(async () => {
  await net?.stop()
  net = undefined
})

/** Makes `id` Byzantine: with each prevote it also sends a conflicting one (for a block nobody proposed), signed with its key. */
function doubleVoter(net: SimNetwork, id: string): SimNode {
  const byzantine = net.node(id)
  net.tamper = (from, message) => {
    if (from !== byzantine || message.type !== 'prevote') return [message]
    const other = sha256(Buffer.from(`evil ${message.height}/${message.round}`))
    const sig = signWith(byzantine.key.secretKey, voteSignBytes(net.chainId, 'prevote', message.height, message.round, other))
    const evil: Vote = { ...message, blockHash: other, sig }
    return [message, evil]
  }
  return byzantine
}

describe('consensus engine on a simulated network', () => {
  it('one validator commits every block alone', async () => {
    net = await SimNetwork.create({ validators: 1, seed: 1 })
    net.start()
    await net.run(10_000, () => net!.minHeight() >= 20)
    expect(net.minHeight()).toBeGreaterThanOrEqual(20)
    const { commit } = net.nodes[0]!.app.committed[0]!
    expect(commit.signatures).toHaveLength(1)
  })

  it('four validators finalize with 2f+1 precommits and agree at every height', async () => {
    net = await SimNetwork.create({ validators: 4, seed: 2 })
    net.start()
    await net.run(60_000, () => net!.minHeight() >= 30)
    expect(net.minHeight()).toBeGreaterThanOrEqual(30)
    net.assertAgreement()
    // Each commit holds at least 2f+1 valid precommit signatures for the block.
    for (const { block, commit } of net.nodes[0]!.app.committed) {
      expect(commit.signatures.length).toBeGreaterThanOrEqual(quorum(4))
      expect(commit.blockHash).toEqual(blockHash(block.header))
      for (const s of commit.signatures) {
        const v = net.validators.find((x) => x.id === s.validator)!
        expect(verify(v.publicKey, voteSignBytes(net.chainId, 'precommit', commit.height, commit.round, commit.blockHash), s.sig)).toBe(true)
      }
    }
  })

  it('rotates the proposer round-robin over validators sorted by public key', async () => {
    net = await SimNetwork.create({ validators: 4, seed: 3 })
    net.start()
    await net.run(60_000, () => net!.minHeight() >= 8)
    for (const { block, commit } of net.nodes[0]!.app.committed) {
      if (commit.round !== 0) continue
      const expected = net.validators[(block.header.height + commit.round) % 4]!.id
      expect(block.header.proposer).toBe(expected)
    }
  })

  for (const seed of [11, 12, 13, 14, 15]) {
    it(`stays safe and live with 20% loss, delay and reordering (seed ${seed})`, async () => {
      net = await SimNetwork.create({ validators: 4, seed, loss: 0.2, delay: [5, 400] })
      net.start()
      await net.run(300_000, () => net!.minHeight() >= 10)
      net.assertAgreement()
      expect(net.minHeight()).toBeGreaterThanOrEqual(10)
    })
  }

  it('with one validator offline the other three keep finalizing', async () => {
    net = await SimNetwork.create({ validators: 4, seed: 21 })
    net.node('v3').online = false
    net.start()
    const live = net.nodes.filter((n) => n.id !== 'v3')
    await net.run(120_000, () => net!.minHeight(live) >= 10)
    expect(net.minHeight(live)).toBeGreaterThanOrEqual(10)
    net.assertAgreement()
  })

  it('a 2|2 partition finalizes nothing and forks nothing; healed, it resumes', async () => {
    net = await SimNetwork.create({ validators: 4, seed: 22 })
    net.start()
    await net.run(30_000, () => net!.minHeight() >= 3)
    const [a, b, c, d] = net.nodes.map((n) => n.id)
    for (const [x, y] of [[a, c], [a, d], [b, c], [b, d]]) {
      net.cut.add(`${x}>${y}`)
      net.cut.add(`${y}>${x}`)
    }
    // Let anything in flight settle, then watch: no height may advance while split.
    await net.run(2_000)
    const during = Math.max(...net.nodes.map((n) => n.app.committed.length))
    await net.run(60_000)
    expect(Math.max(...net.nodes.map((n) => n.app.committed.length))).toBe(during)
    net.assertAgreement()
    net.cut.clear()
    const healedAt = net.clock.now()
    await net.run(120_000, () => net!.minHeight() >= during + 3)
    expect(net.minHeight()).toBeGreaterThanOrEqual(during + 3)
    expect(net.clock.now() - healedAt).toBeLessThan(30_000)
    net.assertAgreement()
  })

  it('an isolated proposer makes the others move to the next round and continue', async () => {
    net = await SimNetwork.create({ validators: 4, seed: 23 })
    net.start()
    await net.run(30_000, () => net!.minHeight() >= 2)
    const height = net.minHeight() + 1
    const proposer = net.validators[height % 4]!.id
    for (const n of net.nodes) {
      if (n.id === proposer) continue
      net.cut.add(`${proposer}>${n.id}`)
      net.cut.add(`${n.id}>${proposer}`)
    }
    const others = net.nodes.filter((n) => n.id !== proposer)
    await net.run(60_000, () => net!.minHeight(others) >= height + 2)
    expect(net.minHeight(others)).toBeGreaterThanOrEqual(height + 2)
    const decided = others[0]!.app.committed[height - 1]!
    expect(decided.commit.round).toBeGreaterThan(0)
    net.assertAgreement()
  })

  it('a validator restarted again and again mid-height resumes from its WAL and never double-signs', async () => {
    net = await SimNetwork.create({ validators: 4, seed: 41, delay: [5, 80] })
    net.start()
    for (let i = 0; i < 25; i++) {
      await net.run(50 + Math.floor(net.random() * 400))
      await net.restart('v2')
    }
    await net.run(60_000, () => net!.minHeight() >= 10)
    expect(net.minHeight()).toBeGreaterThanOrEqual(10)
    net.assertAgreement()
    for (const n of net.nodes) expect(n.equivocations).toEqual([])
  })

  it('detects a Byzantine validator that double-votes, and stays safe', async () => {
    net = await SimNetwork.create({ validators: 4, seed: 31, delay: [5, 60] })
    const byzantine = doubleVoter(net, 'v0')
    net.start()
    await net.run(60_000, () => net!.minHeight() >= 5)
    expect(net.minHeight()).toBeGreaterThanOrEqual(5)
    net.assertAgreement()
    const honest = net.nodes.filter((n) => n !== byzantine)
    expect(honest.every((n) => n.equivocations.some((e) => e.first.validator === 'v0'))).toBe(true)
  })

  it('a double-voting validator is jailed two heights after its evidence is committed; the others keep finalizing without it', async () => {
    net = await SimNetwork.create({ validators: 4, seed: 36, delay: [5, 60] })
    const byzantine = doubleVoter(net, 'v2')
    const chainId = net.chainId
    net.start()
    const honest = net.nodes.filter((n) => n !== byzantine)
    await net.run(120_000, () => honest.every((n) => n.app.committed.length >= 12))
    net.assertAgreement()
    const jailedAt = honest[0]!.app.jailed.get('v2')
    expect(jailedAt).toBeDefined()
    for (const n of honest) expect(n.app.jailed.get('v2')).toBe(jailedAt)
    // From jailedAt + 2 on, commits carry no signature of v2 and proposers rotate among the other three.
    const after = honest[0]!.app.committed.slice(jailedAt! + 1)
    expect(after.length).toBeGreaterThanOrEqual(3)
    for (const { block, commit } of after) {
      expect(commit.signatures.map((s) => s.validator)).not.toContain('v2')
      expect(block.header.proposer).not.toBe('v2')
      expect(commit.signatures.length).toBeGreaterThanOrEqual(3)
    }
    // ... and the jailed validator's own messages are refused by gossip validation.
    const h = honest[0]!.app.committed.length + 1
    const vote: Vote = { type: 'prevote', height: h, round: 0, blockHash: null, validator: 'v2', sig: signWith(byzantine.key.secretKey, voteSignBytes(chainId, 'prevote', h, 0, null)) }
    expect(honest[0]!.engine.check(vote)).toMatchObject({ ok: false, reject: true })
  })

  it('a validator whose key joins the set at a later height signs nothing before it, then proposes and votes', async () => {
    const JOIN = 6
    net = await SimNetwork.create({ validators: 5, seed: 37, joining: { v4: JOIN } })
    const joining = net.node('v4')
    const sentBefore: number[] = []
    net.tamper = (from, message) => {
      if (from === joining && message.height < JOIN) sentBefore.push(message.height)
      return [message]
    }
    net.start()
    await net.run(120_000, () => net!.minHeight() >= JOIN + 10)
    net.assertAgreement()
    expect(sentBefore).toEqual([])
    const commits = net.node('v0').app.committed
    for (const { commit } of commits.slice(0, JOIN - 1)) expect(commit.signatures.map((s) => s.validator)).not.toContain('v4')
    const after = commits.slice(JOIN - 1)
    expect(after.some(({ commit }) => commit.signatures.some((s) => s.validator === 'v4'))).toBe(true)
    expect(after.some(({ block }) => block.header.proposer === 'v4')).toBe(true)
  })

  for (const seed of [32, 33, 34, 35]) it(`a Byzantine proposer sending two different blocks cannot fork the chain (seed ${seed})`, async () => {
    net = await SimNetwork.create({ validators: 4, seed })
    const chainId = net.chainId
    net.tamper = (from, message) => {
      if (message.type !== 'proposal' || message.polRound !== -1) return [message]
      // The proposer (whoever it is this round) is Byzantine only if it is v1.
      if (from.id !== 'v1') return [message]
      const h = message.block.header
      const twin = simBlock(chainId, h.height, h.time, h.prevHash, h.proposer, 'twin')
      const sig = signWith(from.key.secretKey, proposalSignBytesOf(chainId, message.height, message.round, twin))
      return [message, { ...message, block: twin, sig }]
    }
    net.start()
    await net.run(120_000, () => net!.minHeight() >= 12)
    expect(net.minHeight()).toBeGreaterThanOrEqual(12)
    net.assertAgreement()
  })
})

import { sign } from '../../../src/core/crypto.js'
import { proposalSignBytes } from '../../../src/consensus/messages.js'
import type { Block } from '../../../src/core/types.js'

function signWith(secretKey: Uint8Array, bytes: Uint8Array): Uint8Array {
  return sign(secretKey, bytes)
}

function proposalSignBytesOf(chainId: string, height: number, round: number, block: Block): Uint8Array {
  return proposalSignBytes(chainId, height, round, -1, blockHash(block.header))
}

export type { ConsensusMessage }
