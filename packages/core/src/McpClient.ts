/**
 * The MCP client: the protocol engine (requests and their answers, progress, notifications, the `initialize`
 * handshake, a new session when the server lost ours, requests the server sends the client) on top of whichever
 * `McpClientTransport` is in context. Code written against `McpClient` runs unchanged over each: Streamable HTTP,
 * legacy HTTP+SSE, HTTP with auto-detection, stdio, and in-process through `McpTest`.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const client = yield* McpClient.McpClient
 *   const tools = yield* client.listAllTools          // every page; listTools({ cursor }) for one
 *   const result = yield* client.callTool("add", { a: 1, b: 2 })
 *   const { sum } = yield* client.call(AddTool, { a: 1, b: 2 }) // a shared McpTool.define: typed both ways
 * })
 *
 * program.pipe(
 *   Effect.provide(McpClient.layerStreamableHttp({ url: "http://127.0.0.1:3000/mcp" })),
 *   Effect.provide(FetchHttpClient.layer)
 * )
 * // or: McpClient.layerHttp({ url }) (Streamable HTTP, else legacy SSE), McpClient.layerSse({ url: ".../sse" }),
 * // McpClient.layerStdio({ command: "node", args: ["server.js"] }) with NodeContext.layer,
 * // McpClient.layer(options) with any McpClientTransport layer.
 * ```
 *
 * Both eras of the protocol: with `protocol: "auto"` (the default) the client probes with `server/discover` and
 * speaks 2026-07-28 (sessionless: `_meta` on every request, `input_required` answered by the handler layers,
 * `listen` streams, reconnected when their connection drops: see `ListenOptions`) to a server that answers it, and
 * the session era (`initialize`) to one that does not; see `Options.protocol`.
 *
 * Tasks (the extension `io.modelcontextprotocol/tasks`, SEP-2663), with `tasks: true`: a call the server makes a
 * task is followed to its end by `callTool` and `call` (polled, its asks answered by the handler layers, cancelled
 * when the caller is interrupted); `callToolTask` and `tasks` give the task itself. See `Options.tasks`.
 *
 * The layers are scoped: building one connects and runs the `initialize` handshake, releasing it fails what is
 * still pending, ends `notifications` and closes the connection (the session, the process). Over Streamable HTTP,
 * a 404 for the client's session (the server restarted, expired or deleted it) makes the client open a new
 * session by itself and retry the request once.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberMap from "effect/FiberMap"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import * as ClientModern from "./internal/client/modern.js"
import * as Listen from "./internal/listen.js"
import * as ParamHeaders from "./internal/paramHeaders.js"
import { describeParseError } from "./internal/parseError.js"
import * as JsonRpc from "./JsonRpc.js"
import { McpClientError, ToolError } from "./McpClientError.js"
import * as McpClientHandlers from "./McpClientHandlers.js"
import * as McpClientTransport from "./McpClientTransport.js"
import * as McpSchema from "./McpSchema.js"
import type * as McpTool from "./McpTool.js"

/**
 * Why a client operation failed; see the `McpClientError` module.
 *
 * @since 0.1.0
 */
export { McpClientError } from "./McpClientError.js"

/**
 * A tool answered `call` with an error result; see the `McpClientError` module.
 *
 * @since 0.1.0
 */
export { ToolError } from "./McpClientError.js"

const rpcError = (error: JsonRpc.ErrorObject) =>
  new McpClientError({
    reason: "RpcError",
    message: error.message,
    code: error.code,
    ...(error.data === undefined ? {} : { data: error.data })
  })

/** `notifications/progress` params. @since 0.1.0 */
export const Progress = Schema.Struct({
  progressToken: McpSchema.ProgressToken,
  progress: Schema.Number,
  total: Schema.optional(Schema.Number),
  message: Schema.optional(Schema.String)
})
/** @since 0.1.0 */
export type Progress = typeof Progress.Type

/**
 * The answer to `server/discover` (2026-07-28): the revisions the server speaks, its capabilities, its
 * instructions, and its `serverInfo` in `_meta`. In the session era the client builds one from the `initialize`
 * result, so code can read it whatever the server's era.
 *
 * @since 0.1.0
 */
export const DiscoverResult = Schema.Struct({
  supportedVersions: Schema.Array(Schema.String),
  capabilities: McpSchema.ServerCapabilities,
  instructions: Schema.optional(Schema.String),
  resultType: Schema.optional(Schema.String),
  ttlMs: Schema.optional(Schema.Number),
  cacheScope: Schema.optional(Schema.String),
  _meta: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
/** @since 0.1.0 */
export type DiscoverResult = typeof DiscoverResult.Type

/**
 * Which notifications a `listen` stream carries (the spec's `SubscriptionFilter`).
 *
 * @since 0.1.0
 */
export const SubscriptionFilter = Schema.Struct({
  toolsListChanged: Schema.optional(Schema.Boolean),
  promptsListChanged: Schema.optional(Schema.Boolean),
  resourcesListChanged: Schema.optional(Schema.Boolean),
  resourceSubscriptions: Schema.optional(Schema.Array(Schema.String))
})
/** @since 0.1.0 */
export type SubscriptionFilter = typeof SubscriptionFilter.Type

/**
 * The mark a 2026-07-28 `listen` stream puts between the notifications of a dropped `subscriptions/listen`
 * request and those of the request that replaced it. The server keeps nothing across the drop (the spec: "no
 * state survives a reconnect"), so notifications sent while the client was away are lost: on this mark, read
 * again whatever the notifications would have told you about (list the tools again, read the resources again).
 *
 * @since 0.1.0
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

/**
 * What a `listen` stream carries: the server's notifications, and a `Reconnected` mark after each reconnection.
 *
 * @since 0.1.0
 */
export type SubscriptionEvent = JsonRpc.Notification | Reconnected

/**
 * Tells a `Reconnected` mark from a notification.
 *
 * @since 0.1.0
 */
export const isReconnected = (event: SubscriptionEvent): event is Reconnected => event instanceof Reconnected

/**
 * Tells a notification from a `Reconnected` mark, for `Subscription.events`.
 *
 * @since 0.1.0
 */
export const isNotification = (event: SubscriptionEvent): event is JsonRpc.Notification =>
  !(event instanceof Reconnected)

/**
 * How a 2026-07-28 `listen` stream reconnects when its connection drops, unless told otherwise: exponential from
 * 100 ms, each wait capped at 5 s, at most 8 attempts (about 16 s) per drop. A reconnection that is acknowledged
 * starts the schedule over for the next drop.
 *
 * @since 0.1.0
 */
export const defaultListenReconnect: Schedule.Schedule<unknown, McpClientError> = Schedule.exponential(
  Duration.millis(100)
).pipe(
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(5))),
  Schedule.intersect(Schedule.recurs(8))
)

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
   * `defaultListenReconnect`. The first request is never retried: `listen` fails with it. A session-era listen
   * rides on the session, which the transport keeps up itself, so it ignores this.
   */
  readonly reconnect?: Schedule.Schedule<unknown, McpClientError> | false | undefined
}

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
   * has a request, and an id, of its own: see `currentSubscriptionId`). Session-era listens have a made-up id.
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
 * The era of the server the client speaks to: `modern` is 2026-07-28 (sessionless: `_meta` on every request,
 * `server/discover`, no `initialize`), `legacy` the session era (`initialize`, 2024-11-05 to 2025-11-25).
 *
 * @since 0.1.0
 */
export type Era = "modern" | "legacy"

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

