// Every string the clerk reads, in Korean and English. Check lines are sentences a clerk
// understands: one for a passed check, one for a failed one, and for failures with a stable code
// (the presentation checks) one per code. The technical detail stays available beside it.

export type Lang = 'ko' | 'en'
export const LANGS: readonly Lang[] = ['ko', 'en']

export function defaultLang(navigatorLanguage: string | undefined): Lang {
  return navigatorLanguage?.toLowerCase().startsWith('ko') ? 'ko' : 'en'
}

const ui = {
  title: { en: 'Certificate verifier', ko: '증명서 확인' },
  subtitle: {
    en: 'For the counter: ask for a certificate, then check what the citizen submits.',
    ko: '창구용: 증명서 제출을 요청하고, 시민이 제출한 파일을 확인합니다.',
  },
  language: { en: 'Language', ko: '언어' },
  chainHeading: { en: 'Which chain this page trusts', ko: '이 페이지가 신뢰하는 체인' },
  chainId: { en: 'Chain id', ko: '체인 ID' },
  genesisHash: { en: 'Genesis hash (computed in this browser)', ko: '제네시스 해시 (이 브라우저에서 계산)' },
  genesisCompare: {
    en: 'Compare this hash with the one your organisation published. If they differ, do not use this page.',
    ko: '이 해시를 기관이 공개한 값과 비교하세요. 다르면 이 페이지를 사용하지 마세요.',
  },
  genesisNodeDiffers: {
    en: 'Warning: the node reports a different genesis hash than the genesis it served. Do not use this page.',
    ko: '경고: 노드가 알려준 제네시스 해시가 노드가 보낸 제네시스와 다릅니다. 이 페이지를 사용하지 마세요.',
  },
  loading: { en: 'Loading…', ko: '불러오는 중…' },
  genesisFailed: { en: 'Could not load the chain’s genesis from the node: ', ko: '노드에서 제네시스를 불러오지 못했습니다: ' },

  requestHeading: { en: '1. Ask for a certificate', ko: '1. 증명서 제출 요청' },
  types: { en: 'Accepted certificate types (comma-separated; empty: any)', ko: '받을 증명서 종류 (쉼표로 구분, 비우면 모두)' },
  purpose: { en: 'Purpose (shown to the citizen)', ko: '용도 (시민에게 보여짐)' },
  ttl: { en: 'Valid for (seconds, 1–600)', ko: '유효 시간 (초, 1–600)' },
  createRequest: { en: 'Create request', ko: '요청 만들기' },
  creating: { en: 'Creating the request…', ko: '요청을 만드는 중…' },
  requestCreated: { en: 'Request created. The citizen scans the code or uses the request file.', ko: '요청을 만들었습니다. 시민이 코드를 스캔하거나 요청 파일을 사용합니다.' },
  qrAlt: { en: 'QR code of the presentation request', ko: '제출 요청 QR 코드' },
  expires: { en: 'Expires at', ko: '만료 시각' },
  downloadRequest: { en: 'Download request (REQUEST.json)', ko: '요청 파일 내려받기 (REQUEST.json)' },
  cliHint: {
    en: 'With the command-line wallet: certchain present --request REQUEST.json --cert CERT.json --holder-key HOLDER.json --rpc URL --out PRESENTATION.json',
    ko: '명령줄 지갑 사용 시: certchain present --request REQUEST.json --cert CERT.json --holder-key HOLDER.json --rpc URL --out PRESENTATION.json',
  },
  requestJson: { en: 'Request JSON', ko: '요청 JSON' },
  requestFailed: { en: 'The node refused the request: ', ko: '노드가 요청을 거절했습니다: ' },

  checkHeading: { en: '2. Check a submission', ko: '2. 제출물 확인' },
  submissionFile: { en: 'Presentation or certificate file (.json)', ko: '제출 파일 또는 증명서 파일 (.json)' },
  documentFile: { en: 'The document (the original file the certificate is about)', ko: '문서 (증명서가 가리키는 원본 파일)' },
  dropHint: { en: 'You can also drop both files here.', ko: '두 파일을 여기에 끌어다 놓아도 됩니다.' },
  privacy: {
    en: 'The document never leaves this computer: this browser hashes it and sends only the hash.',
    ko: '문서는 이 컴퓨터를 떠나지 않습니다. 브라우저가 해시를 계산해 해시만 보냅니다.',
  },
  verify: { en: 'Check', ko: '확인하기' },
  checking: { en: 'Checking…', ko: '확인하는 중…' },
  needBoth: { en: 'Choose the submitted file and the document first.', ko: '먼저 제출 파일과 문서를 선택하세요.' },
  notJson: { en: 'The submitted file is not a JSON file.', ko: '제출 파일이 JSON 파일이 아닙니다.' },
  unknownFormat: {
    en: 'The submitted file is neither a presentation (certchain/presentation@1) nor a certificate file (certchain/certificate@1).',
    ko: '제출 파일이 제출물(certchain/presentation@1)도 증명서 파일(certchain/certificate@1)도 아닙니다.',
  },
  badFile: { en: 'The submitted file is damaged or incomplete: ', ko: '제출 파일이 손상되었거나 불완전합니다: ' },

  kindPresentation: { en: 'A presentation from the citizen’s wallet', ko: '시민의 지갑에서 만든 제출물' },
  kindCertificate: {
    en: 'A bare certificate file, not a presentation: it shows the certificate is genuine, but not that the person in front of you holds it, and it can be replayed.',
    ko: '제출물이 아닌 증명서 파일입니다. 증명서가 진짜인지는 보여주지만, 앞에 있는 사람이 그 소유자인지는 보여주지 않으며 재사용될 수 있습니다.',
  },
  verdictAccept: { en: 'Accept: the certificate is genuine and valid.', ko: '수락: 증명서가 진짜이며 유효합니다.' },
  verdictReject: { en: 'Do not accept: at least one check failed (see ✗ below).', ko: '수락하지 마세요: 하나 이상의 확인이 실패했습니다 (아래 ✗ 참조).' },
  verdictDisagree: {
    en: 'Do not accept: this browser and the node disagree. Ask your IT contact.',
    ko: '수락하지 마세요: 이 브라우저와 노드의 결과가 다릅니다. 전산 담당자에게 문의하세요.',
  },
  browserColumn: { en: 'Checked in this browser', ko: '이 브라우저에서 확인한 결과' },
  nodeColumn: { en: 'The node’s answer', ko: '노드의 답' },
  resultValid: { en: 'valid', ko: '유효' },
  resultInvalid: { en: 'not valid', ko: '유효하지 않음' },
  passed: { en: 'passed', ko: '통과' },
  failed: { en: 'failed', ko: '실패' },
  nodeError: { en: 'The node could not answer: ', ko: '노드가 답하지 못했습니다: ' },
  noProof: { en: 'No proof for this certificate: ', ko: '이 증명서의 증명을 받을 수 없습니다: ' },
  technical: { en: 'Technical detail', ko: '기술적 세부 정보' },
} satisfies Record<string, Record<Lang, string>>

