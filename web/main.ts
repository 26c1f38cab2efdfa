// The verifier page: a clerk's desk in the browser. Trust comes from the genesis the node serves
// (whose hash the clerk compares with the published one); the document is hashed here and never
// uploaded; every check runs here with the light verifier, and the node's own answer is shown
// beside it. Plain DOM: text is always set with textContent, never parsed as HTML.
import { toHex, type Bytes } from '../src/core/bytes.js'
import { encode } from '../src/core/encoding.js'
import { certificateFileFromJson, proofFromJson, sha256, trustFromGenesis, verifyProof, type Trust } from '../src/light/index.js'
import { presentationFromJson, requestFromJson, verifyPresentation, type NonceStore, type PresentationRequest } from '../src/wallet/presentation.js'
import { checkSentence, defaultLang, LANGS, t, type Lang, type UiKey } from './i18n.js'

/** How old a presentation's or certificate's proof may be here: the node's own limit for presentations. */
const PROOF_MAX_AGE_MS = 24 * 60 * 60 * 1000
const MAX_FILE_BYTES = 1024 * 1024

interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
  readonly code?: string
}
interface Answer {
  readonly verdict: 'valid' | 'invalid'
  readonly status?: string
  readonly checks: readonly Check[]
}
/** One side of the result: an answer, or why there is none. */
type Side = { readonly answer: Answer } | { readonly error: string }

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (!el) throw new Error(`page element #${id} is missing`)
  return el as T
}

let lang: Lang = defaultLang(navigator.language)
let trust: Trust | undefined
/** The last verification, re-rendered when the language changes. */
/** What the request area says (a key, and the node's refusal when there is one), re-rendered likewise. */
let requestStatus: { key: UiKey; extra?: string } | undefined
let last: { kind: 'presentation' | 'certificate'; browser: Side; node: Side } | { message: UiKey; extra?: string } | undefined

// The requests this page created, this session: the browser-side nonce store. The node keeps its
// own, durably; this one only lets the in-browser check say whether the request is one of ours.
const issued = new Map<string, { request: PresentationRequest; used: boolean }>()
const nonces: NonceStore = {
  lookup: (nonce) => Promise.resolve(issued.get(toHex(nonce))),
  markUsed(nonce) {
    const entry = issued.get(toHex(nonce))
    if (!entry || entry.used) return Promise.resolve(false)
    entry.used = true
    return Promise.resolve(true)
  },
}

async function api(path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const json = (await res.json().catch(() => undefined)) as { code?: string; message?: string } | undefined
  if (!res.ok) throw new Error(json?.code ? `${json.code}: ${json.message ?? ''}` : `HTTP ${res.status}`)
  return json
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err))

function applyLang(): void {
  document.documentElement.lang = lang
  $<HTMLSelectElement>('lang').value = lang
  for (const el of document.querySelectorAll<HTMLElement>('[data-i18n]')) {
    const key = el.dataset.i18n as UiKey
    // The chain fields show "loading" only until the genesis arrives.
    if (el.dataset.loaded !== 'true') el.textContent = t(lang, key)
  }
  $<HTMLImageElement>('qr').alt = t(lang, 'qrAlt')
  renderRequestStatus()
  renderResult()
}

// ---- the chain this page trusts

async function loadChain(): Promise<void> {
  try {
    const genesis = await api('/v1/genesis')
    trust = trustFromGenesis(genesis)
    // The genesis hash is SHA-256 of the canonical encoding of the genesis JSON, as the node computes it.
    const hash = toHex(sha256(encode(genesis)))
    setLoaded('chain-id', trust.chainId)
    setLoaded('genesis-hash', hash)
    const status = (await api('/v1/status')) as { genesisHash?: string }
    if (status.genesisHash !== hash) showChainError(t(lang, 'genesisNodeDiffers'))
  } catch (err) {
    showChainError(t(lang, 'genesisFailed') + errorText(err))
  }
}

function setLoaded(id: string, text: string): void {
  const el = $(id)
  el.dataset.loaded = 'true'
  el.textContent = text
}

function showChainError(text: string): void {
  const el = $('chain-error')
  el.textContent = text
  el.hidden = false
}

// ---- 1. a presentation request

function setRequestStatus(status: typeof requestStatus): void {
  requestStatus = status
  renderRequestStatus()
}

