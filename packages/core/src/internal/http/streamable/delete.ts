/**
 * DELETE: the client ends its session (204), where the server lets it.
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Exchange } from "../../../HttpExchange.js"
import type { Grant } from "../../../McpAuth.js"
import * as Front from "../front.js"
import { type Context, forwarded, stateOf } from "./context.js"

const NO_HEADERS = {}

/** @internal */
export const del = (context: Context, exchange: Exchange, grant: Grant | undefined): void => {
  if (context.stateless || !context.termination) return Front.refuse(exchange, context.deleteNotAllowed)
  if (forwarded(context, exchange, grant)) return
  const state = stateOf(context, exchange, grant)
  if ("_tag" in state) return Front.refuse(exchange, state)
  context.runFork(Effect.zipRight(state.session.close, Effect.sync(() => exchange.respond(204, NO_HEADERS))))
}
