/**
 * The MCP client: the protocol engine (requests and their answers, progress, notifications, the `initialize`
 * handshake, a new session when the server lost ours, requests the server sends the client) on top of whichever
 * `McpClientTransport` is in context. Code written against `McpClient` runs unchanged over each: Streamable HTTP,
 * HTTP+SSE, HTTP with auto-detection, stdio, and in-process through `McpTest`.
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
 * // or: McpClient.layerHttp({ url }) (Streamable HTTP, else HTTP+SSE), McpClient.layerSse({ url: ".../sse" }),
 * // McpClient.layerStdio({ command: "node", args: ["server.js"] }) with NodeContext.layer,
 * // McpClient.layer(options) with any McpClientTransport layer.
 * ```
 *
 * Every revision of the protocol: with `protocol: "auto"` (the default) the client probes with `server/discover` and
 * speaks 2026-07-28 (sessionless: `_meta` on every request, `input_required` answered by the handler layers,
 * `listen` streams, reconnected when their connection drops: see `ListenOptions`) to a server that answers it, and
 * a revision with sessions (`initialize`) to one that does not; see `Options.protocol`.
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
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Calls from "./internal/client/calls.js"
import * as Correlation from "./internal/client/correlation.js"
import { decoder } from "./internal/client/decode.js"
import * as Handlers from "./internal/client/handlers.js"
import * as Handshake from "./internal/client/handshake.js"
import * as InputRounds from "./internal/client/inputRounds.js"
import * as ClientListen from "./internal/client/listen.js"
import type { SubscriptionEvent } from "./internal/client/listen.js"
import * as Sessionless from "./internal/client/sessionless.js"
import type { Options } from "./internal/client/options.js"
import * as Recovery from "./internal/client/recovery.js"
import type { McpClientService } from "./internal/client/service.js"
import * as Tasks from "./internal/client/tasks.js"
import * as JsonRpc from "./JsonRpc.js"
import type { McpClientError } from "./McpClientError.js"
import * as McpClientTransport from "./McpClientTransport.js"
import * as McpRevision from "./McpRevision.js"
import * as McpSchema from "./McpSchema.js"

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
export const Progress = McpSchema.ProgressParams
/** @since 0.1.0 */
export type Progress = typeof Progress.Type

/**
 * The answer to `server/discover` (2026-07-28): the revisions the server speaks, its capabilities, its
 * instructions, and its `serverInfo` in `_meta`. From a server with sessions the client builds one from the
 * `initialize` result, so code can read it whatever the server's revision.
 *
 * @since 0.1.0
 */
export const DiscoverResult = McpSchema.DiscoverResult
/** @since 0.1.0 */
export type DiscoverResult = typeof DiscoverResult.Type

/**
 * Which notifications a `listen` stream carries (the spec's `SubscriptionFilter`).
 *
 * @since 0.1.0
 */
export const SubscriptionFilter = McpSchema.SubscriptionFilter
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

// The service, its options and what `listen` gives are declared by the internal modules that build them (see
// internal/client/service.ts for why), and are public from here, with their docs.
export type { Subscription, SubscriptionEvent } from "./internal/client/listen.js"
export type { Options, ServerRequestHandler } from "./internal/client/options.js"
export type {
  Era,
  ListenOptions,
  ListOptions,
  McpClientService,
  RequestOptions,
  Send,
  SendName,
  SendParams,
  TasksService
} from "./internal/client/service.js"

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
 * The client service.
 *
 * @since 0.1.0
 */
export class McpClient extends Context.Tag("@effect-mcp/core/McpClient")<McpClient, McpClientService>() {}

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
 * whether the server has sessions and keeps what the client knows of it, recovery opens a new session when the
 * server lost ours, the input rounds answer `input_required`, `send` (a request of the method table) is built on
 * the one `request`, and the typed calls and tasks on `send`.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<McpClientService, McpClientError, McpClientTransport.McpClientTransport | Scope.Scope> => {
  // What each endpoint turned out to speak, for the next connect of this client (a layer built again, the effect
  // run again): a server with sessions is not probed with `server/discover` a second time.
  const withSessions = new Sessionless.SessionEndpoints()
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
    const server = yield* Handshake.connect(handshake, withSessions)
    // What the revision spoken has: a new session after recovery speaks the same revision, so the same methods.
    const revision = McpRevision.get(server.initializeResult.protocolVersion) ?? McpRevision.latestSessionEra
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
    const send = Calls.makeSend({ request, revision })
    const tasks = Tasks.make({ send, handlers, maxInputRounds, scope })
    const listenSession = ClientListen.makeListenSession({
      correlation,
      capabilities: () => server.initializeResult.capabilities,
      subscription: (method, uri) => request(method, { uri }, () => Effect.void)
    })
    const listenSessionless = { correlation, listeners, timeout }

    // A revision without the notification (2026-07-28) has the server ask for the roots on each request instead.
    const tellsRoots = revision.methods.has("notifications/roots/list_changed")
    const rootsChanged = tellsRoots ? recovering(correlation.send(rootsListChanged)) : Effect.void
    if (Option.isSome(handlers.roots) && tellsRoots) {
      // A change the server cannot be told of now (the connection is gone) is lost: it will list the roots anew.
      yield* handlers.roots.value.changes.pipe(
        Stream.runForEach(() => Effect.ignore(rootsChanged)),
        Effect.forkIn(scope)
      )
    }

    return McpClient.of({
      era: Effect.succeed(server.sessions ? "legacy" : "modern"),
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
      ...Calls.make({ send, awaitTask: tasks.await }),
      tasks,
      rootsChanged,
      listen: (filter, listenOptions) =>
        revision.methods.has("subscriptions/listen")
          ? ClientListen.listenSessionless(
            listenSessionless,
            filter,
            listenOptions?.reconnect ?? options.listenReconnect ?? defaultListenReconnect
          )
          : listenSession(filter),
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
 * A client over the HTTP+SSE transport; `url` is the SSE endpoint (`http://host/sse`).
 *
 * @since 0.1.0
 */
export const makeSse = (
  options: HttpOptions
): Effect.Effect<McpClientService, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  onTransport(McpClientTransport.makeSse(options), options, "McpClient.makeSse")

/**
 * A client over HTTP that finds out the transport itself: Streamable HTTP, or the HTTP+SSE transport
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
 * The client over the HTTP+SSE transport, connected and initialized. Needs an `HttpClient`.
 *
 * @since 0.1.0
 */
export const layerSse = (options: HttpOptions): Layer.Layer<McpClient, McpClientError, HttpClient.HttpClient> =>
  layer(options).pipe(Layer.provide(McpClientTransport.layerSse(options)))

/**
 * The client over HTTP, Streamable or HTTP+SSE as the server answers, connected and initialized. Needs an
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
