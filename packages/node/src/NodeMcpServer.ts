/**
 * Serving an MCP server over Node's HTTP server: every HTTP transport on one port, DNS-rebinding checks with
 * loopback defaults on a loopback address, and a graceful shutdown that ends every session and stream first.
 *
 * ```ts
 * NodeMcpServer.layer({ port: 3000 }).pipe(Layer.provide(ServerLive), Layer.launch, NodeRuntime.runMain)
 * ```
 *
 * What the server holds at once is budgeted, for the whole server and for each client (`limits`): open
 * connections and the bytes of request bodies still arriving. A client past its share gets 429, everyone while the
 * server is full 503, each with `Retry-After`; Node's own timeouts close connections that never finish a request.
 *
 * Requests are answered straight from `node:http` by the MCP HTTP front (`HttpTransport`); only the handlers,
 * which run user code, get fibers. To serve MCP beside other routes of an `@effect/platform` app instead, mount
 * `PlatformHttpTransport.layer` on its `HttpLayerRouter`.
 *
 * Orchestrators' probes are answered off the MCP paths, with no token and no `Origin`/`Host` check (see
 * `HttpTransport`): `/healthz` (200 while the process serves) and `/readyz` (503 `{"status":"starting"}` until
 * the server is built, 200 `{"status":"ok"}` while it takes new sessions, 503 `{"status":"draining"}` from the
 * start of shutdown, while the calls in flight finish):
 *
 * ```ts
 * NodeMcpServer.layer({ port: 3000, host: "0.0.0.0", health: { liveness: "/livez", readiness: "/readyz" } })
 * ```
 *
 * Over stdio, for a server a desktop client starts as a process, see `NodeMcpStdio`.
 *
 * @since 0.1.0
 */
import * as Budget from "@effect-mcp/core/Budget"
import * as HttpSecurity from "@effect-mcp/core/HttpSecurity"
import * as HttpTransport from "@effect-mcp/core/HttpTransport"
import type * as McpAuth from "@effect-mcp/core/McpAuth"
import type { McpServer } from "@effect-mcp/core/McpServer"
import type * as McpServerTransport from "@effect-mcp/core/McpServerTransport"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import type * as SseTransport from "@effect-mcp/core/SseTransport"
import type * as StreamableHttpTransport from "@effect-mcp/core/StreamableHttpTransport"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import * as Limit from "./internal/limits.js"
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
  /** HTTP transports of your own, served beside the built-in ones (see `HttpTransport.Options.transports`). */
  readonly transports?: ReadonlyArray<McpServerTransport.Http> | undefined
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
  /**
   * What the server, and each client, may hold at once before being refused: open connections, bytes of request
   * bodies still arriving, and how long a request may take to arrive. The defaults keep a server on a 2 GiB heap
   * serving everyone else while any single client does its worst.
   */
  readonly limits?: Limits | undefined
  /**
   * Where an orchestrator's liveness and readiness probes are answered: `/healthz` and `/readyz` by default
   * (see `HttpTransport.HealthOptions`), or `false` to answer none.
   */
  readonly health?: HttpTransport.HealthOptions | false | undefined
}

/**
 * Budgets of the Node server. A client is its address (the socket's, or behind `trustedProxyHeader` the one the
 * proxy names); a client past its share is refused with 429 while everyone else is served, and the server past its
 * total with 503, both with `Retry-After` and a JSON-RPC error body, the connection closed behind the answer.
 * Each client's first refusal by each budget is logged at Warning.
 *
 * @since 0.1.0
 */
export interface Limits {
  /**
   * Bytes held by request bodies still arriving, server-wide (a body declaring its length holds it from the
   * start). Default 64 MiB: sixteen bodies at the default 4 MiB body limit, a few percent of a 2 GiB heap even
   * with what decoding them costs next.
   */
  readonly pendingBodyBytes?: number | undefined
  /**
   * One client's share of `pendingBodyBytes`. Default 16 MiB: four bodies at the default body limit, so a single
   * client cannot take more than a quarter of the total, nor (at the defaults) lock the server out.
   */
  readonly pendingBodyBytesPerClient?: number | undefined
  /**
   * Open connections, server-wide. Default 10,000: well below the usual 65,536 file descriptors, leaving room for
   * sessions' other work and for the refusals themselves.
   */
  readonly connections?: number | undefined
  /**
   * Open connections from one socket address. Default 256 (a browser opens 6 per host; many clients behind one NAT
   * still fit), or no such cap when `trustedProxyHeader` is set: every connection then comes from the proxy, which
   * must bound its clients' connections itself. Set it explicitly behind a proxy to bound the proxy's own.
   */
  readonly connectionsPerAddress?: number | undefined
  /**
   * The header a trusted reverse proxy puts the client's address in (`x-forwarded-for`, `x-real-ip`; its last
   * entry is used, see `Budget.addressOf`), so budgets count clients rather than the proxy. Set it only behind a
   * proxy that sets the header itself: otherwise any client could claim any address. Default: none, the socket's
   * address counts.
   */
  readonly trustedProxyHeader?: string | undefined
  /**
   * How long a connection may take to send a request's headers, from its opening or from its previous request;
   * also what closes a connection that never sends anything. Default 30 s. Node checks every 5 s, so a connection
   * goes up to that much later.
   */
  readonly headersTimeout?: Duration.DurationInput | undefined
  /**
   * How long a whole request, body included, may take to arrive. Default 120 s: a 4 MiB body at 300 kbit/s, while
   * a client trickling a body holds its budget for no longer. At least `headersTimeout`.
   */
  readonly requestTimeout?: Duration.DurationInput | undefined
}

