/**
 * The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) on the server: the store of live tasks, and how
 * a `tools/call` becomes one.
 *
 * A task is a scoped resource. Its scope is a child of the store's (the server's), and holds everything the task
 * owns: the fiber running the tool's handler, and the timer that ends the task `ttlMs` after it was created. Its
 * finalizer removes it from the registry (a `Ref<HashMap>`), so a task leaves on expiry and on shutdown alike, and
 * nothing of it outlives the server.
 *
 * A call becomes a task at once (`immediate`), or when its handler says so (`escalate`, after gathering input
 * through the request's own multi round-trip rounds). Either way the handler runs in a fiber of the task's scope
 * from the start, so escalating moves nothing: the request stops waiting for the fiber and answers with the
 * `CreateTaskResult`, and the fiber's outcome settles the task instead. Once a task, a handler's asks of the
 * client (`elicit`, `createMessage`, `listRoots`) park it in `input_required` under keys the server mints, until
 * `tasks/update` answers them. A server built with a tracer gives each task a span of its life (`McpTask {tool}`),
 * from when the call became a task to its end, under the `tools/call` that created it.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import * as JsonRpc from "../../JsonRpc.js"
import { isSameParty, type Principal } from "../../McpAuth.js"
import type * as McpSchema from "../../McpSchema.js"
import * as McpTelemetry from "../../McpTelemetry.js"
import { ClientRequestError, type Sink } from "../../McpSession.js"
import type { Asker } from "./clientRequests.js"
import { type TaskHandlers, TaskPlacement, type TaskPlacementService } from "./registry/taskPlacement.js"
import { type InputRequest, missingCapability } from "./mrtr.js"

/** The extension's identifier, in `capabilities.extensions` on both sides. @internal */
export const EXTENSION = "io.modelcontextprotocol/tasks"

/** Whether a tool's calls may become tasks. @internal */
export type Support = "forbidden" | "optional" | "required"

/** When a task-supporting call becomes a task: at once, or when its handler escalates. @internal */
export type Start = "immediate" | "escalate"

/** A task's status. @internal */
export type Status = "working" | "input_required" | "completed" | "failed" | "cancelled"

/** How long tasks live, how often clients should poll, how many may live at once. @internal */
export interface Settings {
  readonly ttlMs: number
  readonly pollIntervalMs: number
  readonly maxTasks: number
}

/** The defaults: an hour, a second, a thousand. @internal */
export const DEFAULT_SETTINGS: Settings = { ttlMs: 3_600_000, pollIntervalMs: 1_000, maxTasks: 1_000 }

const positiveInteger = (name: string, value: number): number => {
  if (!(Number.isInteger(value) && value > 0)) {
    throw new RangeError(`McpServer: tasks.${name} must be a positive integer, got ${value}`)
  }
  return value
}

/** The settings from the server's options, checked: a bad one is a bug in the server's declaration. @internal */
export const settingsOf = (options: { readonly [K in keyof Settings]?: number | undefined } | undefined): Settings => ({
  ttlMs: positiveInteger("ttlMs", options?.ttlMs ?? DEFAULT_SETTINGS.ttlMs),
  pollIntervalMs: positiveInteger("pollIntervalMs", options?.pollIntervalMs ?? DEFAULT_SETTINGS.pollIntervalMs),
  maxTasks: positiveInteger("maxTasks", options?.maxTasks ?? DEFAULT_SETTINGS.maxTasks)
})

/** True when capabilities (a request's, or the server's own) declare the extension. @internal */
export const declares = (capabilities: Pick<McpSchema.ClientCapabilities, "extensions">): boolean =>
  capabilities.extensions !== undefined && capabilities.extensions[EXTENSION] !== undefined

/** -32021 naming the extension: for `tasks/*` and task-required tools from a client without it. @internal */
export const missingExtension = (): JsonRpc.JsonRpcError => missingCapability({ extensions: { [EXTENSION]: {} } })

/** An unknown task, or one of another principal's (which must look the same). @internal */
const unknownTask = (taskId: string) => JsonRpc.invalidParams(`Failed to retrieve task: Task not found: ${taskId}`)

/** The store is full. @internal */
const tooManyTasks = (limit: number) =>
  JsonRpc.internalError(`Too many tasks: this server holds at most ${limit} at once; retry later`)

