/**
 * The verifier page in a real headless Chromium (Debian's `chromium`, driven by playwright-core),
 * against a real node in this process: a clerk creates a request, the citizen's wallet answers it,
 * the clerk drops the files and reads the verdict. Screenshots of each state go to test-results/.
 * Code that runs inside the page is passed as strings: the project's typecheck has no DOM lib outside web/.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ed25519 } from '@noble/curves/ed25519.js'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { certificateFiles, prepareIssuance, prepareRevocation, type IssuerIdentity } from '../../src/client/index.js'
import { certificateFileToJson, toHex, type CertificateFile } from '../../src/core/index.js'
import { proofFromJson } from '../../src/light/index.js'
import { preparePresentation, presentationToJson, requestFromJson } from '../../src/wallet/presentation.js'
import { startTestNode, type TestNode } from '../helpers/node.js'
import { DAY, httpGet, httpPost, postTx, randomDocument } from '../integration/rpc/helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const ROOT = resolve(import.meta.dirname, '../..')
const SHOTS = join(ROOT, 'test-results', 'verifier-page')
const installed = existsSync(CHROMIUM)
// CI installs chromium (.ci/run) and must run these; elsewhere they skip with the reason.
if (!installed && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs the chromium package; the page tests must run in CI`)
if (!installed) console.warn(`skipping the verifier page tests: ${CHROMIUM} is not installed (apt-get install chromium)`)

let node: TestNode
let chainId: string
let jongno: IssuerIdentity
let context: BrowserContext
let page: Page
let profile: string
/** Every URL the page asked for: all must be the node's own origin. */
const requested: string[] = []
/** Every body the page sent, and every console error (a CSP violation is one). */
const bodies: string[] = []
const consoleErrors: string[] = []

interface Held {
  readonly file: CertificateFile
  readonly document: Uint8Array
  readonly holderSecret: Uint8Array
}

async function issueHeld(): Promise<Held> {
  const holderSecret = ed25519.utils.randomSecretKey()
  const document = randomDocument()
  const now = Date.now()
  const issuance = prepareIssuance(chainId, jongno, [
    { type: 'kr.residence', document, holderKey: ed25519.getPublicKey(holderSecret), validFrom: now - DAY, validUntil: now + 90 * DAY },
  ])
  const res = await postTx(node.url, issuance.bytes, 'commit')
  expect(res.status, res.text).toBe(200)
  return { file: certificateFiles(chainId, issuance, (res.body as { height: number }).height)[0]!, document, holderSecret }
}

async function proofOf(file: CertificateFile) {
  const res = await httpGet(node.url, `/v1/certificates/${toHex(file.certificateId)}/proof`)
  expect(res.status, res.text).toBe(200)
  return proofFromJson(res.body)
}

/** The clerk creates a request on the page; the test reads the request JSON the page shows. */
async function clerkRequests(): Promise<unknown> {
  await page.getByLabel(/Accepted certificate types/).fill('kr.residence')
  await page.getByLabel(/Purpose/).fill('Mortgage application')
  await page.getByLabel(/Valid for/).fill('300')
  await page.getByRole('button', { name: 'Create request' }).click()
  await page.locator('#request-out').waitFor({ state: 'visible' })
  await expect.poll(() => page.locator('#request-status').textContent()).toContain('Request created')
  return JSON.parse((await page.locator('#request-json').textContent()) ?? '')
}

/** What the citizen's wallet does with the request (README's `certchain present`). */
async function present(held: Held, requestJson: unknown): Promise<Buffer> {
  const presentation = preparePresentation(requestFromJson(requestJson), held.file, await proofOf(held.file), held.holderSecret)
  return Buffer.from(JSON.stringify(presentationToJson(presentation)))
}

/** The clerk chooses the two files and presses Check; returns when the verdict is shown. */
async function clerkChecks(submission: Buffer, document: Uint8Array, name = 'PRESENTATION.json'): Promise<void> {
  await page.evaluate("document.getElementById('result').replaceChildren()")
  expect(await page.locator('#verdict').count()).toBe(0)
  await page.getByLabel(/Presentation or certificate file/).setInputFiles({ name, mimeType: 'application/json', buffer: submission })
  await page.getByLabel(/The document/).setInputFiles({ name: 'document.pdf', mimeType: 'application/pdf', buffer: Buffer.from(document) })
  await page.getByRole('button', { name: 'Check', exact: true }).click()
  await page.locator('#verdict').waitFor()
}

async function verdict(): Promise<{ kind: string | null; text: string | null }> {
  const box = page.locator('#verdict')
  return { kind: await box.getAttribute('data-verdict'), text: await box.textContent() }
}

