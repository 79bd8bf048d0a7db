/**
 * What an `McpClient` offers, as types: the service, its tasks, and the options of a request, a list and a
 * `listen`. `McpClient` re-exports all of them, and is where users find them.
 *
 * Kept apart from `McpClient` because the internal modules that build the service (calls, tasks) are typed by
 * it, and `McpClient` imports those modules: in one module they would import each other.
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as JsonRpc from "../../JsonRpc.js"
import type { McpClientError, ToolError } from "../../McpClientError.js"
import type * as McpMethod from "../../McpMethod.js"
import type * as McpSchema from "../../McpSchema.js"
import type * as McpTool from "../../McpTool.js"
import type * as Correlation from "./correlation.js"
import type * as ClientListen from "./listen.js"
import type { Subscription } from "./listen.js"

// The types of the schemas `McpClient` exports as `Progress`, `DiscoverResult` and `SubscriptionFilter`.
type Progress = typeof Correlation.Progress.Type
type DiscoverResult = McpMethod.Result<"server/discover">
type SubscriptionFilter = typeof ClientListen.SubscriptionFilter.Type

/**
 * Options of one `listen`.
 *
 * @since 0.1.0
 */
export interface ListenOptions {
  /**
   * When the connection of a 2026-07-28 listen stream drops (a `Transport` failure: no JSON-RPC error, no listen
   * result, the client still open), the same filter is asked for again under a new request id, after the waits of
   * this schedule, which is fed the failure; while reconnecting, a 502, 503 or 504 and an acknowledgement later
   * than `requestTimeout` are retried as well. The stream fails with the last failure once the schedule is done.
   * `false` fails the stream at the first drop. Default: the client's `listenReconnect`, else
   * `defaultListenReconnect`. The first request is never retried: `listen` fails with it. A listen on a session
   * rides on the session, which the transport keeps up itself, so it ignores this.
   */
  readonly reconnect?: Schedule.Schedule<unknown, McpClientError> | false | undefined
}

/** Options of one request. @since 0.1.0 */
export interface RequestOptions {
  /**
   * Receives the request's `notifications/progress`; giving it asks the server for progress (a progress token is
   * added to the request). It runs on the client's receiving fiber, so keep it short.
   */
  readonly onProgress?: ((progress: Progress) => Effect.Effect<void>) | undefined
}

/** Options of a list request. @since 0.1.0 */
export interface ListOptions {
  /** The `nextCursor` of the previous page. */
  readonly cursor?: string | undefined
}

/**
 * The client's era choice, as `McpClientService.era` reports it and `Options.protocol` names it: `modern` is a
 * sessionless revision (2026-07-28: `_meta` on every request, `server/discover`, no `initialize`), `legacy` one
 * with sessions (`initialize`, 2024-11-05 to 2025-11-25). The revision itself is `protocolVersion`.
 *
 * @since 0.1.0
 */
export type Era = "modern" | "legacy"

/**
 * A request `send` takes: one the server answers with one result (`McpMethod.DispatchedName`), which leaves out
 * `subscriptions/listen`, whose answer is the stream `listen` gives.
 *
 * @since 0.1.0
 */
export type SendName = McpMethod.DispatchedName

/**
 * The params `send` takes for `method`: the table's (`McpMethod.Params`), which may be left `undefined` (no params
 * on the wire) when every field of them is optional.
 *
 * @since 0.1.0
 */
export type SendParams<M extends SendName> = {} extends McpMethod.Params<M> ? McpMethod.Params<M> | undefined
  : McpMethod.Params<M>

/**
 * A request of the method table, its params typed and its result decoded by the table: what `send` is, and what
 * the named calls are built on.
 *
 * @since 0.1.0
 */
export type Send = <M extends SendName>(
  method: M,
  params: SendParams<M>,
  options?: RequestOptions
) => Effect.Effect<McpMethod.Result<M>, McpClientError>

/** The items of a page of a listing `M`, as the table types them. */
type Items<M extends SendName, K extends keyof McpMethod.Result<M>> = McpMethod.Result<M>[K]

/** The params of `M` the table types, one field of them. */
type Param<M extends SendName, K extends keyof McpMethod.Params<M>> = McpMethod.Params<M>[K]

/** A tool's result: a `tools/call` result that is not a task handle. */
type ToolResult = Exclude<McpMethod.Result<"tools/call">, McpSchema.CreateTaskResult>

