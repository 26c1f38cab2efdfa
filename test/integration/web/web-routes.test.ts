/**
 * The node serves the verifier page from dist/web and nothing else: content types, cache and
 * security headers, 404 JSON for unknown assets, and no path that reaches outside dist/web.
 */
import { execFileSync } from 'node:child_process'
import { request } from 'node:http'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PAGE_CSP } from '../../../src/rpc/web-routes.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'

const ROOT = resolve(import.meta.dirname, '../../..')
let node: TestNode

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-web.js'], { cwd: ROOT, stdio: 'inherit' })
  node = await startTestNode({ heartbeatIntervalMs: 600_000 })
})
afterAll(async () => {
  await node?.stop()
})

/** A GET with the path sent byte for byte (fetch would normalize `..` away before it leaves). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(node.url)
  return new Promise((done, fail) => {
    const req = request({ host: hostname, port, path, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', fail)
    req.end()
  })
}

describe('GET / and /assets/*', () => {
  it('serves the built page with a strict CSP and the assets with their content types', async () => {
    const page = await rawGet('/')
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['content-security-policy']).toBe(PAGE_CSP)
    expect(PAGE_CSP).toContain("default-src 'self'")
    expect(PAGE_CSP).not.toContain('unsafe-inline')
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    expect(page.headers['cache-control']).toBe('no-cache')
    expect(page.body).toBe(await readFile(resolve(ROOT, 'dist/web/index.html'), 'utf8'))
    // no inline script and nothing from another origin
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc="\/assets\/)/)
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//)

    const js = await rawGet('/assets/app.js')
    expect(js.status).toBe(200)
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8')
    const css = await rawGet('/assets/app.css')
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8')
  })

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await rawGet('/assets/app.css')
    const etag = first.headers.etag as string
    expect(etag).toMatch(/^".+"$/)
    const again = await rawGet('/assets/app.css', { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(again.body).toBe('')
  })

  it('404 NOT_FOUND JSON for an unknown asset', async () => {
    const res = await rawGet('/assets/nope.js')
    expect(res.status).toBe(404)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'NOT_FOUND' })
  })

  it.each([
    '/assets/../../package.json',
    '/assets/..%2F..%2Fpackage.json',
    '/assets/%2e%2e/%2e%2e/package.json',
    '/assets/../src/rpc/web-routes.js',
    '/assets/%2e%2e%2findex.html',
    '/assets//etc/passwd',
    '/assets/..\\..\\package.json',
    '/../package.json',
    '/%2e%2e/package.json',
  ])('reads nothing outside dist/web: %s', async (path) => {
    const res = await rawGet(path)
    expect(res.status).toBe(404)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'NOT_FOUND' })
    expect(res.body).not.toContain('"name": "certchain"')
  })
})