// --- The current task, as a handler sees it -----------------------------------------------------------------------

/** What a handler of a task-supporting call can do about its task. @internal */
export interface Handle {
  /** The task's id once the call is a task. */
  readonly taskId: () => string | undefined
  /** Makes the call a task now (no-op once it is one). */
  readonly escalate: Effect.Effect<void, JsonRpc.JsonRpcError>
}

/** The task handle of the running handler, if its call may be a task. @internal */
export const currentHandle: FiberRef.FiberRef<Option.Option<Handle>> = FiberRef.unsafeMake(Option.none())

/** The running handler's task id, when it runs as a task. @internal */
export const currentTaskId: Effect.Effect<Option.Option<string>> = Effect.map(
  FiberRef.get(currentHandle),
  Option.flatMap((handle) => Option.fromNullable(handle.taskId()))
)

// --- Tasks --------------------------------------------------------------------------------------------------------

interface Pending {
  readonly request: InputRequest
  readonly answer: Deferred.Deferred<unknown>
}

/** A JSON-RPC error object, as a failed task inlines it. */
type ErrorObject = ReturnType<JsonRpc.JsonRpcError["toErrorObject"]>

interface State {
  readonly status: Status
  readonly lastUpdatedAt: number
  readonly inputs: HashMap.HashMap<string, Pending>
  readonly result?: unknown
  readonly error?: ErrorObject
}

/** One task: what never changes, and its state. */
interface Task {
  readonly id: string
  readonly owner: Principal | undefined
  readonly createdAt: number
  readonly scope: Scope.CloseableScope
  readonly state: Ref.Ref<State>
  /** The count of asks so far, which mints their keys (unique over the task's life). */
  readonly asks: Ref.Ref<number>
  readonly fiber: Ref.Ref<Option.Option<Fiber.RuntimeFiber<McpSchema.CallToolResult, JsonRpc.JsonRpcError>>>
}

const isTerminal = (status: Status) => status === "completed" || status === "failed" || status === "cancelled"

const KIND: { readonly [method: string]: string } = {
  "elicitation/create": "elicit",
  "sampling/createMessage": "sample",
  "roots/list": "roots"
}

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** 128 random bits as 32 hex characters: task ids are bearer-like, so unguessable. */
const mintId = (): string =>
  Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("")

const isoOf = (millis: number) => new Date(millis).toISOString()

/** The store of one server. @internal */
export interface Store {
  readonly settings: Settings
  /** How many tasks are live. */
  readonly size: Effect.Effect<number>
  /**
   * Runs a task-supporting `tools/call` from a client that declared the extension: `run` calls the tool with the
   * asker and sink it is given. Answers the tool's result when the handler finished without becoming a task, or
   * the `CreateTaskResult` once it is one.
   */
  readonly call: (options: {
    /** The tool called, which names the task's span. */
    readonly tool: string
    readonly owner: Principal | undefined
    readonly start: Start
    readonly asker: Asker
    readonly reply: Sink
    readonly run: (asker: Asker, reply: Sink) => Effect.Effect<McpSchema.CallToolResult, JsonRpc.JsonRpcError>
  }) => Effect.Effect<unknown, JsonRpc.JsonRpcError>
  /** `tasks/get`: the task as it is now. */
  readonly get: (taskId: string, principal: Principal | undefined) => Effect.Effect<unknown, JsonRpc.JsonRpcError>
  /** `tasks/update`: answers to the task's asks; unknown or answered keys are ignored. */
  readonly update: TaskHandlers["update"]
  /** `tasks/cancel`: the task is cancelled (its handler interrupted) unless it has ended already. */
  readonly cancel: TaskHandlers["cancel"]
}

/** The empty acknowledgement of `tasks/update` and `tasks/cancel`. */
const ACK = { resultType: "complete" } as const

/** What the store's parts share: its settings, where status changes go, the live tasks and the store's scope. */
interface StoreContext {
  readonly settings: Settings
  readonly publish: (owner: Principal | undefined, notification: JsonRpc.Notification) => void
  readonly tasks: Ref.Ref<HashMap.HashMap<string, Task>>
  readonly scope: Scope.Scope
  /** The other instances, when the server runs as several: they read this one's tasks from what it tells. */
  readonly placement: TaskPlacementService | undefined
}

