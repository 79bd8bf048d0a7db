/**
 * The demo program: parses the flags and serves the demo over HTTP or stdio. `main.ts` loads it once the compile
 * cache is on; see there for the flags.
 */
import * as JwtVerifier from "@effect-mcp/core/JwtVerifier"
import type * as McpAuth from "@effect-mcp/core/McpAuth"
import { SessionRegistry } from "@effect-mcp/core/SessionRegistry"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Runtime from "effect/Runtime"
import * as Cli from "./cli.js"
import * as DemoServer from "./DemoServer.js"

const parsed = Cli.parse(process.argv.slice(2), process.env)
if (parsed._tag === "Help") {
  process.stdout.write(Cli.usage())
  process.exit(0)
}
if (parsed._tag === "Invalid") {
  process.stderr.write(`effect-mcp-demo: ${parsed.message} (see --help)\n`)
  process.exit(2)
}
const config = parsed.config
// How long a shutdown lets requests in flight finish (default 10 s).
const sessions = config.drainTimeoutMs === undefined ? {} : { drainTimeout: config.drainTimeoutMs }
const logLevel = Logger.minimumLogLevel(config.verbose ? LogLevel.Debug : LogLevel.Info)

/**
 * On SIGUSR2, logs the number of live sessions, the heap in use and the memory held outside it (buffers) at
 * Info: the registry and memory seen from outside, for soak runs.
 */
const sessionReport = Layer.scopedDiscard(Effect.gen(function*() {
  const registry = yield* SessionRegistry
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const report = () => {
    globalThis.gc?.()
    const { external, heapUsed } = process.memoryUsage()
    runFork(Effect.flatMap(
      registry.size,
      (n) => Effect.logInfo(`live sessions: ${n}, heap used: ${heapUsed}, external: ${external}`)
    ))
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => process.on("SIGUSR2", report)),
    () => Effect.sync(() => process.off("SIGUSR2", report))
  )
}))

/**
 * `--auth-*`: the protected resource metadata names the audience as the resource and the issuer as its
 * authorization server, and every MCP request needs a bearer JWT of that issuer, for that audience, signed by a
 * key of the JWKS.
 */
const authOf = (auth: Cli.AuthConfig): { readonly options: McpAuth.Options; readonly verifier: Layer.Layer<McpAuth.TokenVerifier> } => ({
  options: { resource: auth.audience, authorizationServers: [auth.issuer], resourceName: "effect-mcp demo" },
  verifier: JwtVerifier.layer({ jwksUrl: auth.jwksUrl, issuer: auth.issuer, audience: auth.audience })
})

/**
 * `--otel URL`: spans and metrics of the MCP conventions (`McpTelemetry`) exported over OTLP/HTTP with JSON
 * bodies, to the collector's base URL as `OTEL_EXPORTER_OTLP_ENDPOINT` means it (traces to `URL/v1/traces`).
 * Loaded only when asked for; the server turns its telemetry on when it is built under this tracer.
 */
