/**
 * What a protocol revision is, as a value: the facts that differ between revisions (see `McpRevision`, which lists
 * them). Kept apart from the list so the revision modules and the list do not import each other.
 * @internal
 */

/**
 * How a client names the revision it speaks: once, in `initialize` (the session era), or in every request's
 * `_meta` (the sessionless era).
 *
 * @internal
 */
export type Negotiation = "initialize" | "per-request"

/** A JSON Schema dialect tool schemas are read in. @internal */
export type JsonSchemaDialect = "draft-07" | "2020-12"

/**
 * One revision of the protocol and what differs in it.
 *
 * @internal
 */
export interface Revision {
  /** The revision's name, its date: what `protocolVersion` and `MCP-Protocol-Version` carry. */
  readonly version: string
  readonly negotiation: Negotiation
  /**
   * A client holds a session at this revision: `initialize` opens it, the transport names it (`Mcp-Session-Id`,
   * `session_id`), a request's `MCP-Protocol-Version` may name any revision with sessions, and the server may send
   * on it unasked (the standalone GET stream, the HTTP+SSE stream). False when every request stands alone.
   */
  readonly sessions: boolean
  /** A POST body may be a JSON-RPC batch (2025-03-26 only: 2024-11-05 had none, 2025-06-18 removed them). */
  readonly batches: boolean
  /** The dialect tool schemas are written in (2020-12 from 2025-11-25, SEP-1613). */
  readonly jsonSchemaDialect: JsonSchemaDialect
  /**
   * An SSE stream opens with a priming event (an id, empty data and `retry`), so a client can resume it after the
   * server closes the connection (SEP-1699, 2025-11-25).
   */
  readonly primingEvents: boolean
  /**
   * Requests of earlier revisions this one or an earlier one removed: a request for one gets -32601. Derived
   * from the method table (`McpMethod`).
   */
  readonly removedMethods: ReadonlySet<string>
  /** The error code of a resource that does not exist (-32002; 2026-07-28 retired it for -32602 with `data.uri`). */
  readonly resourceNotFoundCode: number
  /** Every method this revision has, requests and notifications, either way. Derived from the method table. */
  readonly methods: ReadonlySet<string>
  /**
   * Results say their `resultType` and carry the server's info in `_meta`, and those of cacheable methods cache
   * hints (2026-07-28).
   */
  readonly resultEnvelope: boolean
  /**
   * A server asks the client by ending the request `input_required` for the client to answer and retry (SEP-2322
   * multi round-trip), not by requests of its own on a channel to the client (2026-07-28).
   */
  readonly inputRounds: boolean
  /**
   * Tool listings show `execution.taskSupport` (the tasks extension). Earlier, a 2025-11-25 client would read it
   * as that revision's core tasks (client-directed), which this server does not serve.
   */
  readonly toolTaskSupport: boolean
  /**
   * A client that named no log level gets `notifications/message` at every level. At 2026-07-28 a request that
   * names no `logLevel` in its `_meta` gets none.
   */
  readonly logsWithoutLevel: boolean
  /**
   * `notifications/tasks/status` is pushed to the task owner's sessions (2026-07-28: its listen streams, which
   * pass the task ids asked for). Before, a client follows a task by asking `tasks/get`.
   */
  readonly pushesTaskStatus: boolean
  /**
   * The code a server refuses a request with when the HTTP headers that mirror it (`Mcp-Method`, `Mcp-Name`, a
   * tool's `Mcp-Param-*`, SEP-2243) disagree with its body: -32020 at 2026-07-28. Undefined when requests are not
   * mirrored. A client that did not know a tool's declarations yet may be refused so, and lists the tools again.
   */
  readonly headerMismatchCode: number | undefined
}
