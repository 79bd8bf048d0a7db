/**
 * How an `McpClient` reaches its server: the seam between the protocol engine and the wire, in the spirit of
 * `@effect/rpc`'s `RpcClient.Protocol`. A transport only moves JSON-RPC messages; `McpClient` runs MCP on top of
 * whichever transport is in context.
 *
 * Four come with effect-mcp: Streamable HTTP, HTTP+SSE, HTTP with auto-detection of the two, and stdio
 * (here), and the in-process one of the test kit (`McpTest.layerTransport`). To bring your own, build it with
 * `make`:
 *
 * ```ts
 * const MyTransport = Layer.scoped(McpClientTransport, McpClientTransport.make((receiver) =>
 *   Effect.gen(function*() {
 *     // ...connect; hand each message that arrives to `receiver.receive`, and a lost connection to
 *     // `receiver.disconnected`
 *     return { send: (message) => ..., close: ... }
 *   })))
 *
 * const ClientLive = McpClient.layer({ clientInfo }).pipe(Layer.provide(MyTransport))
 * ```
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ClientHttpAuto from "./internal/client/httpAuto.js"
import * as ClientSse from "./internal/client/sse.js"
import * as ClientStdio from "./internal/client/stdio.js"
import * as ClientStreamableHttp from "./internal/client/streamableHttp.js"
import type {
  Connection,
  HttpOptions,
  McpClientTransportService,
  Receiver,
  StdioOptions,
  StreamableHttpOptions
} from "./internal/client/transport.js"
import type * as JsonRpc from "./JsonRpc.js"
import type { McpClientError } from "./McpClientError.js"

// The service, connection and option types live in an internal module (see there why), and are public from here.
export type {
  Connection,
  HttpOptions,
  McpClientTransportService,
  Receiver,
  StdioOptions,
  StreamableHttpOptions
} from "./internal/client/transport.js"

/**
 * The client's transport.
 *
 * @since 0.1.0
 */
export class McpClientTransport extends Context.Tag("@effect-mcp/core/McpClientTransport")<
  McpClientTransport,
  McpClientTransportService
>() {}

/**
 * Builds a transport service from a connection: `connect` gets a `Receiver` to hand messages to; `run` hands them
 * on to the engine, holding those that arrive before it runs.
 *
 * @since 0.1.0
 */
export const make = <E, R>(
  connect: (receiver: Receiver) => Effect.Effect<Connection, E, R>
): Effect.Effect<McpClientTransportService, E, R> =>
  Effect.suspend(() => {
    const lost = Deferred.unsafeMake<never, McpClientError>(FiberId.none)
    const running = Effect.unsafeMakeSemaphore(1)
    let buffer: Array<JsonRpc.Message> = []
    const hold = (message: JsonRpc.Message): Effect.Effect<void> =>
      Effect.sync(() => {
        buffer.push(message)
      })
    let deliver = hold

    const receiver: Receiver = {
      receive: (message) => Effect.suspend(() => deliver(message)),
      disconnected: (error) => Effect.asVoid(Deferred.fail(lost, error))
    }

    const run = (onMessage: (message: JsonRpc.Message) => Effect.Effect<void>): Effect.Effect<never, McpClientError> => {
      // Hands over what was held, then switches to `onMessage` in the same step as it finds nothing more held, so
      // that a message arriving meanwhile cannot overtake older ones.
      const catchUp: Effect.Effect<void> = Effect.suspend(() => {
        if (buffer.length === 0) {
          deliver = onMessage
          return Effect.void
        }
        const held = buffer
        buffer = []
        return Effect.zipRight(Effect.forEach(held, onMessage, { discard: true }), catchUp)
      })
      return running.withPermits(1)(
        catchUp.pipe(
          Effect.zipRight(Deferred.await(lost)),
          Effect.ensuring(Effect.sync(() => {
            deliver = hold
          }))
        )
      )
    }

    return Effect.map(connect(receiver), (connection): McpClientTransportService => {
      let closed: Deferred.Deferred<void> | undefined
      const close = connection.close ?? Effect.void
      return {
        run,
        send: connection.send,
        initialized: connection.initialized ?? (() => Effect.void),
        reset: connection.reset ?? Effect.succeed(false),
        sessionId: connection.sessionId ?? Effect.succeedNone,
        ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint }),
        close: Effect.suspend(() => {
          if (closed !== undefined) return Deferred.await(closed)
          const done = Deferred.unsafeMake<void>(FiberId.none)
          closed = done
          return Effect.ensuring(close, Deferred.done(done, Exit.void))
        })
      }
    })
  })

