export { Mempool, DEFAULT_MEMPOOL_OPTIONS, type MempoolOptions, type AddResult } from './mempool.js'
export { admitTx, type Admitted } from './admission.js'
export { validateTxGossip } from './gossip.js'
