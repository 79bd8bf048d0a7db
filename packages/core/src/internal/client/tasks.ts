/**
 * The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) from the client's side: a `tools/call` the
 * server made a task, followed to its end by polling `tasks/get`, its asks answered with the client's handlers
 * through `tasks/update`, and cancelled when no one waits for it any more. Kept apart from the typed calls, which
 * only hand a task here.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import * as McpSchema from "../../McpSchema.js"
import { decoder, rpcError } from "./decode.js"
import * as Handlers from "./handlers.js"
import type { Send, TasksService } from "./service.js"

/** How often a task is polled when the server does not say. */
const DEFAULT_POLL_INTERVAL_MS = 1_000

// A task's result is the tool's, never another task.
const decodeCallTool = decoder(McpSchema.CallToolResult)("tools/call")

/** Tells a task handle from a tool's result. @internal */
export const isCreateTaskResult = (
  result: McpSchema.CreateTaskResult | McpSchema.CallToolResult
): result is McpSchema.CreateTaskResult => "resultType" in result && result.resultType === "task"

/** What following tasks needs of the client. @internal */
export interface Inputs {
  readonly send: Send
  readonly handlers: Handlers.Handlers
  readonly maxInputRounds: number
  /** The client's scope, where a task no one waits for is cancelled. */
  readonly scope: Scope.Scope
}

/** One task being followed: how often to poll, and the asks answered so far. */
class Follower {
  private interval: number
  private rounds = 0
  /** Each key of `inputRequests` is answered once (see `TasksService.await`). */
  private readonly answered = new Set<string>()
  /** Whether the task ended on the server, so that there is nothing to cancel. */
  settled = false

  constructor(
    private readonly inputs: Inputs,
    private readonly service: TasksService,
    readonly taskId: string,
    pollIntervalMs: number | undefined
  ) {
    this.interval = pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS
  }

  /** The task, polled until it ends: its result, or its failure. */
  follow(): Effect.Effect<McpSchema.CallToolResult, McpClientError> {
    return Effect.gen(this, function*() {
      while (true) {
        const state = yield* this.service.get(this.taskId)
        this.interval = state.pollIntervalMs ?? this.interval
        if (state.status === "completed" || state.status === "failed" || state.status === "cancelled") {
          this.settled = true
          return yield* this.ended(state)
        }
        const asks = Object.entries(state.inputRequests ?? {}).filter(([key]) => !this.answered.has(key))
        if (state.status === "input_required" && asks.length > 0) {
          yield* this.answer(asks)
          continue
        }
        yield* Effect.sleep(Duration.millis(this.interval))
      }
    })
  }

  /** What a task that ended gives: the tool's result, its error as `RpcError`, or `TaskCancelled`. */
  private ended(state: McpSchema.GetTaskResult): Effect.Effect<McpSchema.CallToolResult, McpClientError> {
    const taskId = this.taskId
    if (state.status === "completed") return decodeCallTool(state.result)
    if (state.status === "failed") {
      return Effect.fail(rpcError(
        state.error ?? { code: JsonRpc.ErrorCode.InternalError, message: `Task ${taskId} failed` }
      ))
    }
    return Effect.fail(
      new McpClientError({
        reason: "TaskCancelled",
        message: `Task ${taskId} was cancelled before it had a result`
      })
    )
  }

  /** Answers the task's new asks with the handlers, through `tasks/update`. */
  private answer(
    asks: ReadonlyArray<readonly [string, { readonly method: string; readonly params?: unknown }]>
  ): Effect.Effect<void, McpClientError> {
    return Effect.gen(this, function*() {
      const maxInputRounds = this.inputs.maxInputRounds
      if (this.rounds >= maxInputRounds) {
        return yield* Handlers.inputError(`Task ${this.taskId} still asked for input after ${maxInputRounds} rounds`)
      }
      this.rounds++
      const responses = yield* Handlers.answerInputs(this.inputs.handlers, asks)
      yield* this.service.update(this.taskId, responses)
      for (const [key] of asks) this.answered.add(key)
    })
  }
}

/** The tasks service of one client. @internal */
export const make = (inputs: Inputs): TasksService => {
  const { send } = inputs
  const service: TasksService = {
    get: (taskId) => send("tasks/get", { taskId }),
    update: (taskId, inputResponses) => Effect.asVoid(send("tasks/update", { taskId, inputResponses })),
    cancel: (taskId) => Effect.asVoid(send("tasks/cancel", { taskId })),
    /**
     * A task to its end (see `TasksService.await`). Each key of `inputRequests` is answered once: a poll that comes
     * before the server took the answers in shows them again, and they are not asked of the handlers twice.
     */
    await: Effect.fn("McpClient.awaitTask")(function*(
      task: { readonly taskId: string; readonly pollIntervalMs?: number | undefined }
    ) {
      const follower = new Follower(inputs, service, task.taskId, task.pollIntervalMs)
      // A task the caller no longer waits for is of no use to anyone: the server may stop its work. The request
      // is made interruptible again (a finalizer's fork inherits its uninterruptibility, and the request races its
      // answer against the send), so that closing the client does not wait on it.
      return yield* Effect.onExit(follower.follow(), (exit) =>
        Exit.isSuccess(exit) || follower.settled
          ? Effect.void
          : service.cancel(task.taskId).pipe(
            Effect.ignore,
            Effect.interruptible,
            Effect.forkIn(inputs.scope),
            Effect.asVoid
          ))
    })
  }
  return service
}
