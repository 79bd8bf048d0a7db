/**
 * The server's changes that every instance's sessions hear (`SessionRegistry.Change`: a resource updated), told
 * over one Redis channel, `{ns}:changes`. Each message names the incarnation that told it, which does not hear
 * it again (it delivered it itself). Best effort, as pub/sub is: a change told while Redis is away is not heard.
 * @internal
 */
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import type { Change } from "@effect-mcp/core/SessionRegistry"
import * as Either from "effect/Either"

/** A change as published. @internal */
export const encode = (from: string, change: Change): string =>
  JSON.stringify({ from, uri: change.uri, notification: change.notification })

/** A published change and who told it, or undefined for a message that is not one. @internal */
export const decode = (message: string): { readonly from: string; readonly change: Change } | undefined => {
  let value: unknown
  try {
    value = JSON.parse(message)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null) return undefined
  const from: unknown = "from" in value ? value.from : undefined
  const uri: unknown = "uri" in value ? value.uri : undefined
  if (typeof from !== "string" || typeof uri !== "string" || !("notification" in value)) return undefined
  const notification = JsonRpc.decodeMessage(value.notification)
  if (Either.isLeft(notification) || !JsonRpc.isNotification(notification.right)) return undefined
  return { from, change: { _tag: "ResourceUpdated", uri, notification: notification.right } }
}
