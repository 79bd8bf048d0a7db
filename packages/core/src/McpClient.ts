/**
 * The MCP client: the protocol engine (requests and their answers, progress, notifications, the `initialize`
 * handshake, a new session when the server lost ours, requests the server sends the client) on top of whichever
 * `McpClientTransport` is in context. Code written against `McpClient` runs unchanged over each: Streamable HTTP,
 * legacy HTTP+SSE, HTTP with auto-detection, stdio, and in-process through `McpTest`.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const client = yield* McpClient.McpClient
 *   const { tools } = yield* client.listTools()
 *   const result = yield* client.callTool("add", { a: 1, b: 2 })
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
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberMap from "effect/FiberMap"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { describeParseError } from "./internal/parseError.js"
import * as JsonRpc from "./JsonRpc.js"
import { McpClientError } from "./McpClientError.js"
import * as McpClientTransport from "./McpClientTransport.js"
import * as McpSchema from "./McpSchema.js"

/**
 * Why a client operation failed; see the `McpClientError` module.
 *
 * @since 0.1.0
 */
export { McpClientError } from "./McpClientError.js"

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
  /** The server's `initialize` result (of the current session, after a re-initialization). */
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
  readonly listTools: (options?: ListOptions) => Effect.Effect<McpSchema.ListToolsResult, McpClientError>
  /** Calls a tool. A tool's own failure is a result with `isError: true`, not an error of this Effect. */
  readonly callTool: (
    name: string,
    args?: { readonly [key: string]: unknown },
    options?: RequestOptions
  ) => Effect.Effect<McpSchema.CallToolResult, McpClientError>
  readonly listResources: (
    options?: ListOptions
  ) => Effect.Effect<typeof McpSchema.ListResourcesResult.Type, McpClientError>
  readonly listResourceTemplates: (
    options?: ListOptions
  ) => Effect.Effect<typeof McpSchema.ListResourceTemplatesResult.Type, McpClientError>
  readonly readResource: (
    uri: string,
    options?: RequestOptions
  ) => Effect.Effect<McpSchema.ReadResourceResult, McpClientError>
  readonly listPrompts: (options?: ListOptions) => Effect.Effect<typeof McpSchema.ListPromptsResult.Type, McpClientError>
  readonly getPrompt: (
    name: string,
    args?: { readonly [argument: string]: string },
    options?: RequestOptions
  ) => Effect.Effect<McpSchema.GetPromptResult, McpClientError>
  /** Asks for completions of a prompt or resource template argument. */
  readonly complete: (params: McpSchema.CompleteParams) => Effect.Effect<McpSchema.CompleteResult, McpClientError>
  /** Sets the minimum level of the log messages the server sends. */
  readonly setLoggingLevel: (level: McpSchema.LoggingLevel) => Effect.Effect<void, McpClientError>
  /** Closes the client; the layer does it on release. Pending requests fail with `Closed`. */
  readonly close: Effect.Effect<void>
}

/**
 * The client service.
 *
 * @since 0.1.0
 */
export class McpClient extends Context.Tag("@effect-mcp/core/McpClient")<McpClient, McpClientService>() {}


/**
 * Answers one kind of request the server sends the client (`roots/list`, `sampling/createMessage`,
 * `elicitation/create`...). `ping` is always answered; any other method without a handler gets -32601.
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
  /** `capabilities` sent in `initialize`, besides those of `handlers`. Default none. */
  readonly capabilities?: McpSchema.ClientCapabilities | undefined
  /** The revision asked for in `initialize`. Default `McpSchema.LATEST_PROTOCOL_VERSION`. */
  readonly protocolVersion?: string | undefined
  /** Handlers for the requests the server sends the client; their capabilities are declared in `initialize`. */
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
  return {
    ...(roots === undefined ? {} : { roots }),
    ...(sampling === undefined ? {} : { sampling }),
    ...(elicitation === undefined ? {} : { elicitation }),
    ...(experimental === undefined ? {} : { experimental })
  }
}

/** The capabilities to declare: the options', and those of each handler. */
const declaredCapabilities = (options: Options): McpSchema.ClientCapabilities =>
  (options.handlers ?? []).reduce(
    (capabilities, handler) => mergeCapabilities(capabilities, handler.capabilities ?? {}),
    options.capabilities ?? {}
  )

