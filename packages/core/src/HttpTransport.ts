/**
 * MCP over HTTP: one front for its HTTP transports, by default Streamable HTTP and the legacy HTTP+SSE
 * transport (`builtIn`), and any of your own (`transports`, see `McpServerTransport`). It routes by path, applies
 * the security policy (`Origin`, `Host`) first, answers a method a path does not serve with 405 and `Allow`,
 * and hands the rest to the transport of that path, which shares the front's body reading, decoding, session
 * lookup and refusals.
 *
 * With `auth`, the front is an OAuth resource server (see `McpAuth`): it serves the protected resource metadata,
 * and every request to an MCP path must carry a bearer token the verifier accepts, checked after security and
 * before the transport sees the request.
 *
 * It also answers an orchestrator's probes, off the MCP paths: liveness (`/healthz`, 200 while the process serves
 * HTTP) and readiness (`/readyz`, 200 while new sessions are taken, 503 once the registry drains on shutdown, so a
 * load balancer stops sending new clients while the calls in flight finish). The probes take neither a token nor
 * the `Origin`/`Host` checks: a kubelet probes the pod's IP, a `Host` an `allowedHosts` list rightly refuses, and a
 * probe's answer is one constant word with no session behind it, which is nothing for a DNS-rebinding page or a
 * client without a token to gain. Only `GET` and `HEAD` are served there.
 *
 * ```ts
 * // Kubernetes: livenessProbe { httpGet: { path: /healthz, port: 3000 } },
 * //             readinessProbe { httpGet: { path: /readyz, port: 3000 } }
 * NodeMcpServer.layer({ port: 3000, host: "0.0.0.0", health: { liveness: "/livez" } })
 * // No probes (another route of the app answers them):
 * NodeMcpServer.layer({ port: 3000, health: false })
 * ```
 *
 * The front answers `HttpExchange`s. `@effect-mcp/node` feeds it straight from `node:http`;
 * `PlatformHttpTransport` mounts it on an `@effect/platform` `HttpLayerRouter`, so it serves (with the same
 * security) on any server platform has; `WebHandler` answers web-standard `Request`s with it, for fetch runtimes.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Budget from "./Budget.js"
import type { Exchange, Route } from "./HttpExchange.js"
import * as HttpSecurity from "./HttpSecurity.js"
import * as Auth from "./internal/http/auth.js"
import * as Front from "./internal/http/front.js"
import * as Refusal from "./internal/http/refusal.js"
import * as Links from "./internal/server/links.js"
import type * as McpAuth from "./McpAuth.js"
import * as McpServerTransport from "./McpServerTransport.js"
import { SessionRegistry } from "./SessionRegistry.js"
import * as SseTransport from "./SseTransport.js"
import * as StreamableHttpTransport from "./StreamableHttpTransport.js"

/** @since 0.1.0 */
export interface Options {
  /** The Streamable HTTP transport's options (at `/mcp` by default), or `false` to not serve it. */
  readonly streamable?: StreamableHttpTransport.Options | false | undefined
  /** The legacy HTTP+SSE transport's options (at `/sse` and `/messages`), or `false` to not serve it. */
  readonly sse?: SseTransport.Options | false | undefined
  /**
   * HTTP transports of your own, served beside the built-in ones (`builtIn`) behind the same security, auth and
   * budgets: each is given the front's host (see `McpServerTransport`). Their paths must not be taken.
   */
  readonly transports?: ReadonlyArray<McpServerTransport.Http> | undefined
  /** Origin and Host checks; default: the `HttpSecurity` options in context. */
  readonly security?: HttpSecurity.Options | undefined
  /** Whether the server listens on a loopback address only, which makes the security defaults loopback-only. */
  readonly loopback?: boolean | undefined
  /** Require bearer tokens on every MCP path and serve the protected resource metadata (see `McpAuth`). */
  readonly auth?: McpAuth.Options | undefined
  /**
   * The header a trusted reverse proxy sets to the client's address (`x-forwarded-for`, `x-real-ip`): its last
   * entry then names the client for per-client budgets instead of the socket's address (the proxy's). Set it
   * only behind a proxy that sets the header itself, or a client could pick its own budget.
   */
  readonly trustedProxyHeader?: string | undefined
  /** Where the orchestrator's probes are answered (see `HealthOptions`), or `false` to answer none. */
  readonly health?: HealthOptions | false | undefined
}