/** Check lines of one column: name → passed, plus the clerk's sentence and the technical detail. */
async function lines(column: 'browser' | 'node'): Promise<Map<string, { ok: boolean; text: string }>> {
  const items = page.locator(`#${column}-checks li`)
  const out = new Map<string, { ok: boolean; text: string }>()
  for (const item of await items.all()) {
    out.set((await item.getAttribute('data-check'))!, { ok: (await item.getAttribute('data-ok')) === 'true', text: (await item.textContent()) ?? '' })
  }
  return out
}

const failing = (m: Map<string, { ok: boolean }>) => [...m].filter(([, v]) => !v.ok).map(([k]) => k)

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
}

describe.skipIf(!installed)('the verifier page in headless Chromium', () => {
  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-web.js'], { cwd: ROOT, stdio: 'inherit' })
    await mkdir(SHOTS, { recursive: true })
    node = await startTestNode({ heartbeatIntervalMs: 600_000 })
    chainId = node.manifest.chainId
    jongno = await node.identity('kr.seoul.jongno')
    profile = await mkdtemp(join(tmpdir(), 'certchain-chromium-'))
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1100, height: 900 },
      locale: 'en-GB',
      acceptDownloads: true,
    })
    page = context.pages()[0] ?? (await context.newPage())
    page.on('request', (r) => requested.push(r.url()))
    page.on('request', (r) => bodies.push(r.postData() ?? ''))
    page.on('pageerror', (err) => requested.push(`pageerror: ${err.message}`))
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text())
    })
    await page.goto(node.url + '/')
    await page.waitForFunction(`document.getElementById('chain-id')?.textContent === ${JSON.stringify(chainId)}`)
  }, 120_000)

  afterAll(async () => {
    await context?.close()
    await node?.stop()
    if (profile) await rm(profile, { recursive: true, force: true })
  })

  it('shows the chain id and the genesis hash it computed, equal to the node’s', async () => {
    const status = await httpGet(node.url, '/v1/status')
    expect(await page.locator('#genesis-hash').textContent()).toBe(status.body.genesisHash)
    expect(await page.locator('#chain-error').isHidden()).toBe(true)
    await shot('0-start')
  })

  it('creates a request: QR image, downloadable REQUEST.json for the CLI wallet', async () => {
    const request = (await clerkRequests()) as { format: string; types: string[]; purpose: string }
    expect(request).toMatchObject({ format: 'certchain/presentation-request@1', types: ['kr.residence'], purpose: 'Mortgage application' })
    expect(await page.locator('#qr').getAttribute('src')).toMatch(/^data:image\/svg\+xml/)
    expect(await page.evaluate<boolean>("(({ complete, naturalWidth }) => complete && naturalWidth > 0)(document.getElementById('qr'))")).toBe(true)
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Download request/ }).click()])
    expect(download.suggestedFilename()).toBe('REQUEST.json')
    const saved = join(profile, 'REQUEST.json')
    await download.saveAs(saved)
    expect(JSON.parse(await readFile(saved, 'utf8'))).toEqual(request)
    await shot('1-request')
  })

  let valid: { held: Held; submission: Buffer }

  it('a valid presentation: accepted, every check ✓ in the browser and at the node', async () => {
    const held = await issueHeld()
    const submission = await present(held, await clerkRequests())
    valid = { held, submission }
    const before = requested.length
    await clerkChecks(submission, held.document)
    expect(await verdict()).toEqual({ kind: 'accept', text: '✓ Accept: the certificate is genuine and valid.' })
    const browser = await lines('browser')
    const atNode = await lines('node')
    expect(failing(browser)).toEqual([])
    expect(failing(atNode)).toEqual([])
    for (const name of ['request', 'type', 'holder_binding', 'holder_key', 'holder_signature', 'chain', 'commit', 'freshness', 'document_hash', 'issuer_signature', 'on_chain', 'status']) {
      expect(browser.get(name)?.ok, name).toBe(true)
      expect(atNode.get(name)?.ok, name).toBe(true)
    }
    expect(browser.get('document_hash')?.text).toMatch(/^✓passed\s*The document is exactly the one certified\./)
    expect(browser.get('holder_key')?.text).toContain('submitted from the wallet the certificate belongs to')
    // the document itself never left the browser: only its hash went to the node
    const posted = requested.slice(before)
    expect(posted.some((u) => u.endsWith('/v1/presentations/verify'))).toBe(true)
    const sent = bodies.join('\n')
    expect(sent).toContain(`"documentHash":"${toHex(held.file.record.docHash)}"`)
    for (const form of [Buffer.from(held.document).toString('base64'), toHex(held.document), Buffer.from(held.document).toString('base64').slice(0, 40)]) {
      expect(sent).not.toContain(form)
    }
    expect(sent).not.toContain('"document"')
    await shot('2-valid')
    await page.setViewportSize({ width: 375, height: 800 })
    await shot('2-valid-375px')
    // nothing wider than the phone's screen
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375)
    await page.setViewportSize({ width: 1100, height: 900 })
  })

  it('the same presentation again: a replay, refused with NONCE_USED by the browser and the node', async () => {
    await clerkChecks(valid.submission, valid.held.document)
    expect((await verdict()).kind).toBe('reject')
    const browser = await lines('browser')
    const atNode = await lines('node')
    expect(failing(browser)).toEqual(['request'])
    expect(failing(atNode)).toEqual(['request'])
    expect(browser.get('request')?.text).toContain('already used once: it is a replay')
    expect(atNode.get('request')?.text).toContain('(NONCE_USED)')
    await shot('3-replayed')
  })

  it('a revoked certificate: refused, the status line says revoked', async () => {
    const held = await issueHeld()
    const revoke = prepareRevocation(chainId, jongno, [held.file.certificateId], 'fraud')
    expect((await postTx(node.url, revoke.bytes, 'commit')).status).toBe(200)
    await clerkChecks(await present(held, await clerkRequests()), held.document)
    expect((await verdict()).kind).toBe('reject')
    const browser = await lines('browser')
    expect(failing(browser)).toEqual(['status'])
    expect(failing(await lines('node'))).toEqual(['status'])
    expect(browser.get('status')?.text).toContain('It has been revoked by the agency.')
    await shot('4-revoked')
  })

  it('a tampered document: refused, the document line says it is not the one certified', async () => {
    const held = await issueHeld()
    const submission = await present(held, await clerkRequests())
    const tampered = held.document.slice()
    tampered[0] = tampered[0]! ^ 1
    await clerkChecks(submission, tampered)
    expect((await verdict()).kind).toBe('reject')
    const browser = await lines('browser')
    expect(failing(browser)).toEqual(['document_hash'])
    expect(failing(await lines('node'))).toEqual(['document_hash'])
    expect(browser.get('document_hash')?.text).toContain('The document is not the one certified')
    await shot('5-tampered-document')
  })

  it('a bare certificate file: checked against its proof from the node, with the warning that it is not a presentation', async () => {
    const held = await issueHeld()
    await clerkChecks(Buffer.from(JSON.stringify(certificateFileToJson(held.file))), held.document, 'CERT.json')
    expect((await verdict()).kind).toBe('accept')
    expect(await page.locator('#result').textContent()).toContain('A bare certificate file, not a presentation')
    const browser = await lines('browser')
    expect(failing(browser)).toEqual([])
    expect(browser.has('request')).toBe(false)
    expect([...browser.keys()]).toEqual(expect.arrayContaining(['commit', 'freshness', 'document_hash', 'on_chain', 'status']))
    expect(failing(await lines('node'))).toEqual([])
    expect(requested.some((u) => u.endsWith(`/v1/certificates/${toHex(held.file.certificateId)}/proof`))).toBe(true)
    await shot('6-certificate-file')

    // the same result, in Korean
    await page.getByLabel('Language').selectOption('ko')
    expect(await page.locator('html').getAttribute('lang')).toBe('ko')
    expect(await page.locator('#verdict').textContent()).toBe('✓ 수락: 증명서가 진짜이며 유효합니다.')
    expect(await page.locator('#browser-checks li[data-check="document_hash"]').textContent()).toContain('문서가 증명된 바로 그 문서입니다.')
    expect(await page.locator('#request-status').textContent()).toContain('요청을 만들었습니다.')
    await shot('7-certificate-file-ko')
    await page.getByLabel('언어').selectOption('en')
  })

  it('a presentation for a request this page did not make: the browser says NONCE_UNKNOWN, the node accepts, the verdict is "disagree"', async () => {
    const held = await issueHeld()
    // made at the node directly (as `certchain request new` does), so unknown to this tab
    const made = await httpPost(node.url, '/v1/presentation-requests', { types: ['kr.residence'] })
    await clerkChecks(await present(held, made.body.request), held.document)
    expect(await verdict()).toEqual({ kind: 'disagree', text: '✗ Do not accept: this browser and the node disagree. Ask your IT contact.' })
    expect(failing(await lines('browser'))).toEqual(['request'])
    expect((await lines('browser')).get('request')?.text).toContain('(NONCE_UNKNOWN)')
    expect(failing(await lines('node'))).toEqual([])
  })

  it('a presentation after its request expired: REQUEST_EXPIRED in both columns', async () => {
    const held = await issueHeld()
    await page.getByLabel(/Valid for/).fill('1')
    await page.getByRole('button', { name: 'Create request' }).click()
    await expect.poll(() => page.locator('#request-status').textContent()).toContain('Request created')
    const request = JSON.parse((await page.locator('#request-json').textContent()) ?? '') as { expiresAt: number }
    const submission = await present(held, request)
    await new Promise((r) => setTimeout(r, Math.max(0, request.expiresAt - Date.now()) + 100))
    await clerkChecks(submission, held.document)
    expect((await verdict()).kind).toBe('reject')
    const browser = await lines('browser')
    expect(failing(browser)).toEqual(['request'])
    expect(browser.get('request')?.text).toContain('The request it answers has expired')
    expect((await lines('node')).get('request')?.text).toContain('(REQUEST_EXPIRED)')
    await page.getByLabel(/Valid for/).fill('300')
  })

  it('files that are not a submission get a plain message and no verdict', async () => {
    const held = await issueHeld()
    const cases: [Buffer, RegExp][] = [
      [Buffer.from('%PDF-1.7 not json'), /not a JSON file/],
      [Buffer.from(JSON.stringify({ format: 'certchain/proof@1' })), /neither a presentation .* nor a certificate file/],
      [Buffer.from(JSON.stringify({ format: 'certchain/presentation@1', holderKey: 'zz' })), /damaged or incomplete: /],
    ]
    for (const [submission, message] of cases) {
      await page.getByLabel(/Presentation or certificate file/).setInputFiles({ name: 'x.json', mimeType: 'application/json', buffer: submission })
      await page.getByLabel(/The document/).setInputFiles({ name: 'document.pdf', mimeType: 'application/pdf', buffer: Buffer.from(held.document) })
      await page.getByRole('button', { name: 'Check', exact: true }).click()
      await expect.poll(() => page.locator('#result').textContent()).toMatch(message)
      expect(await page.locator('#verdict').count()).toBe(0)
    }
    await shot('8-not-a-submission')
  })

  it('a request the node refuses (ttl over 600 s) shows the node\'s code', async () => {
    await page.getByLabel(/Valid for/).fill('601')
    await page.getByRole('button', { name: 'Create request' }).click()
    await expect.poll(() => page.locator('#request-status').textContent()).toMatch(/^The node refused the request: INVALID_REQUEST/)
  })

  it('dropping both files on the form fills the two fields', async () => {
    const held = await issueHeld()
    const json = JSON.stringify(certificateFileToJson(held.file))
    await page.evaluate(`(() => {
      const t = new DataTransfer()
      t.items.add(new File([${JSON.stringify(json)}], 'CERT.json', { type: 'application/json' }))
      t.items.add(new File([new Uint8Array(${JSON.stringify([...held.document])})], 'scan.pdf'))
      document.getElementById('check-form').dispatchEvent(new DragEvent('drop', { dataTransfer: t, bubbles: true, cancelable: true }))
    })()`)
    expect(await page.evaluate<string[]>("['submission', 'document'].map((id) => document.getElementById(id).files[0]?.name)")).toEqual(['CERT.json', 'scan.pdf'])
    await page.getByRole('button', { name: 'Check', exact: true }).click()
    await page.locator('#verdict').waitFor()
    expect((await verdict()).kind).toBe('accept')
  })

  it('keyboard: every control is reached by Tab in reading order, with a visible focus ring', async () => {
    await page.goto(node.url + '/')
    const order: string[] = []
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab')
      order.push(await page.evaluate<string>("document.activeElement?.id ?? ''"))
    }
    expect(order).toEqual(['lang', 'types', 'purpose', 'ttl', 'create-request', 'submission', 'document', 'verify'])
    const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle')
    expect(outline).toBe('solid')
    expect(await page.locator('#result').getAttribute('aria-live')).toBe('polite')
  })

  it('warns the clerk when the node reports another genesis hash than the genesis it served', async () => {
    await page.route('**/v1/status', async (route) => {
      const real = (await (await route.fetch()).json()) as Record<string, unknown>
      await route.fulfill({ json: { ...real, genesisHash: 'ff'.repeat(32) } })
    })
    try {
      await page.goto(node.url + '/')
      await page.locator('#chain-error').waitFor({ state: 'visible' })
      expect(await page.locator('#chain-error').textContent()).toContain('reports a different genesis hash')
    } finally {
      await page.unroute('**/v1/status')
    }
  })

  it('asked nothing of any origin but the node, threw no script error, broke no CSP rule', () => {
    const origin = new URL(node.url).origin
    expect(requested.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('blob:' + origin) && !u.startsWith('data:'))).toEqual([])
    expect(consoleErrors.filter((m) => !m.includes('status of 4'))).toEqual([])
  })
})
