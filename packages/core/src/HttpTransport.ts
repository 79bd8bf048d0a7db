/**
 * MCP over HTTP: one front for the legacy HTTP+SSE and Streamable HTTP transports. It routes by path, applies
 * the security policy (`Origin`, `Host`) first, answers a method a path does not serve with 405 and `Allow`,
 * and hands the rest to the transport of that path, which shares the front's body reading, decoding, session
 * lookup and refusals.
 *
 * With `auth`, the front is an OAuth resource server (see `McpAuth`): it serves the protected resource metadata,
 * and every request to an MCP path must carry a bearer token the verifier accepts, checked after security and
 * before the transport sees the request.
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
import * as Auth from "./internal/auth.js"
import * as Front from "./internal/front.js"
import * as Refusal from "./internal/refusal.js"
import type * as McpAuth from "./McpAuth.js"
import { SessionRegistry } from "./SessionRegistry.js"
import * as SseTransport from "./SseTransport.js"
import * as StreamableHttpTransport from "./StreamableHttpTransport.js"

/** @since 0.1.0 */
export interface Options {
  /** The Streamable HTTP transport's options (at `/mcp` by default), or `false` to not serve it. */
  readonly streamable?: StreamableHttpTransport.Options | false | undefined
  /** The legacy HTTP+SSE transport's options (at `/sse` and `/messages`), or `false` to not serve it. */
  readonly sse?: SseTransport.Options | false | undefined
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
 * Builds the front and its transports in the current scope; closing it ends every stream still open.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const policy = HttpSecurity.make(options.security ?? (yield* HttpSecurity.HttpSecurity), options.loopback === true)
  const guard = options.auth === undefined ? undefined : yield* Auth.make(options.auth)
  const proxyHeader = options.trustedProxyHeader?.toLowerCase()
  const routes: Array<Route> = []
  if (options.streamable !== false) routes.push(yield* StreamableHttpTransport.make(options.streamable ?? {}))
  if (options.sse !== false) routes.push(...(yield* SseTransport.make(options.sse ?? {})))
  // The transports' routes are guarded; the metadata's are public.
  const table = new Map<string, { readonly route: Route; readonly guard: Auth.Guard | undefined }>(
    routes.map((route) => [route.path, { route, guard }])
  )
  for (const route of guard?.routes ?? []) table.set(route.path, { route, guard: undefined })

  const handle = (exchange: Exchange): void => {
    const url = exchange.url
    const mark = url.indexOf("?")
    const path = mark < 0 ? url : url.slice(0, mark)
    const entry = table.get(path)
    if (entry === undefined) return Front.refuse(exchange, new Refusal.NoSuchPath({ path }))
    const route = entry.route
    const reason = policy.check(exchange.headers)
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
    if (entry.guard === undefined) return method(exchange, query, undefined, address ?? Budget.UNKNOWN_CLIENT)
    entry.guard.check(exchange, (grant) => method(exchange, query, grant, Budget.clientOf(address, grant.principal)))
  }

  return HttpTransport.of({ handle, paths: Array.from(table.values(), (entry) => entry.route.path) })
})

/**
 * The front as a layer, over the `SessionRegistry` in context.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<HttpTransport, never, SessionRegistry> =>
  Layer.scoped(HttpTransport, make(options))
