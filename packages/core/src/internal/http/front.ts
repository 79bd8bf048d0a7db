/**
 * The parts of the HTTP front both HTTP transports share: refusing, reading and decoding a body, finding a
 * session, `Accept`, and the one keep-alive ticker that serves every open stream. What any transport does with
 * the messages, HTTP or not, is in `inbound.ts`.
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import { type Exchange, header, type ResponseHeaders, type ResponseStream } from "../../HttpExchange.js"
import * as JsonRpc from "../../JsonRpc.js"
import type { Grant } from "../../McpAuth.js"
import { isValidSessionId, type Session } from "../../McpSession.js"
import type { Host } from "../../McpServerTransport.js"
import type { OpenError } from "../../SessionRegistry.js"
import * as Sse from "../../Sse.js"
import * as Refusal from "./refusal.js"

/** Answers with a refusal's status and JSON-RPC error body. @internal */
export const refuse = (exchange: Exchange, refusal: Refusal.Refusal): void => {
  const response = Refusal.toResponse(refusal)
  exchange.respond(response.status, response.headers, response.body)
}

// Frozen: a transport may remember what it made of a frozen header object (the cluster's link encodes it once).
const JSON_HEADERS: ResponseHeaders = Object.freeze({ "content-type": "application/json" })

/** Answers with a JSON body. @internal */
export const respondJson = (exchange: Exchange, body: unknown, headers?: ResponseHeaders, status = 200): void => {
  exchange.respond(status, headers === undefined ? JSON_HEADERS : { ...JSON_HEADERS, ...headers }, JSON.stringify(body))
}

const EMPTY: ResponseHeaders = Object.freeze({})

/** 202: accepted, nothing to say. @internal */
export const accepted = (exchange: Exchange): void => exchange.respond(202, EMPTY)

const isJsonContentType = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false
  const semi = contentType.indexOf(";")
  const media = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"))
}

const PARSE_ERROR = "Parse error: the body is not valid JSON"

/**
 * Reads and decodes a POST body, or refuses it: 415 for another content type, 413 over the limit, 400 with
 * -32700 when it is not JSON and with -32600 when it is not JSON-RPC. Params stay undecoded.
 * @internal
 */
export const readMessages = (
  exchange: Exchange,
  limit: number,
  /** Gets the messages, the body's size (in UTF-16 units, which is what the decoded body holds) and the body. */
  then: (decoded: JsonRpc.Decoded, size: number, text: string) => void
): void => {
  if (!isJsonContentType(header(exchange.headers, "content-type"))) {
    return refuse(exchange, new Refusal.UnsupportedMediaType())
  }
  exchange.readBody(limit, (body) => {
    switch (body._tag) {
      case "TooLarge":
        return refuse(exchange, new Refusal.PayloadTooLarge({ limit }))
      case "Failed":
        return refuse(exchange, new Refusal.ParseError({ reason: "Bad Request: the body could not be read" }))
      case "Text": {
        const decoded = JsonRpc.decodeBody(body.text)
        if (Either.isRight(decoded)) return then(decoded.right, body.text.length, body.text)
        const error = decoded.left
        return refuse(
          exchange,
          error.code === JsonRpc.ErrorCode.ParseError
            ? new Refusal.ParseError({ reason: PARSE_ERROR })
            : new Refusal.BadRequest({ reason: error.message })
        )
      }
    }
  })
}

/**
 * The live session of this transport with this id, or why not: a malformed id is 400, and an id that is
 * unknown, closed, of another transport or of another principal is 404.
 * @internal
 */
export const findSession = (
  host: Host,
  id: string,
  transport: string,
  /** What the client calls the id, for the message of a 400. */
  name: string,
  /** Who sends the request, when the front authorizes. */
  grant: Grant | undefined
): Session | Refusal.BadRequest | Refusal.SessionNotFound => {
  if (!isValidSessionId(id)) return new Refusal.BadRequest({ reason: `Bad Request: ${name} is malformed` })
  return host.find(id, transport, grant?.principal) ?? NOT_FOUND
}

const NOT_FOUND = new Refusal.SessionNotFound()

/** `Accept` allows JSON. @internal */
export const ACCEPT_JSON = 1
/** `Accept` allows SSE. @internal */
export const ACCEPT_SSE = 2

let lastAccept: string | undefined
let lastFlags = 0

/** Which of JSON and SSE an `Accept` header allows. No header accepts anything, as HTTP says. @internal */
export const acceptOf = (value: string | undefined): number => {
  if (value === undefined) return ACCEPT_JSON | ACCEPT_SSE
  // A client sends the same Accept on every request: its flags are kept.
  if (value === lastAccept) return lastFlags
  lastFlags = parseAccept(value)
  lastAccept = value
  return lastFlags
}

