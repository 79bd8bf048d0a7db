/**
 * A POST of a revision without sessions (2026-07-28): the envelope's ladder of checks
 * (`internal/revisions/sessionless.ts`), then a session of its own for the one request (its `_meta` standing in
 * for the handshake), closed once it is answered; `subscriptions/listen` becomes a listen stream (`streams.ts`).
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { ClientKey } from "../../../Budget.js"
import { type Exchange, header } from "../../../HttpExchange.js"
import * as JsonRpc from "../../../JsonRpc.js"
import type { Grant } from "../../../McpAuth.js"
import * as Sessionless from "../../revisions/sessionless.js"
import * as Front from "../front.js"
import * as Refusal from "../refusal.js"
import { answer } from "./answer.js"
import { type Context, TRANSPORT } from "./context.js"
import { listen } from "./streams.js"

/** The status of a 2026-07-28 answer: an error's by its code, a result 200. */
const statusOf = (response: JsonRpc.Message): number =>
  "error" in response ? Refusal.sessionlessStatus(response.error.code) : 200

/**
 * A request of a revision without sessions: the ladder, then a session of its own, closed once it is answered.
 * The client closing the connection first is cancellation: the session closes, which interrupts the handler, and
 * nothing more is sent.
 * @internal
 */
export const sessionlessPost = (
  context: Context,
  exchange: Exchange,
  grant: Grant | undefined,
  client: ClientKey,
  accept: number,
  message: JsonRpc.Message,
  size: number
) =>
  Effect.gen(function*() {
    // Notifications have no defined use over HTTP without sessions (cancelling is closing the stream).
    if (!JsonRpc.isRequest(message)) return Front.accepted(exchange)
    const envelope = Sessionless.check(message, (name) => header(exchange.headers, name), context.link.paramHeaders)
    if ("_tag" in envelope) return Front.refuse(exchange, envelope)
    if (grant !== undefined && !grant.admit(exchange, [message])) return
    if (message.method === "subscriptions/listen") {
      return yield* listen(context, exchange, grant, client, accept, message, envelope)
    }
    const opened = yield* Effect.either(context.host.openDetached({
      transport: TRANSPORT,
      protocolVersion: envelope.version,
      principal: grant?.principal,
      sessionless: envelope,
      client
    }))
    if (Either.isLeft(opened)) return Front.refuse(exchange, Front.unavailable(opened.left))
    const session = opened.right
    const close = () => session.end()
    exchange.onClose(close)
    answer(context, exchange, session, undefined, [message], false, accept, size, close, statusOf)
  })