/**
 * Tells the other instances, if any, how a task stands now; done once they can read it, so that an answer sent
 * after it (the task created, cancelled) is never ahead of what another instance reads.
 */
const tell = (
  ctx: StoreContext,
  task: Task,
  state: State,
  now: number,
  notification?: JsonRpc.Notification
): Effect.Effect<void> =>
  ctx.placement === undefined ? Effect.void : ctx.placement.changed({
    taskId: task.id,
    owner: task.owner,
    ttlLeftMs: task.createdAt + ctx.settings.ttlMs - now,
    detail: detailed(ctx.settings, task, state),
    notification
  })

// --- Wire answers -------------------------------------------------------------------------------------------------

/** The task as `tasks/get` and `notifications/tasks` carry it. */
const detailed = (settings: Settings, task: Task, state: State) => ({
  taskId: task.id,
  status: state.status,
  createdAt: isoOf(task.createdAt),
  lastUpdatedAt: isoOf(state.lastUpdatedAt),
  ttlMs: settings.ttlMs,
  pollIntervalMs: settings.pollIntervalMs,
  ...(state.status === "input_required"
    ? { inputRequests: Object.fromEntries(HashMap.map(state.inputs, (pending) => pending.request)) }
    : {}),
  ...(state.status === "completed" ? { result: state.result } : {}),
  ...(state.status === "failed" ? { error: state.error } : {})
})

/** The `CreateTaskResult` a call answers once it is a task. */
const created = (settings: Settings, task: Task, state: State) => ({
  resultType: "task",
  taskId: task.id,
  status: state.status,
  createdAt: isoOf(task.createdAt),
  lastUpdatedAt: isoOf(state.lastUpdatedAt),
  ttlMs: settings.ttlMs,
  pollIntervalMs: settings.pollIntervalMs
})

// --- A task's life ------------------------------------------------------------------------------------------------

/** Changes a task's state, and tells the owner's listen streams when its status or its asks changed. */
const change = (ctx: StoreContext, task: Task, f: (state: State, now: number) => State) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.flatMap(Ref.modify(task.state, (before) => {
      const after = f(before, now)
      if (after === before) return [undefined, before]
      const next = { ...after, lastUpdatedAt: now }
      return [next, next]
    }), (next) => {
      if (next === undefined) return Effect.void
      const notification = JsonRpc.notification("notifications/tasks", detailed(ctx.settings, task, next))
      ctx.publish(task.owner, notification)
      return tell(ctx, task, next, now, notification)
    }))

/** The outcome of the handler's fiber, as the task's terminal state. */
const settle = (ctx: StoreContext, task: Task, exit: Exit.Exit<McpSchema.CallToolResult, JsonRpc.JsonRpcError>) =>
  change(ctx, task, (state): State => {
    if (isTerminal(state.status)) return state
    const base = { lastUpdatedAt: state.lastUpdatedAt, inputs: HashMap.empty<string, Pending>() }
    if (Exit.isSuccess(exit)) return { ...base, status: "completed", result: exit.value }
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) return { ...base, status: "failed", error: failure.value.toErrorObject() }
    if (Cause.isInterruptedOnly(exit.cause)) return { ...base, status: "cancelled" }
    return { ...base, status: "failed", error: JsonRpc.internalError().toErrorObject() }
  })

/** An ask of the client inside a task: parked under a fresh key until `tasks/update` answers it. */
const ask = (
  ctx: StoreContext,
  task: Task,
  method: string,
  params: unknown,
  timeout: Duration.DurationInput | undefined
) =>
  Effect.gen(function*() {
    const n = yield* Ref.getAndUpdate(task.asks, (n) => n + 1)
    const key = `${KIND[method] ?? "input"}-${n}`
    const answer = yield* Deferred.make<unknown>()
    const pending: Pending = { request: { method, params: params ?? {} }, answer }
    yield* change(ctx, task, (state) => ({
      ...state,
      status: isTerminal(state.status) ? state.status : "input_required",
      inputs: HashMap.set(state.inputs, key, pending)
    }))
    const waiting = Deferred.await(answer)
    const answered = timeout === undefined ? waiting : Effect.timeoutFail(waiting, {
      duration: timeout,
      onTimeout: () =>
        new ClientRequestError({
          method,
          reason: "Timeout",
          message: `The client did not answer ${method} within ${Duration.format(Duration.decode(timeout))}`
        })
    })
    // Unanswered when the handler stops waiting (timeout, cancellation): the ask is withdrawn.
    return yield* Effect.onExit(answered, () =>
      change(ctx, task, (state) => {
        if (!HashMap.has(state.inputs, key)) return state
        const inputs = HashMap.remove(state.inputs, key)
        const status = state.status === "input_required" && HashMap.isEmpty(inputs) ? "working" : state.status
        return { ...state, status, inputs }
      }))
  })

