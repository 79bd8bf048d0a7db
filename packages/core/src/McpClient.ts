/**
 * The MCP client: one service over every transport (Streamable HTTP, legacy HTTP+SSE, and in-process through
 * `McpTest`), so code written against `McpClient` runs unchanged on each.
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
 * ```
 *
 * The layers are scoped: building one connects and runs the `initialize` handshake, releasing it fails what is
 * still pending, ends `notifications` and closes the session. Over Streamable HTTP, a 404 for the client's
 * session (the server restarted, expired or deleted it) makes the client open a new session by itself and
 * retry the request once.
 *
 * @since 0.1.0
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberHandle from "effect/FiberHandle"
import * as FiberId from "effect/FiberId"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SseParser from "./internal/sseParser.js"
import * as JsonRpc from "./JsonRpc.js"
import * as McpSchema from "./McpSchema.js"
import type * as Sse from "./Sse.js"

/**
 * Why a client operation failed:
 *
 * - `Transport`: the server could not be reached, or the connection broke;
 * - `HttpStatus`: the server answered with an HTTP error (`status`; `code` when the body was a JSON-RPC error);
 * - `SessionNotFound`: the server no longer knows the session (404); over Streamable HTTP, only when a new
 *   session did not help either;
 * - `Protocol`: the server sent something that is not valid MCP (a result that does not match its schema...);
 * - `RpcError`: the server answered the request with a JSON-RPC error (`code`, `message`, `data`);
 * - `Closed`: the client was closed.
 *
 * @since 0.1.0
 */
export class McpClientError extends Schema.TaggedError<McpClientError>()("McpClientError", {
  reason: Schema.Literal("Transport", "HttpStatus", "SessionNotFound", "Protocol", "RpcError", "Closed"),
  message: Schema.String,
  status: Schema.optional(Schema.Number),
  code: Schema.optional(Schema.Number),
  data: Schema.optional(Schema.Unknown),
  cause: Schema.optional(Schema.Defect)
}) {}

const transportError = (message: string) => (cause: unknown) =>
  new McpClientError({ reason: "Transport", message, cause })

const protocolError = (message: string) => new McpClientError({ reason: "Protocol", message })

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

/** Where a transport hands what it receives. @since 0.1.0 */
export interface Receiver {
  /** A message from the server. */
  readonly receive: (message: JsonRpc.Message) => Effect.Effect<void>
  /** The connection is gone for good: pending and later requests fail with `error`. */
  readonly disconnected: (error: McpClientError) => Effect.Effect<void>
}

/**
 * How the client reaches a server. `make` runs MCP on top of it; a transport only moves messages.
 *
 * @since 0.1.0
 */
export interface Transport {
  /**
   * Sends one message. When the transport gets messages back in answer (a Streamable HTTP response), it hands
   * them to the `Receiver` before this completes.
   */
  readonly send: (message: JsonRpc.Message) => Effect.Effect<void, McpClientError>
  /** Called after each handshake with the negotiated revision (Streamable HTTP sends it as a header). */
  readonly initialized: (protocolVersion: string) => Effect.Effect<void>
  /**
   * Forgets the server's session so the next `initialize` opens a new one. Only transports that can recover
   * from a `SessionNotFound` this way have it.
   */
  readonly reset?: Effect.Effect<void> | undefined
  /** The server's session id, when the transport has one. */
  readonly sessionId: Effect.Effect<Option.Option<string>>
  /** Ends the connection; called once, when the client closes. */
  readonly close: Effect.Effect<void>
}

/** @since 0.1.0 */
export interface Options {
  /** `clientInfo` sent in `initialize`. Default `effect-mcp-client` 0.1.0. */
  readonly clientInfo?: McpSchema.Implementation | undefined
  /** `capabilities` sent in `initialize`. Default none. */
  readonly capabilities?: McpSchema.ClientCapabilities | undefined
  /** The revision asked for in `initialize`. Default `McpSchema.LATEST_PROTOCOL_VERSION`. */
  readonly protocolVersion?: string | undefined
}