/**
 * The Streamable HTTP transport (2025-03-26 and later); `url` is the MCP endpoint. Over it a 404 for the session
 * lets the client open a new session and retry, a response stream that drops is resumed with `Last-Event-ID`, and
 * a GET stream carries the messages the server starts.
 *
 * @since 0.1.0
 */
export const makeStreamableHttp = (
  options: StreamableHttpOptions
): Effect.Effect<McpClientTransportService, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  make(ClientStreamableHttp.make(options))

/**
 * The HTTP+SSE transport (2024-11-05); `url` is the SSE endpoint. Connects at once: GETs the stream and
 * waits for its `endpoint` event.
 *
 * @since 0.1.0
 */
export const makeSse = (
  options: HttpOptions
): Effect.Effect<McpClientTransportService, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  make(ClientSse.make(options))

/**
 * HTTP with auto-detection, as the spec advises 2025-03-26+ clients for backwards compatibility: `initialize` is
 * POSTed to `url` (Streamable HTTP); a 400, 404 or 405 makes the client GET `url` for an HTTP+SSE stream instead.
 *
 * @since 0.1.0
 */
export const makeHttp = (
  options: StreamableHttpOptions
): Effect.Effect<McpClientTransportService, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  make(ClientHttpAuto.make(options))

/**
 * The stdio transport: starts the server's process (through `@effect/platform`'s `CommandExecutor`) and speaks
 * newline-delimited JSON-RPC on its stdin and stdout. The process ends with the scope: stdin is closed, then
 * SIGTERM and SIGKILL follow if it lingers. If it exits on its own, or closes its stdout, pending and later
 * requests fail with `ProcessExited` (or `Transport`) and the end of its stderr.
 *
 * @since 0.1.0
 */
export const makeStdio = (
  options: StdioOptions
): Effect.Effect<McpClientTransportService, McpClientError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  make(ClientStdio.make(options))

/**
 * The Streamable HTTP transport as a layer. Needs an `HttpClient`.
 *
 * @since 0.1.0
 */
export const layerStreamableHttp = (
  options: StreamableHttpOptions
): Layer.Layer<McpClientTransport, McpClientError, HttpClient.HttpClient> =>
  Layer.scoped(McpClientTransport, makeStreamableHttp(options))

/**
 * The HTTP+SSE transport as a layer. Needs an `HttpClient`.
 *
 * @since 0.1.0
 */
export const layerSse = (options: HttpOptions): Layer.Layer<McpClientTransport, McpClientError, HttpClient.HttpClient> =>
  Layer.scoped(McpClientTransport, makeSse(options))

/**
 * The auto-detecting HTTP transport as a layer. Needs an `HttpClient`.
 *
 * @since 0.1.0
 */
export const layerHttp = (
  options: StreamableHttpOptions
): Layer.Layer<McpClientTransport, McpClientError, HttpClient.HttpClient> =>
  Layer.scoped(McpClientTransport, makeHttp(options))

/**
 * The stdio transport as a layer. Needs a `CommandExecutor` (`NodeContext.layer` on Node).
 *
 * @since 0.1.0
 */
export const layerStdio = (
  options: StdioOptions
): Layer.Layer<McpClientTransport, McpClientError, CommandExecutor.CommandExecutor> =>
  Layer.scoped(McpClientTransport, makeStdio(options))
