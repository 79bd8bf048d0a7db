/**
 * The streams of the Streamable HTTP transport. An `Outlet` is where the messages of one SSE stream go; a stream
 * outlives its connections (the client may drop one and resume on another), so a connection is attached to it
 * rather than being it.
 *
 * Without an event store a stream is `Direct`: messages go straight to the connection, or nowhere. With one it is
 * `Recorded`: every message is recorded before it is written, in order, by one short-lived drain fiber per burst
 * of messages; an attach (a resume) is handled in the same order, so it sees exactly what was recorded before it
 * and gets the rest live.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as EventStore from "../../../EventStore.js"
import type { Exchange, ResponseStream } from "../../../HttpExchange.js"
import type * as JsonRpc from "../../../JsonRpc.js"
import * as McpRevision from "../../../McpRevision.js"
import type { Session, Sink } from "../../../McpSession.js"
import * as Sse from "../../../Sse.js"
import * as Inbound from "../../server/inbound.js"
import type { Context, Outlet, State } from "./context.js"

const OPEN = Sse.comment("open")

/** A stream without a store: messages go straight to the connection, or nowhere when there is none. */
class Direct implements Outlet {
  private connection: ResponseStream | undefined
  private ended = false

  readonly send: Sink = (message) => this.connection !== undefined && this.connection.write(Sse.encodeMessage(message))

  attach(next: ResponseStream): boolean {
    if (this.ended) return false
    this.end()
    this.connection = next
    // Headers went out when the stream was opened; a comment tells the client it is live.
    return next.write(OPEN)
  }

  done(): void {
    this.ended = true
    this.end()
  }

  abort(): void {
    this.done()
  }

  live(): boolean {
    return !this.ended
  }

  private end(): void {
    if (this.connection !== undefined) this.connection.end()
    this.connection = undefined
  }
}

/** A drain command: serve this connection from now on, resuming after `lastEventId` when given. */
class Attach {
  constructor(readonly connection: ResponseStream, readonly lastEventId: string | undefined) {}
}
/** A drain command: nothing more will be sent. */
const DONE: unique symbol = Symbol("Done")
type Command = JsonRpc.Message | Attach | typeof DONE

/**
 * A recorded stream. Commands are handled in order by a drain fiber that runs while there are any: it records
 * each message in the store, then writes it to whichever connection is attached, if any.
 */
class Recorded implements Outlet {
  private readonly commands: Array<Command> = []
  private draining = false
  private streamId: EventStore.StreamId | undefined
  /** The id of the last event recorded, or the stream's cursor: what a new connection is primed with. */
  private cursor = ""
  private connection: ResponseStream | undefined
  /** `done` was called: no new connection may attach. */
  private closing = false
  private finished = false
  private readonly release: () => void
  private readonly drain: Effect.Effect<void>
  /**
   * A session's events are dropped by a finalizer that may run while this stream still records: record nothing
   * after it, and drop again whatever raced with it.
   */
  private readonly redrop: Effect.Effect<void>

  constructor(
    private readonly context: Context,
    private readonly store: EventStore.EventStoreService,
    private readonly state: State,
    holdsBusy: boolean
  ) {
    // A POST's stream holds the session busy until its last message is out; the standalone stream lives as
    // long as the session, and only its open connections hold it.
    this.release = holdsBusy ? state.session.hold() : noRelease
    this.redrop = Effect.suspend(() => state.dropped ? store.dropSession(state.session.id) : Effect.void)
    this.drain = Effect.catchAllCause(this.run(), (cause) =>
      Effect.zipRight(
        Effect.logError("recording an SSE stream failed", cause),
        Effect.sync(() => {
          this.commands.length = 0
          this.draining = false
          this.finish()
        })
      ))
  }

  readonly send: Sink = (message) => this.push(message)

  attach(next: ResponseStream, lastEventId: string | undefined): boolean {
    return !this.closing && this.push(new Attach(next, lastEventId))
  }

  done(): void {
    if (this.closing) return
    this.closing = true
    this.push(DONE)
  }

  abort(): void {
    this.finish()
  }

  live(): boolean {
    return !this.closing
  }

  private push(command: Command): boolean {
    if (this.finished) return false
    this.commands.push(command)
    if (!this.draining) {
      this.draining = true
      this.context.runFork(this.drain)
    }
    return true
  }

