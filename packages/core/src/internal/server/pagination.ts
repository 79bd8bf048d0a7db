/**
 * Pages of a listing (`tools/list`, `resources/list`...) and their cursors.
 *
 * A listing is sorted by its key (a tool's or prompt's name, a resource's URI, a template's URI template), in
 * code-unit order, so it is the same whatever order layers registered in. A cursor names the listing and the key of
 * the last item given, base64url-encoded JSON (`{"list":"tools","after":"echo"}`): the next page starts at the first
 * key after it. So a cursor stays valid when items are added or removed between pages: nothing is given twice, and
 * only an item added before the cursor's position is missed, as it would be by any client that already read that
 * far. Cursors are opaque to clients but not secret: a tampered one that still decodes only moves the position.
 *
 * Pages are built when first asked for and kept until the listing changes, so a request costs a cursor decode,
 * a binary search and a map lookup.
 * @internal
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as JsonRpc from "../../JsonRpc.js"

const Position = Schema.Struct({ list: Schema.String, after: Schema.String })
const Cursor = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(Position))
const encodeCursor = Schema.encodeSync(Cursor)
const decodeCursor = Schema.decodeUnknownEither(Cursor)

/**
 * The page a cursor points at (the first page without one), or -32602 when the cursor is not one this listing
 * gave.
 * @internal
 */
export type Pages<R> = (cursor: string | undefined) => Either.Either<R, JsonRpc.JsonRpcError>

const compare = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0

/**
 * The pages of `items`, `pageSize` at a time, each built by `result`. Items with the same key are listed once,
 * the first given.
 * @internal
 */
export const make = <A, R>(options: {
  /** Names the listing in its cursors, so a cursor of another listing is refused. */
  readonly list: string
  readonly items: Iterable<A>
  readonly key: (item: A) => string
  readonly pageSize: number
  readonly result: (items: ReadonlyArray<A>, nextCursor: string | undefined) => R
}): Pages<R> => {
  const { key, list, pageSize } = options
  // `sort` is stable: among equal keys the first given stays first, and is the one kept.
  const sorted = Array.from(options.items).sort((a, b) => compare(key(a), key(b)))
  const items = sorted.filter((item, i) => i === 0 || key(sorted[i - 1]!) !== key(item))
  const keys = items.map(key)
  const pages = new Map<number, R>()

  const pageAt = (start: number): R => {
    let page = pages.get(start)
    if (page === undefined) {
      const end = start + pageSize
      const slice = items.slice(start, end)
      page = options.result(slice, end < items.length ? encodeCursor({ list, after: keys[end - 1]! }) : undefined)
      pages.set(start, page)
    }
    return page
  }

  // The index of the first key after `after`.
  const startAfter = (after: string): number => {
    let low = 0
    let high = keys.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (keys[middle]! <= after) low = middle + 1
      else high = middle
    }
    return low
  }

  return (cursor) => {
    if (cursor === undefined) return Either.right(pageAt(0))
    const position = decodeCursor(cursor)
    if (Either.isLeft(position) || position.right.list !== list) {
      const shown = cursor.length > 100 ? `${cursor.slice(0, 100)}...` : cursor
      return Either.left(JsonRpc.invalidParams(`Invalid cursor: ${shown}`))
    }
    return Either.right(pageAt(startAfter(position.right.after)))
  }
}