/** Makes `task` live: in the registry until its scope closes, which happens `ttlMs` after it was created. */
const register = (ctx: StoreContext, task: Task) =>
  Effect.gen(function*() {
    const { settings, tasks } = ctx
    const admitted = yield* Ref.modify(tasks, (map) =>
      HashMap.size(map) >= settings.maxTasks
        ? [false, map] as const
        : [true, HashMap.set(map, task.id, task)] as const)
    if (!admitted) return yield* Effect.fail(tooManyTasks(settings.maxTasks))
    // The handler ends before the task leaves the registry, so that its last status is told while the task can
    // still be read. The scope's finalizers alone would not see to it: they run in reverse order, and an
    // escalating handler's fiber joined the scope before the task was registered.
    const handler = Effect.flatMap(
      Ref.get(task.fiber),
      Option.match({ onNone: () => Effect.void, onSome: Fiber.interrupt })
    )
    yield* Scope.addFinalizer(task.scope, Effect.zipRight(handler, Ref.update(tasks, HashMap.remove(task.id))))
    const now = yield* Clock.currentTimeMillis
    yield* tell(ctx, task, yield* Ref.get(task.state), now)
    const left = Math.max(0, task.createdAt + settings.ttlMs - now)
    // The timer is the task's own: closing the scope from its fiber does not interrupt that fiber (forkIn). It
    // must be interruptible itself (this region is not), or a shutdown would wait out the ttl.
    const expire = Effect.zipRight(Effect.sleep(Duration.millis(left)), Scope.close(task.scope, Exit.void))
    yield* Effect.forkIn(Effect.interruptible(expire), task.scope)
  }).pipe(Effect.uninterruptible)

// --- A call that may become a task --------------------------------------------------------------------------------

/** The span of a task's life, begun when the call becomes one, under the span the call began in. */
const beginSpan = (tool: string, task: Task, parent: Option.Option<Tracer.AnySpan>) =>
  Effect.makeSpan(`McpTask ${tool}`, {
    kind: "internal",
    attributes: { [McpTelemetry.Attribute.taskId]: task.id, [McpTelemetry.Attribute.toolName]: tool },
    captureStackTrace: false,
    ...(Option.isSome(parent) ? { parent: parent.value } : {})
  })

/** Ends a task's span as the task ended: its last status, and what went wrong, as the request spans say it. */
const endSpan = (span: Tracer.Span, task: Task, exit: Exit.Exit<McpSchema.CallToolResult, JsonRpc.JsonRpcError>) =>
  Effect.flatMap(Ref.get(task.state), (state) =>
    Effect.flatMap(Clock.currentTimeNanos, (now) =>
      Effect.sync(() => {
        span.attribute(McpTelemetry.Attribute.taskStatus, state.status)
        if (state.error !== undefined) span.attribute(McpTelemetry.Attribute.errorType, String(state.error.code))
        else if (Exit.isSuccess(exit) && exit.value.isError === true) {
          span.attribute(McpTelemetry.Attribute.errorType, "tool_error")
        }
        span.end(now, exit)
      })))

