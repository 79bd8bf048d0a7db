/**
 * The Streamable HTTP transport (revisions 2025-03-26, 2025-06-18 and 2025-11-25) on one endpoint, `/mcp`:
 *
 * - POST carries every client message. Requests are answered with JSON or with an SSE stream of their own
 *   (notifications about them, then their responses); notifications and responses get 202.
 * - GET opens the session's standalone SSE stream, for messages the server starts; a newer GET replaces it.
 *   With `Last-Event-ID` it resumes a dropped stream, the standalone one or a POST's.
 * - DELETE ends the session.
 *
 * Sessions live in the shared `SessionRegistry`. An id is minted only when `initialize` succeeds, and the session
 * then lives until DELETE, idle expiry or shutdown: connections come and go without ending it. Closing a POST's
 * stream does not cancel its request either; the handler runs on in the session.
 *
 * Resumability comes from an `EventStore`. Then each SSE stream has one fiber, its pump, that owns the stream's
 * order: it records each message and writes it to whichever connection is attached, if any. A message is
 * therefore recorded whether or not anyone listens, and a resume, which the pump handles in turn with the
 * messages, replays what was recorded after the client's cursor and continues live without a gap.
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as EventStore from "./EventStore.js"
import { HttpSecurity } from "./HttpSecurity.js"
import { DEFAULT_MAX_BODY_SIZE, dispatch, errorResponse, jsonResponse, readJsonBody } from "./internal/http.js"
import * as JsonRpc from "./JsonRpc.js"
import { McpServer } from "./McpServer.js"
import * as McpSchema from "./McpSchema.js"
import { isValidSessionId, type Session, type Sink } from "./McpSession.js"
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
   * Answer requests with one JSON body whenever the client accepts JSON, rather than with an SSE stream.
   * Notifications a handler emits are then dropped: there is no stream to carry them. Default false.
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
const PRIMING_VERSION = "2025-11-25"
/** The last revision with JSON-RPC batches. */
const LAST_BATCH_VERSION = "2025-03-26"

const ACCEPT_JSON = 1
const ACCEPT_SSE = 2

