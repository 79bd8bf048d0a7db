/**
 * The client engine's options, and the handlers of requests the server sends the client that they carry.
 * `McpClient` re-exports both, and is where users find them.
 *
 * Kept apart from `McpClient` because the internal modules it is built from (the handshake, the handlers) read
 * them, and `McpClient` imports those modules: in one module they would import each other.
 * @internal
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type * as JsonRpc from "../../JsonRpc.js"
import type { McpClientError } from "../../McpClientError.js"
import type * as McpSchema from "../../McpSchema.js"

/**
 * Answers one kind of request the server sends the client. `ping` is always answered; any other method without a
 * handler gets -32601. Sampling, elicitation and roots have layers of their own in `McpClientHandlers`.
 *
 * @since 0.1.0
 */
export interface ServerRequestHandler {
  readonly method: string
  /** What the client declares in `initialize` for this handler, merged into `Options.capabilities`. */
  readonly capabilities?: McpSchema.ClientCapabilities | undefined
  /**
   * The result of the request, or the JSON-RPC error to answer with. Interrupted when the server cancels the
   * request or the client closes.
   */
  readonly handle: (params: unknown) => Effect.Effect<unknown, JsonRpc.JsonRpcError>
}

/** Options of the client engine, whatever the transport. @since 0.1.0 */
export interface Options {
  /** `clientInfo` sent in `initialize`. Default `effect-mcp-client` 0.1.0. */
  readonly clientInfo?: McpSchema.Implementation | undefined
  /**
   * `capabilities` sent in `initialize`, besides those of the handlers. `sampling`, `elicitation` and `roots` are
   * declared only by their handlers (the `McpClientHandlers` layers, or `handlers`): a client never announces a
   * request it would answer with -32601. Default none.
   */
  readonly capabilities?: McpSchema.ClientCapabilities | undefined
  /** The revision asked for in `initialize`. Default `McpSchema.LATEST_PROTOCOL_VERSION`. */
  readonly protocolVersion?: string | undefined
  /**
   * The client's era choice (`Era`). `auto` (default) probes with `server/discover`: a discover result, or a
   * -32022 naming a sessionless revision, means 2026-07-28; -32601, another in-band error, or a 4xx without a
   * recognized sessionless error body means a revision with sessions (`initialize`, then over HTTP the HTTP+SSE
   * transport). 401, 403 and 5xx say nothing of what the server speaks and fail. `modern` speaks 2026-07-28
   * only; `legacy` goes straight to `initialize`.
   */
  readonly protocol?: "auto" | "modern" | "legacy" | undefined
  /**
   * How many times one `tools/call`, `prompts/get` or `resources/read` may come back `input_required` (answered
   * with the handlers and retried) before it fails with `InputRequired`; for a call the server made a task, how
   * many times the task may ask for input. Default 10.
   */
  readonly maxInputRounds?: number | undefined
  /**
   * Declares the tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663), so that the server may answer a
   * `tools/call` of a task-supporting tool with a task rather than keep the request open for as long as the tool
   * runs. `callTool` and `call` then follow the task to its end (see `TasksService.await`), so code written
   * against them does not change; `callToolTask` and `tasks` give the handle itself. Off by default: a server
   * then runs its optional-task tools synchronously, and refuses the task-required ones (-32021). Declaring the
   * extension in `capabilities.extensions` has the same effect.
   */
  readonly tasks?: boolean | undefined
  /**
   * How the client's 2026-07-28 `listen` streams reconnect when their connection drops, unless a `listen` says
   * otherwise (`ListenOptions.reconnect`, which describes it). Default `defaultListenReconnect`.
   */
  readonly listenReconnect?: Schedule.Schedule<unknown, McpClientError> | false | undefined
  /**
   * Handlers for other requests the server sends the client; their capabilities are declared in `initialize`. A
   * `McpClientHandlers` layer in context replaces an entry for the same method.
   */
  readonly handlers?: ReadonlyArray<ServerRequestHandler> | undefined
  /**
   * How long a request (`initialize` included) may wait for its answer before it fails with `Timeout` and is
   * cancelled. Default: no limit (use `Effect.timeout` per call).
   */
  readonly requestTimeout?: Duration.DurationInput | undefined
}
