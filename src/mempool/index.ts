export { Mempool, DEFAULT_MEMPOOL_OPTIONS, HELD_BYTES_PER_CERTIFICATE, heldBytes, MAX_PENDING_REPORTS_PER_SIGNER, offenceKey, type MempoolOptions, type AddResult } from './mempool.js'
export { admitBatch, admitTx, INVALID_EVERYWHERE, type Admitted } from './admission.js'
export { validateTxGossip } from './gossip.js'
export { recheckPending, type BlockChanges, type Evicted } from './recheck.js'