export type UiKey = keyof typeof ui

export function t(lang: Lang, key: UiKey): string {
  return ui[key][lang]
}

type Sentence = Record<Lang, string>
interface CheckText {
  readonly ok: Sentence
  readonly fail: Sentence
}

const checks: Record<string, CheckText> = {
  request: {
    ok: { en: 'It answers a request this desk made, still open.', ko: '이 창구가 만든, 아직 열린 요청에 대한 제출입니다.' },
    fail: { en: 'It does not answer an open request of this desk.', ko: '이 창구의 열린 요청에 대한 제출이 아닙니다.' },
  },
  type: {
    ok: { en: 'It is a kind of certificate you asked for.', ko: '요청한 종류의 증명서입니다.' },
    fail: { en: 'It is not a kind of certificate you asked for.', ko: '요청한 종류의 증명서가 아닙니다.' },
  },
  holder_binding: {
    ok: { en: 'The certificate belongs to a wallet.', ko: '증명서가 지갑에 묶여 있습니다.' },
    fail: { en: 'The certificate is not tied to any wallet: anyone with a copy could submit it.', ko: '증명서가 지갑에 묶여 있지 않아, 사본을 가진 누구나 제출할 수 있습니다.' },
  },
  holder_key: {
    ok: { en: 'It was submitted from the wallet the certificate belongs to.', ko: '증명서 소유자의 지갑에서 제출되었습니다.' },
    fail: { en: 'It was submitted from a different wallet than the certificate belongs to.', ko: '증명서 소유자가 아닌 다른 지갑에서 제출되었습니다.' },
  },
  holder_signature: {
    ok: { en: 'The wallet signed this very request.', ko: '지갑이 바로 이 요청에 서명했습니다.' },
    fail: { en: 'The wallet’s signature is missing or wrong: the submission was altered.', ko: '지갑 서명이 없거나 틀립니다. 제출물이 변조되었습니다.' },
  },
  chain: {
    ok: { en: 'It comes from the chain this page trusts.', ko: '이 페이지가 신뢰하는 체인의 증명서입니다.' },
    fail: { en: 'It comes from a different chain.', ko: '다른 체인의 증명서입니다.' },
  },
  commit: {
    ok: { en: 'The chain’s validators confirmed the proof.', ko: '체인 검증자들이 증명을 확인했습니다.' },
    fail: { en: 'The proof is not confirmed by the chain’s validators.', ko: '체인 검증자들이 증명을 확인하지 않았습니다.' },
  },
  freshness: {
    ok: { en: 'The proof is recent.', ko: '증명이 최신입니다.' },
    fail: { en: 'The proof is too old (or dated in the future): ask for a fresh submission.', ko: '증명이 너무 오래되었거나 미래 시각입니다. 새로 제출해 달라고 하세요.' },
  },
  certificate_id: {
    ok: { en: 'The certificate file is intact.', ko: '증명서 파일이 온전합니다.' },
    fail: { en: 'The certificate file was altered.', ko: '증명서 파일이 변조되었습니다.' },
  },
  document_hash: {
    ok: { en: 'The document is exactly the one certified.', ko: '문서가 증명된 바로 그 문서입니다.' },
    fail: { en: 'The document is not the one certified (changed, or a different file).', ko: '문서가 증명된 문서가 아닙니다 (변경되었거나 다른 파일).' },
  },
  issuer_signature: {
    ok: { en: 'The issuing agency signed it.', ko: '발급 기관이 서명했습니다.' },
    fail: { en: 'The issuing agency’s signature does not match.', ko: '발급 기관의 서명이 맞지 않습니다.' },
  },
  on_chain: {
    ok: { en: 'It is recorded on the chain.', ko: '체인에 기록되어 있습니다.' },
    fail: { en: 'It is not recorded on the chain.', ko: '체인에 기록되어 있지 않습니다.' },
  },
  issuer_authorized: {
    ok: { en: 'The agency was allowed to issue this kind of certificate.', ko: '발급 기관이 이 종류의 증명서를 발급할 권한이 있었습니다.' },
    fail: { en: 'The agency was not allowed to issue this kind of certificate.', ko: '발급 기관에 이 종류의 증명서를 발급할 권한이 없었습니다.' },
  },
  status: {
    ok: { en: 'It has not been revoked or suspended.', ko: '취소되거나 정지되지 않았습니다.' },
    fail: { en: 'It has been revoked or suspended, or is not in force.', ko: '취소 또는 정지되었거나 효력이 없습니다.' },
  },
  validity_period: {
    ok: { en: 'Today is within its validity period.', ko: '오늘은 유효 기간 안입니다.' },
    fail: { en: 'Today is outside its validity period.', ko: '오늘은 유효 기간 밖입니다.' },
  },
}

