/**
 * One HTTP request and its response, as the MCP HTTP front sees them: the seam between effect-mcp's HTTP
 * transports and whatever serves HTTP. `@effect-mcp/node` makes one straight from `node:http` (the fast path,
 * with no router, stream pipeline or extra fiber per request); `PlatformHttpTransport` makes one from an
 * `@effect/platform` request, so the same front can be mounted on any `HttpLayerRouter`; `WebHandler` makes one
 * from a web-standard `Request`, for Deno, Bun, Workers and Next.js.
 *
 * It is callback-based on purpose: it runs for every request, and everything the front does before a handler
 * runs is synchronous work that needs no fiber.
 *
 * @since 0.1.0
 */
import type { ClientKey } from "./Budget.js"
import { type Exchange, header, type Headers } from "./internal/http/httpExchange.js"
import type * as McpAuth from "./McpAuth.js"

// The exchange and its parts live in an internal module (see there why), and are public from here.
export type { Body, Exchange, Headers, ResponseHeaders, ResponseStream } from "./internal/http/httpExchange.js"
export { header } from "./internal/http/httpExchange.js"

/**
 * A request body being received, held so that an unfinished body costs about its own size however the client
 * splits it: chunks are copied into one buffer that grows geometrically (or is sized once from a declared
 * length), instead of each chunk keeping its own buffer (a body trickled one byte per segment would otherwise
 * cost tens of bytes of heap per byte). A body that arrives in one chunk is kept as that chunk, with no copy.
 *
 * @since 0.1.0
 */
export class BodyBuffer {
  /** The lone first chunk as received, or (once `owned`) the buffer the chunks are copied into. */
  private data: Uint8Array | undefined = undefined
  private owned = false
  private length = 0

  constructor(
    /** The most the body may grow to: growth never reserves past it. */
    private readonly limit: number,
    /** The declared length, when there is one within `limit`: the buffer is then sized once, exactly. */
    private readonly declared?: number | undefined,
    /** Allocates a buffer; Node passes one that skips zero-filling what is overwritten anyway. */
    private readonly allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size)
  ) {}

  /** Bytes received so far. */
  get size(): number {
    return this.length
  }

  /**
   * Bytes held now: the buffer's capacity, or the lone chunk's size. This is what a budget of pending bodies
   * counts, slack included.
   */
  get held(): number {
    return this.owned && this.data !== undefined ? this.data.length : this.length
  }

  /** What `held` would be after appending `chunkSize` more bytes: checked against a budget before `append`. */
  heldAfter(chunkSize: number): number {
    if (chunkSize === 0) return this.held
    const needed = this.length + chunkSize
    if (this.data === undefined) return needed
    if (this.owned && needed <= this.data.length) return this.data.length
    return this.capacityFor(needed)
  }

  /** Adds a chunk; the caller keeps the total within `limit`. */
  append(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    let data = this.data
    if (data === undefined) {
      this.data = chunk
      this.length = chunk.length
      return
    }
    const needed = this.length + chunk.length
    if (!this.owned || needed > data.length) {
      const grown = this.allocate(this.capacityFor(needed))
      // The lone chunk is copied out too: it may be a view that keeps a larger read buffer alive.
      grown.set(this.owned ? data.subarray(0, this.length) : data)
      this.data = data = grown
      this.owned = true
    }
    data.set(chunk, this.length)
    this.length = needed
  }

  /** The body received so far: the lone chunk itself, or a view of the buffer (not a copy). */
  bytes(): Uint8Array {
    const data = this.data
    if (data === undefined) return new Uint8Array(0)
    return this.owned ? data.subarray(0, this.length) : data
  }

  /** Lets go of what was received. */
  clear(): void {
    this.data = undefined
    this.owned = false
    this.length = 0
  }

  private capacityFor(needed: number): number {
    const declared = this.declared
    if (declared !== undefined && needed <= declared) return declared
    // Doubling keeps the copies linear in the body's size; the floor spares a trickled body many tiny copies.
    const current = this.owned && this.data !== undefined ? this.data.length : this.length
    return Math.max(needed, Math.min(this.limit, Math.max(current * 2, MIN_GROWN_BODY)))
  }
}

/**
 * The body's declared `Content-Length` when it is a plain decimal within `limit`; undefined otherwise (none,
 * chunked, malformed or over the limit), so a reader never sizes anything from a length it will not accept.
 *
 * @since 0.1.0
 */
export const declaredLength = (headers: Headers, limit: number): number | undefined => {
  const value = header(headers, "content-length")
  if (value === undefined || !/^\d{1,15}$/.test(value)) return undefined
  const length = Number(value)
  return length <= limit ? length : undefined
}

/** The smallest buffer a body in more than one chunk gets. */
const MIN_GROWN_BODY = 1024

/**
 * A path an HTTP transport serves, and what each method there does: how a transport plugs into the front.
 *
 * @since 0.1.0
 */
export interface Route {
  readonly path: `/${string}`
  /** The methods served, for the `Allow` header of a 405; default: the keys of `methods`. */
  readonly allow?: string | undefined
  /**
   * Handlers by HTTP method; `query` is what follows `?` in the URL, if anything, `grant` what authorization
   * established about the request (undefined when the front does no authorization), and `client` who the
   * request counts against for per-client budgets (see `Budget.clientOf`).
   */
  readonly methods: Readonly<
    Record<string, (exchange: Exchange, query: string, grant: McpAuth.Grant | undefined, client: ClientKey) => void>
  >
}
