/**
 * The Streamable HTTP transport (revisions 2025-03-26, 2025-06-18 and 2025-11-25) on one endpoint, `/mcp`:
 *
 * - POST carries every client message. Requests are answered with JSON, or with an SSE stream of their own when
 *   the handler sends something about the request before its answer (progress, logs) or runs past a keep-alive
 *   interval; notifications and responses get 202.
 * - GET opens the session's standalone SSE stream, for messages the server starts; a newer GET replaces it.
 *   With `Last-Event-ID` it resumes a dropped stream, the standalone one or a POST's.
 * - DELETE ends the session.
 *
 * The same endpoint serves 2026-07-28 (sessionless): a POST whose body claims it in `_meta` (or whose
 * `MCP-Protocol-Version` names no session-era revision) goes through that revision's checks and is served by a
 * session of its own, closed once answered; disconnecting cancels it. `subscriptions/listen` is a long-lived SSE
 * stream served the same way. The era is read from the body before anything session-era is checked.
 *
 * Sessions live in the shared `SessionRegistry`. An id is minted only when `initialize` succeeds, and the session
 * then lives until DELETE, idle expiry or shutdown: connections come and go without ending it. Closing a POST's
 * stream does not cancel its request either; the handler runs on in the session.
 *
 * Resumability comes from an `EventStore`: every message of an SSE stream is recorded before it is written, in
 * order, by one short-lived drain fiber per burst of messages; a resume is handled in the same order, so it sees
 * exactly what was recorded before it and gets the rest live. A request answered with JSON records nothing.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as EventStore from "./EventStore.js"
import { type Exchange, header, type ResponseHeaders, type ResponseStream, type Route } from "./HttpExchange.js"
import * as Front from "./internal/http/front.js"
import * as Inbound from "./internal/server/inbound.js"
import * as Links from "./internal/server/links.js"
import * as Listen from "./internal/server/listen.js"
import * as Modern from "./internal/revisions/sessionless.js"
import * as Refusal from "./internal/http/refusal.js"
import * as JsonRpc from "./JsonRpc.js"
import type { ClientKey } from "./Budget.js"
import type { Grant } from "./McpAuth.js"
import * as McpRevision from "./McpRevision.js"
import * as McpSchema from "./McpSchema.js"
import { noSink, type Session, type Sink } from "./McpSession.js"
import { SessionRegistry } from "./SessionRegistry.js"
import * as Sse from "./Sse.js"

/** @since 0.1.0 */
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

/** The transport name sessions are registered with; a session of another transport is unknown here. @since 0.1.0 */
export const TRANSPORT = "streamable-http"

/** The first revision with the priming event (SEP-1699). */

/**
 * Where the messages of one SSE stream go. A stream outlives its connections: the client may drop one and
 * resume on another.
 */
interface Outlet {
  /** A message for the client, in order. */
  readonly send: Sink
  /**
   * Makes `connection` the stream's only connection (a previous one is ended) and starts it: the priming
   * event, then, when resuming, what was recorded after `lastEventId`. False once the stream has ended, so a
   * connection is never left waiting on a stream that will not end it.
   */
  readonly attach: (connection: ResponseStream, lastEventId: string | undefined) => boolean
  /** Nothing more will be sent: end the stream once everything before it is out. */
  readonly done: () => void
  /** The session is closing: end the connection now. */
  readonly abort: () => void
  /** False once the stream has ended or is ending: `attach` would refuse. */
  readonly live: () => boolean
}

/** What this transport keeps per session, beside the session itself. */
interface State {
  readonly session: Session
  /** The standalone GET stream, made on the first GET. */
  standalone: Outlet | undefined
  /** Streams still running, by id, for resumption. */
  readonly streams: Map<EventStore.StreamId, Outlet>
  /** Set when the session's events are dropped: nothing may be recorded for it afterwards. */
  dropped: boolean
}