/** Options of the HTTP transports. @since 0.1.0 */
export interface HttpOptions extends Options {
  /** The MCP endpoint (`/mcp`) for Streamable HTTP; the SSE endpoint (`/sse`) for the legacy transport. */
  readonly url: string | URL
  /** Extra headers sent with every HTTP request (authorization...). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** Options of the Streamable HTTP transport. @since 0.1.0 */
export interface StreamableHttpOptions extends HttpOptions {
  /**
   * Hold a GET stream open for the messages the server starts (log messages, list changes outside a request).
   * Default true; a server without one (405) is fine either way.
   */
  readonly standaloneStream?: boolean | undefined
}

const decodeProgress = Schema.decodeUnknownOption(Progress)

const decoder = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknown(schema)
  return (method: string) => (result: unknown): Effect.Effect<A, McpClientError> =>
    Effect.mapError(decode(result), (error) =>
      protocolError(`Invalid result of ${method}: ${ParseResult.TreeFormatter.formatErrorSync(error)}`))
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
 * Builds a client on a transport and runs the handshake. The client lives in the current scope: closing it
 * closes the client.
 *
 * @since 0.1.0
 */
export const make = <R>(
  makeTransport: (receiver: Receiver) => Effect.Effect<Transport, McpClientError, R>,
  options: Options = {}
): Effect.Effect<McpClientService, McpClientError, R | Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const pending = new Map<JsonRpc.RequestId, Deferred.Deferred<unknown, McpClientError>>()
    const progressHandlers = new Map<McpSchema.ProgressToken, (progress: Progress) => Effect.Effect<void>>()
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

    // Server-to-client requests: only `ping` is answered, since the client announces no capabilities that
    // would bring others (sampling, roots, elicitation).
    const answer = (request: JsonRpc.Request) =>
      Effect.suspend(() =>
        transport.send(
          request.method === "ping"
            ? JsonRpc.success(request.id, {})
            : JsonRpc.failure(request.id, JsonRpc.methodNotFound(request.method))
        )
      ).pipe(Effect.ignore)

    const receiver: Receiver = {
      receive: (message) => {
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
        if (JsonRpc.isRequest(message)) return Effect.asVoid(Effect.forkIn(answer(message), scope))
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
      },
      disconnected: fail
    }

    // Assigned right below: `receiver` needs `transport` for its answers, and the transport needs `receiver`.
    let transport!: Transport
    transport = yield* makeTransport(receiver)