const decodeCancelled = Schema.decodeUnknownOption(McpSchema.CancelledParams)

/**
 * Builds a client on the `McpClientTransport` in context and runs the handshake. The client lives in the current
 * scope: closing it closes the client and the transport.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<McpClientService, McpClientError, McpClientTransport.McpClientTransport | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* McpClientTransport.McpClientTransport
    const scope = yield* Effect.scope
    const timeout = options.requestTimeout === undefined ? undefined : Duration.decode(options.requestTimeout)
    const handlers = new Map<string, ServerRequestHandler>([["ping", pingHandler]])
    for (const handler of options.handlers ?? []) handlers.set(handler.method, handler)
    const pending = new Map<JsonRpc.RequestId, Deferred.Deferred<unknown, McpClientError>>()
    const progressHandlers = new Map<McpSchema.ProgressToken, (progress: Progress) => Effect.Effect<void>>()
    // The server's requests being answered, by id, so that `notifications/cancelled` can interrupt them.
    const serving = yield* FiberMap.make<JsonRpc.RequestId>()
    const notifications = yield* PubSub.unbounded<JsonRpc.Notification>()
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

    // One request over the current session, without recovery.
    const call = (method: string, params: unknown): Effect.Effect<unknown, McpClientError> =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        const id = ++nextId
        const deferred = Deferred.unsafeMake<unknown, McpClientError>(FiberId.none)
        pending.set(id, deferred)
        // Whichever ends first: the answer (which may come before the transport is done sending, or be a
        // failure from `close`), or a failure to send.
        return Effect.raceFirst(
          Deferred.await(deferred),
          Effect.zipRight(transport.send(JsonRpc.request(id, method, params)), Effect.never)
        ).pipe(
          // The spec forbids cancelling `initialize`.
          Effect.onInterrupt(() => method === "initialize" ? Effect.void : cancel(id)),
          withTimeout(method),
          Effect.ensuring(Effect.sync(() => pending.delete(id)))
        )
      })

    const initializeParams: McpSchema.InitializeParams = {
      protocolVersion: options.protocolVersion ?? McpSchema.LATEST_PROTOCOL_VERSION,
      capabilities: declaredCapabilities(options),
      clientInfo: options.clientInfo ?? { name: "effect-mcp-client", version: "0.1.0" }
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

    const request = <A>(
      method: string,
      params: unknown,
      decode: (result: unknown) => Effect.Effect<A, McpClientError>,
      requestOptions?: RequestOptions
    ): Effect.Effect<A, McpClientError> => {
      const onProgress = requestOptions?.onProgress
      if (onProgress === undefined) {
        return recovering(call(method, params)).pipe(Effect.flatMap(decode), Effect.withSpan(`McpClient ${method}`))
      }
      return Effect.acquireUseRelease(
        Effect.sync(() => {
          const token = `progress-${++nextToken}`
          progressHandlers.set(token, onProgress)
          return token
        }),
        (token) => recovering(call(method, withProgressToken(params, token))).pipe(Effect.flatMap(decode)),
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

    let initializeResult = yield* handshake

    return McpClient.of({
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
      listTools: (list) => request("tools/list", listParams(list), decodeListTools),
      callTool: (name, args, requestOptions) =>
        request("tools/call", args === undefined ? { name } : { name, arguments: args }, decodeCallTool, requestOptions),
      listResources: (list) => request("resources/list", listParams(list), decodeListResources),
      listResourceTemplates: (list) => request("resources/templates/list", listParams(list), decodeListTemplates),
      readResource: (uri, requestOptions) => request("resources/read", { uri }, decodeReadResource, requestOptions),
      listPrompts: (list) => request("prompts/list", listParams(list), decodeListPrompts),
      getPrompt: (name, args, requestOptions) =>
        request("prompts/get", args === undefined ? { name } : { name, arguments: args }, decodeGetPrompt, requestOptions),
      complete: (params) => request("completion/complete", params, decodeComplete),
      setLoggingLevel: (level) => request("logging/setLevel", { level }, () => Effect.void),
      close
    })
  })

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
): Effect.Effect<McpClientService, McpClientError, R | Scope.Scope> =>
  Effect.flatMap(transport, (service) =>
    Effect.provideService(make(options), McpClientTransport.McpClientTransport, service)).pipe(Effect.withSpan(span))

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
