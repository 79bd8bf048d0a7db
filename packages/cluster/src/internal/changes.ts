/**
 * The server's changes that every instance's sessions hear (`SessionRegistry.Change`: a resource updated, a list
 * changed), told over one Redis channel, `{ns}:changes`. Each message names the incarnation that told it, which
 * does not hear it again (it delivered it itself). Best effort, as pub/sub is: a change told while Redis is away is
 * not heard.
 * @internal
 */
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import type { Change } from "@effect-mcp/core/SessionRegistry"
import * as Either from "effect/Either"

/** The notifications a list change may carry: nothing else is delivered to every session. */
const LIST_CHANGED = new Set([
  "notifications/tools/list_changed",
  "notifications/resources/list_changed",
  "notifications/prompts/list_changed"
])

/** A change as published. @internal */
export const encode = (from: string, change: Change): string =>
  JSON.stringify(
    change._tag === "ResourceUpdated"
      ? { from, uri: change.uri, notification: change.notification }
      : { from, list: true, notification: change.notification }
  )

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
  if (typeof from !== "string" || !("notification" in value)) return undefined
  const decoded = JsonRpc.decodeMessage(value.notification)
  if (Either.isLeft(decoded) || !JsonRpc.isNotification(decoded.right)) return undefined
  const notification = decoded.right
  if ("list" in value && value.list === true) {
    return LIST_CHANGED.has(notification.method) ? { from, change: { _tag: "ListChanged", notification } } : undefined
  }
  const uri: unknown = "uri" in value ? value.uri : undefined
  if (typeof uri !== "string") return undefined
  return { from, change: { _tag: "ResourceUpdated", uri, notification } }
}
