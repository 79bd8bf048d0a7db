/**
 * The two kinds of `listen`. With a 2026-07-28 server, `subscriptions/listen` requests: one stream for the caller
 * across every request of the subscription, each acknowledged, its notifications routed to it by subscription id,
 * and a dropped connection reconnected under a new request as a schedule allows. With sessions, the
 * session's own notifications (its GET stream), filtered, with `resources/subscribe` for the resources asked for.
 * Kept apart from correlation, which only routes a listen stream's notifications here.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import type * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import * as McpMethod from "../../McpMethod.js"
import * as McpSchema from "../../McpSchema.js"
import * as ListenFilter from "../server/listen.js"
import type { Correlation, ListenRoutes } from "./correlation.js"
import * as Sessionless from "./sessionless.js"

/** Which notifications a `listen` stream carries (`McpClient.SubscriptionFilter`). @internal */
export const SubscriptionFilter = McpSchema.SubscriptionFilter
type SubscriptionFilter = typeof SubscriptionFilter.Type

// Public as `McpClient.SubscriptionEvent` and `McpClient.Subscription`; declared here, where listens are built,
// so that this module need not import `McpClient`, which imports it.
/**
 * What a `listen` stream carries: the server's notifications, and a `Reconnected` mark after each reconnection.
 *
 * @since 0.1.0
 */
export type SubscriptionEvent = JsonRpc.Notification | Reconnected

/**
 * An open `listen` stream: what the server agreed to send (`acknowledged`, a subset of what was asked), and the
 * notifications, which end when the server ends the subscription (its `subscriptions/listen` result) or the
 * client closes. With a 2026-07-28 server a dropped connection is reconnected (see `ListenOptions.reconnect`):
 * the one stream goes on, and fails only when the reconnection schedule gives up. `events` is the same stream with
 * a `Reconnected` mark where notifications may have been missed, for code that caches what they are about.
 *
 * @since 0.1.0
 */
export interface Subscription {
  /**
   * The id of the first `subscriptions/listen` request, which tags the notifications until a reconnection (each
   * has a request, and an id, of its own: see `currentSubscriptionId`). Listens on a session have a made-up id.
   */
  readonly subscriptionId: JsonRpc.RequestId
  /** The id that tags the notifications now: `subscriptionId` until the first reconnection, then the latest. */
  readonly currentSubscriptionId: Effect.Effect<JsonRpc.RequestId>
  readonly acknowledged: SubscriptionFilter
  /** The notifications, across reconnections. */
  readonly notifications: Stream.Stream<JsonRpc.Notification, McpClientError>
  /**
   * The notifications with a `Reconnected` mark after each reconnection, in the order they came. It reads the
   * same elements as `notifications` (each goes to one reader): run one of the two.
   */
  readonly events: Stream.Stream<SubscriptionEvent, McpClientError>
}

/**
 * The mark a 2026-07-28 `listen` stream puts between the notifications of a dropped `subscriptions/listen`
 * request and those of the request that replaced it (`McpClient.Reconnected`, which says more).
 * @internal
 */
export class Reconnected extends Data.TaggedClass("Reconnected")<{
  /** The new request's id, which tags the notifications from now on. */
  readonly subscriptionId: JsonRpc.RequestId
  /** What the server agreed to send this time; it may differ from the first acknowledgement. */
  readonly acknowledged: SubscriptionFilter
  /** How many requests it took to get the stream back (1 when the first one did). */
  readonly attempts: number
  /** Why the previous request ended. */
  readonly cause: McpClientError
}> {}

/** Tells a notification from a `Reconnected` mark (`McpClient.isNotification`). @internal */
export const isNotification = (event: SubscriptionEvent): event is JsonRpc.Notification =>
  !(event instanceof Reconnected)

/** How a 2026-07-28 `listen` stream reconnects, unless told otherwise (`McpClient.defaultListenReconnect`). @internal */
export const defaultListenReconnect: Schedule.Schedule<unknown, McpClientError> = Schedule.exponential(
  Duration.millis(100)
).pipe(
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(5))),
  Schedule.intersect(Schedule.recurs(8))
)

