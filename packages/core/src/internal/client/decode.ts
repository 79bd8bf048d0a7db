/**
 * How the client engine turns what the server answers into values or `McpClientError`s: a result decoder per
 * method, from the method table (`McpMethod`), and a JSON-RPC error as an `RpcError`. Every part of the engine
 * reads answers, so this is on its own.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import * as McpMethod from "../../McpMethod.js"
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
export const decoder = <S extends Schema.Schema.AnyNoContext>(schema: S) => {
  const decode = Schema.decodeUnknown(schema)
  return (method: string) => (result: unknown): Effect.Effect<Schema.Schema.Type<S>, McpClientError> =>
    Effect.mapError(decode(result), (error) =>
      new McpClientError({
        reason: "Protocol",
        message: `Invalid result of ${method}: ${describeParseError(error)}`
      }))
}

/** The result decoder of one request the server serves. @internal */
export type Decode<M extends McpMethod.ServerRequestName> = (
  result: unknown
) => Effect.Effect<McpMethod.Result<M>, McpClientError>

/**
 * A result decoder for every request the server serves: a table missing one does not compile.
 * @internal
 */
export type Decoders = { readonly [M in McpMethod.ServerRequestName]: Decode<M> }

const decoderOf = <M extends McpMethod.ServerRequestName>(method: M): Decode<M> =>
  decoder(McpMethod.resultOf(method))(method)

/**
 * The client's result decoders, each built once from the table's result schema.
 * @internal
 */
export const decoders: Decoders = {
  "initialize": decoderOf("initialize"),
  "ping": decoderOf("ping"),
  "server/discover": decoderOf("server/discover"),
  "subscriptions/listen": decoderOf("subscriptions/listen"),
  "tools/list": decoderOf("tools/list"),
  "tools/call": decoderOf("tools/call"),
  "tasks/get": decoderOf("tasks/get"),
  "tasks/update": decoderOf("tasks/update"),
  "tasks/cancel": decoderOf("tasks/cancel"),
  "resources/list": decoderOf("resources/list"),
  "resources/templates/list": decoderOf("resources/templates/list"),
  "resources/read": decoderOf("resources/read"),
  "resources/subscribe": decoderOf("resources/subscribe"),
  "resources/unsubscribe": decoderOf("resources/unsubscribe"),
  "skills/list": decoderOf("skills/list"),
  "skills/get": decoderOf("skills/get"),
  "resources/directory/read": decoderOf("resources/directory/read"),
  "prompts/list": decoderOf("prompts/list"),
  "prompts/get": decoderOf("prompts/get"),
  "logging/setLevel": decoderOf("logging/setLevel"),
  "completion/complete": decoderOf("completion/complete")
}