/**
 * The probe paths. Neither needs a token or passes the `Origin`/`Host` checks (see the module's doc).
 *
 * @since 0.1.0
 */
export interface HealthOptions {
  /** Liveness: 200 `{"status":"ok"}` while the process serves HTTP. Default `/healthz`; `false` to not serve it. */
  readonly liveness?: `/${string}` | false | undefined
  /**
   * Readiness: 200 `{"status":"ok"}` while new sessions are taken, 503 `{"status":"draining"}` once the registry
   * drains on shutdown (and `{"status":"starting"}` from a server listening before its front is built, see
   * `starting`). Default `/readyz`; `false` to not serve it.
   */
  readonly readiness?: `/${string}` | false | undefined
}

/** What a probe reports. @since 0.1.0 */
export type HealthStatus = "ok" | "starting" | "draining"

const healthPaths = (health: HealthOptions | false | undefined) => ({
  liveness: health === false ? false : health?.liveness ?? "/healthz",
  readiness: health === false ? false : health?.readiness ?? "/readyz"
})

/** No-store: a cache between the orchestrator and the server must not answer for the server. */
const PROBE_HEADERS = { "content-type": "application/json", "cache-control": "no-store" } as const

const probe = (path: `/${string}`, status: () => HealthStatus): Route => {
  const answer = (exchange: Exchange) => {
    const current = status()
    exchange.respond(current === "ok" ? 200 : 503, PROBE_HEADERS, JSON.stringify({ status: current }))
  }
  return { path, methods: { GET: answer, HEAD: answer } }
}

const probeRoutes = (health: HealthOptions | false | undefined, readiness: () => HealthStatus): Array<Route> => {
  const paths = healthPaths(health)
  const routes: Array<Route> = []
  if (paths.liveness !== false) routes.push(probe(paths.liveness, () => "ok"))
  if (paths.readiness !== false) routes.push(probe(paths.readiness, readiness))
  return routes
}

/** @since 0.1.0 */
export interface HttpTransportService {
  /** Answers one exchange; never throws. */
  readonly handle: (exchange: Exchange) => void
  /** The paths served. */
  readonly paths: ReadonlyArray<`/${string}`>
}

/**
 * The HTTP front of a server.
 *
 * @since 0.1.0
 */
export class HttpTransport extends Context.Tag("@effect-mcp/core/HttpTransport")<
  HttpTransport,
  HttpTransportService
>() {}

/**
 * The built-in HTTP transports the options ask for: Streamable HTTP, then the legacy HTTP+SSE transport, each
 * unless its option is `false`.
 *
 * @since 0.1.0
 */
export const builtIn = (options: Pick<Options, "streamable" | "sse"> = {}): ReadonlyArray<McpServerTransport.Http> => {
  const transports: Array<McpServerTransport.Http> = []
  if (options.streamable !== false) transports.push(StreamableHttpTransport.transport(options.streamable ?? {}))
  if (options.sse !== false) transports.push(SseTransport.transport(options.sse ?? {}))
  return transports
}