/** Which of JSON and SSE an `Accept` header allows. No header accepts anything, like HTTP says. */
const acceptOf = (header: string | undefined): number => {
  if (header === undefined) return ACCEPT_JSON | ACCEPT_SSE
  let flags = 0
  for (const part of header.split(",")) {
    const semi = part.indexOf(";")
    const media = (semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase()
    if (media === "*/*") return ACCEPT_JSON | ACCEPT_SSE
    if (media === "application/json" || media === "application/*") flags |= ACCEPT_JSON
    else if (media === "text/event-stream" || media === "text/*") flags |= ACCEPT_SSE
  }
  return flags
}

/** Ends a connection: the frame after which its response ends. */
const END = null

/** One HTTP response streaming a stream's frames; `END` ends it. */
type Connection = Queue.Queue<string | typeof END>

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
  readonly attach: (connection: Connection, lastEventId: string | undefined) => boolean
  /** Nothing more will be sent: end the stream once everything before is out. */
  readonly done: () => void
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

/** A pump command: serve this connection from now on, resuming after `lastEventId` when given. */
class Attach {
  constructor(readonly connection: Connection, readonly lastEventId: string | undefined) {}
}
/** A pump command: every request of the stream has ended. */
const DONE: unique symbol = Symbol("Done")
/** What a pump handles, in order: messages to record and send, attachments, the end. */
type Command = JsonRpc.Message | Attach | typeof DONE

/** Calls `f` once every fiber has ended, however it ended (a cancelled request has no response). */
const whenSettled = (fibers: ReadonlyArray<Fiber.RuntimeFiber<unknown, unknown>>, f: () => void): void => {
  let pending = fibers.length
  if (pending === 0) return f()
  for (const fiber of fibers) {
    fiber.addObserver(() => {
      if (--pending === 0) f()
    })
  }
}

/**
 * Registers POST, GET and DELETE on the router.
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
    const path = options.path ?? "/mcp"
    const keepAlive = options.keepAlive ?? Sse.DEFAULT_KEEP_ALIVE
    const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE
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

    /** Per-session state, found from the session the registry returns; a session of another transport has none. */
    const states = new WeakMap<Session, State>()

    // Refusals are the same every time: built once.
    const accepted = HttpServerResponse.empty({ status: 202 })
    const noContent = HttpServerResponse.empty({ status: 204 })
    const notFound = errorResponse(404, JsonRpc.ErrorCode.ConnectionClosed, "Not Found: unknown or closed session")
    const missingSession = errorResponse(
      400,
      JsonRpc.ErrorCode.InvalidRequest,
      "Bad Request: Mcp-Session-Id header is required"
    )
    const malformedSession = errorResponse(
      400,
      JsonRpc.ErrorCode.InvalidRequest,
      "Bad Request: Mcp-Session-Id is malformed"
    )
    const notAcceptable = errorResponse(
      406,
      JsonRpc.ErrorCode.ConnectionClosed,
      "Not Acceptable: the client must accept application/json and text/event-stream"
    )
    const notAcceptableSse = errorResponse(
      406,
      JsonRpc.ErrorCode.ConnectionClosed,
      "Not Acceptable: the client must accept text/event-stream"
    )
    const allow = ["POST", ...(stateless ? [] : ["GET", ...(termination ? ["DELETE"] : [])])].join(", ")
    const methodNotAllowed = (what: string) =>
      errorResponse(405, JsonRpc.ErrorCode.ConnectionClosed, `Method Not Allowed: ${what}`, { allow })
    const getNotAllowed = methodNotAllowed(
      stateless ? "the server is stateless" : "the server does not offer a standalone stream"
    )
    const deleteNotAllowed = methodNotAllowed(
      stateless ? "the server is stateless" : "the server does not let clients end sessions"
    )
    const unknownEvent = errorResponse(400, JsonRpc.ErrorCode.InvalidRequest, "Bad Request: unknown Last-Event-ID")
    const batchInitialize = errorResponse(
      400,
      JsonRpc.ErrorCode.InvalidRequest,
      "Invalid request: initialize must not be part of a batch"
    )
    const overLimit = (limit: number) =>
      errorResponse(
        503,
        JsonRpc.ErrorCode.ConnectionClosed,
        `Service Unavailable: the server is at its limit of ${limit} sessions`,
        { "retry-after": "5" }
      )
    const noSink: Sink = () => false

    const forbidden = (request: HttpServerRequest.HttpServerRequest) => {
      const reason = security.check(request.headers)
      return reason === undefined ? undefined : errorResponse(403, JsonRpc.ErrorCode.ConnectionClosed, reason)
    }

    /** The revision a request says it speaks (absent: 2025-03-26), or the 400 that refuses it. */
    const versionOf = (
      request: HttpServerRequest.HttpServerRequest
    ): Either.Either<string, HttpServerResponse.HttpServerResponse> => {
      const version = request.headers["mcp-protocol-version"]
      if (version === undefined) return Either.right(McpSchema.DEFAULT_NEGOTIATED_VERSION)
      return McpSchema.SUPPORTED_PROTOCOL_VERSIONS.includes(version)
        ? Either.right(version)
        : Either.left(errorResponse(
          400,
          JsonRpc.ErrorCode.InvalidRequest,
          `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${
            McpSchema.SUPPORTED_PROTOCOL_VERSIONS.join(", ")
          })`
        ))
    }

    /** The session a request names, or the response that refuses it. */
    const stateOf = (request: HttpServerRequest.HttpServerRequest) => {
      const id = request.headers["mcp-session-id"]
      if (id === undefined) return Effect.succeed(Either.left(missingSession))
      if (!isValidSessionId(id)) return Effect.succeed(Either.left(malformedSession))
      return Effect.map(registry.lookup(id), (found) => {
        const state = found._tag === "Some" ? states.get(found.value) : undefined
        return state === undefined ? Either.left(notFound) : Either.right(state)
      })
    }

    /** The messages of a body, or the 400 that refuses it: batches belong to 2025-03-26 only. */
    const messagesOf = (
      decoded: JsonRpc.Decoded,
      version: string
    ): Either.Either<ReadonlyArray<JsonRpc.Message>, HttpServerResponse.HttpServerResponse> => {
      if (decoded._tag === "Single") return Either.right([decoded.message])
      if (version > LAST_BATCH_VERSION) {
        return Either.left(errorResponse(
          400,
          JsonRpc.ErrorCode.InvalidRequest,
          `Invalid request: JSON-RPC batches are not supported in revision ${version}`
        ))
      }
      const messages: Array<JsonRpc.Message> = []
      for (const message of decoded.messages) {
        if (Either.isLeft(message)) return Either.left(errorResponse(400, message.left.code, message.left.message))
        if (JsonRpc.isRequest(message.right) && message.right.method === "initialize") return Either.left(batchInitialize)
        messages.push(message.right)
      }
      return Either.right(messages)
    }

    // --- Streams ------------------------------------------------------------------------------------------------

    const priming = (session: Session, eventId: string): string =>
      session.protocolVersion >= PRIMING_VERSION ? Sse.encode({ id: eventId, retry, data: "" }) : Sse.comment("open")

    /** A stream without a store: messages go straight to the connection, or nowhere when there is none. */
    const direct = (): Outlet => {
      let connection: Connection | undefined
      let ended = false
      const end = () => {
        if (connection !== undefined) Queue.unsafeOffer(connection, END)
        connection = undefined
      }
      return {
        send: (message) => {
          if (connection === undefined) return false
          if (Queue.unsafeOffer(connection, Sse.encodeMessage(message))) return true
          connection = undefined
          return false
        },
        attach: (next) => {
          if (ended) return false
          end()
          connection = next
          // Headers go out with the first frame; a comment sends them at once.
          return Queue.unsafeOffer(next, Sse.comment("open"))
        },
        done: () => {
          ended = true
          end()
        }
      }
    }

    /**
     * A recorded stream. Everything goes through one queue to the pump, which records messages in order and
     * handles attachments between them, so a resume sees exactly what was recorded before it and gets the rest
     * live. Returns the outlet and the pump, for the caller to run where the stream should live.
     */
    const recorded = (store: EventStore.EventStoreService, state: State) =>
      Effect.map(Queue.unbounded<Command>(), (inbox) => {
        const session = state.session
        let connection: Connection | undefined
        let streamId: EventStore.StreamId | undefined
        /** The id of the last event recorded, or the stream's cursor: what a new connection is primed with. */
        let cursor = ""
        let finished = false
        const write = (frame: string) => {
          if (connection !== undefined && !Queue.unsafeOffer(connection, frame)) connection = undefined
        }
        const end = () => {
          if (connection !== undefined) Queue.unsafeOffer(connection, END)
          connection = undefined
        }
        // A session's events are dropped by a finalizer that may run while this pump still runs: record
        // nothing after it, and drop again whatever raced with it.
        const redrop = Effect.suspend(() => state.dropped ? store.dropSession(session.id) : Effect.void)

        const attach = (command: Attach) =>
          Effect.gen(function*() {
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

        const handle = (id: EventStore.StreamId, commands: Chunk.Chunk<Command>) =>
          Effect.gen(function*() {
            for (const command of commands) {
              if (command === DONE) {
                // From here no one can find the stream, so only what is already queued remains to handle.
                finished = true
                end()
                state.streams.delete(id)
              } else if (command instanceof Attach) {
                yield* attach(command)
              } else {
                let eventId: string | undefined
                if (!state.dropped) {
                  eventId = yield* store.append(session.id, id, command)
                  cursor = eventId
                  yield* redrop
                }
                write(Sse.encodeMessage(command, eventId))
              }
            }
          })

        const pump = Effect.gen(function*() {
          const opened = yield* store.openStream(session.id)
          yield* redrop
          const id = streamId = opened.streamId
          cursor = opened.cursor
          state.streams.set(id, outlet)
          while (!finished) yield* handle(id, yield* Queue.takeBetween(inbox, 1, 4096))
          yield* handle(id, yield* Queue.takeAll(inbox))
        }).pipe(
          // Also how a session's close ends the stream: its fibers, this pump among them, are interrupted.
          Effect.ensuring(Effect.suspend(() => {
            finished = true
            end()
            if (streamId !== undefined && state.streams.get(streamId) === outlet) state.streams.delete(streamId)
            // `attach` refuses from here on, so these are the last connections that could be waiting.
            return Queue.takeAll(inbox).pipe(
              Effect.map((rest) => {
                for (const command of rest) if (command instanceof Attach) Queue.unsafeOffer(command.connection, END)
              }),
              Effect.zipRight(Queue.shutdown(inbox))
            )
          }))
        )

        const outlet: Outlet = {
          send: (message) => Queue.unsafeOffer(inbox, message),
          attach: (next, lastEventId) => !finished && Queue.unsafeOffer(inbox, new Attach(next, lastEventId)),
          done: () => {
            Queue.unsafeOffer(inbox, DONE)
          }
        }
        return { outlet, pump }
      })

    /** A connection for this request: closed with the request, so a departed client's frames are not kept. */
    const connection = Effect.acquireRelease(
      Queue.unbounded<string | typeof END>(),
      (queue) => Queue.shutdown(queue)
    )

    /** Holds the session busy while this request's stream is open: idle expiry does not count that time. */
    const holdBusy = (session: Session) =>
      Effect.acquireRelease(Effect.sync(() => session.acquire()), () => Effect.sync(() => session.release()))

    const keepAliveFrame = Sse.comment("keep-alive")
    const sseOptions = { contentType: "text/event-stream", headers: Sse.headers } as const

    /**
     * Serves a connection until its stream ends it. One queue and no merged streams: keep-alive comments come
     * from a fiber of the request's scope, so a connection costs one fiber, which matters as every POST may open
     * one.
     */
    const serveConnection = (queue: Connection) =>
      Effect.as(
        Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(keepAlive), Queue.offer(queue, keepAliveFrame)))),
        HttpServerResponse.stream(
          Stream.fromQueue(queue).pipe(
            Stream.takeWhile((frame): frame is string => frame !== END),
            Stream.encodeText
          ),
          sseOptions
        )
      )

    /** A stream whose every frame is known. */
    const finite = (frames: ReadonlyArray<string>, headers?: Readonly<Record<string, string>>) =>
      HttpServerResponse.stream(
        Stream.encodeText(Stream.fromIterable(frames)),
        headers === undefined ? sseOptions : { ...sseOptions, headers: { ...Sse.headers, ...headers } }
      )

    // --- Answering messages ---------------------------------------------------------------------------------------

    /** Answers the messages of one POST on a session: 202, JSON, or an SSE stream of their own. */
    const answer = (
      session: Session,
      state: State | undefined,
      messages: ReadonlyArray<JsonRpc.Message>,
      batch: boolean,
      accept: number
    ): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Scope.Scope> =>
      Effect.gen(function*() {
        if (!messages.some(JsonRpc.isRequest)) {
          return dispatch(server, session, messages, noSink) === undefined ? notFound : accepted
        }
        if ((accept & ACCEPT_JSON) !== 0 && (preferJson || (accept & ACCEPT_SSE) === 0)) {
          const responses: Array<JsonRpc.Response> = []
          const fibers = dispatch(server, session, messages, (message) => {
            if (!JsonRpc.isResponse(message)) return false
            responses.push(message)
            return true
          })
          if (fibers === undefined) return notFound
          // Waiting is all this request does: if the client goes away, the handlers run on in the session.
          yield* Fiber.awaitAll(fibers)
          // No response: every request was cancelled (202), or the session closed under them (404).
          if (responses.length === 0) return session.isOpen ? accepted : notFound
          return jsonResponse(batch ? responses : responses[0])
        }
        const queue = yield* connection
        let outlet: Outlet
        if (store !== undefined && state !== undefined) {
          const made = yield* recorded(store, state)
          // The pump is part of the request's work: it holds the session busy until the last response is out.
          if (session.unsafeRun(made.pump) === undefined) return notFound
          outlet = made.outlet
        } else {
          outlet = direct()
        }
        // Refused only when the session closed as the stream was made.
        if (!outlet.attach(queue, undefined)) return notFound
        const fibers = dispatch(server, session, messages, outlet.send)
        if (fibers === undefined) {
          outlet.done()
          return notFound
        }
        whenSettled(fibers, outlet.done)
        return yield* serveConnection(queue)
      })

    /** The reply to `initialize` when it is the only message of its response. */
    const single = (response: JsonRpc.Response, accept: number, headers?: Readonly<Record<string, string>>) =>
      (accept & ACCEPT_JSON) !== 0
        ? jsonResponse(response, headers)
        : finite([Sse.encodeMessage(response)], headers)

    /**
     * Opens a session for an `initialize` and answers it. The session exists only for this request until
     * `initialize` succeeds: a refusal, an error or an interruption closes it, so nothing stays registered and
     * no id leaves the server.
     */
    const initialize = (request: JsonRpc.Request, accept: number) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const opened = yield* Effect.either(
            registry.openDetached({ transport: TRANSPORT, protocolVersion: McpSchema.DEFAULT_NEGOTIATED_VERSION })
          )
          if (Either.isLeft(opened)) return overLimit(opened.left.limit)
          const session = opened.right
          const exit = yield* Effect.exit(restore(server.handleRequest(session, request, noSink)))
          if (Exit.isFailure(exit)) {
            yield* session.close
            return yield* Effect.failCause(exit.cause)
          }
          const response = exit.value
          if ("error" in response) {
            yield* session.close
            return single(response, accept)
          }
          const state: State = { session, standalone: undefined, streams: new Map(), dropped: false }
          states.set(session, state)
          if (store !== undefined) {
            yield* Scope.addFinalizer(
              session.scope,
              Effect.suspend(() => {
                state.dropped = true
                return store.dropSession(session.id)
              })
            )
          }
          return single(response, accept, { "mcp-session-id": session.id })
        })
      )

    /** A stateless POST: a session of its own, taken as initialized, closed with the request. */
    const statelessPost = (decoded: JsonRpc.Decoded, version: string, accept: number) =>
      Effect.gen(function*() {
        const messages = messagesOf(decoded, version)
        if (Either.isLeft(messages)) return messages.left
        const opened = yield* Effect.either(registry.open({ transport: TRANSPORT, protocolVersion: version }))
        if (Either.isLeft(opened)) return overLimit(opened.left.limit)
        const session = opened.right
        const first = messages.right[0]
        // An `initialize` still negotiates; anything else is served as if it had happened.
        if (!(first !== undefined && JsonRpc.isRequest(first) && first.method === "initialize")) {
          session.phase = "initialized"
        }
        return yield* answer(session, undefined, messages.right, decoded._tag === "Batch", accept)
      })

    // --- Routes -----------------------------------------------------------------------------------------------------

    const post = Effect.fnUntraced(function*(request: HttpServerRequest.HttpServerRequest) {
      const refused = forbidden(request)
      if (refused !== undefined) return refused
      const accept = acceptOf(request.headers["accept"])
      if (accept === 0) return notAcceptable
      const body = yield* Effect.either(readJsonBody(request, maxBodySize))
      if (Either.isLeft(body)) return body.left
      const decoded = JsonRpc.decodeBody(body.right)
      if (Either.isLeft(decoded)) return errorResponse(400, decoded.left.code, decoded.left.message)
      if (stateless) {
        const version = versionOf(request)
        if (Either.isLeft(version)) return version.left
        return yield* statelessPost(decoded.right, version.right, accept)
      }
      if (request.headers["mcp-session-id"] === undefined) {
        const message = decoded.right._tag === "Single" ? decoded.right.message : undefined
        if (message !== undefined && JsonRpc.isRequest(message) && message.method === "initialize") {
          return yield* initialize(message, accept)
        }
        if (decoded.right._tag === "Batch") {
          const initializes = decoded.right.messages.some((m) =>
            Either.isRight(m) && JsonRpc.isRequest(m.right) && m.right.method === "initialize"
          )
          if (initializes) return batchInitialize
        }
        return missingSession
      }
      const state = yield* stateOf(request)
      if (Either.isLeft(state)) return state.left
      const version = versionOf(request)
      if (Either.isLeft(version)) return version.left
      const messages = messagesOf(decoded.right, version.right)
      if (Either.isLeft(messages)) return messages.left
      return yield* answer(state.right.session, state.right, messages.right, decoded.right._tag === "Batch", accept)
    })

    /** Attaches a new connection to a live stream; undefined when the stream ended meanwhile. */
    const attachTo = (state: State, find: () => Outlet | undefined, lastEventId: string | undefined) =>
      Effect.gen(function*() {
        const queue = yield* connection
        // Finding the stream and attaching happen without a yield between them: a stream that is found has not
        // yet handled its end, so it will serve this connection.
        const outlet = find()
        if (outlet === undefined || !outlet.attach(queue, lastEventId)) return undefined
        yield* holdBusy(state.session)
        return yield* serveConnection(queue)
      })

    /** The session's standalone stream, made on first use; `session.send` writes to it from then on. */
    const standaloneOf = (state: State) =>
      Effect.gen(function*() {
        if (state.standalone !== undefined) return state.standalone
        if (store === undefined) {
          const outlet = direct()
          state.standalone = outlet
          state.session.send = outlet.send
          // Ends its connection when the session closes (on a session already closed, at once).
          yield* Scope.addFinalizer(state.session.scope, Effect.sync(outlet.done))
          return outlet
        }
        const made = yield* recorded(store, state)
        // A concurrent GET may have made it while the queue was built.
        if (state.standalone !== undefined) return state.standalone
        state.standalone = made.outlet
        state.session.send = made.outlet.send
        // The standalone stream lives as long as the session, but only an open connection holds it busy.
        yield* Effect.forkIn(made.pump, state.session.scope)
        return made.outlet
      })

    const resume = (state: State, store: EventStore.EventStoreService, lastEventId: string) =>
      Effect.gen(function*() {
        const session = state.session
        const streamId = yield* store.streamOf(session.id, lastEventId)
        if (Option.isNone(streamId)) return unknownEvent
        const live = yield* attachTo(state, () => state.streams.get(streamId.value), lastEventId)
        if (live !== undefined) return live
        // The stream has ended: what it recorded is all there is.
        const events = yield* store.replayAfter(session.id, lastEventId)
        return finite(events.map((e) => Sse.encodeMessage(e.message, e.id)))
      })

    const get = Effect.fnUntraced(function*(request: HttpServerRequest.HttpServerRequest) {
      const refused = forbidden(request)
      if (refused !== undefined) return refused
      if (stateless) return getNotAllowed
      if ((acceptOf(request.headers["accept"]) & ACCEPT_SSE) === 0) return notAcceptableSse
      const state = yield* stateOf(request)
      if (Either.isLeft(state)) return state.left
      const version = versionOf(request)
      if (Either.isLeft(version)) return version.left
      const lastEventId = request.headers["last-event-id"]
      if (lastEventId !== undefined && store !== undefined) return yield* resume(state.right, store, lastEventId)
      if (!standaloneStream) return getNotAllowed
      const outlet = yield* standaloneOf(state.right)
      return (yield* attachTo(state.right, () => outlet, undefined)) ?? notFound
    })

    const del = Effect.fnUntraced(function*(request: HttpServerRequest.HttpServerRequest) {
      const refused = forbidden(request)
      if (refused !== undefined) return refused
      if (stateless || !termination) return deleteNotAllowed
      const state = yield* stateOf(request)
      if (Either.isLeft(state)) return state.left
      const version = versionOf(request)
      if (Either.isLeft(version)) return version.left
      yield* state.right.session.close
      return noContent
    })

    yield* router.add("POST", path, post)
    yield* router.add("GET", path, get)
    yield* router.add("DELETE", path, del)
  }))
