import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Every metric of a node, declared in one place. Each node has its own registry (no global
 * state), so several nodes can run in one process (tests). Labels are low-cardinality only.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry()
  // prom-client's own names already start with process_ or nodejs_: the prefix adds only certchain_.
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'certchain_' })
  const registers = [registry]
  return {
    registry,
    height: new Gauge({ name: 'certchain_height', help: 'Height of the latest committed block', registers }),
    chainTxs: new Gauge({ name: 'certchain_chain_transactions', help: 'Transactions committed on chain (all time)', registers }),
    chainCertificates: new Gauge({
      name: 'certchain_chain_certificates',
      help: 'Certificates issued on chain (all time)',
      registers,
    }),
    committedTxs: new Counter({ name: 'certchain_committed_transactions_total', help: 'Transactions committed by this process', registers }),
    committedCertificates: new Counter({
      name: 'certchain_committed_certificates_total',
      help: 'Certificates issued in blocks committed by this process',
      registers,
    }),
    blockCommitSeconds: new Histogram({
      name: 'certchain_block_commit_seconds',
      help: 'Time to write a decided block and its commit durably (one fsynced batch)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    mempoolTxs: new Gauge({ name: 'certchain_mempool_transactions', help: 'Transactions waiting for a block', registers }),
    mempoolBytes: new Gauge({ name: 'certchain_mempool_bytes', help: 'Encoded bytes waiting for a block', registers }),
    txAdmitted: new Counter({ name: 'certchain_tx_admitted_total', help: 'Transactions accepted into the mempool', registers }),
    txRejected: new Counter({
      name: 'certchain_tx_rejected_total',
      help: 'Transactions refused, by error code',
      labelNames: ['code'] as const,
      registers,
    }),
    rpcRefused: new Counter({
      name: 'certchain_rpc_refused_total',
      help: 'RPC requests and connections refused by a limit (rate, connections, waiters, bodies in flight, timeout), by error code',
      labelNames: ['code'] as const,
      registers,
    }),
    peers: new Gauge({ name: 'certchain_peers', help: 'Connected peers', registers }),
    gossipMessages: new Counter({
      name: 'certchain_gossip_messages_total',
      help: 'Gossip messages validated, by topic, verdict (accept, ignore, reject) and reason code',
      labelNames: ['topic', 'result', 'reason'] as const,
      registers,
    }),
    gossipRepeatedFailures: new Counter({
      name: 'certchain_gossip_repeated_failures_total',
      help: 'Gossip messages that failed here before (same bytes), answered and charged without validating them again',
      labelNames: ['topic'] as const,
      registers,
    }),
    peerPenaltyPoints: new Counter({
      name: 'certchain_peer_penalty_points_total',
      help: 'Penalty points charged to peers for gossip that cost work and failed and for malformed sync answers (topic sync), by topic and reason code',
      labelNames: ['topic', 'reason'] as const,
      registers,
    }),
    // One series per penalized member peer (membership is bounded; the series goes when the peer is cut off).
    peerPenalty: new Gauge({
      name: 'certchain_peer_penalty_points',
      help: 'Penalty points of a peer at its last charge (disconnected at the limit)',
      labelNames: ['peer'] as const,
      registers,
    }),
    snapshotsTaken: new Counter({ name: 'certchain_snapshots_taken_total', help: 'State snapshots this node wrote', registers }),
    snapshotSeconds: new Gauge({ name: 'certchain_snapshot_seconds', help: 'Time the last snapshot took to write', registers }),
    snapshotBytes: new Gauge({ name: 'certchain_snapshot_bytes', help: 'Size of the last snapshot (all chunks)', registers }),
    snapshotHeight: new Gauge({ name: 'certchain_snapshot_height', help: 'Height of the newest snapshot this node serves', registers }),
    stateSyncChunks: new Counter({
      name: 'certchain_state_sync_chunks_total',
      help: 'Snapshot chunks received while joining by state sync, by result (ok, bad: did not match the manifest, failed: no answer)',
      labelNames: ['result'] as const,
      registers,
    }),
    stateSyncSeconds: new Gauge({ name: 'certchain_state_sync_seconds', help: 'Time the state sync this process ran took, from discovery to the installed state', registers }),
    prunedBelow: new Gauge({ name: 'certchain_block_base_height', help: 'Lowest height whose block body this node keeps (pruning, state sync)', registers }),
    peerDisconnects: new Counter({
      name: 'certchain_peer_disconnects_total',
      help: 'Peers disconnected and refused for misbehaviour, by reason (gossip_penalty, gossip_score, sync, state_sync)',
      labelNames: ['reason'] as const,
      registers,
    }),
    evidence: new Counter({ name: 'certchain_evidence_total', help: 'Equivocations detected (conflicting votes of one validator)', registers }),
    presentationRequests: new Counter({ name: 'certchain_presentation_requests_total', help: 'Presentation requests issued by this verifier', registers }),
    presentationsVerified: new Counter({
      name: 'certchain_presentations_verified_total',
      help: 'Presentations checked by this verifier, by verdict',
      labelNames: ['verdict'] as const,
      registers,
    }),
    governanceEvents: new Counter({
      name: 'certchain_governance_events_total',
      help: 'Governance events in committed blocks (proposed, voted, passed, rejected, expired, failed, issuer_keys, jailed)',
      labelNames: ['kind'] as const,
      registers,
    }),
    validators: new Gauge({ name: 'certchain_validators', help: 'Validators voting at the next height', registers }),
    jailedValidators: new Gauge({ name: 'certchain_validators_jailed', help: 'Registered validators that are jailed', registers }),
    members: new Gauge({ name: 'certchain_members', help: 'Registered member institutions', registers }),
    activeIssuers: new Gauge({ name: 'certchain_issuers_active', help: 'Issuers that may issue', registers }),
    openProposals: new Gauge({ name: 'certchain_governance_open_proposals', help: 'Governance proposals still open', registers }),
    txBundlesPublished: new Counter({ name: 'certchain_tx_bundles_published_total', help: 'Transaction bundles this node gossiped (its own admissions)', registers }),
    txBundlesReceived: new Counter({
      name: 'certchain_tx_bundles_received_total',
      help: 'Transaction bundles received from peers and validated, by verdict (accept, ignore, reject)',
      labelNames: ['result'] as const,
      registers,
    }),
    txBundleTxs: new Histogram({
      name: 'certchain_tx_bundle_transactions',
      help: 'Transactions per bundle, published by this node or received (direction)',
      labelNames: ['direction'] as const,
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 1000],
      registers,
    }),
    signatureBatches: new Counter({
      name: 'certchain_signature_batches_total',
      help: 'Batches of transaction signatures verified (admission, received blocks), by where: worker (a verification thread), inline (too few in one event-loop turn, or no workers), fallback (inline because a worker died or could not start)',
      labelNames: ['where'] as const,
      registers,
    }),
    signaturesVerified: new Counter({
      name: 'certchain_signatures_verified_total',
      help: 'Signatures in those batches, by where (worker, inline, fallback)',
      labelNames: ['where'] as const,
      registers,
    }),
    verifyWorkerRestarts: new Counter({
      name: 'certchain_verify_worker_restarts_total',
      help: 'Signature verification worker threads that died or could not start and were replaced',
      registers,
    }),
    verifyThreads: new Gauge({ name: 'certchain_verify_threads', help: 'Signature verification worker threads configured (verifyThreads)', registers }),
    rpcBatchTxs: new Histogram({
      name: 'certchain_rpc_batch_transactions',
      help: 'Transactions per POST /v1/txs/batch request that reached admission',
      buckets: [1, 10, 50, 100, 200, 500, 1000, 5000],
      registers,
    }),
    rpcDuration: new Histogram({
      name: 'certchain_rpc_request_duration_seconds',
      help: 'RPC request durations',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
