/**
 * How the client engine turns what the server answers into values or `McpClientError`s: a result decoder per
 * method, and a JSON-RPC error as an `RpcError`. Every part of the engine reads answers, so this is on its own.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import { describeParseError } from "../shared/parseError.js"

/** A JSON-RPC error answer as the `McpClientError` a request fails with. @internal */
export const rpcError = (error: JsonRpc.ErrorObject): McpClientError =>
  new McpClientError({
    reason: "RpcError",
    message: error.message,
    code: error.code,
    ...(error.data === undefined ? {} : { data: error.data })
  })

/** The result of `method` decoded with `schema`; one that does not fit is a `Protocol` error. @internal */
export const decoder = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknown(schema)
  return (method: string) => (result: unknown): Effect.Effect<A, McpClientError> =>
    Effect.mapError(decode(result), (error) =>
      new McpClientError({
        reason: "Protocol",
        message: `Invalid result of ${method}: ${describeParseError(error)}`
      }))
}
