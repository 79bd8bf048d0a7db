/**
 * The legacy HTTP+SSE transport (2024-11-05): `GET /sse` opens a session whose life is that stream, and
 * `POST /messages?session_id=<id>` hands it messages; every response travels back on the stream.
 *
 * The session closes the moment its stream's connection goes (the client goes away, the server shuts down, the
 * session is closed), so it leaves the registry and a later POST to it gets 404. A POST is answered 202 only
 * after its messages are owned by the live session: the hand-off and the "is it open?" check are one
 * synchronous step, so a close cannot slip between them.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import type { Exchange, Route } from "./HttpExchange.js"
import * as Front from "./internal/http/front.js"
import * as Inbound from "./internal/server/inbound.js"
import * as Refusal from "./internal/http/refusal.js"
import type { ClientKey } from "./Budget.js"
import type { Grant } from "./McpAuth.js"
import * as McpServerTransport from "./McpServerTransport.js"
import type { SessionRegistry } from "./SessionRegistry.js"
import * as Sse from "./Sse.js"

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
  /**
   * Bytes a client may leave unread on its stream; past it the session is closed (later requests get 404), so a
   * client that stops reading cannot grow the server's memory. Default 8 MiB.
   */
  readonly maxBacklog?: number | undefined
}

/** The revision this transport belongs to; `initialize` may still negotiate a newer one. @since 0.1.0 */
export const PROTOCOL_VERSION = "2024-11-05"

/** The transport name its sessions are registered with. @since 0.1.0 */
export const TRANSPORT = "sse"

const sessionIdOf = (query: string): string | undefined => {
  if (query === "") return undefined
  const params = new URLSearchParams(query)
  return params.get("session_id") ?? params.get("sessionId") ?? undefined
}

const missingId = new Refusal.BadRequest({ reason: "Bad Request: session_id is required" })

/**
 * Builds the transport's two routes. Its keep-alive ticker lives in the current scope, whose end also ends
 * every stream still open.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<ReadonlyArray<Route>, never, SessionRegistry | Scope.Scope> =>
  Effect.flatMap(McpServerTransport.host, (host) => routesOf(host, options))

/**
 * The transport for `HttpTransport`'s `transports`, or a front of your own: its routes, built over the front's
 * host.
 *
 * @since 0.1.0
 */
export const transport = (options: Options = {}): McpServerTransport.Http => ({
  name: TRANSPORT,
  routes: (host) => routesOf(host, options)
})

const routesOf = Effect.fnUntraced(function*(host: McpServerTransport.Host, options: Options) {
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const ssePath = options.ssePath ?? "/sse"
  const messagesPath = options.messagesPath ?? "/messages"
  const maxBodySize = options.maxBodySize ?? Inbound.DEFAULT_MAX_BODY_SIZE
  const streams = yield* Front.makeStreams(
    Front.keepAliveOf(options.keepAlive),
    options.maxBacklog ?? Front.DEFAULT_MAX_BACKLOG
  )

  const open = (exchange: Exchange, grant: Grant | undefined, client: ClientKey) =>
    Effect.gen(function*() {
      const opened = yield* Effect.either(
        host.openDetached({
          transport: TRANSPORT,
          protocolVersion: PROTOCOL_VERSION,
          principal: grant?.principal,
          client
        })
      )
      if (Either.isLeft(opened)) {
        return Front.refuse(exchange, Front.unavailable(opened.left))
      }
      const session = opened.right
      const stream = streams.open(exchange, undefined, () => runFork(Inbound.overflowed(session)))
      // The stream owns the session: when its connection goes, for whatever reason, the session ends.
      exchange.onClose(() => session.end())
      if (!stream.isOpen) return yield* session.close
      // The open stream keeps the session busy, so idle expiry never closes a connected client.
      const release = session.hold()
      session.setWriter((message) => stream.write(Sse.encodeMessage(message)))
      yield* Scope.addFinalizer(
        session.scope,
        Effect.sync(() => {
          release()
          stream.end()
        })
      )
      stream.write(Sse.encode({ event: "endpoint", data: `${messagesPath}?session_id=${session.id}` }))
    })

  const post = (exchange: Exchange, query: string, grant: Grant | undefined): void => {
    const id = sessionIdOf(query)
    if (id === undefined) return Front.refuse(exchange, missingId)
    if (host.forward(exchange, id, grant?.principal, maxBodySize)) return
    const session = Front.findSession(host, id, TRANSPORT, "session_id", grant)
    if ("_tag" in session) return Front.refuse(exchange, session)
    Front.readMessages(exchange, maxBodySize, (decoded, size, text) => {
      // A retry of a request another instance gave up on, to a session still here: the first try's answer.
      if (host.repeated(exchange, id, text)) return
      const messages = Inbound.messagesOf(decoded, session.protocolVersion)
      if ("_tag" in messages) return Front.refuse(exchange, messages)
      if (grant !== undefined && !grant.admit(exchange, messages)) return
      // The session may have closed while the body was read: `offer` re-checks, in the same step as the hand-off.
      const share = size / messages.length
      for (const message of messages) {
        if (!session.offer(message, session.send, undefined, share)) {
          return Front.refuse(exchange, new Refusal.SessionNotFound())
        }
      }
      Front.accepted(exchange)
    })
  }

  const routes: ReadonlyArray<Route> = [
    { path: ssePath, methods: { GET: (exchange, _, grant, client) => void runFork(open(exchange, grant, client)) } },
    { path: messagesPath, methods: { POST: post } }
  ]
  return routes
})