/** @since 0.1.0 */
export interface McpClientService {
  /** The era the client speaks with the server: found by the `server/discover` probe in `auto` mode. */
  readonly era: Effect.Effect<Era>
  /** The revision in use: the one claimed on each request (modern), or negotiated by `initialize` (legacy). */
  readonly protocolVersion: Effect.Effect<string>
  /**
   * The server's `server/discover` result; in the session era, one built from the `initialize` result
   * (`supportedVersions` is then the negotiated revision).
   */
  readonly discoverResult: Effect.Effect<DiscoverResult>
  /** The server's capabilities, whatever its era. */
  readonly capabilities: Effect.Effect<McpSchema.ServerCapabilities>
  /**
   * The server's `initialize` result (of the current session, after a re-initialization); in the sessionless era,
   * one built from the discover result.
   */
  readonly initializeResult: Effect.Effect<McpSchema.InitializeResult>
  /** The server's name and version. */
  readonly serverInfo: Effect.Effect<McpSchema.Implementation>
  /** The server's session id, when the transport has one. */
  readonly sessionId: Effect.Effect<Option.Option<string>>
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
  readonly listTools: (options?: ListOptions) => Effect.Effect<McpSchema.ListToolsResult, McpClientError>
  /** Every tool, page after page, following `nextCursor`. */
  readonly listAllTools: Effect.Effect<ReadonlyArray<McpSchema.Tool>, McpClientError>
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
    ): Effect.Effect<McpSchema.CallToolResult, McpClientError | ToolError>
  }
  /** Calls a tool by name. A tool's own failure is a result with `isError: true`, not an error of this Effect. */
  readonly callTool: (
    name: string,
    args?: { readonly [key: string]: unknown },
    options?: RequestOptions
  ) => Effect.Effect<McpSchema.CallToolResult, McpClientError>
  /**
   * Calls a tool by name and hands back the task the server made of the call, without waiting for it (the tasks
   * extension: needs `Options.tasks`): a `CreateTaskResult` to follow with `tasks`, or the tool's result when the
   * server answered at once (a tool without task support, or one that finished before it became a task).
   */
  readonly callToolTask: (
    name: string,
    args?: { readonly [key: string]: unknown },
    options?: RequestOptions
  ) => Effect.Effect<McpSchema.CreateTaskResult | McpSchema.CallToolResult, McpClientError>
  /** The tasks extension's requests, for code that holds a task handle (`callToolTask`) rather than waiting. */
  readonly tasks: TasksService
  /** One page of resources: the first, or the one after `cursor`. */
  readonly listResources: (options?: ListOptions) => Effect.Effect<McpSchema.ListResourcesResult, McpClientError>
  /** Every resource, page after page, following `nextCursor`. */
  readonly listAllResources: Effect.Effect<ReadonlyArray<McpSchema.Resource>, McpClientError>
  /** One page of resource templates: the first, or the one after `cursor`. */
  readonly listResourceTemplates: (
    options?: ListOptions
  ) => Effect.Effect<McpSchema.ListResourceTemplatesResult, McpClientError>
  /** Every resource template, page after page, following `nextCursor`. */
  readonly listAllResourceTemplates: Effect.Effect<ReadonlyArray<McpSchema.ResourceTemplate>, McpClientError>
  readonly readResource: (
    uri: string,
    options?: RequestOptions
  ) => Effect.Effect<McpSchema.ReadResourceResult, McpClientError>
  /** One page of prompts: the first, or the one after `cursor`. */
  readonly listPrompts: (options?: ListOptions) => Effect.Effect<McpSchema.ListPromptsResult, McpClientError>
  /** Every prompt, page after page, following `nextCursor`. */
  readonly listAllPrompts: Effect.Effect<ReadonlyArray<McpSchema.Prompt>, McpClientError>
  readonly getPrompt: (
    name: string,
    args?: { readonly [argument: string]: string },
    options?: RequestOptions
  ) => Effect.Effect<McpSchema.GetPromptResult, McpClientError>
  /** Asks for completions of a prompt or resource template argument. */
  readonly complete: (params: McpSchema.CompleteParams) => Effect.Effect<McpSchema.CompleteResult, McpClientError>
  /** Sets the minimum level of the log messages the server sends. */
  readonly setLoggingLevel: (level: McpSchema.LoggingLevel) => Effect.Effect<void, McpClientError>
  /** Asks for `notifications/resources/updated` about `uri` (they arrive on `notifications`). */
  readonly subscribeResource: (uri: string) => Effect.Effect<void, McpClientError>
  readonly unsubscribeResource: (uri: string) => Effect.Effect<void, McpClientError>
  /** Tells the server the client's roots changed (`notifications/roots/list_changed`). */
  readonly rootsChanged: Effect.Effect<void, McpClientError>
  /**
   * Opens a stream of change notifications, for as long as the scope: with a 2026-07-28 server a
   * `subscriptions/listen` request (waits for its acknowledgement); in the session era the session's own
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
  readonly get: (taskId: string) => Effect.Effect<McpSchema.GetTaskResult, McpClientError>
  /** `tasks/update`: answers to the task's `inputRequests`, by key. */
  readonly update: (
    taskId: string,
    inputResponses: { readonly [key: string]: unknown }
  ) => Effect.Effect<void, McpClientError>
  /** `tasks/cancel`: the server settles the task `cancelled` unless it has ended already. */
  readonly cancel: (taskId: string) => Effect.Effect<void, McpClientError>
  /**
   * Follows a task to its end as `callTool` does: polls `tasks/get` every `pollIntervalMs` (the server's, else
   * one second), answers `input_required` with the client's handlers through `tasks/update`, and gives the tool's
   * result when it completes. A `failed` task fails with its error as `RpcError`, a `cancelled` one with
   * `TaskCancelled`. Interrupting it, or giving up on the task (too many input rounds, a handler failing) cancels
   * the task on the server, best effort.
   */
  readonly await: (
    task: { readonly taskId: string; readonly pollIntervalMs?: number | undefined }
  ) => Effect.Effect<McpSchema.CallToolResult, McpClientError>
}

/**
 * The client service.
 *
 * @since 0.1.0
 */
export class McpClient extends Context.Tag("@effect-mcp/core/McpClient")<McpClient, McpClientService>() {}


/**
 * Answers one kind of request the server sends the client. `ping` is always answered; any other method without a
 * handler gets -32601. Sampling, elicitation and roots have layers of their own in `McpClientHandlers`.
 *
 * @since 0.1.0
 */
export interface ServerRequestHandler {
  readonly method: string
  /** What the client declares in `initialize` for this handler, merged into `Options.capabilities`. */
  readonly capabilities?: McpSchema.ClientCapabilities | undefined
  /**
   * The result of the request, or the JSON-RPC error to answer with. Interrupted when the server cancels the
   * request or the client closes.
   */
  readonly handle: (params: unknown) => Effect.Effect<unknown, JsonRpc.JsonRpcError>
}

/** Options of the client engine, whatever the transport. @since 0.1.0 */
export interface Options {
  /** `clientInfo` sent in `initialize`. Default `effect-mcp-client` 0.1.0. */
  readonly clientInfo?: McpSchema.Implementation | undefined
  /**
   * `capabilities` sent in `initialize`, besides those of the handlers. `sampling`, `elicitation` and `roots` are
   * declared only by their handlers (the `McpClientHandlers` layers, or `handlers`): a client never announces a
   * request it would answer with -32601. Default none.
   */
  readonly capabilities?: McpSchema.ClientCapabilities | undefined
  /** The revision asked for in `initialize`. Default `McpSchema.LATEST_PROTOCOL_VERSION`. */
  readonly protocolVersion?: string | undefined
  /**
   * Which era to speak. `auto` (default) probes with `server/discover`: a discover result, or a -32022 naming a
   * sessionless revision, means 2026-07-28; -32601, another in-band error, or a 4xx without a recognized modern
   * error body means the session era (`initialize`, then over HTTP the legacy SSE transport). 401, 403 and 5xx
   * say nothing about the era and fail. `modern` speaks 2026-07-28 only; `legacy` goes straight to `initialize`.
   */
  readonly protocol?: "auto" | "modern" | "legacy" | undefined
  /**
   * How many times one `tools/call`, `prompts/get` or `resources/read` may come back `input_required` (answered
   * with the handlers and retried) before it fails with `InputRequired`; for a call the server made a task, how
   * many times the task may ask for input. Default 10.
   */
  readonly maxInputRounds?: number | undefined
  /**
   * Declares the tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663), so that the server may answer a
   * `tools/call` of a task-supporting tool with a task rather than keep the request open for as long as the tool
   * runs. `callTool` and `call` then follow the task to its end (see `TasksService.await`), so code written
   * against them does not change; `callToolTask` and `tasks` give the handle itself. Off by default: a server
   * then runs its optional-task tools synchronously, and refuses the task-required ones (-32021). Declaring the
   * extension in `capabilities.extensions` has the same effect.
   */
  readonly tasks?: boolean | undefined
  /**
   * How the client's 2026-07-28 `listen` streams reconnect when their connection drops, unless a `listen` says
   * otherwise (`ListenOptions.reconnect`, which describes it). Default `defaultListenReconnect`.
   */
  readonly listenReconnect?: Schedule.Schedule<unknown, McpClientError> | false | undefined
  /**
   * Handlers for other requests the server sends the client; their capabilities are declared in `initialize`. A
   * `McpClientHandlers` layer in context replaces an entry for the same method.
   */
  readonly handlers?: ReadonlyArray<ServerRequestHandler> | undefined
  /**
   * How long a request (`initialize` included) may wait for its answer before it fails with `Timeout` and is
   * cancelled. Default: no limit (use `Effect.timeout` per call).
   */
  readonly requestTimeout?: Duration.DurationInput | undefined
}

