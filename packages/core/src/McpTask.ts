/**
 * Tasks (the extension `io.modelcontextprotocol/tasks`, SEP-2663): a `tools/call` answered with a task handle
 * (`CreateTaskResult`) instead of its result, which the client then polls (`tasks/get`), feeds input
 * (`tasks/update`) and may cancel (`tasks/cancel`).
 *
 * A tool opts in with `taskSupport` (`McpTool.make`): `"optional"` runs as a task for clients that declare the
 * extension on the request and synchronously for the others; `"required"` refuses the others with -32021. The
 * server decides, not the client: by default a task-supporting call becomes a task at once. With
 * `taskStart: "escalate"` the handler first runs as an ordinary call (it may gather input through the request's
 * multi round-trip rounds) and becomes a task when it calls `McpTask.escalate`.
 *
 * Inside a task the handler is unchanged: `elicit`, `createMessage` and `listRoots` park the task in
 * `input_required` until the client answers through `tasks/update`; the handler's result completes the task (a
 * tool error too, as `isError`), a `JsonRpcError` or a defect fails it, `tasks/cancel` interrupts it. A task stays
 * readable for `ttlMs` after it began, then is removed (interrupted if still running); the server stopping ends
 * them all. Tasks are bound to the caller's principal, when there is one.
 *
 * ```ts
 * const Report = McpTool.make("report", {
 *   input: Schema.Struct({ month: Schema.String }),
 *   taskSupport: "optional",
 *   handler: ({ month }) => buildReport(month) // minutes of work: the client polls meanwhile
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Tasks from "./internal/server/tasks.js"
import type * as JsonRpc from "./JsonRpc.js"

/** The extension's identifier, as both sides name it in `capabilities.extensions`. @since 0.1.0 */
export const EXTENSION: "io.modelcontextprotocol/tasks" = "io.modelcontextprotocol/tasks"

/**
 * Whether a tool's calls may become tasks, as `tools/list` shows it (`execution.taskSupport`): never
 * (`"forbidden"`, the default), for clients that declared the extension (`"optional"`), or always, refusing the
 * other clients with -32021 (`"required"`).
 *
 * @since 0.1.0
 */
export type TaskSupport = "forbidden" | "optional" | "required"

/**
 * When a task-supporting call becomes a task: before its handler starts (`"immediate"`, the default), or when the
 * handler calls `McpTask.escalate` (`"escalate"`; a handler that never does answers synchronously).
 *
 * @since 0.1.0
 */
export type TaskStart = "immediate" | "escalate"

/** A task's status, as `tasks/get` reports it. @since 0.1.0 */
export type TaskStatus = "working" | "input_required" | "completed" | "failed" | "cancelled"

/** The server's task settings (`McpServer.layer({ tasks })`). @since 0.1.0 */
export interface Options {
  /** How long a task stays readable after it began, in milliseconds; then it is removed. Default one hour. */
  readonly ttlMs?: number | undefined
  /** The polling interval clients are asked to keep, in milliseconds. Default 1,000. */
  readonly pollIntervalMs?: number | undefined
  /** Tasks that may live at once; past it a call that would start one gets a JSON-RPC error. Default 1,000. */
  readonly maxTasks?: number | undefined
}

/**
 * Makes the running call a task now: the request is answered with a `CreateTaskResult`, and the rest of the
 * handler runs as the task. For tools with `taskStart: "escalate"`, after gathering input synchronously (SEP-2663
 * asks that multi round-trip exchanges finish before the task exists). Does nothing when the call is a task
 * already, or cannot become one (a tool without task support, a client without the extension). Fails with a
 * JSON-RPC error when the server holds `maxTasks` already.
 *
 * @since 0.1.0
 */
export const escalate: Effect.Effect<void, JsonRpc.JsonRpcError> = Effect.flatMap(
  FiberRef.get(Tasks.currentHandle),
  Option.match({ onNone: () => Effect.void, onSome: (handle) => handle.escalate })
)

/**
 * The id of the task the running handler serves, if its call is a task (for logs, or to tell the user).
 *
 * @since 0.1.0
 */
export const currentTaskId: Effect.Effect<Option.Option<string>> = Tasks.currentTaskId

/**
 * The placement of a server's tasks among the instances it runs as (`@effect-mcp/cluster` provides one): a task
 * created on one instance is read, updated and cancelled on every other, and its status reaches their listen
 * streams. Optional: without it, tasks are the process's own.
 *
 * @since 0.1.0
 */
export { TaskPlacement as Placement } from "./internal/server/registry/taskPlacement.js"

/** @since 0.1.0 */
export type {
  TaskHandlers,
  TaskPlacementService as PlacementService,
  TaskRecord
} from "./internal/server/registry/taskPlacement.js"