/** @since 0.1.0 */
export interface McpClientService {
  /** The client's era choice (`Era`): found by the `server/discover` probe in `auto` mode. */
  readonly era: Effect.Effect<Era>
  /** The revision in use: the one claimed on each request (sessionless), or negotiated by `initialize`. */
  readonly protocolVersion: Effect.Effect<string>
  /**
   * The server's `server/discover` result; from a server with sessions, one built from the `initialize` result
   * (`supportedVersions` is then the negotiated revision).
   */
  readonly discoverResult: Effect.Effect<DiscoverResult>
  /** The server's capabilities, whatever its revision. */
  readonly capabilities: Effect.Effect<McpSchema.ServerCapabilities>
  /**
   * The server's `initialize` result (of the current session, after a re-initialization); from a sessionless server,
   * one built from the discover result.
   */
  readonly initializeResult: Effect.Effect<McpMethod.Result<"initialize">>
  /** The server's name and version. */
  readonly serverInfo: Effect.Effect<McpSchema.Implementation>
  /** The server's session id, when the transport has one. */
  readonly sessionId: Effect.Effect<Option.Option<string>>
  /**
   * Sends a request of the method table (`McpMethod`): the params are typed by the table and the result decoded
   * with its schema, as the named calls below (which are built on it) do; a `tools/call` refused -32020 at
   * 2026-07-28 is retried once as `callToolTask` says. For a method outside the table, `request`.
   */
  readonly send: Send
  /** Sends any request and decodes its result with `schema`. */
  readonly request: <A, I>(
    method: string,
    params: unknown,
    schema: Schema.Schema<A, I, never>,
    options?: RequestOptions
  ) => Effect.Effect<A, McpClientError>
  /** Sends a notification. */
  readonly notify: (method: string, params?: unknown) => Effect.Effect<void, McpClientError>
  /**
   * Every notification the server sends (progress, log messages, list changes), from when the stream is run;
   * it ends when the client closes or the connection is lost.
   */
  readonly notifications: Stream.Stream<JsonRpc.Notification>
  /**
   * Like `notifications`, but subscribed at once: the stream sees every notification sent after this, however
   * late it is run. For forking a consumer before a request without racing it.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<JsonRpc.Notification>, never, Scope.Scope>
  readonly ping: Effect.Effect<void, McpClientError>
  /** One page of tools: the first, or the one after `cursor`. */
  readonly listTools: (options?: ListOptions) => Effect.Effect<McpMethod.Result<"tools/list">, McpClientError>
  /** Every tool, page after page, following `nextCursor`. */
  readonly listAllTools: Effect.Effect<Items<"tools/list", "tools">, McpClientError>
  /**
   * Calls a tool by its shared definition (`McpTool.define`): the arguments are encoded with its input schema, and a
   * structured tool's `structuredContent` is decoded with its output schema (a content tool gives its whole result).
   * An error result (`isError: true`) fails with `ToolError`, carrying its text.
   */
  readonly call: {
    <A, I, OA, OI extends McpTool.StructuredObject>(
      tool: McpTool.Definition<A, I, OA, OI>,
      input: A,
      options?: RequestOptions
    ): Effect.Effect<OA, McpClientError | ToolError>
    <A, I>(
      tool: McpTool.ContentDefinition<A, I>,
      input: A,
      options?: RequestOptions
    ): Effect.Effect<ToolResult, McpClientError | ToolError>
  }
  /** Calls a tool by name. A tool's own failure is a result with `isError: true`, not an error of this Effect. */
  readonly callTool: (
    name: Param<"tools/call", "name">,
    args?: Param<"tools/call", "arguments">,
    options?: RequestOptions
  ) => Effect.Effect<ToolResult, McpClientError>
  /**
   * Calls a tool by name and hands back the task the server made of the call, without waiting for it (the tasks
   * extension: needs `Options.tasks`): a `CreateTaskResult` to follow with `tasks`, or the tool's result when the
   * server answered at once (a tool without task support, or one that finished before it became a task).
   */
  readonly callToolTask: (
    name: Param<"tools/call", "name">,
    args?: Param<"tools/call", "arguments">,
    options?: RequestOptions
  ) => Effect.Effect<McpMethod.Result<"tools/call">, McpClientError>
  /** The tasks extension's requests, for code that holds a task handle (`callToolTask`) rather than waiting. */
  readonly tasks: TasksService
  /** One page of resources: the first, or the one after `cursor`. */
  readonly listResources: (options?: ListOptions) => Effect.Effect<McpMethod.Result<"resources/list">, McpClientError>
  /** Every resource, page after page, following `nextCursor`. */
  readonly listAllResources: Effect.Effect<Items<"resources/list", "resources">, McpClientError>
  /** One page of resource templates: the first, or the one after `cursor`. */
  readonly listResourceTemplates: (
    options?: ListOptions
  ) => Effect.Effect<McpMethod.Result<"resources/templates/list">, McpClientError>
  /** Every resource template, page after page, following `nextCursor`. */
  readonly listAllResourceTemplates: Effect.Effect<
    Items<"resources/templates/list", "resourceTemplates">,
    McpClientError
  >
  readonly readResource: (
    uri: Param<"resources/read", "uri">,
    options?: RequestOptions
  ) => Effect.Effect<McpMethod.Result<"resources/read">, McpClientError>
  /** One page of prompts: the first, or the one after `cursor`. */
  readonly listPrompts: (options?: ListOptions) => Effect.Effect<McpMethod.Result<"prompts/list">, McpClientError>
  /** Every prompt, page after page, following `nextCursor`. */
  readonly listAllPrompts: Effect.Effect<Items<"prompts/list", "prompts">, McpClientError>
  readonly getPrompt: (
    name: Param<"prompts/get", "name">,
    args?: Param<"prompts/get", "arguments">,
    options?: RequestOptions
  ) => Effect.Effect<McpMethod.Result<"prompts/get">, McpClientError>
  /** Asks for completions of a prompt or resource template argument. */
  readonly complete: (
    params: McpMethod.Params<"completion/complete">
  ) => Effect.Effect<McpMethod.Result<"completion/complete">, McpClientError>
  /** Sets the minimum level of the log messages the server sends. */
  readonly setLoggingLevel: (level: Param<"logging/setLevel", "level">) => Effect.Effect<void, McpClientError>
  /** Asks for `notifications/resources/updated` about `uri` (they arrive on `notifications`). */
  readonly subscribeResource: (uri: Param<"resources/subscribe", "uri">) => Effect.Effect<void, McpClientError>
  readonly unsubscribeResource: (uri: Param<"resources/unsubscribe", "uri">) => Effect.Effect<void, McpClientError>
  /** Tells the server the client's roots changed (`notifications/roots/list_changed`). */
  readonly rootsChanged: Effect.Effect<void, McpClientError>
  /**
   * Opens a stream of change notifications, for as long as the scope: with a 2026-07-28 server a
   * `subscriptions/listen` request (waits for its acknowledgement); with sessions, the session's own
   * notifications, filtered, with `resources/subscribe` for each of `resourceSubscriptions` (and unsubscribe when
   * the scope closes). `acknowledged` leaves out what the server does not offer. The notifications also appear
   * on `notifications`. A 2026-07-28 stream whose connection drops is reconnected as `options.reconnect` says.
   */
  readonly listen: (
    filter: SubscriptionFilter,
    options?: ListenOptions
  ) => Effect.Effect<Subscription, McpClientError, Scope.Scope>
  /** Closes the client; the layer does it on release. Pending requests fail with `Closed`. */
  readonly close: Effect.Effect<void>
}