const parseAccept = (value: string): number => {
  let flags = 0
  for (const part of value.split(",")) {
    const semi = part.indexOf(";")
    const media = (semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase()
    if (media === "*/*") return ACCEPT_JSON | ACCEPT_SSE
    if (media === "application/json" || media === "application/*") flags |= ACCEPT_JSON
    else if (media === "text/event-stream" || media === "text/*") flags |= ACCEPT_SSE
  }
  return flags
}

const SSE_HEADERS: ResponseHeaders = { "content-type": "text/event-stream", ...Sse.headers }

/**
 * Every SSE stream a transport has open, and the one fiber that sends them all keep-alive comments: an idle
 * stream costs an entry in a set, not a timer or a fiber. When the transport's scope closes, every stream
 * still open is ended, so a server that shuts down waits for none of them.
 * @internal
 */
export interface Streams {
  /**
   * Starts an SSE response, with extra headers if given, kept alive until it ends. A client that leaves more
   * than the transport's backlog limit unread gets its stream ended, and `onOverflow` runs (the transport closes
   * the session: a client that stops reading must not grow the server's memory).
   */
  readonly open: (exchange: Exchange, headers?: ResponseHeaders, onOverflow?: () => void) => ResponseStream
  /** How many are open. */
  readonly size: () => number
}

/** @internal */
export const makeStreams = (
  keepAlive: Duration.DurationInput,
  /** Bytes a client may leave unread on one stream. */
  maxBacklog: number,
  /** Runs on every beat before the comments go out (Streamable HTTP turns long JSON answers into streams). */
  beforeTick: Effect.Effect<void> = Effect.void
): Effect.Effect<Streams, never, Scope.Scope> =>
  Effect.gen(function*() {
    const open = new Set<ResponseStream>()
    const frame = Sse.comment("keep-alive")
    const tick = Effect.sync(() => {
      for (const stream of open) if (!stream.write(frame)) open.delete(stream)
    })
    // The first beat comes one interval after start, like every later one.
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(keepAlive), Effect.zipRight(beforeTick, tick))))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const stream of open) stream.end()
        open.clear()
      })
    )
    return {
      open: (exchange, headers, onOverflow) => {
        const raw = exchange.stream(headers === undefined ? SSE_HEADERS : { ...SSE_HEADERS, ...headers })
        const stream: ResponseStream = {
          write: (chunk) => {
            if (!raw.write(chunk)) return false
            if (raw.backlog <= maxBacklog) return true
            raw.end()
            if (onOverflow !== undefined) onOverflow()
            return false
          },
          end: raw.end,
          get isOpen() {
            return raw.isOpen
          },
          get backlog() {
            return raw.backlog
          }
        }
        if (raw.isOpen) {
          open.add(stream)
          exchange.onClose(() => open.delete(stream))
        }
        return stream
      },
      size: () => open.size
    }
  })

/** How many bytes a client may leave unread on a stream before its session is closed. @internal */
export const DEFAULT_MAX_BACKLOG = 8 * 1024 * 1024

/** The default keep-alive interval, as a number for options. @internal */
export const keepAliveOf = (option: Duration.DurationInput | undefined): Duration.Duration =>
  Duration.decode(option ?? Sse.DEFAULT_KEEP_ALIVE)

/**
 * The refusal for a session that could not be opened: 429 when the client is at its own share (everyone else is
 * still served), 503 when the server's budget is spent or it is shutting down.
 * @internal
 */
export const unavailable = (error: OpenError): Refusal.ServiceUnavailable | Refusal.TooManyRequests => {
  switch (error._tag) {
    case "ShuttingDown":
      return new Refusal.ServiceUnavailable({ reason: "the server is shutting down" })
    case "Unplaced":
      return new Refusal.ServiceUnavailable({ reason: "this instance holds no lease in its cluster now" })
    case "ListenerLimitExceeded":
      return new Refusal.ServiceUnavailable({ reason: `the server is at its limit of ${error.limit} listen streams` })
    case "SessionLimitExceeded":
      return new Refusal.ServiceUnavailable({
        reason: `the server is at its limit of ${error.limit} ${error.budget ?? "sessions"}`
      })
    case "ClientLimitExceeded":
      return new Refusal.TooManyRequests({ reason: `this client is at its limit of ${error.limit} ${error.budget}` })
    case "SubscriptionLimitExceeded":
      return error.scope === "server"
        ? new Refusal.ServiceUnavailable({ reason: `the server is at its limit of ${error.limit} bytes of subscriptions` })
        : new Refusal.TooManyRequests({ reason: `the subscriptions are past the limit of ${error.limit} bytes` })
  }
}
