import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginCallback, FastifyReply } from 'fastify'
import { CertchainError } from '../core/errors.js'

// The verifier page (README, "The verifier page"): static files built into dist/web by
// scripts/build-web.js. Every file is read once, when the node starts, into a table keyed by its
// name; a request can only name an entry of that table, so nothing outside dist/web is reachable
// whatever the path says (`..`, encoded slashes, symlinks added later).

/** The page may load only from this origin; the QR code from the node is shown as a data: image. */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
}

/** A built page is a handful of small files; more than this is not what build-web.js makes. */
const MAX_ASSET_BYTES = 4 * 1024 * 1024

interface Asset {
  readonly body: Buffer
  readonly type: string
  readonly etag: string
}

/** dist/web next to the compiled node (dist/src/rpc → dist/web), or dist/web of the checkout when run from src/. */
export function defaultWebRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const top = resolve(here, '..', '..')
  return basename(top) === 'dist' ? join(top, 'web') : join(top, 'dist', 'web')
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  if (!existsSync(dir)) return assets
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)]
    const path = join(dir, name)
    const stats = statSync(path)
    if (type === undefined || !stats.isFile() || stats.size > MAX_ASSET_BYTES) continue
    const body = readFileSync(path)
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` })
  }
  return assets
}

export interface WebRoutesOptions {
  /** Directory of the built page; default: dist/web of this installation. */
  readonly root?: string
}

export const webRoutes: FastifyPluginCallback<WebRoutesOptions> = (app, options, done) => {
  const root = options.root ?? defaultWebRoot()
  const page = loadAssets(root)
  const assets = loadAssets(join(root, 'assets'))

  const send = (asset: Asset, ifNoneMatch: string | undefined, reply: FastifyReply) => {
    reply
      .header('content-type', asset.type)
      // Names are not content-hashed: the browser revalidates each time and gets 304 when unchanged.
      .header('cache-control', 'no-cache')
      .header('etag', asset.etag)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
    if (ifNoneMatch === asset.etag) return reply.status(304).send()
    return reply.send(asset.body)
  }

  app.get('/', { schema: { hide: true } }, (request, reply) => {
    const index = page.get('index.html')
    if (!index) throw new CertchainError('NOT_FOUND', `the verifier page is not built (no ${join(root, 'index.html')}); run npm run build`)
    reply.header('content-security-policy', PAGE_CSP).header('x-frame-options', 'DENY')
    return send(index, request.headers['if-none-match'], reply)
  })

  app.get('/assets/*', { schema: { hide: true } }, (request, reply) => {
    const name = (request.params as { '*': string })['*']
    const asset = assets.get(name)
    if (!asset) throw new CertchainError('NOT_FOUND', `no asset ${JSON.stringify(name.slice(0, 100))}`)
    return send(asset, request.headers['if-none-match'], reply)
  })
  done()
}