/** A drain command: serve this connection from now on, resuming after `lastEventId` when given. */
class Attach {
  constructor(readonly connection: ResponseStream, readonly lastEventId: string | undefined) {}
}
/** A drain command: nothing more will be sent. */
const DONE: unique symbol = Symbol("Done")
type Command = JsonRpc.Message | Attach | typeof DONE

/** A request answered with JSON that is still running: switched to a stream after a keep-alive interval. */
interface Waiting {
  beats: number
  readonly toStream: () => void
}

/**
 * Builds the transport's route: POST, GET and DELETE on one path. Its keep-alive ticker lives in the current
 * scope, whose end also ends every stream still open.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const registry = yield* SessionRegistry
  const registryLink = Links.registryLink(registry)
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const path = options.path ?? "/mcp"
  const maxBodySize = options.maxBodySize ?? Inbound.DEFAULT_MAX_BODY_SIZE
  const stateless = options.stateless === true
  const preferJson = options.enableJsonResponse === true
  const standaloneStream = options.standaloneStream !== false
  const termination = options.sessionTermination !== false
  const retry = Duration.toMillis(options.retryInterval ?? Duration.seconds(1))
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

  /**
   * How to end each open listen stream on purpose: the server shutting down ends them here, before the streams'
   * own finalizer cuts every connection (finalizers run in reverse), so each gets its listen result first.
   */
  const listening = new Set<() => void>()
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const end of Array.from(listening)) end()
    })
  )

  /** Per-session state, found from the session the registry returns; a session of another transport has none. */
  const states = new WeakMap<Session, State>()

  const allow = ["POST", ...(stateless ? [] : ["GET", ...(termination ? ["DELETE"] : [])])].join(", ")
  const notAllowed = (reason: string) => new Refusal.MethodNotAllowed({ allow, reason })
  const getNotAllowed = notAllowed(
    stateless ? "the server is stateless" : "the server does not offer a standalone stream"
  )
  const deleteNotAllowed = notAllowed(
    stateless ? "the server is stateless" : "the server does not let clients end sessions"
  )
  const missingSession = new Refusal.BadRequest({ reason: "Bad Request: Mcp-Session-Id header is required" })
  const notFound = new Refusal.SessionNotFound()
  const unknownEvent = new Refusal.BadRequest({ reason: "Bad Request: unknown Last-Event-ID" })

  /**
   * The revision a request in a session is served at: the one the session negotiated. The header may be left
   * out, and any revision the server speaks is accepted: the spec has the client send the negotiated one (a
   * SHOULD) and the server answer 400 only to a version it does not support, and the official SDKs and the
   * conformance suite send an older one on a 2025-11-25 session (`server-sse-multiple-streams`).
   */
  const versionOf = (exchange: Exchange, session: Session): string | Refusal.BadProtocolVersion => {
    const version = header(exchange.headers, "mcp-protocol-version")
    if (version === undefined || McpSchema.SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return session.protocolVersion
    return new Refusal.BadProtocolVersion({
      reason: `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${
        McpSchema.SUPPORTED_PROTOCOL_VERSIONS.join(", ")
      })`
    })
  }

  /** The revision a stateless request says it speaks (absent: 2025-03-26, as the spec says). */
  const statelessVersion = (exchange: Exchange): string | Refusal.BadProtocolVersion => {
    const version = header(exchange.headers, "mcp-protocol-version")
    if (version === undefined) return McpSchema.DEFAULT_NEGOTIATED_VERSION
    return McpSchema.SUPPORTED_PROTOCOL_VERSIONS.includes(version) ? version : new Refusal.BadProtocolVersion({
      reason: `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${
        McpSchema.SUPPORTED_PROTOCOL_VERSIONS.join(", ")
      })`
    })
  }

  // --- Streams ------------------------------------------------------------------------------------------------

  const priming = (session: Session, eventId: string): string =>
    McpRevision.get(session.protocolVersion)?.primingEvents === true ? Sse.encode({ id: eventId, retry, data: "" }) : Sse.comment("open")

  /** A stream without a store: messages go straight to the connection, or nowhere when there is none. */
  const direct = (): Outlet => {
    let connection: ResponseStream | undefined
    let ended = false
    const end = () => {
      if (connection !== undefined) connection.end()
      connection = undefined
    }
    return {
      send: (message) => connection !== undefined && connection.write(Sse.encodeMessage(message)),
      attach: (next) => {
        if (ended) return false
        end()
        connection = next
        // Headers went out when the stream was opened; a comment tells the client it is live.
        return next.write(Sse.comment("open"))
      },
      done: () => {
        ended = true
        end()
      },
      abort: () => {
        ended = true
        end()
      },
      live: () => !ended
    }
  }

  /**
   * A recorded stream. Commands are handled in order by a drain fiber that runs while there are any: it records
   * each message in the store, then writes it to whichever connection is attached, if any.
   */
  const recorded = (store: EventStore.EventStoreService, state: State, holdsBusy: boolean): Outlet => {
    const session = state.session
    const commands: Array<Command> = []
    let draining = false
    let streamId: EventStore.StreamId | undefined
    /** The id of the last event recorded, or the stream's cursor: what a new connection is primed with. */
    let cursor = ""
    let connection: ResponseStream | undefined
    /** `done` was called: no new connection may attach. */
    let closing = false
    let finished = false
    // A POST's stream holds the session busy until its last message is out; the standalone stream lives as
    // long as the session, and only its open connections hold it.
    const release = holdsBusy ? session.hold() : () => {}

    const write = (frame: string) => {
      if (connection !== undefined && !connection.write(frame)) connection = undefined
    }
    const end = () => {
      if (connection !== undefined) connection.end()
      connection = undefined
    }
    const finish = () => {
      finished = closing = true
      end()
      if (streamId !== undefined && state.streams.get(streamId) === outlet) state.streams.delete(streamId)
      release()
    }
    // A session's events are dropped by a finalizer that may run while this stream still records: record
    // nothing after it, and drop again whatever raced with it.
    const redrop = Effect.suspend(() => state.dropped ? store.dropSession(session.id) : Effect.void)

    const handle = (command: Command, id: EventStore.StreamId): Effect.Effect<void> => {
      if (command === DONE) return Effect.sync(finish)
      if (command instanceof Attach) {
        return Effect.gen(function*() {
          end()
          connection = command.connection
          if (command.lastEventId === undefined) {
            write(priming(session, cursor))
          } else {
            write(priming(session, command.lastEventId))
            for (const event of yield* store.replayAfter(session.id, command.lastEventId)) {
              write(Sse.encodeMessage(event.message, event.id))
            }
          }
          if (finished) end()
        })
      }
      if (state.dropped) return Effect.sync(() => write(Sse.encodeMessage(command)))
      // Serialized once: its length is what the store budgets, its text what goes out.
      const json = JSON.stringify(command)
      return Effect.flatMap(store.append(session.id, id, command, json.length), (eventId) => {
        cursor = eventId
        write(Sse.encodeJson(json, eventId))
        return redrop
      })
    }

    const drain: Effect.Effect<void> = Effect.gen(function*() {
      if (streamId === undefined) {
        const opened = yield* store.openStream(session.id)
        streamId = opened.streamId
        cursor = opened.cursor
        if (!finished) state.streams.set(streamId, outlet)
        yield* redrop
      }
      while (true) {
        // Taking a command and deciding the drain is over happen in one step: a command pushed after it
        // starts a new drain.
        const command = commands.shift()
        if (command === undefined) {
          draining = false
          return
        }
        if (!finished) yield* handle(command, streamId)
      }
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.zipRight(
          Effect.logError("recording an SSE stream failed", cause),
          Effect.sync(() => {
            commands.length = 0
            draining = false
            finish()
          })
        )
      )
    )

    const push = (command: Command) => {
      if (finished) return false
      commands.push(command)
      if (!draining) {
        draining = true
        runFork(drain)
      }
      return true
    }

    const outlet: Outlet = {
      send: push,
      attach: (next, lastEventId) => !closing && push(new Attach(next, lastEventId)),
      done: () => {
        if (closing) return
        closing = true
        push(DONE)
      },
      abort: finish,
      live: () => !closing
    }
    return outlet
  }

  const outletFor = (state: State | undefined, holdsBusy: boolean): Outlet =>
    store !== undefined && state !== undefined ? recorded(store, state, holdsBusy) : direct()

  /**
   * Opens a connection for this exchange and attaches it, holding the session busy while it is open. False,
   * with nothing written, when the stream has already ended.
   */
  const connect = (exchange: Exchange, session: Session, outlet: Outlet, lastEventId?: string): boolean => {
    if (!outlet.live()) return false
    const stream = streams.open(exchange, undefined, () => runFork(Inbound.overflowed(session)))
    if (!stream.isOpen) return true
    exchange.onClose(session.hold())
    return outlet.attach(stream, lastEventId)
  }

  // --- Answering messages ---------------------------------------------------------------------------------------

  const noRelease = () => {}

  /**
   * A batch's answers are kept until its last request settles, whatever each request's own charge: its whole body
   * is charged to the client's work in flight for as long (given back by the function returned), or the batch is
   * refused when that budget is spent.
   */
  const holdBatch = (
    decoded: JsonRpc.Decoded,
    client: ClientKey,
    bodySize: number
  ): (() => void) | Refusal.TooManyRequests | Refusal.ServiceUnavailable => {
    if (decoded._tag !== "Batch") return noRelease
    const pool = registry.budgets.inFlight
    const shortfall = pool.take(client, bodySize)
    if (shortfall !== undefined) {
      return shortfall === "client"
        ? new Refusal.TooManyRequests({ reason: `this client is at its limit of ${pool.perClient} bytes of ${pool.name}` })
        : new Refusal.ServiceUnavailable({ reason: `the server is at its limit of ${pool.total} bytes of ${pool.name}` })
    }
    let held = true
    return () => {
      if (!held) return
      held = false
      pool.give(client, bodySize)
    }
  }

  /**
   * Answers the messages of one POST on a session: 202 when none is a request; otherwise JSON, or an SSE stream
   * from the moment the handlers have more to say than their answers. `finished` runs once the answer is out.
   */
  const answer = (
    exchange: Exchange,
    session: Session,
    state: State | undefined,
    messages: ReadonlyArray<JsonRpc.Message>,
    batch: boolean,
    accept: number,
    /** The body's size: each request counts its share against the budget of work in flight. */
    bodySize: number,
    finished?: () => void,
    /** The HTTP status of a JSON answer (2026-07-28 maps some error codes to 400 and 404). */
    statusOf?: (response: JsonRpc.Message) => number
  ): void => {
    let requests = 0
    for (const message of messages) if ("method" in message && "id" in message) requests++
    if (requests === 0) {
      for (const message of messages) {
        if (!session.offer(message, noSink)) {
          Front.refuse(exchange, notFound)
          return finished?.()
        }
      }
      Front.accepted(exchange)
      return finished?.()
    }
    const jsonOk = (accept & Front.ACCEPT_JSON) !== 0
    const streamOk = (accept & Front.ACCEPT_SSE) !== 0 && !(preferJson && jsonOk)
    let responses: Array<JsonRpc.Message> = []
    let outlet: Outlet | undefined
    let pending = requests
    let over = false
    const waitingEntry: Waiting = { beats: 0, toStream: () => toStream() }
    const toStream = () => {
      if (outlet !== undefined || over) return
      const made = outletFor(state, true)
      outlet = made
      connect(exchange, session, made)
      for (const response of responses) made.send(response)
      responses = []
    }
    const reply: Sink = (message) => {
      if (over) return false
      if (outlet !== undefined) return outlet.send(message)
      if (JsonRpc.isResponse(message)) {
        responses.push(message)
        return true
      }
      if (!streamOk) return false
      toStream()
      return outlet !== undefined && (outlet as Outlet).send(message)
    }
    const settled = () => {
      if (--pending > 0) return
      over = true
      waiting.delete(waitingEntry)
      if (outlet !== undefined) {
        outlet.done()
      } else if (responses.length === 0) {
        // Every request was cancelled (202), or the session closed under them (404).
        if (session.isOpen) Front.accepted(exchange)
        else Front.refuse(exchange, notFound)
      } else if (jsonOk) {
        const first = responses[0]!
        Front.respondJson(
          exchange,
          batch ? responses : first,
          undefined,
          statusOf === undefined || batch ? 200 : statusOf(first)
        )
      } else {
        const stream = streams.open(exchange)
        for (const response of responses) stream.write(Sse.encodeMessage(response))
        stream.end()
      }
      finished?.()
    }
    if (!jsonOk) toStream()
    const share = bodySize / requests
    for (const message of messages) {
      // The session can only have closed before the first hand-off: each is synchronous with its check.
      if (!session.offer(message, reply, settled, share)) {
        over = true
        Front.refuse(exchange, notFound)
        return finished?.()
      }
    }
    if (!over && outlet === undefined && streamOk) waiting.add(waitingEntry)
  }

  /** The reply to `initialize`, the only message of its response. */
  const single = (exchange: Exchange, response: JsonRpc.Message, accept: number, headers?: ResponseHeaders) => {
    if ((accept & Front.ACCEPT_JSON) !== 0) return Front.respondJson(exchange, response, headers)
    const stream = streams.open(exchange, headers)
    stream.write(Sse.encodeMessage(response))
    stream.end()
  }

  /**
   * Opens a session for an `initialize` and answers it. The session exists only for this request until
   * `initialize` succeeds: a refusal or an error closes it, so nothing stays registered and no id leaves the
   * server.
   */
  const initialize = (
    exchange: Exchange,
    request: JsonRpc.Request,
    accept: number,
    grant: Grant | undefined,
    client: ClientKey
  ) =>
    Effect.gen(function*() {
      const opened = yield* Effect.either(
        registry.openDetached({
          transport: TRANSPORT,
          protocolVersion: McpSchema.DEFAULT_NEGOTIATED_VERSION,
          principal: grant?.principal,
          client
        })
      )
      if (Either.isLeft(opened)) return Front.refuse(exchange, Front.unavailable(opened.left))
      const session = opened.right
      const response = yield* Effect.async<JsonRpc.Message | undefined>((resume) => {
        let answer: JsonRpc.Message | undefined
        const taken = session.offer(request, (message) => {
          if (JsonRpc.isResponse(message)) answer = message
          return true
        }, () => resume(Effect.succeed(answer)))
        if (!taken) resume(Effect.succeed(undefined))
      })
      if (response === undefined || "error" in response) {
        yield* session.close
        return response === undefined ? Front.refuse(exchange, notFound) : single(exchange, response, accept)
      }
      const state: State = { session, standalone: undefined, streams: new Map(), dropped: false }
      states.set(session, state)
      yield* Scope.addFinalizer(
        session.scope,
        Effect.suspend(() => {
          state.dropped = true
          state.standalone?.abort()
          for (const outlet of state.streams.values()) outlet.abort()
          return store === undefined ? Effect.void : store.dropSession(session.id)
        })
      )
      single(exchange, response, accept, { "mcp-session-id": session.id })
    })

  /** A stateless POST: a session of its own, served as initialized, closed once answered or abandoned. */
  const statelessPost = (
    exchange: Exchange,
    decoded: JsonRpc.Decoded,
    version: string,
    accept: number,
    grant: Grant | undefined,
    client: ClientKey,
    bodySize: number
  ) =>
    Effect.gen(function*() {
      const messages = Inbound.messagesOf(decoded, version)
      if ("_tag" in messages) return Front.refuse(exchange, messages)
      if (grant !== undefined && !grant.admit(exchange, messages)) return
      const first = messages[0]
      const opened = yield* Effect.either(registry.openDetached({
        transport: TRANSPORT,
        protocolVersion: version,
        principal: grant?.principal,
        // An `initialize` still negotiates; anything else is served as if it had happened.
        initialized: !(first !== undefined && Inbound.isInitialize(first)),
        perRequest: true,
        client
      }))
      if (Either.isLeft(opened)) return Front.refuse(exchange, Front.unavailable(opened.left))
      const session = opened.right
      const held = holdBatch(decoded, client, bodySize)
      if (typeof held !== "function") {
        yield* session.close
        return Front.refuse(exchange, held)
      }
      const close = () => {
        held()
        session.end()
      }
      exchange.onClose(close)
      answer(exchange, session, undefined, messages, decoded._tag === "Batch", accept, bodySize, close)
    })

  /** The status of a 2026-07-28 answer: an error's by its code, a result 200. */
  const modernStatus = (response: JsonRpc.Message): number =>
    "error" in response ? Refusal.modernStatus(response.error.code) : 200

  /**
   * A 2026-07-28 request: the ladder, then a session of its own (its `_meta` standing in for the handshake),
   * closed once it is answered. The client closing the connection first is cancellation: the session closes,
   * which interrupts the handler, and nothing more is sent.
   */
  const modernPost = (
    exchange: Exchange,
    message: JsonRpc.Message,
    accept: number,
    grant: Grant | undefined,
    client: ClientKey,
    bodySize: number
  ) =>
    Effect.gen(function*() {
      // Notifications have no defined use over HTTP at 2026-07-28 (cancelling is closing the stream).
      if (!JsonRpc.isRequest(message)) return Front.accepted(exchange)
      const envelope = Modern.check(message, (name) => header(exchange.headers, name), registryLink.paramHeaders)
      if ("_tag" in envelope) return Front.refuse(exchange, envelope)
      if (grant !== undefined && !grant.admit(exchange, [message])) return
      if (message.method === "subscriptions/listen") {
        return yield* listen(exchange, message, envelope, accept, grant, client)
      }
      const opened = yield* Effect.either(registry.openDetached({
        transport: TRANSPORT,
        protocolVersion: envelope.version,
        principal: grant?.principal,
        modern: envelope,
        client
      }))
      if (Either.isLeft(opened)) return Front.refuse(exchange, Front.unavailable(opened.left))
      const session = opened.right
      const close = () => session.end()
      exchange.onClose(close)
      answer(exchange, session, undefined, [message], false, accept, bodySize, close, modernStatus)
    })

  /**
   * A `subscriptions/listen` stream: always SSE, even in JSON-response mode. Its session lives as long as the
   * connection (held busy, so idle expiry leaves it alone); the acknowledgement goes out before the session's
   * writer is set, so it is first; when the server ends it (shutdown), the listen result goes out last.
   */
  const listen = (
    exchange: Exchange,
    request: JsonRpc.Request,
    envelope: Modern.Envelope,
    accept: number,
    grant: Grant | undefined,
    client: ClientKey
  ) =>
    Effect.gen(function*() {
      if ((accept & Front.ACCEPT_SSE) === 0) {
        return Front.refuse(exchange, new Refusal.NotAcceptable({ needs: "text/event-stream" }))
      }
      const filter = Listen.filterOf(request.params, registryLink.capabilities(), envelope.clientCapabilities)
      if (filter instanceof JsonRpc.JsonRpcError) return Front.respondJson(exchange, JsonRpc.failure(request.id, filter))
      const opened = yield* Effect.either(registry.openDetached({
        transport: TRANSPORT,
        protocolVersion: envelope.version,
        principal: grant?.principal,
        modern: envelope,
        subscriptions: filter.resourceSubscriptions,
        listener: true,
        client
      }))
      if (Either.isLeft(opened)) {
        const error = opened.left
        switch (error._tag) {
          case "ListenerLimitExceeded":
            return Front.respondJson(exchange, JsonRpc.failure(request.id, Listen.tooMany(error.limit)))
          case "ClientLimitExceeded":
            return Front.respondJson(exchange, JsonRpc.failure(request.id, Listen.tooManyForClient(error.limit)))
          case "SubscriptionLimitExceeded":
            return Front.respondJson(
              exchange,
              JsonRpc.failure(request.id, Listen.tooManySubscriptions(error.limit, error.scope))
            )
          default:
            return Front.refuse(exchange, Front.unavailable(error))
        }
      }
      const session = opened.right
      const stream = streams.open(exchange)
      if (!stream.isOpen) return yield* session.close
      const write: Sink = (message) => stream.write(Sse.encodeMessage(message))
      write(Listen.acknowledged(request.id, filter))
      session.setWriter(Listen.sinkFor(request.id, filter, write))
      const release = session.hold()
      let ended = false
      const end = () => {
        if (ended) return
        ended = true
        listening.delete(end)
        release()
        write(Listen.closing(request.id))
        stream.end()
      }
      listening.add(end)
      yield* Scope.addFinalizer(session.scope, Effect.sync(end))
      exchange.onClose(() => {
        listening.delete(end)
        session.end()
      })
    })

  /**
   * The era of a POST, from its body first and its `MCP-Protocol-Version` second: a body that claims 2026-07-28
   * in `_meta`, or a header naming no session-era revision, is modern; anything else is served as before.
   */
  const eraOf = (decoded: JsonRpc.Decoded, version: string | undefined): "legacy" | JsonRpc.Message | Refusal.Refusal => {
    if (decoded._tag === "Single") return Modern.isModern(decoded.message, version) ? decoded.message : "legacy"
    const modern = Modern.isModernHeader(version) ||
      decoded.messages.some((m) => Either.isRight(m) && Modern.hasClaim(m.right))
    return modern ? Modern.batchRefusal : "legacy"
  }

  // --- Routes -----------------------------------------------------------------------------------------------------

  const post = (exchange: Exchange, _query: string, grant: Grant | undefined, client: ClientKey): void => {
    const accept = Front.acceptOf(header(exchange.headers, "accept"))
    if (accept === 0) {
      return Front.refuse(exchange, new Refusal.NotAcceptable({ needs: "application/json and text/event-stream" }))
    }
    // The era is read from the body, so it is read before anything session-era is checked: a modern request
    // must never get a session-era rejection, or a dual-era client falls back to 2025.
    Front.readMessages(exchange, maxBodySize, (decoded, size) => {
      const era = eraOf(decoded, header(exchange.headers, "mcp-protocol-version"))
      if (era === "legacy") return legacyPost(exchange, grant, accept, decoded, client, size)
      if ("_tag" in era) return Front.refuse(exchange, era)
      runFork(modernPost(exchange, era, accept, grant, client, size))
    })
  }

  /** A session-era POST, its body already read (the era is decided by it). */
  const legacyPost = (
    exchange: Exchange,
    grant: Grant | undefined,
    accept: number,
    decoded: JsonRpc.Decoded,
    client: ClientKey,
    bodySize: number
  ): void => {
    if (stateless) {
      const version = statelessVersion(exchange)
      if (typeof version !== "string") return Front.refuse(exchange, version)
      return void runFork(statelessPost(exchange, decoded, version, accept, grant, client, bodySize))
    }
    const id = header(exchange.headers, "mcp-session-id")
    if (id === undefined) {
      if (decoded._tag === "Single" && Inbound.isInitialize(decoded.message)) {
        return void runFork(initialize(exchange, decoded.message, accept, grant, client))
      }
      if (decoded._tag === "Batch" && decoded.messages.some((m) => Either.isRight(m) && Inbound.isInitialize(m.right))) {
        return Front.refuse(
          exchange,
          new Refusal.BadRequest({ reason: "Invalid request: initialize must not be part of a batch" })
        )
      }
      return Front.refuse(exchange, missingSession)
    }
    const session = Front.findSession(registry, id, TRANSPORT, "Mcp-Session-Id", grant)
    if ("_tag" in session) return Front.refuse(exchange, session)
    const version = versionOf(exchange, session)
    if (typeof version !== "string") return Front.refuse(exchange, version)
    const messages = Inbound.messagesOf(decoded, version)
    if ("_tag" in messages) return Front.refuse(exchange, messages)
    if (grant !== undefined && !grant.admit(exchange, messages)) return
    const held = holdBatch(decoded, client, bodySize)
    if (typeof held !== "function") return Front.refuse(exchange, held)
    answer(exchange, session, states.get(session), messages, decoded._tag === "Batch", accept, bodySize, held)
  }

  /** The session and its state a GET or DELETE names, or the refusal. */
  const stateOf = (exchange: Exchange, grant: Grant | undefined): State | Refusal.Refusal => {
    const id = header(exchange.headers, "mcp-session-id")
    if (id === undefined) return missingSession
    const session = Front.findSession(registry, id, TRANSPORT, "Mcp-Session-Id", grant)
    if ("_tag" in session) return session
    const version = versionOf(exchange, session)
    if (typeof version !== "string") return version
    return states.get(session) ?? notFound
  }

  /** The session's standalone stream, made on first use; the session's writer writes to it from then on. */
  const standaloneOf = (state: State): Outlet => {
    if (state.standalone !== undefined) return state.standalone
    const outlet = outletFor(state, false)
    state.standalone = outlet
    state.session.setWriter(outlet.send)
    return outlet
  }

  const resume = (exchange: Exchange, state: State, store: EventStore.EventStoreService, lastEventId: string) =>
    Effect.gen(function*() {
      const session = state.session
      const streamId = yield* store.streamOf(session.id, lastEventId)
      if (Option.isNone(streamId)) return Front.refuse(exchange, unknownEvent)
      // Finding the stream and attaching happen in one step: a stream that is found has not yet handled its
      // end, so it will serve this connection.
      const live = state.streams.get(streamId.value)
      if (live !== undefined && connect(exchange, session, live, lastEventId)) return
      // The stream has ended: what it recorded is all there is.
      const events = yield* store.replayAfter(session.id, lastEventId)
      const stream = streams.open(exchange)
      for (const event of events) stream.write(Sse.encodeMessage(event.message, event.id))
      stream.end()
    })

  const get = (exchange: Exchange, _query: string, grant: Grant | undefined): void => {
    if (stateless) return Front.refuse(exchange, getNotAllowed)
    if ((Front.acceptOf(header(exchange.headers, "accept")) & Front.ACCEPT_SSE) === 0) {
      return Front.refuse(exchange, new Refusal.NotAcceptable({ needs: "text/event-stream" }))
    }
    const state = stateOf(exchange, grant)
    if ("_tag" in state) return Front.refuse(exchange, state)
    const lastEventId = header(exchange.headers, "last-event-id")
    if (lastEventId !== undefined && store !== undefined) return void runFork(resume(exchange, state, store, lastEventId))
    if (!standaloneStream) return Front.refuse(exchange, getNotAllowed)
    if (!connect(exchange, state.session, standaloneOf(state))) Front.refuse(exchange, notFound)
  }

  const del = (exchange: Exchange, _query: string, grant: Grant | undefined): void => {
    if (stateless || !termination) return Front.refuse(exchange, deleteNotAllowed)
    const state = stateOf(exchange, grant)
    if ("_tag" in state) return Front.refuse(exchange, state)
    runFork(Effect.zipRight(state.session.close, Effect.sync(() => exchange.respond(204, {}))))
  }

  const route: Route = { path, allow, methods: { POST: post, GET: get, DELETE: del } }
  return route
})
