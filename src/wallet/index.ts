// The holder's and the verifier's side: holder-bound presentations. presentation.ts is pure and
// browser-safe (wallet apps, the verifier page); requests.ts is the node's durable nonce store.
export {
  DEFAULT_REQUEST_TTL_SECONDS,
  MAX_REQUEST_TTL_SECONDS,
  PRESENTATION_FORMAT,
  REQUEST_FORMAT,
  preparePresentation,
  presentationFromJson,
  presentationSignBytes,
  presentationToJson,
  proofHash,
  requestFromJson,
  requestToJson,
  verifyPresentation,
  type Audience,
  type NonceStore,
  type Presentation,
  type PresentationCheck,
  type PresentationRequest,
  type PresentationResult,
  type VerifyPresentationOptions,
} from './presentation.js'
export { PresentationRequests, type RequestOptions } from './requests.js'
