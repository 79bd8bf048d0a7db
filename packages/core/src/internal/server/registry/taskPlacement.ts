/**
 * What a server's task store asks of the instances it runs among (`McpTask.Placement`, which re-exports it): a
 * task runs where it was created (its fiber and its asks live there), and the others read it from a record the
 * owner keeps, and send it `tasks/update` and `tasks/cancel`. Without it the store is one process's.
 * @internal
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as JsonRpc from "../../../JsonRpc.js"
import type { Principal } from "../../../McpAuth.js"

/**
 * A task of this instance as the others see it: `detail` is what `tasks/get` answers (without `resultType`),
 * kept `ttlLeftMs` more, as long as the task itself.
 *
 * @since 0.1.0
 */
export interface TaskRecord {
  readonly taskId: string
  readonly owner: Principal | undefined
  readonly ttlLeftMs: number
  readonly detail: { readonly status: string; readonly [key: string]: unknown }
  /** The `notifications/tasks` the change told this instance's listen streams; none when the task was created. */
  readonly notification: JsonRpc.Notification | undefined
}

/** What the store does for a request of another instance about one of its tasks. @since 0.1.0 */
export interface TaskHandlers {
  /** A status told by another instance, for the listen streams of the task's owner here. */
  readonly deliver: (owner: Principal | undefined, notification: JsonRpc.Notification) => void
  /** `tasks/update` of a task here, asked on another instance (the principal checked again here). */
  readonly update: (
    taskId: string,
    principal: Principal | undefined,
    responses: { readonly [key: string]: unknown }
  ) => Effect.Effect<unknown, JsonRpc.JsonRpcError>
  /** `tasks/cancel` of a task here, asked on another instance. */
  readonly cancel: (taskId: string, principal: Principal | undefined) => Effect.Effect<unknown, JsonRpc.JsonRpcError>
}

/** @since 0.1.0 */
export interface TaskPlacementService {
  /**
   * A task here began or changed: its record is written, and its notification told to the other instances. Done
   * once the others can read it (or it could not be written: it never fails).
   */
  readonly changed: (record: TaskRecord) => Effect.Effect<void>
  /** `tasks/get` of a task not here: its record as the caller may see it, none when unknown (or another's). */
  readonly get: (taskId: string, principal: Principal | undefined) => Effect.Effect<Option.Option<unknown>, JsonRpc.JsonRpcError>
  /** `tasks/update` of a task not here, sent to its owner; none when unknown (or another's). */
  readonly update: (
    taskId: string,
    principal: Principal | undefined,
    responses: { readonly [key: string]: unknown }
  ) => Effect.Effect<Option.Option<unknown>, JsonRpc.JsonRpcError>
  /** `tasks/cancel` of a task not here, sent to its owner; none when unknown (or another's). */
  readonly cancel: (taskId: string, principal: Principal | undefined) => Effect.Effect<Option.Option<unknown>, JsonRpc.JsonRpcError>
  /** Runs for the store's life: what the other instances ask of this one's tasks goes to `handlers`. */
  readonly attach: (handlers: TaskHandlers) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * The placement of a server's tasks among instances; optional. Read when the server is built.
 *
 * @since 0.1.0
 */
export class TaskPlacement extends Context.Tag("@effect-mcp/core/McpTask/Placement")<
  TaskPlacement,
  TaskPlacementService
>() {}