  /** The drain, built once: `Effect.gen` runs its body anew each time the effect runs. */
  private run(): Effect.Effect<void> {
    const self = this
    return Effect.gen(function*() {
      let streamId = self.streamId
      if (streamId === undefined) {
        const opened = yield* self.store.openStream(self.state.session.id)
        streamId = self.streamId = opened.streamId
        self.cursor = opened.cursor
        if (!self.finished) self.state.streams.set(streamId, self)
        yield* self.redrop
      }
      while (true) {
        // Taking a command and deciding the drain is over happen in one step: a command pushed after it
        // starts a new drain.
        const command = self.commands.shift()
        if (command === undefined) {
          self.draining = false
          return
        }
        if (!self.finished) yield* self.handle(command, streamId)
      }
    })
  }

  private handle(command: Command, id: EventStore.StreamId): Effect.Effect<void> {
    if (command === DONE) return Effect.sync(() => this.finish())
    if (command instanceof Attach) return this.attached(command)
    if (this.state.dropped) return Effect.sync(() => this.write(Sse.encodeMessage(command)))
    // Serialized once: its length is what the store budgets, its text what goes out.
    const json = JSON.stringify(command)
    return Effect.flatMap(this.store.append(this.state.session.id, id, command, json.length), (eventId) => {
      this.cursor = eventId
      this.write(Sse.encodeJson(json, eventId))
      return this.redrop
    })
  }

  private attached(command: Attach): Effect.Effect<void> {
    const self = this
    const session = this.state.session
    return Effect.gen(function*() {
      self.end()
      self.connection = command.connection
      if (command.lastEventId === undefined) {
        self.write(priming(self.context, session, self.cursor))
      } else {
        self.write(priming(self.context, session, command.lastEventId))
        for (const event of yield* self.store.replayAfter(session.id, command.lastEventId)) {
          self.write(Sse.encodeMessage(event.message, event.id))
        }
      }
      if (self.finished) self.end()
    })
  }

  private write(frame: string): void {
    if (this.connection !== undefined && !this.connection.write(frame)) this.connection = undefined
  }

  private end(): void {
    if (this.connection !== undefined) this.connection.end()
    this.connection = undefined
  }

  private finish(): void {
    this.finished = this.closing = true
    this.end()
    const streamId = this.streamId
    if (streamId !== undefined && this.state.streams.get(streamId) === this) this.state.streams.delete(streamId)
    this.release()
  }
}

const noRelease = () => {}

/** The first event of a stream: what a client resumes from where the revision primes streams, else a comment. */
const priming = (context: Context, session: Session, eventId: string): string =>
  McpRevision.get(session.protocolVersion)?.primingEvents === true
    ? Sse.encode({ id: eventId, retry: context.retry, data: "" })
    : OPEN

/** A new stream: recorded when there is a store and the session has state here, direct otherwise. @internal */
export const outletFor = (context: Context, state: State | undefined, holdsBusy: boolean): Outlet =>
  context.store !== undefined && state !== undefined
    ? new Recorded(context, context.store, state, holdsBusy)
    : new Direct()

/**
 * Opens a connection for this exchange and attaches it, holding the session busy while it is open. False,
 * with nothing written, when the stream has already ended.
 * @internal
 */
export const connect = (
  context: Context,
  exchange: Exchange,
  session: Session,
  outlet: Outlet,
  lastEventId?: string
): boolean => {
  if (!outlet.live()) return false
  const stream = context.streams.open(exchange, undefined, () => context.runFork(Inbound.overflowed(session)))
  if (!stream.isOpen) return true
  exchange.onClose(session.hold())
  return outlet.attach(stream, lastEventId)
}

/**
 * Starts keeping state for a session whose `initialize` succeeded: its streams, ended with it, and its recorded
 * events, dropped with it.
 * @internal
 */
export const track = (context: Context, session: Session): Effect.Effect<void> => {
  const state: State = { session, standalone: undefined, streams: new Map(), dropped: false }
  context.states.set(session, state)
  const store = context.store
  return Scope.addFinalizer(
    session.scope,
    Effect.suspend(() => {
      state.dropped = true
      state.standalone?.abort()
      for (const outlet of state.streams.values()) outlet.abort()
      return store === undefined ? Effect.void : store.dropSession(session.id)
    })
  )
}

/** The session's standalone stream, made on first use; the session's writer writes to it from then on. @internal */
export const standaloneOf = (context: Context, state: State): Outlet => {
  if (state.standalone !== undefined) return state.standalone
  const outlet = outletFor(context, state, false)
  state.standalone = outlet
  state.session.setWriter(outlet.send)
  return outlet
}