/** The statuses of a gateway whose server is away for now: a listen stream being reconnected tries again. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504])

const decodeListenAck = Schema.decodeUnknownOption(McpMethod.paramsOf("notifications/subscriptions/acknowledged"))

/**
 * One `subscriptions/listen` request of a sessionless revision being served: where its notifications go, its
 * acknowledgement, and what to do as the acknowledgement arrives (on the receiving fiber, so before any
 * notification that follows it).
 */
interface Listener {
  readonly queue: Queue.Queue<Take.Take<SubscriptionEvent, McpClientError>>
  readonly ack: Deferred.Deferred<SubscriptionFilter, McpClientError>
  readonly onAck: (acknowledged: SubscriptionFilter) => Effect.Effect<void>
}

/** The open listen streams of one client (2026-07-28), by subscription id: where correlation routes to. @internal */
export class Listeners implements ListenRoutes {
  private readonly byId = new Map<JsonRpc.RequestId, Listener>()

  set(id: JsonRpc.RequestId, listener: Listener): void {
    this.byId.set(id, listener)
  }

  delete(id: JsonRpc.RequestId): void {
    this.byId.delete(id)
  }

  readonly route = (notification: JsonRpc.Notification): Effect.Effect<boolean> | undefined => {
    const subscriptionId = Sessionless.subscriptionIdOf(notification)
    const listener = typeof subscriptionId === "string" || typeof subscriptionId === "number"
      ? this.byId.get(subscriptionId)
      : undefined
    if (listener === undefined) return undefined
    if (notification.method === "notifications/subscriptions/acknowledged") {
      const ack = decodeListenAck(notification.params)
      const acknowledged = Option.isSome(ack) ? ack.value.notifications ?? {} : {}
      return Deferred.succeed(listener.ack, acknowledged).pipe(
        Effect.zipRight(listener.onAck(acknowledged)),
        Effect.as(false)
      )
    }
    return Effect.as(Queue.offer(listener.queue, Take.of(notification)), true)
  }
}

/** What a 2026-07-28 listen needs of the client. @internal */
export interface SessionlessInputs {
  readonly correlation: Correlation
  readonly listeners: Listeners
  /** The client's `requestTimeout`, for acknowledgements. */
  readonly timeout: Duration.Duration | undefined
}

const ackTimeout = (timeout: Duration.Duration) => () =>
  new McpClientError({
    reason: "Timeout",
    message: `The server did not acknowledge subscriptions/listen within ${Duration.format(timeout)}`
  })

/**
 * A listen request that ended this way lost its connection, and may be asked for again: a transport failure
 * (not a JSON-RPC error, not the listen result, not an interruption) while the client can still send. While
 * reconnecting, a gateway's 502/503/504 (the server restarting behind it) and an acknowledgement that does not
 * come within `requestTimeout` are worth another attempt too.
 */
const dropped = (
  correlation: Correlation,
  cause: Cause.Cause<McpClientError>,
  reconnecting: boolean
): Option.Option<McpClientError> =>
  !correlation.isOpen()
    ? Option.none()
    : Option.filter(Cause.failureOption(cause), (error) =>
      error.reason === "Transport" ||
      (reconnecting && (error.reason === "Timeout" ||
        (error.reason === "HttpStatus" && error.status !== undefined && RETRY_STATUSES.has(error.status)))))

/** One 2026-07-28 subscription: the caller's queue, and the request serving it now. */
class SessionlessSubscription {
  currentId: JsonRpc.RequestId

  constructor(
    private readonly inputs: SessionlessInputs,
    private readonly filter: SubscriptionFilter,
    readonly queue: Queue.Queue<Take.Take<SubscriptionEvent, McpClientError>>,
    readonly firstId: JsonRpc.RequestId
  ) {
    this.currentId = firstId
  }

  /** Stops routing the current request's notifications here. */
  readonly release = Effect.sync(() => this.inputs.listeners.delete(this.currentId))