function renderRequestStatus(): void {
  $('request-status').textContent = requestStatus ? t(lang, requestStatus.key) + (requestStatus.extra ?? '') : ''
  const expires = $<HTMLTimeElement>('expires')
  if (expires.dateTime) expires.textContent = new Date(expires.dateTime).toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-GB')
}

async function createRequest(event: SubmitEvent): Promise<void> {
  event.preventDefault()
  const button = $<HTMLButtonElement>('create-request')
  const types = $<HTMLInputElement>('types')
    .value.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  const purpose = $<HTMLInputElement>('purpose').value.trim()
  const ttl = Number($<HTMLInputElement>('ttl').value)
  const body = { ...(types.length ? { types } : {}), ...(purpose ? { purpose } : {}), ...(Number.isInteger(ttl) && ttl > 0 ? { ttlSeconds: ttl } : {}) }
  button.disabled = true
  setRequestStatus({ key: 'creating' })
  try {
    const answer = (await api('/v1/presentation-requests', body)) as { request: unknown; uri: string; qrSvg: string }
    const request = requestFromJson(answer.request)
    issued.set(toHex(request.nonce), { request, used: false })
    const json = JSON.stringify(answer.request, null, 2)
    // The node's SVG is shown as an image, never as markup in this page: an image cannot run script.
    $<HTMLImageElement>('qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(answer.qrSvg)}`
    $('request-json').textContent = json
    $<HTMLTimeElement>('expires').dateTime = new Date(request.expiresAt).toISOString()
    const link = $<HTMLAnchorElement>('download-request')
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href)
    link.href = URL.createObjectURL(new Blob([json + '\n'], { type: 'application/json' }))
    $('request-out').hidden = false
    setRequestStatus({ key: 'requestCreated' })
  } catch (err) {
    setRequestStatus({ key: 'requestFailed', extra: errorText(err) })
  } finally {
    button.disabled = false
  }
}

// ---- 2. checking a submission

async function readFile(file: File): Promise<Bytes> {
  return new Uint8Array(await file.arrayBuffer())
}

async function check(event: SubmitEvent): Promise<void> {
  event.preventDefault()
  const submission = $<HTMLInputElement>('submission').files?.[0]
  const documentFile = $<HTMLInputElement>('document').files?.[0]
  if (!submission || !documentFile) return show({ message: 'needBoth' })
  if (!trust) return show({ message: 'genesisFailed' })
  const button = $<HTMLButtonElement>('verify')
  button.disabled = true
  $('result').textContent = t(lang, 'checking')
  try {
    show(await checkFiles(trust, submission, documentFile))
  } finally {
    button.disabled = false
  }
}

async function checkFiles(trust: Trust, submission: File, documentFile: File): Promise<NonNullable<typeof last>> {
  if (submission.size > MAX_FILE_BYTES) return { message: 'notJson' }
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder().decode(await readFile(submission)))
  } catch {
    return { message: 'notJson' }
  }
  const format = json !== null && typeof json === 'object' ? (json as { format?: unknown }).format : undefined
  const document = await readFile(documentFile)
  const now = Date.now()
  try {
    if (format === 'certchain/presentation@1') {
      const presentation = presentationFromJson(json)
      // SHA-256(salt ‖ document), here; only this hash goes to the node.
      const documentHash = sha256(presentation.certificate.salt, document)
      const browser = await side(() => verifyPresentation(presentation, { trust, now, maxAgeMs: PROOF_MAX_AGE_MS, nonces, documentHash }))
      const node = await side(async () => (await api('/v1/presentations/verify', { presentation: json, documentHash: toHex(documentHash) })) as Answer)
      return { kind: 'presentation', browser, node }
    }
    if (format === 'certchain/certificate@1') {
      const file = certificateFileFromJson(json)
      const documentHash = sha256(file.salt, document)
      const id = toHex(file.certificateId)
      const browser = await side(async () => {
        let proofJson: unknown
        try {
          proofJson = await api(`/v1/certificates/${id}/proof`)
        } catch (err) {
          throw new Error(t(lang, 'noProof') + errorText(err))
        }
        return verifyProof(file, proofFromJson(proofJson), { trust, now, maxAgeMs: PROOF_MAX_AGE_MS, documentHash })
      })
      const node = await side(async () => (await api('/v1/verify', { certificate: json, documentHash: toHex(documentHash) })) as Answer)
      return { kind: 'certificate', browser, node }
    }
  } catch (err) {
    return { message: 'badFile', extra: errorText(err) }
  }
  return { message: 'unknownFormat' }
}

