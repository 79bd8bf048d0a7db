/**
 * Serving an MCP server over the process's stdin and stdout, for a server a desktop client starts as a process.
 * Only protocol messages go to stdout; logs go to stderr.
 *
 * ```ts
 * NodeMcpStdio.serve().pipe(Effect.provide(ServerLive), NodeRuntime.runMain)
 * ```
 *
 * A module of its own so an HTTP server does not load the stream machinery stdio needs.
 *
 * @since 0.1.0
 */
import type { McpServer } from "@effect-mcp/core/McpServer"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as StdioTransport from "@effect-mcp/core/StdioTransport"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type { Readable, Writable } from "node:stream"

/** @since 0.1.0 */
export interface Options extends StdioTransport.Options {
  /** The drain period on shutdown (`drainTimeout`), and the rest of the registry's options. */
  readonly sessions?: SessionRegistry.Options | undefined
  /** Where messages come from. Default `process.stdin`. */
  readonly stdin?: Readable | undefined
  /** Where messages go; nothing else is written to it. Default `process.stdout`. */
  readonly stdout?: Writable | undefined
}

/**
 * Logs go to stderr: stdout carries protocol messages and nothing else.
 *
 * @since 0.1.0
 */
export const stderrLogger: Layer.Layer<never> = Layer.locallyScoped(
  FiberRef.currentLoggers,
  HashSet.make(Logger.prettyLogger({ stderr: true, colors: false }))
)

/**
 * Serves the `McpServer` it is given over stdin and stdout until stdin ends (EOF) or the fiber is interrupted
 * (`NodeRuntime.runMain` does that on SIGTERM and SIGINT); either way the session's finalizers run and the
 * effect ends, so the process exits 0. Logs go to stderr.
 *
 * @since 0.1.0
 */
export const serve = (options: Options = {}): Effect.Effect<void, never, McpServer> =>
  Effect.scoped(Effect.gen(function*() {
    const stdin = options.stdin ?? process.stdin
    const stdout = options.stdout ?? process.stdout
    // One session for the life of the process: it never idles out.
    const registry = yield* SessionRegistry.make({ ...options.sessions, idleTimeout: Duration.infinity })
    const input = NodeStream.fromReadable<Error>(() => stdin, (cause) =>
      cause instanceof Error ? cause : new Error(String(cause)))
    const maxBacklog = options.maxBacklog ?? 8 * 1024 * 1024
    yield* StdioTransport.serve(input, (text) => {
      if (!stdout.writable) return true
      stdout.write(text)
      return stdout.writableLength <= maxBacklog
    }, options).pipe(
      Effect.provideService(SessionRegistry.SessionRegistry, registry),
      // A broken stdin ends the session like EOF does.
      Effect.catchAll((error) => Effect.logWarning("stdin failed; ending the session", error))
    )
  })).pipe(Effect.provide(stderrLogger))

/**
 * `serve` as a layer, for apps that compose layers: it serves while the app runs, and ends the app's main
 * fiber never; prefer `serve` for a process whose only job is the stdio server, so EOF ends it.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<never, never, McpServer> =>
  Layer.scopedDiscard(Effect.forkScoped(serve(options)))
