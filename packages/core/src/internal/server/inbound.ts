/**
 * What every server transport does with a client's messages, whatever carries them (HTTP, stdio): the batch rule
 * of a revision, recognizing `initialize`, the default size of one body or line, and ending a session whose client
 * stopped reading.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as JsonRpc from "../../JsonRpc.js"
import * as McpRevision from "../../McpRevision.js"
import type { Session } from "../../McpSession.js"
import * as Refusal from "../http/refusal.js"

/** The body limit every SDK uses. @internal */
export const DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024

/**
 * Messages one batch may hold: as many as a session may have in flight by default, past which the rest would be
 * refused one by one anyway.
 * @internal
 */
export const MAX_BATCH = 256

/**
 * The messages of a body under a revision's batch rule, or the refusal: batches only where the revision
 * allows them, every element must be a message, and `initialize` is never part of one.
 * @internal
 */
export const messagesOf = (
  decoded: JsonRpc.Decoded,
  version: string
): ReadonlyArray<JsonRpc.Message> | Refusal.BadRequest => {
  if (decoded._tag === "Single") return [decoded.message]
  if (McpRevision.get(version)?.batches !== true) {
    return new Refusal.BadRequest({
      reason: `Invalid request: JSON-RPC batches are not supported in revision ${version}`
    })
  }
  if (decoded.messages.length > MAX_BATCH) {
    return new Refusal.BadRequest({ reason: `Invalid request: a batch may hold at most ${MAX_BATCH} messages` })
  }
  const messages: Array<JsonRpc.Message> = []
  for (const message of decoded.messages) {
    if (Either.isLeft(message)) return new Refusal.BadRequest({ reason: message.left.message })
    if (isInitialize(message.right)) {
      return new Refusal.BadRequest({ reason: "Invalid request: initialize must not be part of a batch" })
    }
    messages.push(message.right)
  }
  return messages
}

/** True for an `initialize` request. @internal */
export const isInitialize = (message: JsonRpc.Message): message is JsonRpc.Request =>
  "method" in message && message.method === "initialize" && "id" in message

/** Closes a session whose client left too much unread, and says so in the log. @internal */
export const overflowed = (session: Session): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.annotateLogs(Effect.logWarning("the client stopped reading: its outbound backlog is over the limit, closing the session"), {
      sessionId: session.id,
      transport: session.transport
    }),
    session.close
  )