const codes: Record<string, Sentence> = {
  NONCE_UNKNOWN: { en: 'This desk did not make the request it answers.', ko: '이 창구가 만든 요청에 대한 제출이 아닙니다.' },
  NONCE_USED: { en: 'This submission was already used once: it is a replay.', ko: '이미 한 번 사용된 제출물입니다 (재사용).' },
  REQUEST_EXPIRED: { en: 'The request it answers has expired: make a new request.', ko: '요청이 만료되었습니다. 새 요청을 만드세요.' },
  TYPE_NOT_REQUESTED: checks.type!.fail,
  NOT_HOLDER_BOUND: checks.holder_binding!.fail,
  HOLDER_MISMATCH: checks.holder_key!.fail,
  BAD_HOLDER_SIGNATURE: checks.holder_signature!.fail,
}

const statuses: Record<string, Sentence> = {
  revoked: { en: 'It has been revoked by the agency.', ko: '발급 기관이 취소했습니다.' },
  suspended: { en: 'It is suspended.', ko: '정지되었습니다.' },
  expired: { en: 'It has expired.', ko: '만료되었습니다.' },
  not_yet_valid: { en: 'It is not valid yet.', ko: '아직 효력이 없습니다.' },
}

/** The clerk's sentence for one check line (names outside the table fall back to the node's detail). */
export function checkSentence(lang: Lang, check: { name: string; ok: boolean; code?: string }, status?: string): string | undefined {
  if (!check.ok && check.code !== undefined && codes[check.code]) return codes[check.code]![lang]
  if (!check.ok && check.name === 'status' && status !== undefined && statuses[status]) return statuses[status][lang]
  const text = checks[check.name]
  return text ? (check.ok ? text.ok : text.fail)[lang] : undefined
}

/** Names the page has a sentence for (a test pins that every check the verifiers produce has one). */
export const CHECK_NAMES = Object.keys(checks)
export const CODES = Object.keys(codes)