/**
 * Builds the front and its transports in the current scope; closing it ends every stream still open.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const policy = HttpSecurity.make(options.security ?? (yield* HttpSecurity.HttpSecurity), options.loopback === true)
  const guard = options.auth === undefined ? undefined : yield* Auth.make(options.auth)
  const proxyHeader = options.trustedProxyHeader?.toLowerCase()
  const registry = yield* SessionRegistry
  const host = McpServerTransport.fromRegistry(registry)
  const routes: Array<Route> = []
  for (const transport of [...builtIn(options), ...(options.transports ?? [])]) {
    routes.push(...(yield* transport.routes(host)))
  }
  // The transports' routes are guarded; the metadata's are public; the probes are open, past the security policy
  // as well (see the module's doc).
  type Entry = { readonly route: Route; readonly guard: Auth.Guard | undefined; readonly open: boolean }
  const table = new Map<string, Entry>()
  for (const route of routes) {
    // Two transports on one path would leave one of them unserved.
    if (table.has(route.path)) return yield* Effect.dieMessage(`HttpTransport: the path ${route.path} is taken`)
    table.set(route.path, { route, guard, open: false })
  }
  for (const route of guard?.routes ?? []) table.set(route.path, { route, guard: undefined, open: false })
  for (const route of probeRoutes(options.health, () => registry.isDraining() ? "draining" : "ok")) {
    // A probe path that shadowed an MCP path would leave that path unserved, or serve it unguarded.
    if (table.has(route.path)) return yield* Effect.dieMessage(`HttpTransport: the probe path ${route.path} is taken`)
    table.set(route.path, { route, guard: undefined, open: true })
  }

  const handle = (exchange: Exchange): void => {
    const url = exchange.url
    const mark = url.indexOf("?")
    const path = mark < 0 ? url : url.slice(0, mark)
    const entry = table.get(path)
    if (entry === undefined) return Front.refuse(exchange, new Refusal.NoSuchPath({ path }))
    const route = entry.route
    const reason = entry.open ? undefined : policy.check(exchange.headers)
    if (reason !== undefined) return Front.refuse(exchange, new Refusal.Forbidden({ reason }))
    const method = route.methods[exchange.method]
    if (method === undefined) {
      return Front.refuse(
        exchange,
        new Refusal.MethodNotAllowed({
          allow: route.allow ?? Object.keys(route.methods).join(", "),
          reason: `${exchange.method} ${path}`
        })
      )
    }
    const query = mark < 0 ? "" : url.slice(mark + 1)
    const address = Budget.addressOf(exchange.remoteAddress, exchange.headers, proxyHeader)
    if (entry.guard === undefined) return method(exchange, query, undefined, Budget.clientOf(address, undefined))
    entry.guard.check(exchange, (grant) => method(exchange, query, grant, Budget.clientOf(address, grant.principal)))
  }

  // A server that runs as several instances serves the requests relayed to it from the others with this front.
  const serve = Links.registryLink(registry).placement?.serve
  if (serve !== undefined) yield* serve(handle)
  return HttpTransport.of({ handle, paths: Array.from(table.values(), (entry) => entry.route.path) })
})

/**
 * What a server that listens before its front is built answers meanwhile: the probes (liveness 200, readiness 503
 * `{"status":"starting"}`) at the paths `health` names, and 503 with `Retry-After` to anything else, so nothing
 * that arrives early waits unanswered. `@effect-mcp/node` serves it until its front is ready.
 *
 * @since 0.1.0
 */
export const starting = (health?: HealthOptions | false | undefined): (exchange: Exchange) => void => {
  const table = new Map<string, Route>(probeRoutes(health, () => "starting").map((route) => [route.path, route]))
  return (exchange) => {
    const url = exchange.url
    const mark = url.indexOf("?")
    const route = table.get(mark < 0 ? url : url.slice(0, mark))
    const method = route?.methods[exchange.method]
    if (method !== undefined) return method(exchange, "", undefined, Budget.UNKNOWN_CLIENT)
    Front.refuse(exchange, new Refusal.ServiceUnavailable({ reason: "the server is starting" }))
  }
}

/**
 * The front as a layer, over the `SessionRegistry` in context.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<HttpTransport, never, SessionRegistry> =>
  Layer.scoped(HttpTransport, make(options))