/** Options of `layerSse`. @since 0.1.0 */
export interface HttpOptions extends Options, McpClientTransport.HttpOptions {}

/** Options of `layerStreamableHttp` and `layerHttp`. @since 0.1.0 */
export interface StreamableHttpOptions extends HttpOptions, McpClientTransport.StreamableHttpOptions {}

/** Options of `layerStdio`. @since 0.1.0 */
export interface StdioOptions extends Options, McpClientTransport.StdioOptions {}

const decodeProgress = Schema.decodeUnknownOption(Progress)

const decoder = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknown(schema)
  return (method: string) => (result: unknown): Effect.Effect<A, McpClientError> =>
    Effect.mapError(decode(result), (error) =>
      new McpClientError({
        reason: "Protocol",
        message: `Invalid result of ${method}: ${describeParseError(error)}`
      }))
}

const decodeInitialize = decoder(McpSchema.InitializeResult)("initialize")
const decodeListTools = decoder(McpSchema.ListToolsResult)("tools/list")
const decodeCallTool = decoder(McpSchema.CallToolResult)("tools/call")
const decodeListResources = decoder(McpSchema.ListResourcesResult)("resources/list")
const decodeListTemplates = decoder(McpSchema.ListResourceTemplatesResult)("resources/templates/list")
const decodeReadResource = decoder(McpSchema.ReadResourceResult)("resources/read")
const decodeListPrompts = decoder(McpSchema.ListPromptsResult)("prompts/list")
const decodeGetPrompt = decoder(McpSchema.GetPromptResult)("prompts/get")
const decodeComplete = decoder(McpSchema.CompleteResult)("completion/complete")

const withProgressToken = (params: unknown, token: McpSchema.ProgressToken): { readonly [key: string]: unknown } => {
  const base: { readonly [key: string]: unknown } =
    typeof params === "object" && params !== null && !Array.isArray(params) ? { ...params } : {}
  const meta = base._meta
  return { ...base, _meta: typeof meta === "object" && meta !== null ? { ...meta, progressToken: token } : { progressToken: token } }
}

const listParams = (options: ListOptions | undefined) =>
  options?.cursor === undefined ? undefined : { cursor: options.cursor }

/**
 * Every item of a paged listing. A server that gives a cursor it gave before would page forever: that is a
 * `Protocol` error.
 */
const listAll = <R extends { readonly nextCursor?: string | undefined }, A>(
  method: string,
  page: (options: ListOptions) => Effect.Effect<R, McpClientError>,
  items: (result: R) => ReadonlyArray<A>
): Effect.Effect<ReadonlyArray<A>, McpClientError> =>
  Effect.gen(function*() {
    const all: Array<A> = []
    const seen = new Set<string>()
    let cursor: string | undefined = undefined
    while (true) {
      const result: R = yield* page({ cursor })
      all.push(...items(result))
      if (result.nextCursor === undefined) return all
      if (seen.has(result.nextCursor)) {
        return yield* new McpClientError({
          reason: "Protocol",
          message: `The server answered ${method} with a cursor it had given before`
        })
      }
      seen.add(result.nextCursor)
      cursor = result.nextCursor
    }
  })

const pingHandler: ServerRequestHandler = { method: "ping", handle: () => Effect.succeed({}) }

const mergeObjects = <A extends object>(a: A | undefined, b: A | undefined): A | undefined =>
  a === undefined ? b : b === undefined ? a : { ...a, ...b }

/** Two capability sets as one; where both have an entry (`roots`, `sampling`...), its fields are merged. */
const mergeCapabilities = (
  a: McpSchema.ClientCapabilities,
  b: McpSchema.ClientCapabilities
): McpSchema.ClientCapabilities => {
  const roots = mergeObjects(a.roots, b.roots)
  const sampling = mergeObjects(a.sampling, b.sampling)
  const elicitation = mergeObjects(a.elicitation, b.elicitation)
  const experimental = mergeObjects(a.experimental, b.experimental)
  const extensions = mergeObjects(a.extensions, b.extensions)
  return {
    // Whatever else either side declares (a later revision's fields) is kept: dropping it, `extensions` among
    // them, would silently withdraw what the options asked to declare as soon as any handler is installed.
    ...a,
    ...b,
    ...(roots === undefined ? {} : { roots }),
    ...(sampling === undefined ? {} : { sampling }),
    ...(elicitation === undefined ? {} : { elicitation }),
    ...(experimental === undefined ? {} : { experimental }),
    ...(extensions === undefined ? {} : { extensions })
  }
}

/**
 * The capabilities to declare: those of each handler, and the options' others. Those of requests the client
 * answers come from handlers only.
 */
const declaredCapabilities = (
  options: Options,
  handlers: Iterable<ServerRequestHandler>
): McpSchema.ClientCapabilities => {
  const { elicitation: _e, roots: _r, sampling: _s, ...others } = options.capabilities ?? {}
  let capabilities: McpSchema.ClientCapabilities = options.tasks === true
    ? mergeCapabilities(others, { extensions: { [TASKS_EXTENSION]: {} } })
    : others
  for (const handler of handlers) capabilities = mergeCapabilities(capabilities, handler.capabilities ?? {})
  return capabilities
}

/** The tasks extension's identifier (`McpTask.EXTENSION`; not imported, that module is the server's). */
const TASKS_EXTENSION = "io.modelcontextprotocol/tasks"

/** How often a task is polled when the server does not say. */
const DEFAULT_POLL_INTERVAL_MS = 1_000

const decodeGetTask = decoder(McpSchema.GetTaskResult)("tasks/get")
const decodeCallToolOrTask = decoder(Schema.Union(McpSchema.CreateTaskResult, McpSchema.CallToolResult))("tools/call")

const isCreateTaskResult = (
  result: McpSchema.CreateTaskResult | McpSchema.CallToolResult
): result is McpSchema.CreateTaskResult => "resultType" in result && result.resultType === "task"

const rootsListChanged = JsonRpc.notification("notifications/roots/list_changed")

const decodeCancelled = Schema.decodeUnknownOption(McpSchema.CancelledParams)

const decodeDiscover = decoder(DiscoverResult)("server/discover")
const decodeServerInfo = Schema.decodeUnknownOption(McpSchema.Implementation)

/** An `input_required` result (2026-07-28 multi round-trip requests). */
const InputRequiredResult = Schema.Struct({
  inputRequests: Schema.optional(Schema.Record({
    key: Schema.String,
    value: Schema.Struct({ method: Schema.String, params: Schema.optional(Schema.Unknown) })
  })),
  requestState: Schema.optional(Schema.String)
})
const decodeInputRequired = decoder(InputRequiredResult)

