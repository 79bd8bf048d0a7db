/**
 * What every part of the Streamable HTTP transport shares: its options as read once, the host it serves
 * sessions from, the event store, the keep-alive ticker and its streams, and what it keeps per session. Made once
 * per transport; each part (`sessionPost.ts`, `sessionlessPost.ts`, `streams.ts`, `resume.ts`, `delete.ts`) is
 * a set of functions of this context.
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as EventStore from "../../../EventStore.js"
import { type Exchange, header, type ResponseStream } from "../../../HttpExchange.js"
import type { Grant } from "../../../McpAuth.js"
import * as McpRevision from "../../../McpRevision.js"
import * as McpSchema from "../../../McpSchema.js"
import type { Session, Sink } from "../../../McpSession.js"
import type { Host } from "../../../McpServerTransport.js"
import * as Links from "../../server/links.js"
import * as Inbound from "../../server/inbound.js"
import * as Front from "../front.js"
import * as Refusal from "../refusal.js"

/** The options of `StreamableHttpTransport` (re-exported there). @since 0.1.0 */
export interface Options {
  /** The endpoint. Default `/mcp`. */
  readonly path?: `/${string}` | undefined
  /** Interval of keep-alive comments on every stream. Default 15 seconds. */
  readonly keepAlive?: Duration.DurationInput | undefined
  /** Largest accepted POST body in bytes. Default 4 MiB. */
  readonly maxBodySize?: number | undefined
  /**
   * Bytes a client may leave unread on one of its streams; past it the session is closed (later requests get
   * 404), so a client that stops reading cannot grow the server's memory. Default 8 MiB.
   */
  readonly maxBacklog?: number | undefined
  /**
   * Always answer requests with one JSON body when the client accepts JSON, never with an SSE stream.
   * Notifications a handler emits about a request are then dropped: there is no stream to carry them.
   * Default false: JSON until the handler has something else to say.
   */
  readonly enableJsonResponse?: boolean | undefined
  /**
   * No sessions: no `Mcp-Session-Id`, no GET stream, no DELETE; every POST is served by a session of its own,
   * opened for that request and closed with it. For servers behind a load balancer without sticky routing.
   */
  readonly stateless?: boolean | undefined
  /** Offer the standalone GET stream. Default true; false answers such a GET with 405 (resuming still works). */
  readonly standaloneStream?: boolean | undefined
  /** Let clients end their session with DELETE. Default true; false answers DELETE with 405. */
  readonly sessionTermination?: boolean | undefined
  /**
   * Where streams are recorded for resumption. Default: the `EventStore` in the context if there is one, else a
   * new in-memory store (`EventStore.make()`); `false` turns resumability off.
   */
  readonly eventStore?: EventStore.EventStoreService | false | undefined
  /** The `retry` of the priming event (2025-11-25): how long a client waits before it resumes. Default 1 second. */
  readonly retryInterval?: Duration.DurationInput | undefined
}

/** The transport name sessions are registered with; a session of another transport is unknown here. @internal */
export const TRANSPORT = "streamable-http"

/**
 * Where the messages of one SSE stream go (see `outlet.ts`). A stream outlives its connections: the client may
 * drop one and resume on another.
 * @internal
 */
export interface Outlet {
  /** A message for the client, in order. */
  readonly send: Sink
  /**
   * Makes `connection` the stream's only connection (a previous one is ended) and starts it: the priming
   * event, then, when resuming, what was recorded after `lastEventId`. False once the stream has ended, so a
   * connection is never left waiting on a stream that will not end it.
   */
  attach(connection: ResponseStream, lastEventId: string | undefined): boolean
  /** Nothing more will be sent: end the stream once everything before it is out. */
  done(): void
  /** The session is closing: end the connection now. */
  abort(): void
  /** False once the stream has ended or is ending: `attach` would refuse. */
  live(): boolean
}

/** What this transport keeps per session, beside the session itself. @internal */
export interface State {
  readonly session: Session
  /** The standalone GET stream, made on the first GET. */
  standalone: Outlet | undefined
  /** Streams still running, by id, for resumption. */
  readonly streams: Map<EventStore.StreamId, Outlet>
  /** Set when the session's events are dropped: nothing may be recorded for it afterwards. */
  dropped: boolean
}

/** A request answered with JSON that is still running: switched to a stream after a keep-alive interval. @internal */
export interface Waiting {
  beats: number
  toStream(): void
}

/** The transport's shared context. @internal */
export interface Context {
  readonly host: Host
  readonly link: Links.RegistryLink
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
  readonly path: `/${string}`
  readonly maxBodySize: number
  readonly stateless: boolean
  /** Answer with one JSON body whenever the client accepts JSON. */
  readonly preferJson: boolean
  readonly standaloneStream: boolean
  /** DELETE ends a session. */
  readonly termination: boolean
  /** The priming event's `retry`, in milliseconds. */
  readonly retry: number
  /** Where streams are recorded for resumption; undefined when they are not. */
  readonly store: EventStore.EventStoreService | undefined
  readonly streams: Front.Streams
  /** Requests answered with JSON still running, for the ticker to switch to streams. */
  readonly waiting: Set<Waiting>
  /**
   * How to end each open listen stream on purpose: the server shutting down ends them, before the streams' own
   * finalizer cuts every connection (finalizers run in reverse), so each gets its listen result first.
   */
  readonly listening: Set<() => void>
  /** Per-session state, found from the session the host returns; a session of another transport has none. */
  readonly states: WeakMap<Session, State>
  /** The methods served, for `Allow`. */
  readonly allow: string
  readonly getNotAllowed: Refusal.MethodNotAllowed
  readonly deleteNotAllowed: Refusal.MethodNotAllowed
}

