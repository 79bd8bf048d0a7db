/**
 * The demo's command line: every flag, its usage text, and what a bad one is. Parsing never throws and never
 * exits: `main.ts` prints the usage and exits 0 for `--help`, prints the one line of a `Invalid` and exits 2.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"

/** The authorization flags' settings: bearer JWTs checked against a JWKS. @since 0.1.0 */
export interface AuthConfig {
  /** The key set's URL. */
  readonly jwksUrl: string
  /** The accepted issuer, which is also the metadata's one authorization server. */
  readonly issuer: string
  /** The accepted audience, which is also the resource URI the metadata names (RFC 8707, RFC 9728). */
  readonly audience: string
}

/** The cluster flags' settings: this instance joins the instances that share a Redis (see `McpCluster`). @since 0.1.0 */
export interface ClusterConfig {
  /** The Redis URL (`redis://`, or `rediss://` for TLS; credentials in the URL). */
  readonly redis: string
  /** The shared secret, from `EFFECT_MCP_CLUSTER_KEY`. */
  readonly key: string
  /** The lease in milliseconds, when given. */
  readonly leaseMs: number | undefined
  /** Where the other instances reach this one. */
  readonly advertise: string
  /**
   * TLS on the links between instances: a directory holding `ca.pem`, `cert.pem` and `key.pem`, or
   * `"cluster-key"` (TLS-PSK keyed by the cluster key); none when undefined.
   */
  readonly linkTls: { readonly dir: string } | "cluster-key" | undefined
}

/** A command line that runs the demo. @since 0.1.0 */
export interface Config {
  readonly port: number
  readonly host: string
  readonly stdio: boolean
  readonly verbose: boolean
  /** `--app`: also serve the `calculator` tool and its view (MCP Apps). */
  readonly app: boolean
  readonly drainTimeoutMs: number | undefined
  readonly idleTimeoutMs: number | undefined
  readonly auth: AuthConfig | undefined
  /** `--otel`: the OTLP/HTTP collector's base URL (traces go to `URL/v1/traces`), when given. */
  readonly otel: string | undefined
  readonly cluster: ClusterConfig | undefined
}

/** What a command line asks for. @since 0.1.0 */
export type Parsed =
  | { readonly _tag: "Run"; readonly config: Config }
  | { readonly _tag: "Help" }
  | { readonly _tag: "Invalid"; readonly message: string }

const FLAGS: ReadonlyArray<readonly [flag: string, help: string]> = [
  ["--port N", "HTTP port, 0 for any free one (default 3000)"],
  ["--host ADDR", "HTTP address to listen on (default 127.0.0.1)"],
  ["--stdio", "speak MCP on stdin/stdout instead of HTTP"],
  ["--verbose", "also log every session opening and closing"],
  ["--app", "also serve the calculator app (an MCP Apps tool with its ui:// view)"],
  ["--drain-timeout MS", "how long a shutdown lets requests in flight finish (default 10000)"],
  ["--idle-timeout MS", "close HTTP sessions idle that long (default 30 minutes)"],
  ["--auth-jwks URL", "require bearer JWTs on every MCP request, checked against this JWKS (HTTP only)"],
  ["--auth-issuer ISS", "the tokens' accepted issuer, named as the authorization server (with --auth-jwks)"],
  ["--auth-audience AUD", "the tokens' accepted audience: this server's resource URI (with --auth-jwks)"],
  ["--otel URL", "export traces and metrics over OTLP/HTTP (JSON) to this collector base URL (traces: URL/v1/traces)"],
  ["--redis URL", "join the instances that share this Redis (needs EFFECT_MCP_CLUSTER_KEY, 32+ characters)"],
  ["--lease-ms MS", "how long a killed instance's sessions take to 404 elsewhere (with --redis; default 15000)"],
  ["--advertise URL", "where the other instances reach this one (with --redis; default http://HOST:PORT)"],
  ["--link-tls-dir DIR", "TLS on the links between instances, with DIR/ca.pem, cert.pem and key.pem (with --redis)"],
  ["--link-tls-psk", "TLS on the links between instances, keyed by the cluster key (with --redis)"],
  ["--help", "print this and exit"]
]