/** The only requests that may come back `input_required`, and the only requests such a result may embed. */
const INPUT_CARRIERS: ReadonlySet<string> = new Set(["tools/call", "prompts/get", "resources/read"])
const INPUT_METHODS: ReadonlySet<string> = new Set(["elicitation/create", "sampling/createMessage", "roots/list"])

const resultTypeOf = (result: unknown): unknown =>
  typeof result === "object" && result !== null && "resultType" in result ? result.resultType : undefined

/** The statuses of a gateway whose server is away for now: a listen stream being reconnected tries again. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504])

const ListenAck = Schema.Struct({ notifications: Schema.optional(SubscriptionFilter) })
const decodeListenAck = Schema.decodeUnknownOption(ListenAck)

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

/**
 * One `subscriptions/listen` request of the sessionless era being served: where its notifications go, its
 * acknowledgement, and what to do as the acknowledgement arrives (on the receiving fiber, so before any
 * notification that follows it).
 */
interface Listener {
  readonly queue: Queue.Queue<Take.Take<SubscriptionEvent, McpClientError>>
  readonly ack: Deferred.Deferred<SubscriptionFilter, McpClientError>
  readonly onAck: (acknowledged: SubscriptionFilter) => Effect.Effect<void>
}

/**
 * Builds a client on the `McpClientTransport` in context and runs the handshake. The client lives in the current
 * scope: closing it closes the client and the transport.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<McpClientService, McpClientError, McpClientTransport.McpClientTransport | Scope.Scope> => {
  // What each endpoint turned out to speak, for the next connect of this client (a layer built again, the effect
  // run again): a session-era server is not probed with `server/discover` a second time.
  const eras = new ClientModern.EraMemory()
  return Effect.gen(function*() {
    const transport = yield* McpClientTransport.McpClientTransport
    const scope = yield* Effect.scope
    const timeout = options.requestTimeout === undefined ? undefined : Duration.decode(options.requestTimeout)
    const handlers = new Map<string, ServerRequestHandler>([["ping", pingHandler]])
    for (const handler of options.handlers ?? []) handlers.set(handler.method, handler)
    const sampling = yield* Effect.serviceOption(McpClientHandlers.Sampling)
    const elicitation = yield* Effect.serviceOption(McpClientHandlers.Elicitation)
    const roots = yield* Effect.serviceOption(McpClientHandlers.Roots)
    for (const handler of [sampling, elicitation, roots]) {
      if (Option.isSome(handler)) handlers.set(handler.value.method, handler.value)
    }
    const pending = new Map<JsonRpc.RequestId, Deferred.Deferred<unknown, McpClientError>>()
    const progressHandlers = new Map<McpSchema.ProgressToken, (progress: Progress) => Effect.Effect<void>>()
    // The server's requests being answered, by id, so that `notifications/cancelled` can interrupt them.
    const serving = yield* FiberMap.make<JsonRpc.RequestId>()
    const notifications = yield* PubSub.unbounded<JsonRpc.Notification>()
    // Open listen streams (2026-07-28), by subscription id.
    const listeners = new Map<JsonRpc.RequestId, Listener>()
    // The revision claimed in each request's `_meta` once the server turned out modern (and while probing).
    let claim: string | undefined
    const clientInfo = options.clientInfo ?? { name: "effect-mcp-client", version: "0.1.0" }
    const capabilities = declaredCapabilities(options, handlers.values())
    const maxInputRounds = options.maxInputRounds ?? 10
    // Whether the server may answer a tools/call with a task: the client declared the extension.
    const tasksDeclared = capabilities.extensions?.[TASKS_EXTENSION] !== undefined
    // Set once the client can no longer send: every later request fails with it.
    let failure: McpClientError | undefined
    let closing = false
    let nextId = 0
    let nextToken = 0

    const fail = (error: McpClientError) =>
      Effect.suspend(() => {
        failure ??= error
        for (const deferred of pending.values()) Deferred.unsafeDone(deferred, Exit.fail(failure))
        pending.clear()
        return PubSub.shutdown(notifications)
      })

    const send = (message: JsonRpc.Message) =>
      Effect.suspend(() => failure !== undefined ? Effect.fail(failure) : transport.send(message))

    // A request from the server: its handler's answer, -32601 without one, -32603 when the handler dies.
    const serve = (request: JsonRpc.Request): Effect.Effect<void> => {
      const handler = handlers.get(request.method)
      const answer: Effect.Effect<JsonRpc.Message> = handler === undefined
        ? Effect.succeed(JsonRpc.failure(request.id, JsonRpc.methodNotFound(request.method)))
        : handler.handle(request.params).pipe(
          Effect.map((result) => JsonRpc.success(request.id, result)),
          Effect.catchAll((error) => Effect.succeed(JsonRpc.failure(request.id, error))),
          Effect.catchAllDefect((defect) =>
            Effect.as(
              Effect.logError(`MCP client: the handler of ${request.method} failed`, defect),
              JsonRpc.failure(request.id, JsonRpc.internalError())
            )
          )
        )
      return Effect.ignore(Effect.flatMap(answer, send))
    }

    const receive = (message: JsonRpc.Message): Effect.Effect<void> => {
      if (JsonRpc.isResponse(message)) {
        if (message.id === null) {
          return Effect.logWarning("MCP server sent an error that answers no request", message)
        }
        const deferred = pending.get(message.id)
        // No entry: the request was cancelled or timed out, and the server answered anyway.
        if (deferred === undefined) return Effect.void
        pending.delete(message.id)
        return Deferred.done(
          deferred,
          "error" in message ? Exit.fail(rpcError(message.error)) : Exit.succeed(message.result)
        )
      }
      if (JsonRpc.isRequest(message)) return Effect.asVoid(FiberMap.run(serving, message.id, serve(message)))
      const subscriptionId = ClientModern.subscriptionIdOf(message)
      const listener = typeof subscriptionId === "string" || typeof subscriptionId === "number"
        ? listeners.get(subscriptionId)
        : undefined
      if (listener !== undefined) {
        if (message.method === "notifications/subscriptions/acknowledged") {
          const ack = decodeListenAck(message.params)
          const acknowledged = Option.isSome(ack) ? ack.value.notifications ?? {} : {}
          return Deferred.succeed(listener.ack, acknowledged).pipe(Effect.zipRight(listener.onAck(acknowledged)))
        }
        return Queue.offer(listener.queue, Take.of(message)).pipe(
          Effect.zipRight(PubSub.publish(notifications, message)),
          Effect.asVoid
        )
      }
      if (message.method === "notifications/cancelled") {
        const cancelled = decodeCancelled(message.params)
        if (Option.isSome(cancelled)) {
          return Effect.zipRight(
            Effect.forkIn(FiberMap.remove(serving, cancelled.value.requestId), scope),
            PubSub.publish(notifications, message)
          )
        }
      }
      if (message.method === "notifications/progress") {
        const progress = decodeProgress(message.params)
        const handler = Option.isSome(progress) ? progressHandlers.get(progress.value.progressToken) : undefined
        if (handler !== undefined && Option.isSome(progress)) {
          // A failing callback must not stop the fiber that receives everything else.
          return handler(progress.value).pipe(
            Effect.catchAllCause((cause) => Effect.logError("MCP client: onProgress failed", cause)),
            Effect.zipRight(PubSub.publish(notifications, message))
          )
        }
      }
      return PubSub.publish(notifications, message)
    }

    // Messages flow until the scope closes; a transport that loses its connection fails everything with the reason.
    yield* transport.run(receive).pipe(
      Effect.catchAll(fail),
      Effect.forkIn(scope)
    )

    const cancel = (id: JsonRpc.RequestId) =>
      Effect.suspend(() =>
        failure !== undefined ? Effect.void : transport.send(
          JsonRpc.notification("notifications/cancelled", { requestId: id, reason: "The request was interrupted" })
        )
      ).pipe(Effect.ignore, Effect.forkIn(scope), Effect.asVoid)

    const withTimeout = (method: string) =>
      timeout === undefined
        ? identity<Effect.Effect<unknown, McpClientError>>
        : Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new McpClientError({
              reason: "Timeout",
              message: `The server did not answer ${method} within ${Duration.format(timeout)}`
            })
        })

    // One request under `id`, without recovery; in the sessionless era with the per-request `_meta`.
    const callWith = (
      id: JsonRpc.RequestId,
      method: string,
      params: unknown,
      timed: boolean
    ): Effect.Effect<unknown, McpClientError> =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        const deferred = Deferred.unsafeMake<unknown, McpClientError>(FiberId.none)
        pending.set(id, deferred)
        const sent = claim === undefined ? params : ClientModern.withRequestMeta(params, {
          [ClientModern.PROTOCOL_VERSION_KEY]: claim,
          [ClientModern.CLIENT_CAPABILITIES_KEY]: capabilities,
          [ClientModern.CLIENT_INFO_KEY]: clientInfo
        })
        // Whichever ends first: the answer (which may come before the transport is done sending, or be a
        // failure from `close`), or a failure to send.
        return Effect.raceFirst(
          Deferred.await(deferred),
          Effect.zipRight(transport.send(JsonRpc.request(id, method, sent)), Effect.never)
        ).pipe(
          // The spec forbids cancelling `initialize`.
          Effect.onInterrupt(() => method === "initialize" ? Effect.void : cancel(id)),
          timed ? withTimeout(method) : identity,
          Effect.ensuring(Effect.sync(() => pending.delete(id)))
        )
      })

    // One request over the current session, without recovery.
    const call = (method: string, params: unknown): Effect.Effect<unknown, McpClientError> =>
      Effect.suspend(() => callWith(++nextId, method, params, true))

    const initializeParams: McpSchema.InitializeParams = {
      protocolVersion: options.protocolVersion ?? McpSchema.LATEST_PROTOCOL_VERSION,
      capabilities: declaredCapabilities(options, handlers.values()),
      clientInfo
    }

    const handshake = Effect.gen(function*() {
      const result = yield* Effect.flatMap(call("initialize", initializeParams), decodeInitialize)
      if (!McpSchema.SUPPORTED_PROTOCOL_VERSIONS.includes(result.protocolVersion)) {
        return yield* new McpClientError({
          reason: "Protocol",
          message: `The server chose protocol version ${result.protocolVersion}, which this client does not speak`
        })
      }
      yield* transport.initialized(result.protocolVersion)
      yield* send(JsonRpc.notification("notifications/initialized"))
      return result
    })

    // Sessions opened so far: a request that saw a session die recovers only if no one else already did.
    let generation = 0
    // Set while a new session is being opened: requests wait for it rather than go out without a session.
    let reopening: Deferred.Deferred<void> | undefined
    const recovery = yield* Effect.makeSemaphore(1)
    // Opens a new session, unless another request already did; false when the transport cannot.
    const recover = (seen: number): Effect.Effect<boolean, McpClientError> =>
      recovery.withPermits(1)(Effect.suspend(() => {
        if (seen !== generation) return Effect.succeed(true)
        const reopened = Deferred.unsafeMake<void>(FiberId.none)
        reopening = reopened
        return transport.reset.pipe(
          Effect.flatMap((reset) =>
            reset
              ? Effect.logInfo("MCP server lost the session; starting a new one").pipe(
                Effect.zipRight(handshake),
                Effect.map((result) => {
                  initializeResult = result
                  generation++
                  return true
                })
              )
              : Effect.succeed(false)
          ),
          Effect.ensuring(Effect.suspend(() => {
            reopening = undefined
            return Deferred.done(reopened, Exit.void)
          }))
        )
      }))

    // Runs `effect` once more on a new session when the server no longer knows ours.
    const recovering = <A>(effect: Effect.Effect<A, McpClientError>): Effect.Effect<A, McpClientError> => {
      const attempt: Effect.Effect<A, McpClientError> = Effect.suspend(() => {
        if (reopening !== undefined) return Effect.zipRight(Deferred.await(reopening), attempt)
        const seen = generation
        return Effect.catchIf(
          effect,
          (error) => error.reason === "SessionNotFound",
          (error) => Effect.flatMap(recover(seen), (recovered) => recovered ? effect : Effect.fail(error))
        )
      })
      return attempt
    }

    const inputError = (message: string, method?: string, code?: number) =>
      new McpClientError({
        reason: "InputRequired",
        message,
        ...(method === undefined ? {} : { method }),
        ...(code === undefined ? {} : { code })
      })

    // The answer to one request a server embedded in `input_required`, from the handler of that method.
    const answerInput = (input: { readonly method: string; readonly params?: unknown }) => {
      const handler = INPUT_METHODS.has(input.method) ? handlers.get(input.method) : undefined
      if (handler === undefined) {
        return Effect.fail(inputError(`The server asked for ${input.method}, which this client has no handler for`, input.method))
      }
      return handler.handle(input.params).pipe(
        Effect.mapError((error) =>
          inputError(`The handler of ${input.method} failed: ${error.message}`, input.method, error.code)
        )
      )
    }

    /**
     * One request to its complete result: a result whose `resultType` is unknown is a `Protocol` error (none at
     * all is complete, as from a session-era server); `input_required` is answered with the handlers and the
     * request retried under a new id with `inputResponses` and the `requestState` as it came.
     */
    const complete = (method: string, params: unknown): Effect.Effect<unknown, McpClientError> =>
      Effect.gen(function*() {
        let extra: { readonly [key: string]: unknown } = {}
        for (let round = 0;; round++) {
          const base = typeof params === "object" && params !== null ? params : {}
          const result = yield* recovering(call(method, round === 0 ? params : { ...base, ...extra }))
          const resultType = resultTypeOf(result)
          if (resultType === undefined || resultType === "complete") return result
          // The caller follows the task (the server may make it one after rounds of input, when it escalates).
          if (resultType === "task" && method === "tools/call" && tasksDeclared) return result
          if (resultType !== "input_required" || !INPUT_CARRIERS.has(method)) {
            return yield* new McpClientError({
              reason: "Protocol",
              message: `The server answered ${method} with resultType ${JSON.stringify(resultType)}`
            })
          }
          if (round >= maxInputRounds) {
            return yield* inputError(
              `The server still asked for input after ${maxInputRounds} rounds of ${method}`,
              method
            )
          }
          const asked = yield* decodeInputRequired(method)(result)
          const responses: Record<string, unknown> = {}
          for (const [key, input] of Object.entries(asked.inputRequests ?? {})) {
            responses[key] = yield* answerInput(input)
          }
          extra = {
            ...(asked.inputRequests === undefined ? {} : { inputResponses: responses }),
            ...(asked.requestState === undefined ? {} : { requestState: asked.requestState })
          }
        }
      })

    const request = <A>(
      method: string,
      params: unknown,
      decode: (result: unknown) => Effect.Effect<A, McpClientError>,
      requestOptions?: RequestOptions
    ): Effect.Effect<A, McpClientError> => {
      const onProgress = requestOptions?.onProgress
      if (onProgress === undefined) {
        return complete(method, params).pipe(Effect.flatMap(decode), Effect.withSpan(`McpClient ${method}`))
      }
      return Effect.acquireUseRelease(
        Effect.sync(() => {
          const token = `progress-${++nextToken}`
          progressHandlers.set(token, onProgress)
          return token
        }),
        (token) => complete(method, withProgressToken(params, token)).pipe(Effect.flatMap(decode)),
        (token) => Effect.sync(() => progressHandlers.delete(token))
      ).pipe(Effect.withSpan(`McpClient ${method}`))
    }

    const close = Effect.suspend(() => {
      if (closing) return Effect.void
      closing = true
      return fail(new McpClientError({ reason: "Closed", message: "The MCP client is closed" })).pipe(
        Effect.zipRight(transport.close)
      )
    })
    yield* Effect.addFinalizer(() => close)

    /**
     * `server/discover` claiming `version`: its result when the server is modern, undefined when it is of the
     * session era (see `ClientModern.classifyProbe`); a -32022 naming another modern revision is retried with it.
     */
    const probe = (version: string, tried: ReadonlyArray<string>): Effect.Effect<DiscoverResult | undefined, McpClientError> =>
      Effect.suspend(() => {
        claim = version
        return call("server/discover", undefined)
      }).pipe(
        // Only a DiscoverResult is a modern answer: a session-era server that answers any method with some
        // result (some test servers do) is still of the session era.
        Effect.flatMap((result) =>
          Effect.catchAll(decodeDiscover(result), (error) =>
            options.protocol === "modern"
              ? Effect.fail(error)
              : Effect.logDebug("MCP server answered server/discover with something other than a DiscoverResult").pipe(
                Effect.zipRight(Effect.sync(() => {
                  claim = undefined
                  return undefined
                }))
              ))
        ),
        Effect.catchAll((error) => {
          const verdict = ClientModern.classifyProbe(error, [...tried, version])
          if (verdict._tag === "Retry") return probe(verdict.version, [...tried, version])
          claim = undefined
          return verdict._tag === "Legacy" && options.protocol !== "modern" ? Effect.succeed(undefined) : Effect.fail(error)
        })
      )

    const protocol = options.protocol ?? "auto"
    const endpoint = transport.endpoint ?? ""
    const firstVersion = ClientModern.MODERN_PROTOCOL_VERSIONS[0] ?? "2026-07-28"
    /** The probe, then `initialize` when the server is of the session era. */
    const connect = Effect.gen(function*() {
      const discovered: DiscoverResult | undefined = protocol === "legacy" ? undefined : yield* probe(firstVersion, [])
      return { discovered, initialized: discovered === undefined ? yield* handshake : undefined }
    })
    const remembered = protocol === "auto" ? eras.get(endpoint) : undefined
    const connected = remembered === "legacy"
      ? yield* handshake.pipe(
        Effect.map((initialized) => ({ discovered: undefined, initialized })),
        // The server may have changed since: forget, and find out again.
        Effect.catchAll((error) =>
          Effect.logDebug("MCP server no longer answers initialize as it did; probing its era again", error).pipe(
            Effect.zipRight(Effect.sync(() => eras.forget(endpoint))),
            Effect.zipRight(connect)
          )
        )
      )
      : yield* connect
    const discovered = connected.discovered
    const modernVersion = claim
    const era: Era = discovered === undefined ? "legacy" : "modern"
    if (protocol === "auto") eras.remember(endpoint, era)

    const modernServerInfo = (): McpSchema.Implementation => {
      const info = decodeServerInfo(discovered?._meta?.[ClientModern.SERVER_INFO_KEY])
      return Option.getOrElse(info, () => ({ name: "unknown", version: "unknown" }))
    }

    let initializeResult: McpSchema.InitializeResult = connected.initialized ?? {
      protocolVersion: modernVersion ?? "2026-07-28",
      capabilities: discovered?.capabilities ?? {},
      serverInfo: modernServerInfo(),
      ...(discovered?.instructions === undefined ? {} : { instructions: discovered.instructions })
    }

    const discoverResult = Effect.sync((): DiscoverResult =>
      discovered ?? {
        resultType: "complete",
        supportedVersions: [initializeResult.protocolVersion],
        capabilities: initializeResult.capabilities,
        ...(initializeResult.instructions === undefined ? {} : { instructions: initializeResult.instructions }),
        _meta: { [ClientModern.SERVER_INFO_KEY]: initializeResult.serverInfo }
      }
    )

    // A listen request that ended this way lost its connection, and may be asked for again: a transport failure
    // (not a JSON-RPC error, not the listen result, not an interruption) while the client can still send. While
    // reconnecting, a gateway's 502/503/504 (the server restarting behind it) and an acknowledgement that does not
    // come within `requestTimeout` are worth another attempt too.
    const dropped = (cause: Cause.Cause<McpClientError>, reconnecting: boolean): Option.Option<McpClientError> =>
      failure !== undefined || closing
        ? Option.none()
        : Option.filter(Cause.failureOption(cause), (error) =>
          error.reason === "Transport" ||
          (reconnecting && (error.reason === "Timeout" ||
            (error.reason === "HttpStatus" && error.status !== undefined && RETRY_STATUSES.has(error.status)))))

    const listenModern = Effect.fn("McpClient.listen")(function*(
      filter: SubscriptionFilter,
      listenOptions?: ListenOptions
    ) {
      const schedule = listenOptions?.reconnect ?? options.listenReconnect ?? defaultListenReconnect
      // One queue for the caller across every request of the subscription.
      const queue = yield* Queue.unbounded<Take.Take<SubscriptionEvent, McpClientError>>()
      const firstAck = yield* Deferred.make<SubscriptionFilter, McpClientError>()
      const firstId = ++nextId
      let currentId: JsonRpc.RequestId = firstId
      yield* Effect.addFinalizer(() =>
        Effect.zipRight(Effect.sync(() => listeners.delete(currentId)), Queue.shutdown(queue))
      )
      // One `subscriptions/listen` request, served until it ends. It lasts as long as the stream; closing the scope
      // interrupts it. Its result (the server ending the subscription) comes after every notification on it.
      // A reconnection's acknowledgement is awaited with the client's `requestTimeout` (the first one's by `listen`).
      const request = (
        id: JsonRpc.RequestId,
        ack: Deferred.Deferred<SubscriptionFilter, McpClientError>,
        onAck: (acknowledged: SubscriptionFilter) => Effect.Effect<void>,
        acknowledging: Effect.Effect<never, McpClientError>
      ) =>
        Effect.suspend(() => {
          currentId = id
          listeners.set(id, { queue, ack, onAck })
          return Effect.raceFirst(callWith(id, "subscriptions/listen", { notifications: filter }, false), acknowledging)
        }).pipe(Effect.ensuring(Effect.sync(() => listeners.delete(id))), Effect.exit)
      const acknowledgedWithin = (ack: Deferred.Deferred<SubscriptionFilter, McpClientError>) =>
        timeout === undefined ? Effect.never : Deferred.await(ack).pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new McpClientError({
                reason: "Timeout",
                message: `The server did not acknowledge subscriptions/listen within ${Duration.format(timeout)}`
              })
          }),
          Effect.zipRight(Effect.never)
        )
      // The first request, then a new one after each drop of an acknowledged one, for as long as the schedule
      // allows; a reconnection that is acknowledged starts the schedule over. Ends as the last request ended.
      const serve = Effect.gen(function*() {
        let exit = yield* request(firstId, firstAck, () => Effect.void, Effect.never)
        // A first request that failed before its acknowledgement fails `listen` itself.
        if (!(yield* Deferred.isDone(firstAck)) || schedule === false) return yield* exit
        const driver = yield* Schedule.driver(schedule)
        let attempts = 0
        while (Exit.isFailure(exit)) {
          const lost = dropped(exit.cause, attempts > 0)
          if (Option.isNone(lost)) return yield* exit
          const waited = yield* Effect.either(driver.next(lost.value))
          if (Either.isLeft(waited)) return yield* exit
          const id = ++nextId
          const ack = yield* Deferred.make<SubscriptionFilter, McpClientError>()
          const tries = ++attempts
          yield* Effect.logDebug(`MCP listen stream dropped; reconnecting (attempt ${tries})`, lost.value)
          exit = yield* request(id, ack, (acknowledged) =>
            Queue.offer(
              queue,
              Take.of(new Reconnected({ subscriptionId: id, acknowledged, attempts: tries, cause: lost.value }))
            ).pipe(Effect.asVoid), acknowledgedWithin(ack))
          if (yield* Deferred.isDone(ack)) {
            attempts = 0
            yield* driver.reset
          }
        }
        return yield* exit
      })
      yield* serve.pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Effect.zipRight(
            Exit.isFailure(exit) ? Deferred.failCause(firstAck, exit.cause) : Deferred.succeed(firstAck, {}),
            Queue.offer(queue, Exit.isSuccess(exit) ? Take.end : Take.failCause(exit.cause))
          )
        ),
        Effect.forkScoped
      )
      const acknowledged = yield* Deferred.await(firstAck).pipe(
        timeout === undefined ? identity : Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new McpClientError({
              reason: "Timeout",
              message: `The server did not acknowledge subscriptions/listen within ${Duration.format(timeout)}`
            })
        })
      )
      const subscription: Subscription = {
        subscriptionId: firstId,
        currentSubscriptionId: Effect.sync(() => currentId),
        acknowledged,
        notifications: Stream.filter(Stream.flattenTake(Stream.fromQueue(queue)), isNotification),
        events: Stream.flattenTake(Stream.fromQueue(queue))
      }
      return subscription
    })

    let nextLegacySubscription = 0
    const listenLegacy = (filter: SubscriptionFilter): Effect.Effect<Subscription, McpClientError, Scope.Scope> =>
      Effect.gen(function*() {
        const acknowledged = honoured(filter, initializeResult.capabilities)
        const subscribed = yield* Effect.suspend(() =>
          failure === undefined ? Stream.fromPubSub(notifications, { scoped: true }) : Effect.succeed(Stream.empty)
        )
        for (const uri of acknowledged.resourceSubscriptions ?? []) {
          yield* Effect.acquireRelease(
            request("resources/subscribe", { uri }, () => Effect.void),
            () => Effect.ignore(request("resources/unsubscribe", { uri }, () => Effect.void))
          )
        }
        const subscriptionId = `session-${++nextLegacySubscription}`
        const accepted = Stream.filter(subscribed, (notification) => Listen.accepts(acknowledged, notification))
        return {
          subscriptionId,
          currentSubscriptionId: Effect.succeed(subscriptionId),
          acknowledged,
          notifications: accepted,
          events: accepted
        }
      })

    const getTask = (taskId: string) => request("tasks/get", { taskId }, decodeGetTask)
    const updateTask = (taskId: string, inputResponses: { readonly [key: string]: unknown }) =>
      request("tasks/update", { taskId, inputResponses }, () => Effect.void)
    const cancelTask = (taskId: string) => request("tasks/cancel", { taskId }, () => Effect.void)

    /**
     * A task to its end (see `TasksService.await`). Each key of `inputRequests` is answered once: a poll that comes
     * before the server took the answers in shows them again, and they are not asked of the handlers twice.
     */
    const awaitTask = Effect.fn("McpClient.awaitTask")(function*(
      task: { readonly taskId: string; readonly pollIntervalMs?: number | undefined }
    ) {
      const taskId = task.taskId
      let interval = task.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS
      let rounds = 0
      let settled = false
      const answered = new Set<string>()
      const follow = Effect.gen(function*() {
        while (true) {
          const state = yield* getTask(taskId)
          interval = state.pollIntervalMs ?? interval
          if (state.status === "completed") {
            settled = true
            return yield* decodeCallTool(state.result)
          }
          if (state.status === "failed") {
            settled = true
            return yield* Effect.fail(rpcError(
              state.error ?? { code: JsonRpc.ErrorCode.InternalError, message: `Task ${taskId} failed` }
            ))
          }
          if (state.status === "cancelled") {
            settled = true
            return yield* new McpClientError({
              reason: "TaskCancelled",
              message: `Task ${taskId} was cancelled before it had a result`
            })
          }
          const asks = Object.entries(state.inputRequests ?? {}).filter(([key]) => !answered.has(key))
          if (state.status === "input_required" && asks.length > 0) {
            if (rounds >= maxInputRounds) {
              return yield* inputError(`Task ${taskId} still asked for input after ${maxInputRounds} rounds`)
            }
            rounds++
            const responses: Record<string, unknown> = {}
            for (const [key, input] of asks) responses[key] = yield* answerInput(input)
            yield* updateTask(taskId, responses)
            for (const [key] of asks) answered.add(key)
            continue
          }
          yield* Effect.sleep(Duration.millis(interval))
        }
      })
      // A task the caller no longer waits for is of no use to anyone: the server may stop its work. The request
      // is made interruptible again (a finalizer's fork inherits its uninterruptibility, and the request races its
      // answer against the send), so that closing the client does not wait on it.
      return yield* Effect.onExit(follow, (exit) =>
        Exit.isSuccess(exit) || settled
          ? Effect.void
          : cancelTask(taskId).pipe(Effect.ignore, Effect.interruptible, Effect.forkIn(scope), Effect.asVoid))
    })

    function callDefined<A, I, OA, OI extends McpTool.StructuredObject>(
      tool: McpTool.Definition<A, I, OA, OI>,
      input: A,
      requestOptions?: RequestOptions
    ): Effect.Effect<OA, McpClientError | ToolError>
    function callDefined<A, I>(
      tool: McpTool.ContentDefinition<A, I>,
      input: A,
      requestOptions?: RequestOptions
    ): Effect.Effect<McpSchema.CallToolResult, McpClientError | ToolError>
    function callDefined<A, I, OA, OI extends McpTool.StructuredObject>(
      tool: McpTool.Definition<A, I, OA, OI> | McpTool.ContentDefinition<A, I>,
      input: A,
      requestOptions?: RequestOptions
    ): Effect.Effect<OA | McpSchema.CallToolResult, McpClientError | ToolError> {
      return Effect.gen(function*() {
        // A value of the input's type that its own schema cannot encode is the caller's bug, as in @effect/rpc.
        const args = yield* Effect.orDie(Schema.encode(tool.input)(input))
        const result = yield* callTool(tool.name, args, requestOptions)
        if (result.isError === true) {
          const text = result.content.flatMap((block) => block.type === "text" ? [block.text] : []).join("\n")
          return yield* new ToolError({
            tool: tool.name,
            message: text === "" ? `Tool ${tool.name} failed` : text,
            content: result.content,
            ...(result.structuredContent === undefined ? {} : { structuredContent: result.structuredContent })
          })
        }
        if (tool.output === undefined) return result
        if (result.structuredContent === undefined) {
          return yield* new McpClientError({
            reason: "Protocol",
            message: `Tool ${tool.name} answered without the structuredContent its output schema promises`
          })
        }
        return yield* Effect.mapError(Schema.decodeUnknown(tool.output)(result.structuredContent), (error) =>
          new McpClientError({
            reason: "Protocol",
            message: `Invalid structuredContent from tool ${tool.name}: ${describeParseError(error)}`
          }))
      })
    }

    // SEP-2243: a tool whose x-mcp-header declarations break the spec's rules is dropped (the spec says MUST), the
    // others kept: its calls could not carry the headers a server checks.
    /**
     * `tools/call`. At 2026-07-28 a -32020 (HeaderMismatch) may mean the transport did not know the tool's
     * `Mcp-Param-*` headers (it learns them from `tools/list`): the tools are listed again and the call is retried
     * once. The server refuses such a call before any handler runs, so the retry cannot run a tool twice.
     */
    const callToolTask = (
      name: string,
      args: unknown,
      requestOptions?: RequestOptions
    ): Effect.Effect<McpSchema.CreateTaskResult | McpSchema.CallToolResult, McpClientError> => {
      const once = request(
        "tools/call",
        args === undefined ? { name } : { name, arguments: args },
        decodeCallToolOrTask,
        requestOptions
      )
      return era !== "modern" ? once : once.pipe(
        Effect.catchIf(
          (error) => error.code === ClientModern.HEADER_MISMATCH,
          () => Effect.zipRight(listAll("tools/list", listTools, (result) => result.tools), once)
        )
      )
    }

    /** `tools/call` to the tool's result: a call the server made a task is followed to its end. */
    const callTool = (
      name: string,
      args: unknown,
      requestOptions?: RequestOptions
    ): Effect.Effect<McpSchema.CallToolResult, McpClientError> =>
      Effect.flatMap(
        callToolTask(name, args, requestOptions),
        (result) => isCreateTaskResult(result) ? awaitTask(result) : Effect.succeed(result)
      )

    const listTools = (list?: ListOptions) =>
      Effect.flatMap(request("tools/list", listParams(list), decodeListTools), (result) => {
        const invalid = result.tools.flatMap((tool) => {
          const declared = ParamHeaders.scan(tool.inputSchema)
          return Either.isLeft(declared) ? [`${tool.name} (${declared.left})`] : []
        })
        if (invalid.length === 0) return Effect.succeed(result)
        return Effect.as(
          Effect.logWarning(`MCP server lists tools with invalid x-mcp-header declarations, dropped: ${invalid.join("; ")}`),
          { ...result, tools: result.tools.filter((tool) => Either.isRight(ParamHeaders.scan(tool.inputSchema))) }
        )
      })
    const listResources = (list?: ListOptions) => request("resources/list", listParams(list), decodeListResources)
    const listResourceTemplates = (list?: ListOptions) =>
      request("resources/templates/list", listParams(list), decodeListTemplates)
    const listPrompts = (list?: ListOptions) => request("prompts/list", listParams(list), decodeListPrompts)

    // The sessionless era has no such notification: the server asks for the roots on each request that needs them.
    const rootsChanged = era === "modern" ? Effect.void : recovering(send(rootsListChanged))
    if (Option.isSome(roots) && era === "legacy") {
      // A change the server cannot be told of now (the connection is gone) is lost: it will list the roots anew.
      yield* roots.value.changes.pipe(
        Stream.runForEach(() => Effect.ignore(rootsChanged)),
        Effect.forkIn(scope)
      )
    }

    return McpClient.of({
      era: Effect.succeed(era),
      protocolVersion: Effect.sync(() => initializeResult.protocolVersion),
      discoverResult,
      capabilities: Effect.sync(() => initializeResult.capabilities),
      initializeResult: Effect.sync(() => initializeResult),
      serverInfo: Effect.sync(() => initializeResult.serverInfo),
      sessionId: transport.sessionId,
      request: (method, params, schema, requestOptions) =>
        request(method, params, decoder(schema)(method), requestOptions),
      notify: (method, params) => recovering(send(JsonRpc.notification(method, params))),
      // Once the client is closed or disconnected, the streams are empty rather than interrupted.
      notifications: Stream.suspend(() => failure === undefined ? Stream.fromPubSub(notifications) : Stream.empty),
      subscribe: Effect.suspend(() =>
        failure === undefined ? Stream.fromPubSub(notifications, { scoped: true }) : Effect.succeed(Stream.empty)
      ),
      ping: request("ping", undefined, () => Effect.void),
      call: callDefined,
      listTools,
      listAllTools: listAll("tools/list", listTools, (result) => result.tools),
      callTool,
      callToolTask,
      tasks: {
        get: getTask,
        update: updateTask,
        cancel: cancelTask,
        await: awaitTask
      },
      listResources,
      listAllResources: listAll("resources/list", listResources, (result) => result.resources),
      listResourceTemplates,
      listAllResourceTemplates: listAll(
        "resources/templates/list",
        listResourceTemplates,
        (result) => result.resourceTemplates
      ),
      readResource: (uri, requestOptions) => request("resources/read", { uri }, decodeReadResource, requestOptions),
      listPrompts,
      listAllPrompts: listAll("prompts/list", listPrompts, (result) => result.prompts),
      getPrompt: (name, args, requestOptions) =>
        request("prompts/get", args === undefined ? { name } : { name, arguments: args }, decodeGetPrompt, requestOptions),
      complete: (params) => request("completion/complete", params, decodeComplete),
      setLoggingLevel: (level) => request("logging/setLevel", { level }, () => Effect.void),
      subscribeResource: (uri) => request("resources/subscribe", { uri }, () => Effect.void),
      unsubscribeResource: (uri) => request("resources/unsubscribe", { uri }, () => Effect.void),
      rootsChanged,
      listen: (filter, listenOptions) => era === "modern" ? listenModern(filter, listenOptions) : listenLegacy(filter),
      close
    })
  })
}

