import { existsSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { InvalidArgumentError, type Command } from 'commander'
import { toHex } from '../core/bytes.js'
import { CertchainError } from '../core/errors.js'
import { checkGenesis } from '../core/genesis.js'
import {
  addIssuer,
  addMember,
  addType,
  addValidator,
  asGenesisDocument,
  exportIdentity,
  issuerPublicKey,
  newGenesisDocument,
  type GenesisDocument,
} from '../node/ceremony.js'
import { collect, list, readIdentityFile, readText } from './common.js'
import { EXIT_FAIL, EXIT_OK, UsageError } from './output.js'

/** Only the shape of the argument; the genesis rules (e.g. positive validity) are checkGenesis's. */
function integer(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer')
  return n
}

async function readGenesisDocument(path: string): Promise<GenesisDocument> {
  const text = await readText(path, 'genesis')
  try {
    return asGenesisDocument(JSON.parse(text))
  } catch (err) {
    if (err instanceof SyntaxError) throw new CertchainError('INVALID_GENESIS', `${path} is not JSON: ${err.message}`)
    throw err
  }
}

/** Write then rename, so an interrupted command never leaves a half-written genesis behind. */
async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(resolve(path)), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n')
  await rename(tmp, path)
}

/** The hash operators compare exists once the document is a valid genesis; until then, what is missing. */
function printHash(doc: GenesisDocument, path: string): void {
  const { genesis, problems } = checkGenesis(doc)
  if (genesis) console.log(`genesis hash: ${toHex(genesis.hash)}`)
  else console.log(`not a valid genesis yet (${problems.length} problem(s)); see: certchain genesis validate ${path}`)
}

