/**
 * JSON views of committed blocks, built once per height and kept serialized: a block is immutable
 * once committed, and building its view decodes every transaction (a 20,000-certificate block
 * takes most of a second). Concurrent requests for one height share one build. Bounded by the
 * size of the kept JSON; the least recently served view goes first.
 */
export class BlockViews {
  private readonly views = new Map<number, string>()
  private readonly building = new Map<number, Promise<string>>()
  private size = 0

  constructor(private readonly maxChars: number) {}

  get(height: number, build: () => Promise<string>): Promise<string> {
    const view = this.views.get(height)
    if (view !== undefined) {
      this.views.delete(height)
      this.views.set(height, view)
      return Promise.resolve(view)
    }
    let pending = this.building.get(height)
    if (!pending) {
      pending = build().then(
        (json) => {
          this.building.delete(height)
          this.keep(height, json)
          return json
        },
        (err: unknown) => {
          this.building.delete(height)
          throw err
        },
      )
      this.building.set(height, pending)
    }
    return pending
  }

  private keep(height: number, json: string): void {
    if (json.length > this.maxChars) return
    this.views.set(height, json)
    this.size += json.length
    for (const [h, v] of this.views) {
      if (this.size <= this.maxChars) break
      this.views.delete(h)
      this.size -= v.length
    }
  }
}