/**
 * The client on the `McpClientTransport` in context, connected and initialized.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<McpClient, McpClientError, McpClientTransport.McpClientTransport> => Layer.scoped(McpClient, make(options))

const onTransport = <R>(
  transport: Effect.Effect<McpClientTransport.McpClientTransportService, McpClientError, R | Scope.Scope>,
  options: Options,
  span: string
): Effect.Effect<McpClientService, McpClientError, R | Scope.Scope> => {
  // One client, so that running the effect again remembers what the server speaks.
  const client = make(options)
  return Effect.flatMap(transport, (service) =>
    Effect.provideService(client, McpClientTransport.McpClientTransport, service)).pipe(Effect.withSpan(span))
}

/**
 * A client over Streamable HTTP; `url` is the MCP endpoint (`http://host/mcp`).
 *
 * @since 0.1.0
 */
export const makeStreamableHttp = (
  options: StreamableHttpOptions
): Effect.Effect<McpClientService, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  onTransport(McpClientTransport.makeStreamableHttp(options), options, "McpClient.makeStreamableHttp")

/**
 * A client over the legacy HTTP+SSE transport; `url` is the SSE endpoint (`http://host/sse`).
 *
 * @since 0.1.0
 */
export const makeSse = (
  options: HttpOptions
): Effect.Effect<McpClientService, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  onTransport(McpClientTransport.makeSse(options), options, "McpClient.makeSse")