async function side(run: () => Promise<Answer> | Answer): Promise<Side> {
  try {
    return { answer: await run() }
  } catch (err) {
    return { error: errorText(err) }
  }
}

function show(result: NonNullable<typeof last>): void {
  last = result
  renderResult()
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  if (className) e.className = className
  if (text !== undefined) e.textContent = text
  return e
}

function renderResult(): void {
  const out = $('result')
  out.replaceChildren()
  if (!last) return
  if ('message' in last) {
    out.append(el('p', 'error', t(lang, last.message) + (last.extra ?? '')))
    return
  }
  const { kind, browser, node } = last
  const valid = (s: Side) => 'answer' in s && s.answer.verdict === 'valid'
  const verdict = valid(browser) && valid(node) ? 'verdictAccept' : valid(browser) !== valid(node) ? 'verdictDisagree' : 'verdictReject'
  const box = el('p', `verdict ${verdict === 'verdictAccept' ? 'accept' : 'reject'}`, `${verdict === 'verdictAccept' ? '✓' : '✗'} ${t(lang, verdict)}`)
  box.id = 'verdict'
  box.dataset.verdict = verdict === 'verdictAccept' ? 'accept' : verdict === 'verdictDisagree' ? 'disagree' : 'reject'
  out.append(el('p', kind === 'certificate' ? 'error' : '', t(lang, kind === 'presentation' ? 'kindPresentation' : 'kindCertificate')), box)
  const columns = el('div', 'columns')
  columns.append(renderSide('browser', t(lang, 'browserColumn'), browser), renderSide('node', t(lang, 'nodeColumn'), node))
  out.append(columns)
}

function renderSide(id: string, heading: string, s: Side): HTMLElement {
  const section = el('section', '')
  section.id = `${id}-checks`
  section.setAttribute('aria-label', heading)
  if ('error' in s) {
    section.append(el('h3', '', heading), el('p', 'error', t(lang, 'nodeError') + s.error))
    section.dataset.verdict = 'error'
    return section
  }
  const { answer } = s
  section.dataset.verdict = answer.verdict
  section.append(el('h3', '', `${heading}: ${t(lang, answer.verdict === 'valid' ? 'resultValid' : 'resultInvalid')}`))
  const list = el('ul', 'checks')
  for (const c of answer.checks) {
    const item = el('li', c.ok ? 'ok' : 'bad')
    item.dataset.check = c.name
    item.dataset.ok = String(c.ok)
    // The sign is for the eye; a screen reader says "passed" or "failed" instead.
    const mark = el('span', 'mark')
    const sign = el('span', '', c.ok ? '✓' : '✗')
    sign.setAttribute('aria-hidden', 'true')
    mark.append(sign, el('span', 'sr-only', t(lang, c.ok ? 'passed' : 'failed')))
    const say = el('span', 'say', checkSentence(lang, c, answer.status) ?? c.name)
    const detail = el('span', 'detail', `${c.name}${c.code ? ` (${c.code})` : ''}: ${c.detail}`)
    detail.title = t(lang, 'technical')
    item.append(mark, say, detail)
    list.append(item)
  }
  section.append(list)
  return section
}

// ---- drag and drop

function onDrop(event: DragEvent): void {
  event.preventDefault()
  $('check-form').classList.remove('dragging')
  const files = [...(event.dataTransfer?.files ?? [])]
  // The first JSON file is the submission; the first other file (or a second JSON file) the document.
  const submission = files.find((f) => f.name.toLowerCase().endsWith('.json'))
  const document = files.find((f) => f !== submission)
  for (const [id, file] of [['submission', submission], ['document', document]] as const) {
    if (!file) continue
    const transfer = new DataTransfer()
    transfer.items.add(file)
    $<HTMLInputElement>(id).files = transfer.files
  }
}

function start(): void {
  const select = $<HTMLSelectElement>('lang')
  for (const option of select.options) option.disabled = !LANGS.includes(option.value as Lang)
  select.addEventListener('change', () => {
    lang = select.value === 'ko' ? 'ko' : 'en'
    applyLang()
  })
  $<HTMLFormElement>('request-form').addEventListener('submit', (e) => void createRequest(e))
  $<HTMLFormElement>('check-form').addEventListener('submit', (e) => void check(e))
  const drop = $('check-form')
  drop.addEventListener('dragover', (e) => {
    e.preventDefault()
    drop.classList.add('dragging')
  })
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'))
  drop.addEventListener('drop', onDrop)
  applyLang()
  void loadChain()
}

start()