const otel: Layer.Layer<never> = config.otel === undefined ? Layer.empty : await (async (baseUrl: string) => {
  const [Otlp, NodeHttpClient] = await Promise.all([
    import("@effect/opentelemetry/Otlp"),
    import("@effect/platform-node/NodeHttpClient")
  ])
  return Otlp.layerJson({ baseUrl, resource: { serviceName: "effect-mcp-demo" } }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
})(config.otel)

/**
 * `--redis`: the instance joins the cluster of the instances that share the Redis, the key and the namespace,
 * and seals 2026-07-28 `requestState` with a key derived from the cluster's, so any instance opens it. Loaded
 * only then: a lone server has no use for a Redis client.
 */
async function clusterOf(cluster: Cli.ClusterConfig) {
  const { McpCluster, RedisClient } = await import("@effect-mcp/cluster")
  const placement = McpCluster.layer({
    advertise: cluster.advertise,
    key: cluster.key,
    ...(cluster.leaseMs === undefined ? {} : { lease: Duration.millis(cluster.leaseMs) }),
    ...(cluster.linkTls === undefined ? {} : { link: { tls: await linkTlsOf(cluster.linkTls) } })
  }).pipe(Layer.provide(RedisClient.layer({ url: cluster.redis })))
  return { placement, server: { requestState: { key: McpCluster.requestStateKey(cluster.key) } } }
}

/**
 * `--link-tls-dir DIR`: the links' certificates, read from `DIR/ca.pem`, `cert.pem` and `key.pem`; one that cannot
 * be read stops the demo at start, saying which (`--link-tls-psk` needs nothing read).
 */
async function linkTlsOf(tls: NonNullable<Cli.ClusterConfig["linkTls"]>) {
  if (tls === "cluster-key") return tls
  const { readFile } = await import("node:fs/promises")
  const { join } = await import("node:path")
  const read = (name: string) =>
    readFile(join(tls.dir, name), "utf8").catch((error: unknown) => {
      process.stderr.write(`effect-mcp-demo: --link-tls-dir: cannot read ${join(tls.dir, name)}: ${String(error)}\n`)
      return process.exit(2)
    })
  // In order, so the first file missing is the one named (read at once, whichever failed first would be).
  const ca = await read("ca.pem")
  const cert = await read("cert.pem")
  const key = await read("key.pem")
  return { ca, cert, key }
}

/** A URL for the log, without its password. */
function redactedUrl(raw: string): string {
  const url = new URL(raw)
  if (url.password !== "") url.password = "***"
  return url.toString()
}

if (config.stdio) {
  // Imported here only: an HTTP server has no use for the stream machinery stdio loads.
  const NodeMcpStdio = await import("@effect-mcp/node/NodeMcpStdio")
  NodeMcpStdio.serve({ sessions }).pipe(
    Effect.provide(DemoServer.layerWith({ app: config.app })),
    Effect.provide(otel),
    Effect.provide(logLevel),
    NodeRuntime.runMain
  )
} else {
  const { host, port } = config
  const idleTimeout = config.idleTimeoutMs === undefined ? undefined : Duration.millis(config.idleTimeoutMs)
  const auth = config.auth === undefined ? undefined : authOf(config.auth)
  const cluster = config.cluster === undefined ? undefined : await clusterOf(config.cluster)
  sessionReport.pipe(
    Layer.provideMerge(
      NodeMcpServer.layer({
        port,
        host,
        sessions: { ...sessions, ...(idleTimeout === undefined ? {} : { idleTimeout }) },
        ...(auth === undefined ? {} : { auth: auth.options })
      })
    ),
    Layer.provide(DemoServer.layerWith({ ...(cluster === undefined ? {} : cluster.server), app: config.app })),
    Layer.provide(auth === undefined ? Layer.empty : auth.verifier),
    Layer.provide(cluster === undefined ? Layer.empty : cluster.placement),
    // The bound port: the one asked for, or the one the system gave for `--port 0`.
    Layer.tap((context) =>
      Effect.logInfo(
        `effect-mcp demo on http://${host}:${Context.get(context, NodeMcpServer.NodeMcpServer).address.port}: ` +
          `Streamable HTTP at /mcp, legacy SSE at /sse` +
          (config.auth === undefined ? "" : `; bearer tokens of ${config.auth.issuer} for ${config.auth.audience}`) +
          (config.cluster === undefined ? "" : `; in the cluster on ${redactedUrl(config.cluster.redis)} as ${config.cluster.advertise}` +
            (config.cluster.linkTls === undefined ? "" : ", links over TLS"))
      )
    ),
    Layer.provide(otel),
    Layer.provide(logLevel),
    Layer.launch,
    // A start that fails (a port taken, a Redis out of reach) says why in one line, with no stack trace.
    Effect.catchAll((error) =>
      Effect.sync(() => {
        process.stderr.write(`effect-mcp-demo: ${error.message}\n`)
        process.exit(1)
      })
    ),
    NodeRuntime.runMain
  )
}