    const cancel = (id: JsonRpc.RequestId) =>
      Effect.suspend(() =>
        failure !== undefined ? Effect.void : transport.send(
          JsonRpc.notification("notifications/cancelled", { requestId: id, reason: "The request was interrupted" })
        )
      ).pipe(Effect.ignore, Effect.forkIn(scope), Effect.asVoid)

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
          Effect.ensuring(Effect.sync(() => pending.delete(id)))
        )
      })

    const send = (message: JsonRpc.Message) =>
      Effect.suspend(() => failure !== undefined ? Effect.fail(failure) : transport.send(message))

    const initializeParams: McpSchema.InitializeParams = {
      protocolVersion: options.protocolVersion ?? McpSchema.LATEST_PROTOCOL_VERSION,
      capabilities: options.capabilities ?? {},
      clientInfo: options.clientInfo ?? { name: "effect-mcp-client", version: "0.1.0" }
    }

    const handshake = Effect.gen(function*() {
      const result = yield* Effect.flatMap(call("initialize", initializeParams), decodeInitialize)
      if (!McpSchema.SUPPORTED_PROTOCOL_VERSIONS.includes(result.protocolVersion)) {
        return yield* protocolError(`The server chose protocol version ${result.protocolVersion}, which this client does not speak`)
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
    const recover = (reset: Effect.Effect<void>, seen: number) =>
      recovery.withPermits(1)(Effect.suspend(() => {
        if (seen !== generation) return Effect.void
        const reopened = Deferred.unsafeMake<void>(FiberId.none)
        reopening = reopened
        return Effect.logInfo("MCP server lost the session; starting a new one").pipe(
          Effect.zipRight(reset),
          Effect.zipRight(handshake),
          Effect.map((result) => {
            initializeResult = result
            generation++
          }),
          Effect.ensuring(Effect.suspend(() => {
            reopening = undefined
            return Deferred.done(reopened, Exit.void)
          }))
        )
      }))

    // Runs `effect` once more on a new session when the server no longer knows ours.
    const recovering = <A>(effect: Effect.Effect<A, McpClientError>): Effect.Effect<A, McpClientError> => {
      const reset = transport.reset
      if (reset === undefined) return effect
      const attempt: Effect.Effect<A, McpClientError> = Effect.suspend(() => {
        if (reopening !== undefined) return Effect.zipRight(Deferred.await(reopening), attempt)
        const seen = generation
        return Effect.catchIf(
          effect,
          (error) => error.reason === "SessionNotFound",
          () => Effect.zipRight(recover(reset, seen), effect)
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

// ---------------------------------------------------------------------------------------------------------------
// HTTP transports
// ---------------------------------------------------------------------------------------------------------------

const parseUrl = (url: string | URL): Effect.Effect<URL, McpClientError> =>
  Effect.try({ try: () => new URL(url), catch: transportError(`Invalid URL: ${String(url)}`) })

const ErrorBody = Schema.parseJson(Schema.Struct({ error: JsonRpc.ErrorObject }))
const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody)

/**
 * An HTTP error, with the JSON-RPC error of its body when it has one (every MCP server sends one). A 404 to a
 * request made in a session means the server no longer knows it.
 */
const statusError = (response: HttpClientResponse.HttpClientResponse, inSession: boolean) =>
  Effect.flatMap(Effect.orElseSucceed(response.text, () => ""), (body) => {
    const error = decodeErrorBody(body)
    return Effect.fail(
      new McpClientError({
        reason: inSession && response.status === 404 ? "SessionNotFound" : "HttpStatus",
        status: response.status,
        message: Option.isSome(error)
          ? `HTTP ${response.status}: ${error.value.error.message}`
          : `HTTP ${response.status}${body === "" ? "" : `: ${body.slice(0, 200)}`}`,
        ...(Option.isSome(error) ? { code: error.value.error.code } : {})
      })
    )
  })

const drain = (response: HttpClientResponse.HttpClientResponse) => Effect.ignore(response.arrayBuffer)

/** Hands a parsed JSON value to the receiver when it is a JSON-RPC message, and returns the message. */
const deliverJson = (receiver: Receiver, json: unknown): Effect.Effect<JsonRpc.Message | undefined> => {
  const message = JsonRpc.decodeMessage(json)
  return Either.isRight(message)
    ? Effect.as(receiver.receive(message.right), message.right)
    : Effect.as(Effect.logWarning(`MCP server sent an invalid message: ${message.left.message}`, json), undefined)
}

/** Hands the message of an SSE event to the receiver; other event types and the priming event carry none. */
const deliverEvent = (receiver: Receiver, event: Sse.Event): Effect.Effect<JsonRpc.Message | undefined> => {
  if ((event.event !== undefined && event.event !== "message") || event.data === "") return Effect.succeed(undefined)
  let json: unknown
  try {
    json = JSON.parse(event.data)
  } catch {
    return Effect.as(Effect.logWarning("MCP server sent an invalid message: not JSON", event.data), undefined)
  }
  return deliverJson(receiver, json)
}

const isSuccess = (status: number) => status >= 200 && status < 300

/** The body of a POST; what JSON cannot carry (a `bigint` in the arguments...) fails the request. */
const encodeBody = (message: JsonRpc.Message): Effect.Effect<HttpBody.HttpBody, McpClientError> =>
  Effect.try({
    try: () => HttpBody.text(JSON.stringify(message), "application/json"),
    catch: (cause) => new McpClientError({ reason: "Protocol", message: "The message cannot be sent as JSON", cause })
  })

/**
 * The legacy HTTP+SSE transport (2024-11-05): a GET opens the stream; its `endpoint` event names where to POST
 * messages; every answer arrives on the stream as a `message` event.
 */
const sseTransport = (options: HttpOptions) => (receiver: Receiver) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const url = yield* parseUrl(options.url)
    const endpoint = yield* Deferred.make<URL, McpClientError>()

    const response = yield* http.execute(
      HttpClientRequest.get(url).pipe(
        HttpClientRequest.setHeaders({ ...options.headers, accept: "text/event-stream" })
      )
    ).pipe(Effect.mapError(transportError(`Could not open the SSE stream at ${url.href}`)))
    if (!isSuccess(response.status)) return yield* statusError(response, false)

    const onEvent = (event: Sse.Event): Effect.Effect<void> => {
      if (event.event === "endpoint") {
        let target: URL
        try {
          target = new URL(event.data, url)
        } catch {
          return Deferred.fail(endpoint, protocolError(`The endpoint event is not a URL: ${event.data}`)).pipe(Effect.asVoid)
        }
        // The endpoint must not send our messages (and any credentials in `headers`) to another origin.
        return Deferred.done(
          endpoint,
          target.origin === url.origin
            ? Exit.succeed(target)
            : Exit.fail(protocolError(`The endpoint ${target.href} is not on the origin of ${url.href}`))
        ).pipe(Effect.asVoid)
      }
      return Effect.asVoid(deliverEvent(receiver, event))
    }

    const lost = (error: McpClientError) =>
      Effect.zipRight(Deferred.fail(endpoint, error), receiver.disconnected(error))

    // Interruption is the client closing the stream itself: nothing is lost then.
    const reader = yield* SseParser.decode(response.stream).pipe(
      Stream.runForEach(onEvent),
      Effect.matchCauseEffect({
        onSuccess: () => lost(new McpClientError({ reason: "Transport", message: "The server closed the SSE stream" })),
        onFailure: (cause) => lost(transportError("The SSE stream failed")(Cause.squash(cause)))
      }),
      Effect.forkScoped
    )

    const target = yield* Deferred.await(endpoint)
    const sessionId = Option.fromNullable(target.searchParams.get("session_id") ?? target.searchParams.get("sessionId"))

    const transport: Transport = {
      send: (message) =>
        encodeBody(message).pipe(
          Effect.flatMap((body) =>
            http.execute(HttpClientRequest.post(target, { headers: { ...options.headers }, body }))
          ),
          Effect.mapError(transportError(`Could not POST to ${target.href}`)),
          Effect.flatMap((response) => isSuccess(response.status) ? drain(response) : statusError(response, true))
        ),
      initialized: () => Effect.void,
      sessionId: Effect.succeed(sessionId),
      close: Fiber.interrupt(reader)
    }
    return transport
  })

/** Where an SSE stream is, so a dropped one can be resumed. */
interface Cursor {
  lastEventId: string | undefined
  /** The server's `retry`: how long to wait before reconnecting. */
  retry: number | undefined
}

const DEFAULT_RETRY = 1000
/** Resumptions in a row that bring nothing new before the client gives up on a stream. */
const MAX_FRUITLESS_RESUMES = 3

const isEventStream = (response: HttpClientResponse.HttpClientResponse) =>
  (response.headers["content-type"] ?? "").toLowerCase().startsWith("text/event-stream")

/**
 * The Streamable HTTP transport (2025-03-26 and later): a POST per message; a request's answer is the POST's
 * response, as JSON or as an SSE stream that may carry notifications about the request first. A stream that
 * drops before the answer is resumed with `Last-Event-ID` when the server numbers its events (2025-11-25 servers
 * may also end a stream early on purpose, SEP-1699). Messages the server starts come on a GET stream, held open
 * while the session lives.
 */
const streamableHttpTransport = (options: StreamableHttpOptions) => (receiver: Receiver) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const url = yield* parseUrl(options.url)
    const standalone = yield* FiberHandle.make<void, never>()
    let sessionId: string | undefined
    let protocolVersion: string | undefined

    const headers = (): Record<string, string> => ({
      ...options.headers,
      accept: "application/json, text/event-stream",
      ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId }),
      ...(protocolVersion === undefined ? {} : { "mcp-protocol-version": protocolVersion })
    })

    const execute = (request: HttpClientRequest.HttpClientRequest) =>
      http.execute(request).pipe(Effect.mapError(transportError(`Could not reach ${url.href}`)))

    const get = (lastEventId: string | undefined) =>
      execute(HttpClientRequest.get(url).pipe(
        HttpClientRequest.setHeaders(headers()),
        HttpClientRequest.setHeader("accept", "text/event-stream"),
        lastEventId === undefined ? identity : HttpClientRequest.setHeader("last-event-id", lastEventId)
      ))

    /** Hands over the messages of one SSE response until `stop` says so; true when it did. */
    const readEvents = (
      response: HttpClientResponse.HttpClientResponse,
      cursor: Cursor,
      stop: (message: JsonRpc.Message | undefined) => boolean
    ) => {
      let stopped = false
      return SseParser.decode(response.stream).pipe(
        Stream.runForEachWhile((event) => {
          if (event.id !== undefined) cursor.lastEventId = event.id
          if (event.retry !== undefined) cursor.retry = event.retry
          return Effect.map(deliverEvent(receiver, event), (message) => !(stopped = stop(message)))
        }),
        Effect.mapError(transportError("The SSE stream failed")),
        Effect.map(() => stopped)
      )
    }

    /** Follows a POST's SSE stream, across resumptions, until the answer to `request`. */
    const awaitAnswer = (first: HttpClientResponse.HttpClientResponse, request: JsonRpc.Request) =>
      Effect.gen(function*() {
        const cursor: Cursor = { lastEventId: undefined, retry: undefined }
        const answers = (message: JsonRpc.Message | undefined) =>
          message !== undefined && JsonRpc.isResponse(message) && message.id === request.id
        let response = first
        let fruitless = 0
        while (true) {
          const before = cursor.lastEventId
          const read = yield* Effect.either(readEvents(response, cursor, answers))
          if (Either.isRight(read) && read.right) return
          fruitless = cursor.lastEventId === before ? fruitless + 1 : 0
          // Without an event id there is nothing to resume from.
          if (cursor.lastEventId === undefined || fruitless >= MAX_FRUITLESS_RESUMES) {
            return yield* Either.isLeft(read) ? read.left : new McpClientError({
              reason: "Transport",
              message: `The response ended before the answer to ${request.method}`
            })
          }
          yield* Effect.sleep(cursor.retry ?? DEFAULT_RETRY)
          response = yield* get(cursor.lastEventId)
          if (!isSuccess(response.status)) return yield* statusError(response, true)
          if (!isEventStream(response)) {
            yield* drain(response)
            return yield* protocolError("The server resumed a stream with something other than an SSE stream")
          }
        }
      })

    const readJson = (response: HttpClientResponse.HttpClientResponse, request: JsonRpc.Request) =>
      response.text.pipe(
        Effect.mapError(transportError("Could not read the response")),
        Effect.flatMap((text) => {
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {
            return Effect.fail(protocolError("The response body is not JSON"))
          }
          // A batch comes back only from a 2025-03-26 server, but costs nothing to accept.
          return Effect.reduce(Array.isArray(json) ? json : [json], false, (answered, item) =>
            Effect.map(deliverJson(receiver, item), (message) =>
              answered || (message !== undefined && JsonRpc.isResponse(message) && message.id === request.id)))
        }),
        Effect.flatMap((answered) =>
          answered ? Effect.void : protocolError(`The response does not answer ${request.method}`)
        )
      )

    /**
     * The standalone stream: reopened while the session lives (resumed when the server numbers its events);
     * given up when the server does not offer one (405) or the session is gone.
     */
    const listen = Effect.gen(function*() {
      const cursor: Cursor = { lastEventId: undefined, retry: undefined }
      while (true) {
        const response = yield* get(cursor.lastEventId)
        if (!isSuccess(response.status) || !isEventStream(response)) return yield* drain(response)
        yield* Effect.ignore(readEvents(response, cursor, () => false))
        yield* Effect.sleep(cursor.retry ?? DEFAULT_RETRY)
      }
    }).pipe(
      // A server that cannot be reached now is found out by the next request; the stream is a bonus.
      Effect.catchAll((error) => Effect.logDebug("MCP standalone stream ended", error))
    )

    const send = (message: JsonRpc.Message): Effect.Effect<void, McpClientError> =>
      Effect.gen(function*() {
        const body = yield* encodeBody(message)
        const sentWith = sessionId
        const response = yield* execute(HttpClientRequest.post(url, { headers: headers(), body }))
        if (!isSuccess(response.status)) return yield* statusError(response, sentWith !== undefined)
        if (!JsonRpc.isRequest(message)) return yield* drain(response)
        if (message.method === "initialize") sessionId = response.headers["mcp-session-id"]
        if (isEventStream(response)) return yield* awaitAnswer(response, message)
        if ((response.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) {
          return yield* readJson(response, message)
        }
        yield* drain(response)
        return yield* protocolError(
          response.status === 202
            ? `The server accepted ${message.method} without answering it`
            : `Unexpected response content type: ${response.headers["content-type"] ?? "(none)"}`
        )
      })

    const transport: Transport = {
      send,
      initialized: (version) =>
        Effect.suspend(() => {
          protocolVersion = version
          return options.standaloneStream === false || sessionId === undefined
            ? Effect.void
            : Effect.asVoid(FiberHandle.run(standalone, listen))
        }),
      reset: Effect.zipRight(
        FiberHandle.clear(standalone),
        Effect.sync(() => {
          sessionId = undefined
          protocolVersion = undefined
        })
      ),
      sessionId: Effect.sync(() => Option.fromNullable(sessionId)),
      // DELETE ends the session on the server; a 405 (the server does not offer it) or a failure changes nothing
      // for us, and a server that does not answer must not hold up the release of the client.
      close: Effect.zipRight(
        FiberHandle.clear(standalone),
        Effect.suspend(() => {
          if (sessionId === undefined) return Effect.void
          return execute(HttpClientRequest.del(url).pipe(HttpClientRequest.setHeaders(headers()))).pipe(
            Effect.flatMap(drain),
            Effect.timeout(Duration.seconds(5)),
            Effect.ignore,
            Effect.ensuring(Effect.sync(() => {
              sessionId = undefined
            }))
          )
        })
      )
    }
    return transport
  })

/**
 * A client over the legacy HTTP+SSE transport; `url` is the SSE endpoint (`http://host/sse`).
 *
 * @since 0.1.0
 */
export const makeSse = (
  options: HttpOptions
): Effect.Effect<McpClientService, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.withSpan(make(sseTransport(options), options), "McpClient.makeSse")

/**
 * A client over Streamable HTTP; `url` is the MCP endpoint (`http://host/mcp`).
 *
 * @since 0.1.0
 */
export const makeStreamableHttp = (
  options: StreamableHttpOptions
): Effect.Effect<McpClientService, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.withSpan(make(streamableHttpTransport(options), options), "McpClient.makeStreamableHttp")

/**
 * The client over the legacy HTTP+SSE transport, connected and initialized. Needs an `HttpClient`
 * (`FetchHttpClient.layer`, `NodeHttpClient.layerUndici`).
 *
 * @since 0.1.0
 */
export const layerSse = (options: HttpOptions): Layer.Layer<McpClient, McpClientError, HttpClient.HttpClient> =>
  Layer.scoped(McpClient, makeSse(options))

/**
 * The client over Streamable HTTP, connected and initialized. Needs an `HttpClient`.
 *
 * @since 0.1.0
 */
export const layerStreamableHttp = (
  options: StreamableHttpOptions
): Layer.Layer<McpClient, McpClientError, HttpClient.HttpClient> => Layer.scoped(McpClient, makeStreamableHttp(options))