/** `Store.call` of a store. */
const callIn = (ctx: StoreContext): Store["call"] =>
  Effect.fn("McpTask.call")(
    function*({ asker: base, owner, reply, run, start, tool }: Parameters<Store["call"]>[0]) {
      // Where the task's span goes, when the server traces: decided when it was built, so asked of the asker.
      const parent = base.telemetry ? yield* Effect.option(Effect.currentSpan) : Option.none()
      let span: Tracer.Span | undefined
      const scope = yield* Scope.fork(ctx.scope, ExecutionStrategy.sequential)
      const asks = yield* Ref.make(0)
      const fiberRef = yield* Ref.make(Option.none<Fiber.RuntimeFiber<McpSchema.CallToolResult, JsonRpc.JsonRpcError>>())
      const createResult = yield* Deferred.make<unknown>()
      // The task, once the call is one. Read synchronously by the asker and the sink: set once, by `escalate` only.
      let task: Task | undefined
      // One escalation at a time, so asks made in parallel cannot register the task twice.
      const once = yield* Effect.makeSemaphore(1)
      const escalate = once.withPermits(1)(Effect.suspend(() =>
        task !== undefined ? Effect.void : Effect.gen(function*() {
          // The task begins here, not with the request: an escalating handler may have worked for longer than
          // the ttl before, and its task must still be readable for ttlMs, and say when it was created.
          const now = yield* Clock.currentTimeMillis
          const made: Task = {
            id: mintId(),
            owner,
            createdAt: now,
            scope,
            state: yield* Ref.make<State>({ status: "working", lastUpdatedAt: now, inputs: HashMap.empty() }),
            asks,
            fiber: fiberRef
          }
          yield* register(ctx, made)
          task = made
          if (base.telemetry) span = yield* beginSpan(tool, made, parent)
          yield* Deferred.succeed(createResult, created(ctx.settings, made, yield* Ref.get(made.state)))
        })
      ))
      const asker: Asker = {
        clientCapabilities: base.clientCapabilities,
        telemetry: base.telemetry,
        get rounds() {
          return task !== undefined ? undefined : base.rounds
        },
        sendRequest: (deliver, method, params, timeout, inputKey) =>
          Effect.suspend(() =>
            task !== undefined
              ? ask(ctx, task, method, params, timeout)
              : base.sendRequest(deliver, method, params, timeout, inputKey)
          )
      }
      // A task has no stream of its own: what it notifies after it became one goes nowhere.
      const sink: Sink = (message) => task === undefined && reply(message)
      const handle: Handle = { taskId: () => task?.id, escalate }
      // Once registered, a task must get its handler: a request interrupted in between (its client went away)
      // would leave a task that nothing ever settles, holding a slot of maxTasks until it expires.
      const fiber = yield* Effect.uninterruptible(Effect.gen(function*() {
        if (start === "immediate") {
          yield* Effect.onError(escalate, () => Scope.close(scope, Exit.void))
        }
        const running = Effect.locally(run(asker, sink), currentHandle, Option.some(handle))
        // A task from the start runs its handler under its span; one that escalates began under the request's.
        const forked = yield* (span === undefined ? running : Effect.withParentSpan(running, span)).pipe(
          // Interruptible although forked from an uninterruptible region: cancellation and expiry interrupt it.
          Effect.interruptible,
          // On every exit, interruption included: a cancelled or expired task settles too.
          Effect.onExit((exit) => {
            if (task === undefined) return Effect.void
            const settled = settle(ctx, task, exit)
            return span === undefined ? settled : Effect.zipRight(settled, endSpan(span, task, exit))
          }),
          Effect.forkIn(scope)
        )
        yield* Ref.set(fiberRef, Option.some(forked))
        return forked
      }))
      const outcome = yield* Effect.race(
        Effect.map(Deferred.await(createResult), (result) => ({ _tag: "Task" as const, result })),
        Effect.map(Fiber.await(fiber), (exit) => ({ _tag: "Done" as const, exit }))
      ).pipe(
        // The request gave up (cancelled, or stopped for a round of input) before the call became a task.
        Effect.onInterrupt(() => (task !== undefined ? Effect.void : Scope.close(scope, Exit.void)))
      )
      if (outcome._tag === "Task") return outcome.result
      if (task !== undefined) return yield* Deferred.await(createResult)
      yield* Scope.close(scope, Exit.void)
      return yield* outcome.exit
    }
  )

// --- The tasks/* methods ------------------------------------------------------------------------------------------