  /**
   * One `subscriptions/listen` request, served until it ends. It lasts as long as the stream; closing the scope
   * interrupts it. Its result (the server ending the subscription) comes after every notification on it.
   * A reconnection's acknowledgement is awaited with the client's `requestTimeout` (the first one's by `listen`).
   */
  request(
    id: JsonRpc.RequestId,
    ack: Deferred.Deferred<SubscriptionFilter, McpClientError>,
    onAck: (acknowledged: SubscriptionFilter) => Effect.Effect<void>,
    acknowledging: Effect.Effect<never, McpClientError>
  ): Effect.Effect<Exit.Exit<unknown, McpClientError>> {
    const { correlation, listeners } = this.inputs
    return Effect.suspend(() => {
      this.currentId = id
      listeners.set(id, { queue: this.queue, ack, onAck })
      return Effect.raceFirst(
        correlation.callWith(id, "subscriptions/listen", { notifications: this.filter }, false),
        acknowledging
      )
    }).pipe(Effect.ensuring(Effect.sync(() => listeners.delete(id))), Effect.exit)
  }

  /** A reconnection's acknowledgement within the client's `requestTimeout`, else a `Timeout` failure. */
  acknowledgedWithin(ack: Deferred.Deferred<SubscriptionFilter, McpClientError>): Effect.Effect<never, McpClientError> {
    const timeout = this.inputs.timeout
    return timeout === undefined ? Effect.never : Deferred.await(ack).pipe(
      Effect.timeoutFail({ duration: timeout, onTimeout: ackTimeout(timeout) }),
      Effect.zipRight(Effect.never)
    )
  }

  /** A request that replaces a dropped one: its `Reconnected` mark goes on the queue as its acknowledgement comes. */
  reconnect(
    attempts: number,
    lost: McpClientError
  ): Effect.Effect<{ readonly exit: Exit.Exit<unknown, McpClientError>; readonly acknowledged: boolean }> {
    return Effect.gen(this, function*() {
      const id = this.inputs.correlation.nextId()
      const ack = yield* Deferred.make<SubscriptionFilter, McpClientError>()
      yield* Effect.logDebug(`MCP listen stream dropped; reconnecting (attempt ${attempts})`, lost)
      const exit = yield* this.request(id, ack, (acknowledged) =>
        Queue.offer(
          this.queue,
          Take.of(new Reconnected({ subscriptionId: id, acknowledged, attempts, cause: lost }))
        ).pipe(Effect.asVoid), this.acknowledgedWithin(ack))
      return { exit, acknowledged: yield* Deferred.isDone(ack) }
    })
  }

  /**
   * The first request, then a new one after each drop of an acknowledged one, for as long as the schedule
   * allows; a reconnection that is acknowledged starts the schedule over. Ends as the last request ended.
   */
  serve(
    firstAck: Deferred.Deferred<SubscriptionFilter, McpClientError>,
    schedule: Schedule.Schedule<unknown, McpClientError> | false
  ): Effect.Effect<unknown, McpClientError> {
    return Effect.gen(this, function*() {
      let exit = yield* this.request(this.firstId, firstAck, () => Effect.void, Effect.never)
      // A first request that failed before its acknowledgement fails `listen` itself.
      if (!(yield* Deferred.isDone(firstAck)) || schedule === false) return yield* exit
      const driver = yield* Schedule.driver(schedule)
      let attempts = 0
      while (Exit.isFailure(exit)) {
        const lost = dropped(this.inputs.correlation, exit.cause, attempts > 0)
        if (Option.isNone(lost)) return yield* exit
        const waited = yield* Effect.either(driver.next(lost.value))
        if (Either.isLeft(waited)) return yield* exit
        const reconnected = yield* this.reconnect(++attempts, lost.value)
        exit = reconnected.exit
        if (reconnected.acknowledged) {
          attempts = 0
          yield* driver.reset
        }
      }
      return yield* exit
    })
  }
}

