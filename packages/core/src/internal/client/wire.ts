/**
 * What every client transport does with the wire the same way: JSON text out, JSON-RPC messages in (one, or
 * each of a batch), and the errors a transport fails with.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import type { Receiver } from "./transport.js"

/** @internal */
export const transportError = (message: string) => (cause: unknown): McpClientError =>
  new McpClientError({ reason: "Transport", message, cause })

/** @internal */
export const protocolError = (message: string): McpClientError => new McpClientError({ reason: "Protocol", message })

/**
 * A message as JSON text; what JSON cannot carry (a `bigint` in the arguments, a cycle...) fails the send.
 * @internal
 */
export const encodeJson = (message: JsonRpc.Message): Effect.Effect<string, McpClientError> =>
  Effect.try({
    try: () => JSON.stringify(message),
    catch: (cause) => new McpClientError({ reason: "Protocol", message: "The message cannot be sent as JSON", cause })
  })

/**
 * Hands a parsed JSON value to the receiver when it is a JSON-RPC message, and returns the message; anything else
 * is logged and dropped.
 * @internal
 */
export const deliverJson = (receiver: Receiver, json: unknown): Effect.Effect<JsonRpc.Message | undefined> => {
  const message = JsonRpc.decodeMessage(json)
  return Either.isRight(message)
    ? Effect.as(receiver.receive(message.right), message.right)
    : Effect.as(Effect.logWarning(`MCP server sent an invalid message: ${message.left.message}`, json), undefined)
}

/**
 * Parses one piece of JSON text (an SSE event's data, a line of stdio) and hands what it holds to the receiver:
 * a message, or each message of a batch. Text that is not JSON is logged and dropped.
 * @internal
 */
export const deliverText = (receiver: Receiver, text: string): Effect.Effect<ReadonlyArray<JsonRpc.Message>> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    const excerpt = text.length > 500 ? `${text.slice(0, 500)}…` : text
    return Effect.as(Effect.logWarning("MCP server sent an invalid message: not JSON", excerpt), [])
  }
  // A batch comes back only from a 2025-03-26 server, but costs nothing to accept.
  const items: ReadonlyArray<unknown> = Array.isArray(json) ? json : [json]
  const delivered: Array<JsonRpc.Message> = []
  return Effect.forEach(items, (item) =>
    Effect.map(deliverJson(receiver, item), (message) => {
      if (message !== undefined) delivered.push(message)
    }), { discard: true }).pipe(Effect.as(delivered))
}
