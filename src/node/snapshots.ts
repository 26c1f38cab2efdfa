import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { bytesEqual, type Bytes } from '../core/bytes.js'
import { sha256 } from '../core/hash.js'
import { decodeManifest, encodeManifest, type Ledger, type SnapshotLimits, type SnapshotManifest, type StateReader } from '../ledger/index.js'

/** What a peer learns from a snapshot listing: enough to ask for the manifest. */
export interface SnapshotSummary {
  readonly height: number
  readonly root: Bytes
  readonly chunks: number
}

/**
 * The snapshots a node keeps on disk (`DATA/snapshots/<height>/`: `manifest` and one file per
 * chunk). A snapshot is written into a temporary directory and renamed into place when
 * complete, so a crash never leaves a half snapshot that would be served.
 */
export class SnapshotFiles {
  private constructor(
    private readonly dir: string,
    private readonly keep: number,
    /** Ascending by height. */
    private manifests: SnapshotManifest[],
  ) {}

  static async open(dir: string, keep: number, limits: SnapshotLimits): Promise<SnapshotFiles> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const manifests: SnapshotManifest[] = []
    for (const name of await readdir(dir)) {
      if (!/^\d+$/.test(name)) {
        // An interrupted write.
        await rm(join(dir, name), { recursive: true, force: true })
        continue
      }
      try {
        const manifest = decodeManifest(await readFile(join(dir, name, 'manifest')), limits)
        // Files are not fsynced as they are written: after a power loss a chunk may be torn, and
        // serving it would get this node banned by every joining peer. Check each once at open.
        for (const [i, hash] of manifest.chunks.entries()) {
          if (!bytesEqual(sha256(await readFile(join(dir, name, String(i)))), hash)) throw new Error(`chunk ${i} is damaged`)
        }
        manifests.push(manifest)
      } catch {
        await rm(join(dir, name), { recursive: true, force: true })
      }
    }
    manifests.sort((a, b) => a.height - b.height)
    return new SnapshotFiles(dir, keep, manifests)
  }

  get latest(): SnapshotManifest | undefined {
    return this.manifests.at(-1)
  }

  summaries(): SnapshotSummary[] {
    return this.manifests.map((m) => ({ height: m.height, root: m.root, chunks: m.chunks.length }))
  }

  manifest(height: number, root: Bytes): SnapshotManifest | undefined {
    return this.manifests.find((m) => m.height === height && bytesEqual(m.root, root))
  }

  async chunk(height: number, root: Bytes, index: number): Promise<Bytes | undefined> {
    const m = this.manifest(height, root)
    if (!m || !Number.isSafeInteger(index) || index < 0 || index >= m.chunks.length) return undefined
    try {
      return new Uint8Array(await readFile(join(this.dir, String(height), String(index))))
    } catch {
      // Deleted meanwhile (a newer snapshot replaced it).
      return undefined
    }
  }

  /**
   * Takes a snapshot of the ledger's committed state now (a consistent read beside block
   * commits) and keeps the newest `keep`. Returns the manifest and its size in bytes.
   */
  async take(ledger: Ledger, chunkBytes: number, reader: StateReader = ledger.readState()): Promise<{ manifest: SnapshotManifest; bytes: number }> {
    const tmp = join(this.dir, `tmp-${process.pid}-${Date.now()}`)
    await mkdir(tmp, { mode: 0o700 })
    let bytes = 0
    try {
      const manifest = await ledger.takeSnapshot(
        chunkBytes,
        async (index, chunk) => {
          bytes += chunk.length
          await writeFile(join(tmp, String(index)), chunk)
        },
        reader,
      )
      const encoded = encodeManifest(manifest)
      await writeFile(join(tmp, 'manifest'), encoded)
      const final = join(this.dir, String(manifest.height))
      await rm(final, { recursive: true, force: true })
      await rename(tmp, final)
      this.manifests = [...this.manifests.filter((m) => m.height !== manifest.height), manifest].sort((a, b) => a.height - b.height)
      for (const old of this.manifests.splice(0, Math.max(0, this.manifests.length - this.keep))) {
        await rm(join(this.dir, String(old.height)), { recursive: true, force: true })
      }
      return { manifest, bytes: bytes + encoded.length }
    } catch (err) {
      await rm(tmp, { recursive: true, force: true })
      throw err
    }
  }
}