/** The `--help` text. @since 0.1.0 */
export const usage = (): string => {
  const width = Math.max(...FLAGS.map(([flag]) => flag.length)) + 2
  return [
    "Usage: effect-mcp-demo [options]",
    "  Streamable HTTP at /mcp and legacy HTTP+SSE at /sse, or stdio with --stdio.",
    "",
    ...FLAGS.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`)
  ].join("\n") + "\n"
}

const invalid = (message: string): Parsed => ({ _tag: "Invalid", message })

/** A positive number of milliseconds, or what is wrong with it. */
const millis = (flag: string, raw: string | undefined): number | undefined | string => {
  if (raw === undefined) return undefined
  const ms = Number(raw)
  return raw.trim() !== "" && Number.isFinite(ms) && ms > 0
    ? ms
    : `--${flag}: expected a positive number of milliseconds, got ${JSON.stringify(raw)}`
}

/** An absolute http(s) URL, or what is wrong with it. */
const httpUrl = (flag: string, raw: string): string | undefined => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return `--${flag}: expected an absolute URL, got ${JSON.stringify(raw)}`
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `--${flag}: expected an http(s) URL, got ${raw}`
  if (url.hash !== "") return `--${flag}: a resource URI has no fragment, got ${raw}`
  return undefined
}

/** `parseArgs`' own error, without its code and stack: the first line of its message. */
const parseArgsMessage = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  return message.split("\n")[0] ?? message
}

/** The shortest `EFFECT_MCP_CLUSTER_KEY` accepted (as `McpCluster.MIN_KEY_LENGTH`). */
const MIN_KEY_LENGTH = 32

interface ClusterFlags {
  readonly redis: string | undefined
  readonly leaseMs: string | undefined
  readonly advertise: string | undefined
  readonly linkTlsDir: string | undefined
  readonly linkTlsPsk: boolean
}

/** The cluster flags, checked: what they ask for, or what is wrong with them. */
const clusterOf = (
  flags: ClusterFlags,
  env: Readonly<Record<string, string | undefined>>,
  host: string,
  port: number,
  stdio: boolean
): ClusterConfig | undefined | string => {
  if (flags.redis === undefined) {
    return flags.leaseMs !== undefined || flags.advertise !== undefined || flags.linkTlsDir !== undefined ||
        flags.linkTlsPsk
      ? "--lease-ms, --advertise and --link-tls-* go with --redis"
      : undefined
  }
  if (stdio) return "--redis: a cluster serves HTTP; a stdio server has one client"
  if (!/^rediss?:\/\//.test(flags.redis)) return `--redis: expected a redis:// or rediss:// URL, got ${flags.redis}`
  const key = env["EFFECT_MCP_CLUSTER_KEY"]
  if (key === undefined || key.length < MIN_KEY_LENGTH) {
    return `--redis needs EFFECT_MCP_CLUSTER_KEY, the cluster's shared secret of at least ${MIN_KEY_LENGTH} characters`
  }
  const leaseMs = millis("lease-ms", flags.leaseMs)
  if (typeof leaseMs === "string") return leaseMs
  if (flags.linkTlsDir !== undefined && flags.linkTlsPsk) return "--link-tls-dir and --link-tls-psk: give one"
  if (flags.linkTlsDir?.trim() === "") return "--link-tls-dir: expected a directory, got an empty string"
  const linkTls = flags.linkTlsDir !== undefined ? { dir: flags.linkTlsDir } : flags.linkTlsPsk ? "cluster-key" : undefined
  if (flags.advertise !== undefined) {
    const problem = httpUrl("advertise", flags.advertise)
    return problem ?? { redis: flags.redis, key, leaseMs, advertise: flags.advertise, linkTls }
  }
  if (port === 0 || host === "0.0.0.0" || host === "::") {
    return "--redis: with --port 0 or a wildcard --host, say where the others reach this instance with --advertise"
  }
  return {
    redis: flags.redis,
    key,
    leaseMs,
    advertise: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    linkTls
  }
}

/**
 * Parses the demo's arguments (without `node` and the script); `env` gives `EFFECT_MCP_CLUSTER_KEY`.
 *
 * @since 0.1.0
 */
export const parse = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = {}
): Parsed => {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string", default: "3000" },
        host: { type: "string", default: "127.0.0.1" },
        stdio: { type: "boolean", default: false },
        verbose: { type: "boolean", default: false },
        app: { type: "boolean", default: false },
        "drain-timeout": { type: "string" },
        "idle-timeout": { type: "string" },
        "auth-jwks": { type: "string" },
        "auth-issuer": { type: "string" },
        "auth-audience": { type: "string" },
        otel: { type: "string" },
        redis: { type: "string" },
        "lease-ms": { type: "string" },
        advertise: { type: "string" },
        "link-tls-dir": { type: "string" },
        "link-tls-psk": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false }
      }
    }).values
  } catch (error) {
    return invalid(parseArgsMessage(error))
  }
  if (values.help) return { _tag: "Help" }

  const port = Number(values.port)
  if (!/^\d+$/.test(values.port) || !Number.isInteger(port) || port > 65535) {
    return invalid(`--port: expected a port number from 0 to 65535, got ${JSON.stringify(values.port)}`)
  }
  if (values.host.trim() === "") return invalid("--host: expected an address, got an empty string")
  const drainTimeoutMs = millis("drain-timeout", values["drain-timeout"])
  if (typeof drainTimeoutMs === "string") return invalid(drainTimeoutMs)
  const idleTimeoutMs = millis("idle-timeout", values["idle-timeout"])
  if (typeof idleTimeoutMs === "string") return invalid(idleTimeoutMs)

  const jwksUrl = values["auth-jwks"]
  const issuer = values["auth-issuer"]
  const audience = values["auth-audience"]
  let auth: AuthConfig | undefined
  if (jwksUrl !== undefined || issuer !== undefined || audience !== undefined) {
    if (jwksUrl === undefined || issuer === undefined || audience === undefined) {
      return invalid("--auth-jwks, --auth-issuer and --auth-audience go together: give all three")
    }
    if (values.stdio) return invalid("--auth-*: authorization is for HTTP; a stdio server trusts its parent process")
    const problem = httpUrl("auth-jwks", jwksUrl) ?? httpUrl("auth-issuer", issuer) ?? httpUrl("auth-audience", audience)
    if (problem !== undefined) return invalid(problem)
    auth = { jwksUrl, issuer, audience }
  }
  const otel = values.otel
  if (otel !== undefined) {
    const problem = httpUrl("otel", otel)
    if (problem !== undefined) return invalid(problem)
  }
  const cluster = clusterOf(
    {
      redis: values.redis,
      leaseMs: values["lease-ms"],
      advertise: values.advertise,
      linkTlsDir: values["link-tls-dir"],
      linkTlsPsk: values["link-tls-psk"]
    },
    env,
    values.host,
    port,
    values.stdio
  )
  if (typeof cluster === "string") return invalid(cluster)
  return {
    _tag: "Run",
    config: {
      otel,
      port,
      host: values.host,
      stdio: values.stdio,
      verbose: values.verbose,
      app: values.app,
      drainTimeoutMs,
      idleTimeoutMs,
      auth,
      cluster
    }
  }
}