/** The budgets a server counts in, for metrics and tests. @since 0.1.0 */
export interface Budgets {
  /** Bytes of request bodies still arriving, per client address. */
  readonly pendingBodies: Budget.Pool
  /** Open connections, per socket address (server-wide only behind a trusted proxy, unless capped explicitly). */
  readonly connections: Budget.Pool
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
  /** What is held now of each budget. */
  readonly budgets: Budgets
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
 * Shutdown runs in the reverse order of start: the registry drains (no new sessions, 503, and the readiness probe
 * answers 503 `{"status":"draining"}`; requests in flight get
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
    const limits = options.limits ?? {}
    const headersTimeout = Duration.toMillis(limits.headersTimeout ?? DEFAULT_HEADERS_TIMEOUT)
    const server = Http.createServer({
      // A request without Host is refused by the listener, with a body (Node's own refusal has none).
      requireHostHeader: false,
      headersTimeout,
      // Node refuses a request timeout shorter than the headers timeout.
      requestTimeout: Math.max(headersTimeout, Duration.toMillis(limits.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT)),
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS
    })
    const budgets: Budgets = {
      pendingBodies: Limit.pool(
        "pending body bytes",
        limits.pendingBodyBytes ?? DEFAULT_PENDING_BODY_BYTES,
        limits.pendingBodyBytesPerClient ?? DEFAULT_PENDING_BODY_BYTES_PER_CLIENT
      ),
      connections: Limit.pool(
        "connections",
        limits.connections ?? DEFAULT_CONNECTIONS,
        limits.connectionsPerAddress ?? DEFAULT_CONNECTIONS_PER_ADDRESS
      )
    }
    const onRefused = yield* Budget.logRefusals
    // Requests go to `serve`: until the front is built (the server listens first, so that no connection goes
    // uncounted), probes say "starting" and anything else gets 503, rather than waiting with no listener.
    let serve = HttpTransport.starting(options.health)
    const handle = listener((exchange) => serve(exchange), {
      pool: budgets.pendingBodies,
      proxyHeader: limits.trustedProxyHeader,
      onRefused
    })
    server.on("request", handle)
    // Counted from before the server listens: no connection goes uncounted.
    server.on(
      "connection",
      Limit.guardConnections(
        budgets.connections,
        limits.trustedProxyHeader === undefined || limits.connectionsPerAddress !== undefined,
        onRefused
      )
    )
    const address = yield* listen(server, options.port ?? 3000, host)
    yield* closeWhenIdle(server)
    const registry = yield* SessionRegistry.make(options.sessions ?? {})
    const transport = yield* HttpTransport.make({
      streamable: options.streamable,
      sse: options.sse,
      transports: options.transports,
      security: options.security,
      loopback: HttpSecurity.isLoopbackHost(host),
      auth: options.auth,
      trustedProxyHeader: limits.trustedProxyHeader,
      health: options.health
    }).pipe(Effect.provideService(SessionRegistry.SessionRegistry, registry))
    serve = transport.handle
    server.on("clientError", clientError)
    yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", handle)))
    // Runs first on shutdown, while the front still serves: new sessions get 503, what is in flight gets its
    // answer within the drain period, on streams that are still open.
    yield* Effect.addFinalizer(() => registry.drain)
    return Context.make(SessionRegistry.SessionRegistry, registry).pipe(
      Context.add(HttpTransport.HttpTransport, transport),
      Context.add(NodeMcpServer, { address, server, budgets })
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

const MIB = 1024 * 1024
const DEFAULT_PENDING_BODY_BYTES = 64 * MIB
const DEFAULT_PENDING_BODY_BYTES_PER_CLIENT = 16 * MIB
const DEFAULT_CONNECTIONS = 10_000
const DEFAULT_CONNECTIONS_PER_ADDRESS = 256
const DEFAULT_HEADERS_TIMEOUT = Duration.seconds(30)
const DEFAULT_REQUEST_TIMEOUT = Duration.seconds(120)
/** How often Node looks for requests past their timeouts (its default, 30 s, would let them run a minute long). */
const CONNECTIONS_CHECKING_INTERVAL_MS = 5_000
