/**
 * Serving an MCP server over Node's HTTP server: every transport on one port, DNS-rebinding checks on by
 * default for loopback addresses, and a graceful shutdown that ends every session and stream first.
 *
 * ```ts
 * NodeMcpServer.layer({ port: 3000 }).pipe(Layer.provide(ServerLive), Layer.launch, NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import type * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpSecurity from "@effect-mcp/core/HttpSecurity"
import type { McpServer } from "@effect-mcp/core/McpServer"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as SseTransport from "@effect-mcp/core/SseTransport"
import * as StreamableHttpTransport from "@effect-mcp/core/StreamableHttpTransport"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"

/** @since 0.1.0 */
export interface Options {
  /** Default 3000; 0 picks a free port. */
  readonly port?: number | undefined
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** The Streamable HTTP transport's options (at `/mcp` by default), or `false` to not serve it. */
  readonly streamable?: StreamableHttpTransport.Options | false | undefined
  /** The legacy HTTP+SSE transport's options, or `false` to not serve it. */
  readonly sse?: SseTransport.Options | false | undefined
  /** Session cap and idle expiry. */
  readonly sessions?: SessionRegistry.Options | undefined
  /**
   * Origin and Host allow-lists. Default: the loopback lists when `host` is a loopback address, otherwise
   * none (configure them for a public deployment).
   */
  readonly security?: HttpSecurity.Options | undefined
  /** Open a tracing span per HTTP request (platform's default). Off by default: it costs 40-55 us a request. */
  readonly requestSpans?: boolean | undefined
  /** Log every HTTP request. Off by default. */
  readonly logRequests?: boolean | undefined
}

/**
 * The MCP routes with their session registry, on any `HttpLayerRouter`; exported for custom servers.
 *
 * @since 0.1.0
 */
export const routes = (
  options: Pick<Options, "streamable" | "sse" | "sessions" | "security" | "host"> = {}
): Layer.Layer<SessionRegistry.SessionRegistry, never, HttpLayerRouter.HttpRouter | McpServer> => {
  const host = options.host ?? "127.0.0.1"
  const security = options.security ?? (HttpSecurity.isLoopbackHost(host) ? HttpSecurity.loopback : {})
  const transports = Layer.mergeAll(
    options.streamable === false ? Layer.empty : StreamableHttpTransport.layer(options.streamable ?? {}),
    options.sse === false ? Layer.empty : SseTransport.layer(options.sse ?? {})
  )
  return transports.pipe(
    Layer.provideMerge(SessionRegistry.layer(options.sessions ?? {})),
    Layer.provide(HttpSecurity.layer(security))
  )
}

/**
 * Serves the `McpServer` it is given. Outputs the session registry (for metrics and tests) and the
 * `HttpServer` (for its address).
 *
 * Shutdown order matters: the registry is released before the HTTP server closes, so every session scope
 * closes and every SSE stream ends first; `server.close()` then has no open stream to wait for.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  SessionRegistry.SessionRegistry | HttpServer.HttpServer,
  HttpServerError.ServeError,
  McpServer
> => {
  const host = options.host ?? "127.0.0.1"
  const served = HttpLayerRouter.serve(routes(options), {
    disableLogger: options.logRequests !== true,
    disableListenLog: true
  })
  const traced = options.requestSpans === true ? served : HttpMiddleware.withTracerDisabledWhen(served, () => true)
  return Layer.unwrapEffect(Effect.sync(() => {
    const server = Http.createServer()
    return traced.pipe(
      Layer.provideMerge(closeWhenIdle(server)),
      Layer.provideMerge(NodeHttpServer.layer(() => server, { port: options.port ?? 3000, host }))
    )
  }))
}

/**
 * Closes the Node server after the sessions, before platform's own finalizer (which then finds it closed).
 *
 * `server.close()` closes only the connections idle when it is called; a stream that ends as its session closes
 * turns its keep-alive connection idle a moment later, and that connection would hold the close for the
 * keep-alive timeout (5 s). So idle connections are closed again until the server has closed. A connection a
 * client opened without sending a request never counts as idle: once every session is gone there is nothing
 * left to finish, so after a short grace whatever is still open is destroyed.
 */
const closeWhenIdle = (server: Http.Server): Layer.Layer<never> =>
  Layer.scopedDiscard(Effect.addFinalizer(() =>
    Effect.async<void>((resume) => {
      if (!server.listening) return resume(Effect.void)
      const idle = setInterval(() => server.closeIdleConnections(), 10)
      const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS)
      const stop = () => {
        clearInterval(idle)
        clearTimeout(grace)
      }
      server.close(() => {
        stop()
        resume(Effect.void)
      })
      return Effect.sync(stop)
    })
  ))

/** How long responses may take to finish once every session has closed. */
const SHUTDOWN_GRACE_MS = 500
