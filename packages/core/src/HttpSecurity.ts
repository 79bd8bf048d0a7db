/**
 * DNS-rebinding protection for the HTTP transports: an `Origin` allow-list and a `Host` allow-list, both
 * answered with 403. A browser page on another site can reach a server on 127.0.0.1; these checks stop it.
 *
 * Requests without an `Origin` header (every non-browser client) pass the origin check. Behind a reverse proxy,
 * list the public host names, or set `trustForwardedHost` so `X-Forwarded-Host` is checked instead of `Host`.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

/** @since 0.1.0 */
export interface Options {
  /**
   * Allowed `Host` values: `"localhost"` allows any port, `"localhost:3000"` only that one. `"*"` (the default)
   * allows any host.
   */
  readonly allowedHosts?: ReadonlyArray<string> | "*" | undefined
  /**
   * Allowed `Origin` values: `"http://localhost"` allows any port, `"https://app.example.com:8443"` only that
   * one. `"*"` (the default) allows any origin.
   */
  readonly allowedOrigins?: ReadonlyArray<string> | "*" | undefined
  /** Check `X-Forwarded-Host` (set by a trusted reverse proxy) instead of `Host`. */
  readonly trustForwardedHost?: boolean | undefined
}

/** The loopback allow-lists: what a server bound to 127.0.0.1 or localhost accepts by default. @since 0.1.0 */
export const loopback: Options = {
  allowedHosts: ["localhost", "127.0.0.1", "[::1]"],
  allowedOrigins: [
    "http://localhost",
    "http://127.0.0.1",
    "http://[::1]",
    "https://localhost",
    "https://127.0.0.1",
    "https://[::1]"
  ]
}

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

const originMatcher = (allowed: ReadonlyArray<string>) => {
  const entries = allowed.map((origin) => {
    const schemeEnd = origin.indexOf("://")
    return schemeEnd < 0
      ? { scheme: undefined, host: splitPort(origin) }
      : { scheme: origin.slice(0, schemeEnd).toLowerCase(), host: splitPort(origin.slice(schemeEnd + 3)) }
  })
  return (value: string): boolean => {
    const schemeEnd = value.indexOf("://")
    if (schemeEnd < 0) return false
    const scheme = value.slice(0, schemeEnd).toLowerCase()
    const [host, port] = splitPort(value.slice(schemeEnd + 3).replace(/\/.*$/, ""))
    return entries.some((e) =>
      (e.scheme === undefined || e.scheme === scheme) && e.host[0] === host &&
      (e.host[1] === undefined || e.host[1] === port)
    )
  }
}

/** A compiled policy: `check` returns why a request is refused, or undefined. @since 0.1.0 */
export interface Policy {
  readonly check: (headers: Headers.Headers) => string | undefined
}

/**
 * Compiles options into a policy, once per server.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Policy => {
  const hosts = options.allowedHosts === undefined || options.allowedHosts === "*"
    ? undefined
    : hostMatcher(options.allowedHosts)
  const origins = options.allowedOrigins === undefined || options.allowedOrigins === "*"
    ? undefined
    : originMatcher(options.allowedOrigins)
  const hostHeader = options.trustForwardedHost === true ? "x-forwarded-host" : "host"
  if (hosts === undefined && origins === undefined) return { check: () => undefined }
  return {
    check: (headers) => {
      if (hosts !== undefined) {
        const host = headers[hostHeader]?.split(",")[0]
        if (host === undefined || !hosts(host)) return `Forbidden: host ${host ?? "(none)"} is not allowed`
      }
      if (origins !== undefined) {
        const origin = headers["origin"]
        if (origin !== undefined && !origins(origin)) return `Forbidden: origin ${origin} is not allowed`
      }
      return undefined
    }
  }
}

/**
 * The policy the transports apply. Defaults to allowing everything; `NodeMcpServer` provides the loopback
 * lists when it binds to a loopback address.
 *
 * @since 0.1.0
 */
export class HttpSecurity extends Context.Reference<HttpSecurity>()("@effect-mcp/core/HttpSecurity", {
  defaultValue: (): Policy => make({})
}) {}

/** Provides a policy. @since 0.1.0 */
export const layer = (options: Options): Layer.Layer<never> => Layer.succeed(HttpSecurity, make(options))
