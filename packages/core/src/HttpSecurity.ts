/**
 * DNS-rebinding and cross-origin protection for the HTTP transports, answered with 403 before anything else
 * happens. A browser page on another site can reach a server on 127.0.0.1; these checks stop it.
 *
 * - `Origin` is always validated. A request without one (every non-browser client) passes; one with an Origin
 *   passes when it is in `allowedOrigins`, or, by default, when it is the server's own origin (its host is the
 *   request's `Host`) or, on a loopback bind, any loopback origin.
 * - `Host` is checked against `allowedHosts`; by default a server bound to a loopback address accepts only
 *   loopback host names (an attacker's domain that resolves to 127.0.0.1 still sends its own name), and any
 *   other bind accepts any host until told otherwise.
 * - Behind a reverse proxy: list the public names in `allowedHosts` and set `trustForwardedHost`, so
 *   `X-Forwarded-Host` is what is checked.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import { type Headers, header } from "./HttpExchange.js"

/** @since 0.1.0 */
export interface Options {
  /**
   * Allowed `Host` values: `"localhost"` allows any port, `"localhost:3000"` only that one; `"*"` allows any
   * host. Default: the loopback names on a loopback bind, any host otherwise.
   */
  readonly allowedHosts?: ReadonlyArray<string> | "*" | undefined
  /**
   * Allowed `Origin` values besides the server's own: `"http://localhost"` allows any port,
   * `"https://app.example.com:8443"` only that one; `"*"` allows any origin (not advisable).
   */
  readonly allowedOrigins?: ReadonlyArray<string> | "*" | undefined
  /** Check `X-Forwarded-Host` (set by a trusted reverse proxy) instead of `Host`. */
  readonly trustForwardedHost?: boolean | undefined
}

/** The loopback host names. @since 0.1.0 */
export const LOOPBACK_HOSTS: ReadonlyArray<string> = ["localhost", "127.0.0.1", "[::1]"]

/** True for host names that only reach this machine. @since 0.1.0 */
export const isLoopbackHost = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)

const splitPort = (hostPort: string): readonly [string, string | undefined] => {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(hostPort.trim().toLowerCase())
  return match === null ? [hostPort.toLowerCase(), undefined] : [match[1]!, match[2]]
}

const hostMatcher = (allowed: ReadonlyArray<string>) => {
  const entries = allowed.map(splitPort)
  return (value: string): boolean => {
    const [host, port] = splitPort(value)
    return entries.some(([h, p]) => h === host && (p === undefined || p === port))
  }
}

interface ParsedOrigin {
  readonly scheme: string
  readonly host: string
  readonly port: string | undefined
}

const parseOrigin = (value: string): ParsedOrigin | undefined => {
  const schemeEnd = value.indexOf("://")
  if (schemeEnd < 0) return undefined
  const [host, port] = splitPort(value.slice(schemeEnd + 3).replace(/\/.*$/, ""))
  return { scheme: value.slice(0, schemeEnd).toLowerCase(), host, port }
}

const originMatcher = (allowed: ReadonlyArray<string>) => {
  const entries = allowed.map((origin) => {
    const schemeEnd = origin.indexOf("://")
    return schemeEnd < 0
      ? { scheme: undefined, host: splitPort(origin) }
      : { scheme: origin.slice(0, schemeEnd).toLowerCase(), host: splitPort(origin.slice(schemeEnd + 3)) }
  })
  return (origin: ParsedOrigin): boolean =>
    entries.some((e) =>
      (e.scheme === undefined || e.scheme === origin.scheme) && e.host[0] === origin.host &&
      (e.host[1] === undefined || e.host[1] === origin.port)
    )
}

/** A compiled policy: `check` returns why a request is refused, or undefined. @since 0.1.0 */
export interface Policy {
  readonly check: (headers: Headers) => string | undefined
}

/**
 * Compiles options into a policy, once per server. `loopbackBind` says whether the server listens on a
 * loopback address only, which sets the defaults.
 *
 * @since 0.1.0
 */
export const make = (options: Options, loopbackBind: boolean): Policy => {
  const allowedHosts = options.allowedHosts ?? (loopbackBind ? LOOPBACK_HOSTS : "*")
  const hosts = allowedHosts === "*" ? undefined : hostMatcher(allowedHosts)
  const anyOrigin = options.allowedOrigins === "*"
  const listed = options.allowedOrigins === undefined || options.allowedOrigins === "*"
    ? undefined
    : originMatcher(options.allowedOrigins)
  const hostHeader = options.trustForwardedHost === true ? "x-forwarded-host" : "host"
  // Nearly every request of a server carries the same Host and Origin: the last verdict is kept, so the
  // parsing below runs when they change, not per request.
  let lastHost: string | undefined
  let lastOrigin: string | undefined
  let lastVerdict: string | undefined
  let cached = false
  const decide = (headers: Headers): string | undefined => {
    const host = header(headers, hostHeader)?.split(",")[0]?.trim()
    if (hosts !== undefined && (host === undefined || !hosts(host))) {
      return `Forbidden: host ${host ?? "(none)"} is not allowed`
    }
    const origin = header(headers, "origin")
    if (origin === undefined || anyOrigin) return undefined
    const parsed = parseOrigin(origin)
    if (parsed !== undefined) {
      if (listed !== undefined && listed(parsed)) return undefined
      if (host !== undefined) {
        const [ownHost, ownPort] = splitPort(host)
        const port = parsed.port ?? (parsed.scheme === "https" ? "443" : "80")
        if (parsed.host === ownHost && port === (ownPort ?? port)) return undefined
      }
      if (loopbackBind && isLoopbackHost(parsed.host)) return undefined
    }
    return `Forbidden: origin ${origin} is not allowed`
  }
  return {
    check: (headers) => {
      const host = header(headers, hostHeader)
      const origin = header(headers, "origin")
      if (cached && host === lastHost && origin === lastOrigin) return lastVerdict
      lastVerdict = decide(headers)
      lastHost = host
      lastOrigin = origin
      cached = true
      return lastVerdict
    }
  }
}

/**
 * The security options the HTTP transports apply, wherever they are mounted. Defaults to `{}`: the defaults
 * described above.
 *
 * @since 0.1.0
 */
export class HttpSecurity extends Context.Reference<HttpSecurity>()("@effect-mcp/core/HttpSecurity", {
  defaultValue: (): Options => ({})
}) {}

/** Provides security options. @since 0.1.0 */
export const layer = (options: Options): Layer.Layer<never> => Layer.succeed(HttpSecurity, options)