/** A 2026-07-28 `listen`: `subscriptions/listen`, reconnected as `schedule` says. @internal */
export const listenSessionless = Effect.fn("McpClient.listen")(function*(
  inputs: SessionlessInputs,
  filter: SubscriptionFilter,
  schedule: Schedule.Schedule<unknown, McpClientError> | false
) {
  // One queue for the caller across every request of the subscription.
  const queue = yield* Queue.unbounded<Take.Take<SubscriptionEvent, McpClientError>>()
  const firstAck = yield* Deferred.make<SubscriptionFilter, McpClientError>()
  const subscription = new SessionlessSubscription(inputs, filter, queue, inputs.correlation.nextId())
  yield* Effect.addFinalizer(() => Effect.zipRight(subscription.release, Queue.shutdown(queue)))
  yield* subscription.serve(firstAck, schedule).pipe(
    Effect.exit,
    Effect.flatMap((exit) =>
      Effect.zipRight(
        Exit.isFailure(exit) ? Deferred.failCause(firstAck, exit.cause) : Deferred.succeed(firstAck, {}),
        Queue.offer(queue, Exit.isSuccess(exit) ? Take.end : Take.failCause(exit.cause))
      )
    ),
    Effect.forkScoped
  )
  const timeout = inputs.timeout
  const acknowledged = yield* Deferred.await(firstAck).pipe(
    timeout === undefined ? identity : Effect.timeoutFail({ duration: timeout, onTimeout: ackTimeout(timeout) })
  )
  const events = Stream.flattenTake(Stream.fromQueue(queue))
  const opened: Subscription = {
    subscriptionId: subscription.firstId,
    currentSubscriptionId: Effect.sync(() => subscription.currentId),
    acknowledged,
    notifications: Stream.filter(events, isNotification),
    events
  }
  return opened
})

/** What of `filter` a server with `capabilities` can send. */
const honoured = (filter: SubscriptionFilter, capabilities: McpSchema.ServerCapabilities): SubscriptionFilter => ({
  ...(filter.toolsListChanged === true && capabilities.tools?.listChanged === true ? { toolsListChanged: true } : {}),
  ...(filter.promptsListChanged === true && capabilities.prompts?.listChanged === true
    ? { promptsListChanged: true }
    : {}),
  ...(filter.resourcesListChanged === true && capabilities.resources?.listChanged === true
    ? { resourcesListChanged: true }
    : {}),
  ...(filter.resourceSubscriptions !== undefined && filter.resourceSubscriptions.length > 0 &&
      capabilities.resources?.subscribe === true
    ? { resourceSubscriptions: filter.resourceSubscriptions }
    : {})
})

/** What a listen on a session needs of the client. @internal */
export interface SessionInputs {
  readonly correlation: Correlation
  /** The server's capabilities now. */
  readonly capabilities: () => McpSchema.ServerCapabilities
  /** `resources/subscribe` or `resources/unsubscribe` of one resource, as any request. */
  readonly subscription: (
    method: "resources/subscribe" | "resources/unsubscribe",
    uri: string
  ) => Effect.Effect<void, McpClientError>
}

/**
 * The `listen` of one client on a session: the session's notifications, filtered, with `resources/subscribe` for
 * each resource (and unsubscribe when the scope closes). Each subscription gets a made-up id.
 * @internal
 */
export const makeListenSession = (inputs: SessionInputs) => {
  let nextId = 0
  return (filter: SubscriptionFilter): Effect.Effect<Subscription, McpClientError, Scope.Scope> =>
    Effect.gen(function*() {
      const acknowledged = honoured(filter, inputs.capabilities())
      const subscribed = yield* inputs.correlation.subscribe
      for (const uri of acknowledged.resourceSubscriptions ?? []) {
        yield* Effect.acquireRelease(
          inputs.subscription("resources/subscribe", uri),
          () => Effect.ignore(inputs.subscription("resources/unsubscribe", uri))
        )
      }
      const subscriptionId = `session-${++nextId}`
      const accepted = Stream.filter(subscribed, (notification) => ListenFilter.accepts(acknowledged, notification))
      const subscription: Subscription = {
        subscriptionId,
        currentSubscriptionId: Effect.succeed(subscriptionId),
        acknowledged,
        notifications: accepted,
        events: accepted
      }
      return subscription
    })
}