/** Shared refusals: made once, answered many times. @internal */
export const missingSession = new Refusal.BadRequest({ reason: "Bad Request: Mcp-Session-Id header is required" })
/** @internal */
export const notFound = new Refusal.SessionNotFound()

/**
 * Reads the options once and starts the keep-alive ticker in the current scope, whose end also ends every
 * stream still open (and, first, every listen stream, with its result).
 * @internal
 */
export const make = (host: Host, options: Options): Effect.Effect<Context, never, Scope.Scope> =>
  Effect.gen(function*() {
    const stateless = options.stateless === true
    const termination = options.sessionTermination !== false
    let store: EventStore.EventStoreService | undefined
    if (!stateless && options.eventStore !== false) {
      store = options.eventStore ?? Option.getOrUndefined(yield* Effect.serviceOption(EventStore.EventStore))
      store ??= yield* EventStore.make()
    }
    const waiting = new Set<Waiting>()
    const streams = yield* Front.makeStreams(
      Front.keepAliveOf(options.keepAlive),
      options.maxBacklog ?? Front.DEFAULT_MAX_BACKLOG,
      Effect.sync(() => {
        for (const entry of waiting) {
          if (entry.beats++ >= 1) {
            waiting.delete(entry)
            entry.toStream()
          }
        }
      })
    )
    const listening = new Set<() => void>()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const end of Array.from(listening)) end()
      })
    )
    const allow = ["POST", ...(stateless ? [] : ["GET", ...(termination ? ["DELETE"] : [])])].join(", ")
    const notAllowed = (reason: string) => new Refusal.MethodNotAllowed({ allow, reason })
    const context: Context = {
      host,
      link: Links.registryLink(host),
      runFork: Runtime.runFork(yield* Effect.runtime<never>()),
      path: options.path ?? "/mcp",
      maxBodySize: options.maxBodySize ?? Inbound.DEFAULT_MAX_BODY_SIZE,
      stateless,
      preferJson: options.enableJsonResponse === true,
      standaloneStream: options.standaloneStream !== false,
      termination,
      retry: Duration.toMillis(options.retryInterval ?? Duration.seconds(1)),
      store,
      streams,
      waiting,
      listening,
      states: new WeakMap(),
      allow,
      getNotAllowed: notAllowed(stateless ? "the server is stateless" : "the server does not offer a standalone stream"),
      deleteNotAllowed: notAllowed(
        stateless ? "the server is stateless" : "the server does not let clients end sessions"
      )
    }
    return context
  })

const unsupportedVersion = (version: string) =>
  new Refusal.BadProtocolVersion({
    reason: `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${
      McpSchema.SUPPORTED_PROTOCOL_VERSIONS.join(", ")
    })`
  })

/**
 * The revision a request in a session is served at: the one the session negotiated. The header may be left
 * out, and any revision with sessions is accepted: the spec has the client send the negotiated one (a SHOULD)
 * and the server answer 400 only to a version it does not support, and the official SDKs and the conformance
 * suite send an older one on a 2025-11-25 session (`server-sse-multiple-streams`).
 * @internal
 */
export const versionOf = (exchange: Exchange, session: Session): string | Refusal.BadProtocolVersion => {
  const version = header(exchange.headers, "mcp-protocol-version")
  if (version === undefined || McpRevision.get(version)?.sessions === true) return session.protocolVersion
  return unsupportedVersion(version)
}

/**
 * The revision a stateless request says it speaks: one with sessions, each request standing in for its own
 * (absent: 2025-03-26, as the spec says).
 * @internal
 */
export const statelessVersion = (exchange: Exchange): string | Refusal.BadProtocolVersion => {
  const version = header(exchange.headers, "mcp-protocol-version")
  if (version === undefined) return McpSchema.DEFAULT_NEGOTIATED_VERSION
  return McpRevision.get(version)?.sessions === true ? version : unsupportedVersion(version)
}

/** The live session of this transport a request names in `Mcp-Session-Id`, or the refusal. @internal */
export const sessionOf = (
  context: Context,
  id: string,
  grant: Grant | undefined
): Session | Refusal.Refusal => Front.findSession(context.host, id, TRANSPORT, "Mcp-Session-Id", grant)

/**
 * Whether the request names, in `Mcp-Session-Id`, a session of another instance of a server that runs as
 * several, and was taken there (see `Host.forward`); a POST's body is not read yet.
 * @internal
 */
export const forwarded = (context: Context, exchange: Exchange, grant: Grant | undefined): boolean => {
  if (context.stateless) return false
  const id = header(exchange.headers, "mcp-session-id")
  return id !== undefined && context.host.forward(exchange, id, grant?.principal, context.maxBodySize)
}

/** The session and its state a GET or DELETE names, or the refusal. @internal */
export const stateOf = (context: Context, exchange: Exchange, grant: Grant | undefined): State | Refusal.Refusal => {
  const id = header(exchange.headers, "mcp-session-id")
  if (id === undefined) return missingSession
  const session = sessionOf(context, id, grant)
  if ("_tag" in session) return session
  const version = versionOf(exchange, session)
  if (typeof version !== "string") return version
  return context.states.get(session) ?? notFound
}