/**
 * The tasks extension (`io.modelcontextprotocol/tasks`) from the client's side: a task's state, its input, its
 * end. `callTool` and `call` use these themselves when a call becomes a task; they are here for code that keeps
 * the handle (`callToolTask`) to poll on its own schedule, show progress, or cancel from elsewhere.
 *
 * @since 0.1.0
 */
export interface TasksService {
  /** `tasks/get`: the task as it is now, with its result, error or asks inlined. */
  readonly get: (taskId: Param<"tasks/get", "taskId">) => Effect.Effect<McpMethod.Result<"tasks/get">, McpClientError>
  /** `tasks/update`: answers to the task's `inputRequests`, by key. */
  readonly update: (
    taskId: Param<"tasks/update", "taskId">,
    inputResponses: Param<"tasks/update", "inputResponses">
  ) => Effect.Effect<void, McpClientError>
  /** `tasks/cancel`: the server settles the task `cancelled` unless it has ended already. */
  readonly cancel: (taskId: Param<"tasks/cancel", "taskId">) => Effect.Effect<void, McpClientError>
  /**
   * Follows a task to its end as `callTool` does: polls `tasks/get` every `pollIntervalMs` (the server's, else
   * one second), answers `input_required` with the client's handlers through `tasks/update`, and gives the tool's
   * result when it completes. A `failed` task fails with its error as `RpcError`, a `cancelled` one with
   * `TaskCancelled`. Interrupting it, or giving up on the task (too many input rounds, a handler failing) cancels
   * the task on the server, best effort.
   */
  readonly await: (
    task: { readonly taskId: string; readonly pollIntervalMs?: number | undefined }
  ) => Effect.Effect<ToolResult, McpClientError>
}

/**
 * One request to its complete, decoded result: what the calls and the tasks are built on. Here, beside the
 * options it takes, rather than in calls.ts, which imports tasks.ts.
 * @internal
 */
export type Request = <A>(
  method: string,
  params: unknown,
  decode: (result: unknown) => Effect.Effect<A, McpClientError>,
  options?: RequestOptions
) => Effect.Effect<A, McpClientError>