/** Registers `certchain genesis …` and `certchain export-identity`: the genesis ceremony. */
export function registerGenesisCommands(program: Command): void {
  const genesis = program.command('genesis').description('assemble and check a genesis from institutions\' identity files')

  genesis
    .command('new')
    .description('write an empty genesis (every chain parameter spelled out) to fill with add-* commands')
    .requiredOption('--chain-id <id>', 'chain id')
    .requiredOption('--out <file>', 'genesis file to write')
    .option('--genesis-time <iso>', 'genesis time (default: now)')
    .option('--force', 'overwrite an existing file')
    .action(async (o: { chainId: string; out: string; genesisTime?: string; force?: boolean }) => {
      if (existsSync(o.out) && !o.force) throw new UsageError(`${o.out} already exists; pass --force to overwrite it`)
      const doc = newGenesisDocument({ chainId: o.chainId, ...(o.genesisTime === undefined ? {} : { genesisTime: o.genesisTime }) })
      await writeJsonAtomic(o.out, doc)
      console.log(`wrote ${o.out} (chain "${doc.chainId}", genesis time ${doc.genesisTime})`)
      printHash(doc, o.out)
    })

  /** Every add-* command: read the file, add one entry (or refuse), rewrite, print the new hash. */
  const update = async (path: string, change: (doc: GenesisDocument) => GenesisDocument, done: string): Promise<void> => {
    const doc = change(await readGenesisDocument(path))
    await writeJsonAtomic(path, doc)
    console.log(done)
    printHash(doc, path)
  }

  genesis
    .command('add-validator')
    .description("register a validator from an institution's identity file")
    .argument('<genesis.json>')
    .requiredOption('--identity <file>', 'identity file (certchain export-identity)')
    .action(async (path: string, o: { identity: string }) => {
      const identity = await readIdentityFile(o.identity)
      await update(path, (doc) => addValidator(doc, identity), `added validator "${identity.id}" to ${path}`)
    })

  genesis
    .command('add-member')
    .description("register a member institution's node from its identity file")
    .argument('<genesis.json>')
    .requiredOption('--identity <file>', 'identity file (certchain export-identity)')
    .action(async (path: string, o: { identity: string }) => {
      const identity = await readIdentityFile(o.identity)
      await update(path, (doc) => addMember(doc, identity), `added member "${identity.id}" to ${path}`)
    })

  genesis
    .command('add-issuer')
    .description('register an issuing agency, its public key and the certificate types it may issue')
    .argument('<genesis.json>')
    .requiredOption('--id <id>', 'issuer id')
    .requiredOption('--name <name>', 'display name')
    .option('--identity <file>', "take the public key from the identity file's issuerKeys")
    .option('--public-key <hex>', 'the public key (hex)')
    .option('--types <list>', 'comma-separated certificate types it may issue (none: an authority only)', list, [])
    .action(async (path: string, o: { id: string; name: string; identity?: string; publicKey?: string; types: string[] }) => {
      if ((o.identity === undefined) === (o.publicKey === undefined)) throw new UsageError('add-issuer needs exactly one of --identity or --public-key')
      const publicKey = o.identity === undefined ? o.publicKey! : issuerPublicKey(await readIdentityFile(o.identity), o.id)
      await update(path, (doc) => addIssuer(doc, { id: o.id, name: o.name, publicKey, types: o.types }), `added issuer "${o.id}" to ${path}`)
    })

  genesis
    .command('add-type')
    .description('register a certificate type')
    .argument('<genesis.json>')
    .requiredOption('--id <id>', 'certificate type id, e.g. kr.residence')
    .requiredOption('--name-ko <name>', 'Korean name')
    .requiredOption('--name-en <name>', 'English name')
    .requiredOption('--validity-days <n>', 'default validity period in days', integer)
    .option('--authorities <list>', 'comma-separated issuers that may change the status of any certificate of the type', list, [])
    .action(async (path: string, o: { id: string; nameKo: string; nameEn: string; validityDays: number; authorities: string[] }) => {
      await update(
        path,
        (doc) => addType(doc, { id: o.id, nameKo: o.nameKo, nameEn: o.nameEn, validityDays: o.validityDays, authorities: o.authorities }),
        `added certificate type "${o.id}" to ${path}`,
      )
    })

  genesis
    .command('validate')
    .description('print the genesis hash, every problem and every warning; exit 0 valid, 1 problems, 2 usage error')
    .argument('<genesis.json>')
    .option('--json', 'print JSON')
    .action(async (path: string, o: { json?: boolean }) => {
      const text = await readText(path, 'genesis')
      let json: unknown
      let notJson: string | undefined
      try {
        json = JSON.parse(text)
      } catch (err) {
        notJson = `not JSON: ${(err as Error).message}`
      }
      const { genesis: g, problems, warnings } = notJson === undefined ? checkGenesis(json) : { genesis: undefined, problems: [notJson], warnings: [] }
      const hash = g ? toHex(g.hash) : undefined
      if (o.json) {
        console.log(JSON.stringify({ valid: g !== undefined, ...(g ? { chainId: g.chainId, hash } : {}), problems, warnings }, null, 2))
      } else {
        if (g) {
          console.log(`genesis hash: ${hash}`)
          console.log(
            `chain "${g.chainId}": ${g.validators.length} validator(s), ${g.members.length} member(s), ${g.issuers.length} issuer(s), ${g.certificateTypes.length} certificate type(s)`,
          )
        }
        for (const p of problems) console.log(`problem: ${p}`)
        for (const w of warnings) console.log(`warning: ${w}`)
        console.log(g ? `valid (${warnings.length} warning(s))` : `NOT VALID: ${problems.length} problem(s), ${warnings.length} warning(s)`)
      }
      process.exitCode = g ? EXIT_OK : EXIT_FAIL
    })

  program
    .command('export-identity')
    .description("print a node home's public identity (peer id, validator and issuer public keys) for the genesis coordinator")
    .requiredOption('--home <dir>', 'node home directory')
    .option('--id <id>', 'node id in genesis (default: the moniker)')
    .option('--name <name>', "institution's display name (default: the id)")
    .option('--issuer-key <file>', 'an issuer key file (certchain keys new --issuer ID) whose public key to include; repeatable', collect, [])
    .option('--out <file>', 'write the identity here instead of stdout')
    .action(async (o: { home: string; id?: string; name?: string; issuerKey: string[]; out?: string }) => {
      const identity = await exportIdentity(resolve(o.home), {
        ...(o.id === undefined ? {} : { id: o.id }),
        ...(o.name === undefined ? {} : { name: o.name }),
        issuerKeyFiles: o.issuerKey,
      })
      const json = JSON.stringify(identity, null, 2) + '\n'
      if (o.out === undefined) return void process.stdout.write(json)
      await mkdir(dirname(resolve(o.out)), { recursive: true })
      await writeFile(o.out, json)
      console.log(`wrote ${o.out}: identity "${identity.id}" (peer id ${identity.peerId}); send it to the genesis coordinator`)
    })
}
