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
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Calls from "./internal/client/calls.js"
import * as Correlation from "./internal/client/correlation.js"
import { decoder } from "./internal/client/decode.js"
import * as Handlers from "./internal/client/handlers.js"
import * as Handshake from "./internal/client/handshake.js"
import * as InputRounds from "./internal/client/inputRounds.js"
import * as ClientListen from "./internal/client/listen.js"
import * as ClientModern from "./internal/client/modern.js"
import * as Recovery from "./internal/client/recovery.js"
import * as Tasks from "./internal/client/tasks.js"
import * as JsonRpc from "./JsonRpc.js"
import type { McpClientError, ToolError } from "./McpClientError.js"
import * as McpClientTransport from "./McpClientTransport.js"
import type * as McpSchema from "./McpSchema.js"
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

/** `notifications/progress` params. @since 0.1.0 */
export const Progress = Correlation.Progress
/** @since 0.1.0 */
export type Progress = typeof Progress.Type

/**
 * The answer to `server/discover` (2026-07-28): the revisions the server speaks, its capabilities, its
 * instructions, and its `serverInfo` in `_meta`. In the session era the client builds one from the `initialize`
 * result, so code can read it whatever the server's era.
 *
 * @since 0.1.0
 */
export const DiscoverResult = Handshake.DiscoverResult
/** @since 0.1.0 */
export type DiscoverResult = typeof DiscoverResult.Type

/**
 * Which notifications a `listen` stream carries (the spec's `SubscriptionFilter`).
 *
 * @since 0.1.0
 */
export const SubscriptionFilter = ClientListen.SubscriptionFilter
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
export { Reconnected } from "./internal/client/listen.js"

/**
 * What a `listen` stream carries: the server's notifications, and a `Reconnected` mark after each reconnection.
 *
 * @since 0.1.0
 */
export type SubscriptionEvent = JsonRpc.Notification | ClientListen.Reconnected

/**
 * Tells a `Reconnected` mark from a notification.
 *
 * @since 0.1.0
 */
export const isReconnected = (event: SubscriptionEvent): event is ClientListen.Reconnected =>
  event instanceof ClientListen.Reconnected

/**
 * Tells a notification from a `Reconnected` mark, for `Subscription.events`.
 *
 * @since 0.1.0
 */
export const isNotification: (event: SubscriptionEvent) => event is JsonRpc.Notification =
  ClientListen.isNotification

/**
 * How a 2026-07-28 `listen` stream reconnects when its connection drops, unless told otherwise: exponential from
 * 100 ms, each wait capped at 5 s, at most 8 attempts (about 16 s) per drop. A reconnection that is acknowledged
 * starts the schedule over for the next drop.
 *
 * @since 0.1.0
 */
export const defaultListenReconnect: Schedule.Schedule<unknown, McpClientError> =
  ClientListen.defaultListenReconnect

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

const rootsListChanged = JsonRpc.notification("notifications/roots/list_changed")

/**
 * Builds a client on the `McpClientTransport` in context and runs the handshake. The client lives in the current
 * scope: closing it closes the client and the transport.
 *
 * The engine is in parts (`internal/client/`), composed here: correlation moves the messages, the handshake finds
 * the era and keeps what the client knows of the server, recovery opens a new session when the server lost ours,
 * the input rounds answer `input_required`, the typed calls, tasks and listens are built on the one `request`.
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
    const handlers = yield* Handlers.make(options)
    const clientInfo = options.clientInfo ?? { name: "effect-mcp-client", version: "0.1.0" }
    const maxInputRounds = options.maxInputRounds ?? 10
    const claim = new Handshake.Claim(handlers.capabilities, clientInfo)
    const listeners = new ClientListen.Listeners()
    const correlation = yield* Correlation.make({ transport, handlers, envelope: claim, listens: listeners, timeout })
    const handshake: Handshake.Inputs = {
      options,
      transport,
      correlation,
      claim,
      capabilities: handlers.capabilities,
      clientInfo
    }
    const server = yield* Handshake.connect(handshake, eras)
    const { era } = server
    const { recovering } = yield* Recovery.make({
      reset: transport.reset,
      reinitialize: Effect.map(Handshake.initialize(handshake), (result) => server.reinitialized(result))
    })
    const rounds: InputRounds.Inputs = {
      call: (method, params) => recovering(correlation.call(method, params)),
      handlers,
      maxInputRounds
    }
    const request = Calls.makeRequest(correlation, (method, params) => InputRounds.complete(rounds, method, params))
    const tasks = Tasks.make({ request, handlers, maxInputRounds, scope })
    const listenLegacy = ClientListen.makeListenLegacy({
      correlation,
      capabilities: () => server.initializeResult.capabilities,
      subscription: (method, uri) => request(method, { uri }, () => Effect.void)
    })
    const listenModern = { correlation, listeners, timeout }

    // The sessionless era has no such notification: the server asks for the roots on each request that needs them.
    const rootsChanged = era === "modern" ? Effect.void : recovering(correlation.send(rootsListChanged))
    if (Option.isSome(handlers.roots) && era === "legacy") {
      // A change the server cannot be told of now (the connection is gone) is lost: it will list the roots anew.
      yield* handlers.roots.value.changes.pipe(
        Stream.runForEach(() => Effect.ignore(rootsChanged)),
        Effect.forkIn(scope)
      )
    }

    return McpClient.of({
      era: Effect.succeed(era),
      protocolVersion: Effect.sync(() => server.initializeResult.protocolVersion),
      discoverResult: Effect.sync(() => server.discoverResult),
      capabilities: Effect.sync(() => server.initializeResult.capabilities),
      initializeResult: Effect.sync(() => server.initializeResult),
      serverInfo: Effect.sync(() => server.initializeResult.serverInfo),
      sessionId: transport.sessionId,
      request: (method, params, schema, requestOptions) =>
        request(method, params, decoder(schema)(method), requestOptions),
      notify: (method, params) => recovering(correlation.send(JsonRpc.notification(method, params))),
      notifications: correlation.notifications,
      subscribe: correlation.subscribe,
      ...Calls.make({ request, era, awaitTask: tasks.await }),
      tasks,
      rootsChanged,
      listen: (filter, listenOptions) =>
        era === "modern"
          ? ClientListen.listenModern(
            listenModern,
            filter,
            listenOptions?.reconnect ?? options.listenReconnect ?? defaultListenReconnect
          )
          : listenLegacy(filter),
      close: correlation.close
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
