import { parentPort } from 'node:worker_threads'
import { verifyPacked } from './verify-batch.js'

/**
 * A verification thread of VerifyPool (verify-pool.ts): answers each packed batch with one verdict
 * byte per signature, in order, tagged with the batch's id.
 */
const port = parentPort
if (!port) throw new Error('verify-worker.js runs as a worker thread of VerifyPool')
port.on('message', ({ id, buffer }: { id: number; buffer: ArrayBuffer }) => {
  const verdicts = verifyPacked(buffer)
  port.postMessage({ id, verdicts: verdicts.buffer }, [verdicts.buffer])
})