/**
 * A client over HTTP that finds out the transport itself: Streamable HTTP, or the legacy HTTP+SSE transport
 * when `initialize` POSTed to `url` gets a 400, 404 or 405.
 *
 * @since 0.1.0
 */
export const makeHttp = (
  options: StreamableHttpOptions
): Effect.Effect<McpClientService, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  onTransport(McpClientTransport.makeHttp(options), options, "McpClient.makeHttp")

/**
 * A client of a server it starts as a child process and talks to over stdio.
 *
 * @since 0.1.0
 */
export const makeStdio = (
  options: StdioOptions
): Effect.Effect<McpClientService, McpClientError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  onTransport(McpClientTransport.makeStdio(options), options, "McpClient.makeStdio")

/**
 * The client over Streamable HTTP, connected and initialized. Needs an `HttpClient`
 * (`FetchHttpClient.layer`, `NodeHttpClient.layerUndici`).
 *
 * @since 0.1.0
 */
export const layerStreamableHttp = (
  options: StreamableHttpOptions
): Layer.Layer<McpClient, McpClientError, HttpClient.HttpClient> =>
  layer(options).pipe(Layer.provide(McpClientTransport.layerStreamableHttp(options)))

/**
 * The client over the legacy HTTP+SSE transport, connected and initialized. Needs an `HttpClient`.
 *
 * @since 0.1.0
 */
export const layerSse = (options: HttpOptions): Layer.Layer<McpClient, McpClientError, HttpClient.HttpClient> =>
  layer(options).pipe(Layer.provide(McpClientTransport.layerSse(options)))

/**
 * The client over HTTP, Streamable or legacy as the server answers, connected and initialized. Needs an
 * `HttpClient`.
 *
 * @since 0.1.0
 */
export const layerHttp = (
  options: StreamableHttpOptions
): Layer.Layer<McpClient, McpClientError, HttpClient.HttpClient> =>
  layer(options).pipe(Layer.provide(McpClientTransport.layerHttp(options)))

/**
 * The client of a server started as a child process, over stdio, connected and initialized. Needs a
 * `CommandExecutor` (`NodeContext.layer`, or `NodeMcpClient.layerStdio` from `@effect-mcp/node`).
 *
 * @since 0.1.0
 */
export const layerStdio = (
  options: StdioOptions
): Layer.Layer<McpClient, McpClientError, CommandExecutor.CommandExecutor> =>
  layer(options).pipe(Layer.provide(McpClientTransport.layerStdio(options)))
