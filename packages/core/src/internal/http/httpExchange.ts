/**
 * The exchange itself (one request and its response) and the header types it is made of; `HttpExchange`
 * re-exports all of it, and is where users find it.
 *
 * Kept apart from `HttpExchange` because that module's `Route` names `McpAuth.Grant` and `Budget.ClientKey`,
 * and both `McpAuth` (a grant answers on an `Exchange`) and `Budget` (it reads headers) need what is here: in one
 * module the three would import each other.
 * @internal
 */
/** Request headers: lower-case names, as `node:http` and `@effect/platform` both give them. @since 0.1.0 */
export type Headers = { readonly [name: string]: string | ReadonlyArray<string> | undefined }

/** Response headers. @since 0.1.0 */
export type ResponseHeaders = Readonly<Record<string, string>>

/** What reading a body came to. @since 0.1.0 */
export type Body =
  | { readonly _tag: "Text"; readonly text: string }
  /** Over the limit: the rest was read and discarded, so the client can read the 413. */
  | { readonly _tag: "TooLarge" }
  /** The client went away or the body could not be read. */
  | { readonly _tag: "Failed" }

/**
 * A streamed response body (Server-Sent Events). Writes are synchronous; a write to a stream whose client is
 * gone returns false and does nothing.
 *
 * @since 0.1.0
 */
export interface ResponseStream {
  /** Writes a chunk; false once the stream is closed. */
  readonly write: (chunk: string) => boolean
  /** Ends the response. */
  readonly end: () => void
  /** False once the response ended or the client went away. */
  readonly isOpen: boolean
  /** Bytes written but not yet taken by the client: a client that stops reading makes this grow. */
  readonly backlog: number
}

/**
 * The exchange.
 *
 * @since 0.1.0
 */
export interface Exchange {
  readonly method: string
  /** Path and query, as sent. */
  readonly url: string
  readonly headers: Headers
  /**
   * The peer's IP address as the socket sees it (a proxy's, behind one), for per-client budgets; undefined when
   * the server cannot tell.
   */
  readonly remoteAddress: string | undefined
  /** Reads the whole body, at most `limit` bytes, and calls `done` once with what it came to. */
  readonly readBody: (limit: number, done: (body: Body) => void) => void
  /** Sends a whole response; `body` is JSON text or nothing. */
  readonly respond: (status: number, headers: ResponseHeaders, body?: string) => void
  /** Starts a streamed 200 response (its headers go out at once) and returns it. */
  readonly stream: (headers: ResponseHeaders) => ResponseStream
  /**
   * Calls `f` once the connection is done with: the response ended, or the client went away first. A client
   * going away is not a cancellation: it only ends what the exchange itself owns.
   */
  readonly onClose: (f: () => void) => void
}

/**
 * The first value of a header.
 *
 * @since 0.1.0
 */
export const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" || value === undefined ? value : value[0]
}
