export { P2PHost, type P2PDeps, type P2POptions } from './host.js'
export { GOSSIP_TOPICS, MAX_GOSSIP_MESSAGE_BYTES, gossipTopicName, type GossipTopic, type Verdict } from './gossip.js'
export { DEFAULT_REQUEST_TIMEOUT_MS, syncProtocol, type RequestOptions, type SyncHandler } from './reqresp.js'
export { P2PError, isP2PError, type P2PErrorCode } from './errors.js'
