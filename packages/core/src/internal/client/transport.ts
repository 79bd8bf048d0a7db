/**
 * What a client transport is made of, as types: the service the engine uses, what `make` builds one from, and
 * the options of the transports that come with effect-mcp. `McpClientTransport` re-exports all of it, and is
 * where users find it.
 *
 * Kept apart from `McpClientTransport` because the transports it offers (`./sse.js`, `./stdio.js`, ...) are built
 * on these types, and the public module imports those transports: in one module they would import each other.
 * @internal
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as JsonRpc from "../../JsonRpc.js"
import type { McpClientError } from "../../McpClientError.js"
import type * as Auth from "./auth/types.js"

/**
 * What the client engine needs from a transport.
 *
 * @since 0.1.0
 */
export interface McpClientTransportService {
  /**
   * Hands every message from the server to `onMessage`, in order, those that arrived before `run` was called
   * first. Fails with the reason when the connection is gone for good; otherwise runs until interrupted. One `run`
   * at a time.
   */
  readonly run: (onMessage: (message: JsonRpc.Message) => Effect.Effect<void>) => Effect.Effect<never, McpClientError>
  /**
   * Sends one message. When the transport gets messages back in answer (a Streamable HTTP response), it hands
   * them over before this completes.
   */
  readonly send: (message: JsonRpc.Message) => Effect.Effect<void, McpClientError>
  /** Called after each handshake with the negotiated revision (Streamable HTTP sends it as a header). */
  readonly initialized: (protocolVersion: string) => Effect.Effect<void>
  /**
   * Forgets the server's session after a `SessionNotFound`, so the next `initialize` opens a new one. False when
   * the transport cannot start over that way (the client then gives up).
   */
  readonly reset: Effect.Effect<boolean>
  /** The server's session id, when the transport has one. */
  readonly sessionId: Effect.Effect<Option.Option<string>>
  /** Ends the connection (the session, the process); the client calls it when it closes. Runs once. */
  readonly close: Effect.Effect<void>
  /**
   * Where the server is (an HTTP transport's URL), so that a client connecting again remembers what that
   * server speaks. Optional: a transport without one is one server per client.
   */
  readonly endpoint?: string | undefined
}

/**
 * Where a transport built with `make` hands what it receives.
 *
 * @since 0.1.0
 */
export interface Receiver {
  /** A message from the server. */
  readonly receive: (message: JsonRpc.Message) => Effect.Effect<void>
  /** The connection is gone for good: pending and later requests fail with `error`. The first call counts. */
  readonly disconnected: (error: McpClientError) => Effect.Effect<void>
}

/**
 * What a transport implements for `make`; what it leaves out has a default (no session, no reset, nothing to
 * close).
 *
 * @since 0.1.0
 */
export interface Connection {
  readonly send: (message: JsonRpc.Message) => Effect.Effect<void, McpClientError>
  readonly initialized?: ((protocolVersion: string) => Effect.Effect<void>) | undefined
  readonly reset?: Effect.Effect<boolean> | undefined
  readonly sessionId?: Effect.Effect<Option.Option<string>> | undefined
  readonly close?: Effect.Effect<void> | undefined
  /** See `McpClientTransportService.endpoint`. */
  readonly endpoint?: string | undefined
}

/**
 * Options of the HTTP transports.
 *
 * @since 0.1.0
 */
export interface HttpOptions {
  /**
   * The MCP endpoint (`/mcp`) for Streamable HTTP; the SSE endpoint (`/sse`) for HTTP+SSE; either for
   * auto-detection.
   */
  readonly url: string | URL
  /** Extra headers sent with every HTTP request (authorization...). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * OAuth 2.1 (the MCP authorization spec): a bearer token on every request, obtained on the server's first 401.
   * See `McpClientAuth`.
   */
  readonly auth?: Auth.Options | undefined
}

/**
 * Options of the Streamable HTTP transport.
 *
 * @since 0.1.0
 */
export interface StreamableHttpOptions extends HttpOptions {
  /**
   * Hold a GET stream open for the messages the server starts (log messages, list changes outside a request).
   * Default true; a server without one (405) is fine either way.
   */
  readonly standaloneStream?: boolean | undefined
}

/**
 * Options of the stdio transport.
 *
 * @since 0.1.0
 */
export interface StdioOptions {
  /** The server's executable, looked up on the `PATH`. */
  readonly command: string
  readonly args?: ReadonlyArray<string> | undefined
  /** Variables added to the environment the process inherits. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** The working directory. Default the current one. */
  readonly cwd?: string | undefined
  /** How much of the end of the server's stderr errors carry, in characters. Default 4096. */
  readonly stderrTail?: number | undefined
  /** Log each line the server writes to stderr, at debug level. Default false. */
  readonly logStderr?: boolean | undefined
  /**
   * On close, how long the server gets after its stdin is closed before SIGTERM, and after SIGTERM before
   * SIGKILL. Default 2 seconds.
   */
  readonly closeTimeout?: Duration.DurationInput | undefined
}
