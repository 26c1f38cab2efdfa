import type { Bytes } from './bytes.js'
import { encode } from './encoding.js'
import type { TxKind } from './types.js'

/** Domain tag of transaction sign bytes; bump it if the layout ever changes. */
export const TX_DOMAIN = 'certchain/tx@1'

/** What a transaction's signer signs: chain id and kind in front, so a signature never verifies for another chain or kind. */
export function txSignBytes(chainId: string, kind: TxKind, signer: string, content: unknown): Bytes {
  return encode([TX_DOMAIN, chainId, kind, signer, content])
}
