/**
 * The errors of the MCP client: `McpClientError` for everything between the client and the server, and `ToolError`
 * for a tool that answered with an error result (`McpClient.call`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as McpSchema from "./McpSchema.js"

/**
 * Why a client operation failed:
 *
 * - `Transport`: the server could not be reached or started, or the connection broke;
 * - `HttpStatus`: the server answered with an HTTP error (`status`; `code` when the body was a JSON-RPC error);
 * - `SessionNotFound`: the server no longer knows the session (404); over Streamable HTTP, only when a new
 *   session did not help either;
 * - `ProcessExited`: the server's process (stdio) exited while the client still needed it (`exitCode` or
 *   `signal`);
 * - `Protocol`: the server sent something that is not valid MCP (a result that does not match its schema...);
 * - `RpcError`: the server answered the request with a JSON-RPC error (`code`, `message`, `data`);
 * - `Timeout`: the server did not answer within the client's `requestTimeout`;
 * - `InputRequired`: a 2026-07-28 server asked for input (`input_required`) the client could not give: no handler
 *   for the request it embedded (`method` names it), a handler that failed, or more rounds than `maxInputRounds`;
 * - `TaskCancelled`: a tool call the server made a task (the tasks extension) ended `cancelled`: cancelled by
 *   someone else, or expired on the server, before it had a result;
 * - `Closed`: the client was closed.
 *
 * Over stdio, `stderr` holds the end of what the server's process wrote to its standard error.
 *
 * @since 0.1.0
 */
export class McpClientError extends Schema.TaggedError<McpClientError>()("McpClientError", {
  reason: Schema.Literal(
    "Transport",
    "HttpStatus",
    "SessionNotFound",
    "ProcessExited",
    "Protocol",
    "RpcError",
    "Timeout",
    "InputRequired",
    "TaskCancelled",
    "Closed"
  ),
  message: Schema.String,
  status: Schema.optional(Schema.Number),
  code: Schema.optional(Schema.Number),
  method: Schema.optional(Schema.String),
  data: Schema.optional(Schema.Unknown),
  exitCode: Schema.optional(Schema.Number),
  signal: Schema.optional(Schema.String),
  stderr: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * A tool answered a call with an error result (`isError: true`): its own failure, or arguments it refused, as the
 * model would see it. `message` is the result's text; `content` the whole of it.
 *
 * @since 0.1.0
 */
export class ToolError extends Schema.TaggedError<ToolError>()("ToolError", {
  tool: Schema.String,
  message: Schema.String,
  content: Schema.Array(McpSchema.Content),
  structuredContent: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
}) {}
