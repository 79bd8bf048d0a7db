/**
 * Serving an MCP server over Node's HTTP server: every HTTP transport on one port, DNS-rebinding checks with
 * loopback defaults on a loopback address, and a graceful shutdown that ends every session and stream first.
 *
 * ```ts
 * NodeMcpServer.layer({ port: 3000 }).pipe(Layer.provide(ServerLive), Layer.launch, NodeRuntime.runMain)
 * ```
 *
 * Requests are answered straight from `node:http` by the MCP HTTP front (`HttpTransport`); only the handlers,
 * which run user code, get fibers. To serve MCP beside other routes of an `@effect/platform` app instead, mount
 * `PlatformHttpTransport.layer` on its `HttpLayerRouter`.
 *
 * Over stdio, for a server a desktop client starts as a process, see `NodeMcpStdio`.
 *
 * @since 0.1.0
 */
import * as HttpSecurity from "@effect-mcp/core/HttpSecurity"
import * as HttpTransport from "@effect-mcp/core/HttpTransport"
import type * as McpAuth from "@effect-mcp/core/McpAuth"
import type { McpServer } from "@effect-mcp/core/McpServer"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import type * as SseTransport from "@effect-mcp/core/SseTransport"
import type * as StreamableHttpTransport from "@effect-mcp/core/StreamableHttpTransport"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import { clientError, listener } from "./NodeExchange.js"

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
   * Origin and Host checks. Default: on a loopback address, loopback hosts and origins only; otherwise any host
   * and same-origin requests (configure `allowedHosts` for a public deployment; see `HttpSecurity`).
   */
  readonly security?: HttpSecurity.Options | undefined
  /**
   * Require OAuth bearer tokens on every MCP path and serve the protected resource metadata (see `McpAuth`). The
   * tokens are checked by `auth.verifier`, or else by the `McpAuth.TokenVerifier` in context (`JwtVerifier.layer`).
   */
  readonly auth?: McpAuth.Options | undefined
}

/**
 * The server could not listen (the port is taken, the address is not this machine's...).
 *
 * @since 0.1.0
 */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly port: number
  readonly host: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Could not listen on ${this.host}:${this.port}: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** Where a `NodeMcpServer` listens. @since 0.1.0 */
export interface NodeMcpServerService {
  /** The bound address; `port` is the real one when 0 was asked for. */
  readonly address: { readonly hostname: string; readonly port: number }
  /** The Node server, for what only it can do (timeouts, connection counts). */
  readonly server: Http.Server
}

/**
 * The listening server, output by `layer`.
 *
 * @since 0.1.0
 */
export class NodeMcpServer extends Context.Tag("@effect-mcp/node/NodeMcpServer")<
  NodeMcpServer,
  NodeMcpServerService
>() {}

/**
 * Serves the `McpServer` it is given. Outputs the session registry (for metrics and tests), the HTTP front and
 * the listening server (for its address).
 *
 * Shutdown runs in the reverse order of start: the registry drains (no new sessions, 503; requests in flight get
 * `sessions.drainTimeout`, 10 s by default, to finish, and an error answer past it), the front ends its open
 * streams, the registry closes every session, then the Node server closes, with nothing left to wait for.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  SessionRegistry.SessionRegistry | HttpTransport.HttpTransport | NodeMcpServer,
  ListenError,
  McpServer
> =>
  Layer.scopedContext(Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    // A request without Host is refused by the listener, with a body (Node's own refusal has none).
    const server = Http.createServer({ requireHostHeader: false })
    const address = yield* listen(server, options.port ?? 3000, host)
    yield* closeWhenIdle(server)
    const registry = yield* SessionRegistry.make(options.sessions ?? {})
    const transport = yield* HttpTransport.make({
      streamable: options.streamable,
      sse: options.sse,
      security: options.security,
      loopback: HttpSecurity.isLoopbackHost(host),
      auth: options.auth
    }).pipe(Effect.provideService(SessionRegistry.SessionRegistry, registry))
    const handle = listener(transport.handle)
    server.on("request", handle)
    server.on("clientError", clientError)
    yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", handle)))
    // Runs first on shutdown, while the front still serves: new sessions get 503, what is in flight gets its
    // answer within the drain period, on streams that are still open.
    yield* Effect.addFinalizer(() => registry.drain)
    return Context.make(SessionRegistry.SessionRegistry, registry).pipe(
      Context.add(HttpTransport.HttpTransport, transport),
      Context.add(NodeMcpServer, { address, server })
    )
  }))

/** Listens, or fails with the reason (the port is taken...). */
const listen = (server: Http.Server, port: number, host: string) =>
  Effect.async<NodeMcpServerService["address"], ListenError>((resume) => {
    const onError = (cause: unknown) => resume(Effect.fail(new ListenError({ port, host, cause })))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      const bound = server.address()
      resume(Effect.succeed(
        bound !== null && typeof bound === "object"
          ? { hostname: bound.address, port: bound.port }
          : { hostname: host, port }
      ))
    })
  })

/**
 * Closes the Node server after the sessions.
 *
 * `server.close()` closes only the connections idle when it is called; a stream that ends as its session closes
 * turns its keep-alive connection idle a moment later, and that connection would hold the close for the
 * keep-alive timeout (5 s). So idle connections are closed again until the server has closed. A connection a
 * client opened without sending a request never counts as idle: once every session is gone there is nothing
 * left to finish, so after a short grace whatever is still open is destroyed.
 */
const closeWhenIdle = (server: Http.Server) =>
  Effect.addFinalizer(() =>
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
  )

/** How long responses may take to finish once every session has closed. */
const SHUTDOWN_GRACE_MS = 500
