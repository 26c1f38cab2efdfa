import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import QRCode from 'qrcode'
import { toHex } from '../core/bytes.js'
import { certificateFileFromJson } from '../core/certificate.js'
import { CertchainError } from '../core/errors.js'
import { proofFromJson } from '../light/index.js'
import { loadKeyFile, newKeyFile, saveKeyFile } from '../node/keys.js'
import { RpcClient } from '../rpc/index.js'
import { preparePresentation, presentationFromJson, presentationToJson, requestFromJson, MAX_REQUEST_TTL_SECONDS } from '../wallet/index.js'
import { hashDocument, hexArgument, list, positiveInt, readJsonAs, rpcOption } from './common.js'
import { EXIT_FAIL, EXIT_OK, UsageError, printable } from './output.js'

/** The holder's and the verifier's commands: wallet keys, requests, presentations and their checks. */
export function registerWalletCommands(program: Command): void {
  const wallet = program.command('wallet').description("a citizen's wallet: holder keys")
  wallet
    .command('new')
    .description('make a holder key (Ed25519, mode 0600); give its public key to the issuer (issue --holder)')
    .requiredOption('--out <file>', 'where to write the holder key')
    .action(async (o: { out: string }) => {
      const key = newKeyFile()
      await saveKeyFile(o.out, key)
      console.log(`wrote ${o.out}`)
      console.log(`public key: ${toHex(key.publicKey)}`)
    })

  const request = program.command('request').description("a verifier's presentation requests")
  rpcOption(
    request
      .command('new')
      .description('ask the node for a single-use presentation request (its nonce is kept until it expires)')
      .requiredOption('--out <file>', 'where to write the request (certchain/presentation-request@1)')
      .option('--types <ids>', 'accepted certificate types, comma-separated (default: any)', list)
      .option('--purpose <text>', 'what the certificate is for, shown to the holder')
      .option('--ttl <seconds>', `how long the request stays open (at most ${MAX_REQUEST_TTL_SECONDS})`, positiveInt)
      .option('--qr <file.png>', 'also write the QR code as a PNG'),
  ).action(async (o: { out: string; types?: string[]; purpose?: string; ttl?: number; qr?: string; rpc: string }) => {
    if (o.ttl !== undefined && o.ttl > MAX_REQUEST_TTL_SECONDS) throw new UsageError(`--ttl is at most ${MAX_REQUEST_TTL_SECONDS} seconds`, 'INVALID_ARGUMENT')
    const answer = await new RpcClient(o.rpc).presentationRequest({
      ...(o.types ? { types: o.types } : {}),
      ...(o.purpose ? { purpose: o.purpose } : {}),
      ...(o.ttl !== undefined ? { ttlSeconds: o.ttl } : {}),
    })
    const parsed = requestFromJson(answer.request)
    await writeFile(o.out, `${JSON.stringify(answer.request, null, 2)}\n`)
    if (o.qr) await QRCode.toFile(o.qr, answer.uri, { type: 'png', errorCorrectionLevel: 'M' })
    if (process.stdout.isTTY) console.log(await QRCode.toString(answer.uri, { type: 'terminal', small: true }))
    console.log(`request ${toHex(parsed.nonce).slice(0, 16)}… from "${printable(parsed.audience.name)}", open until ${new Date(parsed.expiresAt).toISOString()}`)
    console.log(`written to ${o.out}${o.qr ? ` (QR code: ${o.qr})` : ''}`)
  })

  rpcOption(
    program
      .command('present')
      .description("answer a verifier's request with a certificate: the holder signs it (certchain/presentation@1)")
      .requiredOption('--request <file>', 'the verifier\'s request (certchain request new, or from its page)')
      .requiredOption('--cert <file>', 'the certificate file')
      .requiredOption('--holder-key <file>', 'the holder key the certificate is bound to')
      .requiredOption('--out <file>', 'where to write the presentation')
      .option('--proof <file>', 'a proof bundle to include (default: a fresh one from --rpc)'),
  ).action(async (o: { request: string; cert: string; holderKey: string; out: string; proof?: string; rpc: string }) => {
    const req = await readJsonAs(o.request, 'request', requestFromJson)
    const cert = await readJsonAs(o.cert, 'certificate file', certificateFileFromJson)
    const holder = await loadKeyFile(o.holderKey)
    const proof = o.proof
      ? await readJsonAs(o.proof, 'proof', proofFromJson)
      : proofFromJson(await new RpcClient(o.rpc).proof(toHex(cert.certificateId)))
    if (req.chainId !== cert.chainId) throw new UsageError(`the request is for chain "${printable(req.chainId)}", the certificate for "${printable(cert.chainId)}"`, 'INVALID_ARGUMENT')
    let presentation
    try {
      presentation = preparePresentation(req, cert, proof, holder.secretKey)
    } catch (err) {
      if (err instanceof CertchainError) throw new UsageError(err.message, err.code)
      throw err
    }
    // The presentation holds the salts: the holder's eyes only, like the certificate file.
    await writeFile(o.out, `${JSON.stringify(presentationToJson(presentation), null, 2)}\n`, { mode: 0o600 })
    console.log(`presentation of ${toHex(cert.certificateId)} for "${printable(req.audience.name)}" written to ${o.out}; hand it over with the document`)
  })

  rpcOption(
    program
      .command('verify-presentation')
      .description("check a holder's presentation and the document at the verifier's node; exit 0 valid, 1 not valid, 2 usage/file/connection error")
      .argument('<presentation.json>')
      .option('--document <file>', 'the document the holder handed over (hashed here; never sent)')
      .option('--document-hash <hex>', 'SHA-256(salt || document), instead of the document')
      .option('--allow-unbound', 'accept a certificate not bound to a wallet')
      .option('--json', 'print the full JSON answer'),
  ).action(async (path: string, o: { document?: string; documentHash?: string; allowUnbound?: boolean; json?: boolean; rpc: string }) => {
    if (!o.document === !o.documentHash) throw new UsageError('verify-presentation needs exactly one of --document or --document-hash')
    const { json, presentation } = await readJsonAs(path, 'presentation', (value) => ({ json: value, presentation: presentationFromJson(value) }))
    const documentHash = o.document ? await hashDocument(presentation.certificate.salt, o.document) : hexArgument(o.documentHash!, '--document-hash', 32)
    const result = await new RpcClient(o.rpc).verifyPresentation(json, documentHash, { ...(o.allowUnbound ? { allowUnbound: true } : {}) })
    if (o.json) console.log(JSON.stringify(result, null, 2))
    else {
      const p = (v: unknown): string => printable(String(v))
      console.log(`presentation of ${p(result.certificateId)}`)
      for (const c of result.checks) console.log(`  ${c.ok ? '✓' : '✗'} ${p(c.name).padEnd(18)} ${p(c.detail)}${c.code ? ` (${p(c.code)})` : ''}`)
      const failed = result.checks.filter((c) => !c.ok).map((c) => p(c.code ?? c.name))
      const why = failed.length === 0 ? '' : ` because ${failed.join(', ')}`
      console.log(`verdict: ${p(result.verdict).toUpperCase()}${why} (certificate status: ${p(result.status)}, checked at height ${p(result.height)})`)
    }
    process.exitCode = result.verdict === 'valid' ? EXIT_OK : EXIT_FAIL
  })
}
