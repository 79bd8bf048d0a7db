/**
 * The legacy HTTP+SSE transport (2024-11-05): `GET /sse` opens a session whose life is that stream, and
 * `POST /messages?session_id=<id>` hands it messages; every response travels back on the stream.
 *
 * The session is opened in the GET request's scope, so however the stream ends (the client goes away, the
 * server shuts down, the session is closed) the session leaves the registry, and a later POST to it gets 404.
 * A POST is answered 202 only after its message is owned by a live session's fiber set.
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { HttpSecurity } from "./HttpSecurity.js"
import { DEFAULT_MAX_BODY_SIZE, dispatch, errorResponse, readJsonBody } from "./internal/http.js"
import * as JsonRpc from "./JsonRpc.js"
import { McpServer, type McpServerService } from "./McpServer.js"
import { isValidSessionId, type Session } from "./McpSession.js"
import * as Sse from "./Sse.js"
import { SessionRegistry } from "./SessionRegistry.js"

/** @since 0.1.0 */
export interface Options {
  /** Where clients open the stream. Default `/sse`. */
  readonly ssePath?: `/${string}` | undefined
  /** Where clients POST messages. Default `/messages`. */
  readonly messagesPath?: `/${string}` | undefined
  /** Interval of keep-alive comments on the stream. Default 15 seconds. */
  readonly keepAlive?: Duration.DurationInput | undefined
  /** Largest accepted POST body in bytes. Default 4 MiB. */
  readonly maxBodySize?: number | undefined
}

/** The revision this transport belongs to; `initialize` may still negotiate a newer one. @since 0.1.0 */
export const PROTOCOL_VERSION = "2024-11-05"

/**
 * Hands every message of a body to a session, in order. Returns false when the session closed before it took
 * them all (the caller answers 404 then, so nothing it accepted is lost silently).
 *
 * @since 0.1.0
 */
export const deliver = (
  server: McpServerService,
  session: Session,
  messages: ReadonlyArray<JsonRpc.Message>,
  respond: (message: JsonRpc.Message) => boolean
): boolean => dispatch(server, session, messages, respond) !== undefined

/**
 * Registers the two routes on the router.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<never, never, HttpLayerRouter.HttpRouter | McpServer | SessionRegistry> =>
  HttpLayerRouter.use(Effect.fnUntraced(function*(router) {
    const server = yield* McpServer
    const registry = yield* SessionRegistry
    const security = yield* HttpSecurity
    const ssePath = options.ssePath ?? "/sse"
    const messagesPath = options.messagesPath ?? "/messages"
    const keepAlive = options.keepAlive ?? Sse.DEFAULT_KEEP_ALIVE
    const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE

    const forbidden = (request: HttpServerRequest.HttpServerRequest) => {
      const reason = security.check(request.headers)
      return reason === undefined ? undefined : errorResponse(403, JsonRpc.ErrorCode.ConnectionClosed, reason)
    }

    const openStream = Effect.fnUntraced(function*(request: HttpServerRequest.HttpServerRequest) {
      const refused = forbidden(request)
      if (refused !== undefined) return refused
      const session = yield* Effect.either(registry.open({ transport: "sse", protocolVersion: PROTOCOL_VERSION }))
      if (Either.isLeft(session)) {
        return errorResponse(
          503,
          JsonRpc.ErrorCode.ConnectionClosed,
          `Service Unavailable: the server is at its limit of ${session.left.limit} sessions`,
          { "retry-after": "5" }
        )
      }
      const s = session.right
      const outbound = yield* Queue.unbounded<string>()
      yield* Scope.addFinalizer(s.scope, Queue.shutdown(outbound))
      s.send = (message) => Queue.unsafeOffer(outbound, Sse.encodeMessage(message))
      // The open stream keeps the session busy, so idle expiry never closes a connected legacy client.
      s.acquire()
      const endpoint = Sse.encode({ event: "endpoint", data: `${messagesPath}?session_id=${s.id}` })
      // Keep-alive comments go through the same queue, from a fiber the session owns, and the stream ends when the
      // session's scope shuts the queue down. One queue and no merge or interruptWhen: tearing a stream down (every
      // disconnect, and every session at shutdown) costs about half the CPU of `Sse.response`'s merged stream.
      yield* Effect.forkIn(
        Effect.forever(Effect.zipRight(Effect.sleep(keepAlive), Queue.offer(outbound, Sse.comment("keep-alive")))),
        s.scope
      )
      return HttpServerResponse.stream(
        Stream.concat(Stream.make(endpoint), Stream.fromQueue(outbound)).pipe(Stream.encodeText),
        { contentType: "text/event-stream", headers: Sse.headers }
      )
    })

    const postMessage = Effect.fnUntraced(function*(request: HttpServerRequest.HttpServerRequest) {
      const refused = forbidden(request)
      if (refused !== undefined) return refused
      const params = yield* HttpServerRequest.ParsedSearchParams
      const raw = params["session_id"] ?? params["sessionId"]
      const id = typeof raw === "string" ? raw : undefined
      if (id === undefined) {
        return errorResponse(400, JsonRpc.ErrorCode.InvalidRequest, "Bad Request: session_id is required")
      }
      if (!isValidSessionId(id)) {
        return errorResponse(400, JsonRpc.ErrorCode.InvalidRequest, "Bad Request: session_id is malformed")
      }
      const notFound = errorResponse(404, JsonRpc.ErrorCode.ConnectionClosed, "Not Found: unknown or closed session")
      const found = yield* registry.lookup(id)
      if (found._tag === "None") return notFound
      const session = found.value
      const body = yield* Effect.either(readJsonBody(request, maxBodySize))
      if (Either.isLeft(body)) return body.left
      const decoded = JsonRpc.decodeBody(body.right)
      if (Either.isLeft(decoded)) {
        return errorResponse(400, decoded.left.code, decoded.left.message)
      }
      let messages: ReadonlyArray<JsonRpc.Message>
      if (decoded.right._tag === "Single") {
        messages = [decoded.right.message]
      } else {
        const invalid = decoded.right.messages.find(Either.isLeft)
        if (invalid !== undefined) return errorResponse(400, invalid.left.code, invalid.left.message)
        messages = decoded.right.messages.flatMap((m) => Either.isRight(m) ? [m.right] : [])
      }
      // The session may have closed while the body was read: `deliver` re-checks, synchronously with the hand-off.
      return deliver(server, session, messages, session.send)
        ? HttpServerResponse.empty({ status: 202 })
        : notFound
    })

    yield* router.add("GET", ssePath, openStream)
    yield* router.add("POST", messagesPath, postMessage)
  }))