/** The live task of that id, if the caller may see it; another principal's is as unknown as a missing one. */
const find = (ctx: StoreContext, taskId: string, principal: Principal | undefined) =>
  Effect.flatMap(Ref.get(ctx.tasks), (map) => {
    const task = Option.getOrUndefined(HashMap.get(map, taskId))
    const visible = task !== undefined && (task.owner === undefined
      ? principal === undefined
      : principal !== undefined && isSameParty(task.owner, principal))
    return visible ? Effect.succeed(task) : Effect.fail(unknownTask(taskId))
  })

/** `Store.update` of a store. */
const updateIn = (ctx: StoreContext): Store["update"] =>
  Effect.fn("McpTask.update")(
    function*(taskId: string, principal: Principal | undefined, responses: { readonly [key: string]: unknown }) {
      const task = yield* find(ctx, taskId, principal)
      const answered: Array<Effect.Effect<boolean>> = []
      yield* change(ctx, task, (state) => {
        let inputs = state.inputs
        for (const [key, response] of Object.entries(responses)) {
          const pending = Option.getOrUndefined(HashMap.get(inputs, key))
          // Every answer is a result object; anything else answers nothing, and the ask stays.
          if (pending === undefined || !isRecord(response)) continue
          inputs = HashMap.remove(inputs, key)
          answered.push(Deferred.succeed(pending.answer, response))
        }
        if (inputs === state.inputs) return state
        const status = state.status === "input_required" && HashMap.isEmpty(inputs) ? "working" : state.status
        return { ...state, status, inputs }
      })
      yield* Effect.all(answered, { discard: true })
      return ACK
    }
  )

/** `Store.cancel` of a store. */
const cancelIn = (ctx: StoreContext): Store["cancel"] =>
  Effect.fn("McpTask.cancel")(
    function*(taskId: string, principal: Principal | undefined) {
      const task = yield* find(ctx, taskId, principal)
      yield* change(ctx, task, (state) =>
        isTerminal(state.status)
          ? state
          : { ...state, status: "cancelled", inputs: HashMap.empty() })
      // Cancelled now, whatever the handler does while it is interrupted: the ack does not wait for it.
      const fiber = yield* Ref.get(task.fiber)
      if (Option.isSome(fiber)) yield* Fiber.interruptFork(fiber.value)
      return ACK
    }
  )

/**
 * Builds the store in the current scope: closing it ends every task. `publish` hears each change of a task's
 * status, as the `notifications/tasks` to send to the owner's listen streams.
 * @internal
 */
export const makeStore = Effect.fnUntraced(function*(
  settings: Settings,
  publish: (owner: Principal | undefined, notification: JsonRpc.Notification) => void
) {
  const scope = yield* Effect.scope
  const tasks = yield* Ref.make(HashMap.empty<string, Task>())
  const placement = Option.getOrUndefined(yield* Effect.serviceOption(TaskPlacement))
  const ctx: StoreContext = { settings, publish, tasks, scope, placement }
  const get: Store["get"] = (taskId, principal) =>
    Effect.flatMap(find(ctx, taskId, principal), (task) =>
      Effect.map(Ref.get(task.state), (state) => ({ resultType: "complete", ...detailed(settings, task, state) })))
  const update = updateIn(ctx)
  const cancel = cancelIn(ctx)
  const store: Store = { settings, size: Effect.map(Ref.get(ctx.tasks), HashMap.size), call: callIn(ctx), get, update, cancel }
  if (placement === undefined) return store
  yield* placement.attach({ deliver: publish, update, cancel })
  // A task not here may be another instance's: asked of the placement, which answers for its owner.
  const routed = (
    taskId: string,
    here: Effect.Effect<unknown, JsonRpc.JsonRpcError>,
    there: Effect.Effect<Option.Option<unknown>, JsonRpc.JsonRpcError>
  ) =>
    Effect.flatMap(Ref.get(tasks), (map) =>
      HashMap.has(map, taskId) ? here : Effect.flatMap(there, Option.match({
        onNone: () => Effect.fail(unknownTask(taskId)),
        onSome: Effect.succeed
      })))
  return {
    ...store,
    get: (taskId, principal) => routed(taskId, get(taskId, principal), placement.get(taskId, principal)),
    update: (taskId, principal, responses) =>
      routed(taskId, update(taskId, principal, responses), placement.update(taskId, principal, responses)),
    cancel: (taskId, principal) => routed(taskId, cancel(taskId, principal), placement.cancel(taskId, principal))
  } satisfies Store
})
