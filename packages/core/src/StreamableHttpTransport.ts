/**
 * The Streamable HTTP transport (revisions 2025-03-26, 2025-06-18 and 2025-11-25) on one endpoint, `/mcp`:
 *
 * - POST carries every client message. Requests are answered with JSON, or with an SSE stream of their own when
 *   the handler sends something about the request before its answer (progress, logs) or runs past a keep-alive
 *   interval; notifications and responses get 202.
 * - GET opens the session's standalone SSE stream, for messages the server starts; a newer GET replaces it.
 *   With `Last-Event-ID` it resumes a dropped stream, the standalone one or a POST's.
 * - DELETE ends the session.
 *
 * The same endpoint serves 2026-07-28 (sessionless): a POST whose body claims it in `_meta` (or whose
 * `MCP-Protocol-Version` names a revision without sessions) goes through that revision's checks and is served by
 * a session of its own, closed once answered; disconnecting cancels it. `subscriptions/listen` is a long-lived SSE
 * stream served the same way. The revision is read from the body before anything about sessions is checked.
 *
 * Sessions live in the shared `SessionRegistry`. An id is minted only when `initialize` succeeds, and the session
 * then lives until DELETE, idle expiry or shutdown: connections come and go without ending it. Closing a POST's
 * stream does not cancel its request either; the handler runs on in the session.
 *
 * Resumability comes from an `EventStore`: every message of an SSE stream is recorded before it is written, in
 * order, by one short-lived drain fiber per burst of messages; a resume is handled in the same order, so it sees
 * exactly what was recorded before it and gets the rest live. A request answered with JSON records nothing.
 *
 * This module composes the parts in `internal/http/streamable/`, one per thing served: a POST with sessions
 * (`sessionPost.ts`), a POST without (`sessionlessPost.ts`), the GET and listen streams (`streams.ts`),
 * resumption (`resume.ts`), DELETE (`delete.ts`), over the streams (`outlet.ts`), the answer of a POST
 * (`answer.ts`) and the shared context (`context.ts`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type { ClientKey } from "./Budget.js"
import { type Exchange, header, type Route } from "./HttpExchange.js"
import * as Front from "./internal/http/front.js"
import * as Refusal from "./internal/http/refusal.js"
import * as Streamable from "./internal/http/streamable/context.js"
import { del } from "./internal/http/streamable/delete.js"
import { sessionlessPost } from "./internal/http/streamable/sessionlessPost.js"
import { sessionPost } from "./internal/http/streamable/sessionPost.js"
import { get } from "./internal/http/streamable/streams.js"
import * as Sessionless from "./internal/revisions/sessionless.js"
import type * as JsonRpc from "./JsonRpc.js"
import type { Grant } from "./McpAuth.js"
import * as McpServerTransport from "./McpServerTransport.js"
import type { SessionRegistry } from "./SessionRegistry.js"

/**
 * The transport's options: its path, keep-alive, limits, answer mode, stateless mode, what it offers (the
 * standalone stream, DELETE) and resumability.
 *
 * @since 0.1.0
 */
export type { Options } from "./internal/http/streamable/context.js"
import type { Options } from "./internal/http/streamable/context.js"

/** The transport name sessions are registered with; a session of another transport is unknown here. @since 0.1.0 */
export const TRANSPORT = Streamable.TRANSPORT

const needsBoth = new Refusal.NotAcceptable({ needs: "application/json and text/event-stream" })

/**
 * What a POST's body asks for, read before anything about sessions is checked: the one message to serve without
 * a session (its body names its revision in `_meta`, or `MCP-Protocol-Version` names a revision without
 * sessions), the refusal of a batch that mixes such a message in, or undefined for a POST of a session.
 */
const sessionlessOf = (
  decoded: JsonRpc.Decoded,
  version: string | undefined
): JsonRpc.Message | Refusal.Refusal | undefined => {
  if (decoded._tag === "Single") {
    return Sessionless.servedWithoutSession(decoded.message, version) ? decoded.message : undefined
  }
  const claimed = Sessionless.headerNamesNoSession(version) ||
    decoded.messages.some((m) => Either.isRight(m) && Sessionless.hasClaim(m.right))
  return claimed ? Sessionless.batchRefusal : undefined
}

/**
 * POST: the revision is read from the body, so it is read before anything about sessions is checked: a request
 * without a session must never get a session's rejection, or a client that speaks both falls back to 2025.
 */
const post = (context: Streamable.Context, exchange: Exchange, grant: Grant | undefined, client: ClientKey): void => {
  const accept = Front.acceptOf(header(exchange.headers, "accept"))
  if (accept === 0) return Front.refuse(exchange, needsBoth)
  if (Streamable.forwarded(context, exchange, grant)) return
  Front.readMessages(exchange, context.maxBodySize, (decoded, size, text) => {
    const alone = sessionlessOf(decoded, header(exchange.headers, "mcp-protocol-version"))
    if (alone === undefined) return sessionPost(context, exchange, grant, client, accept, decoded, size, text)
    if ("_tag" in alone) return Front.refuse(exchange, alone)
    context.runFork(sessionlessPost(context, exchange, grant, client, accept, alone, size))
  })
}

/** The transport's route over a host: POST, GET and DELETE on one path. */
const routeOf = (host: McpServerTransport.Host, options: Options): Effect.Effect<Route, never, Scope.Scope> =>
  Effect.map(Streamable.make(host, options), (context): Route => ({
    path: context.path,
    allow: context.allow,
    methods: {
      POST: (exchange, _query, grant, client) => post(context, exchange, grant, client),
      GET: (exchange, _query, grant) => get(context, exchange, grant),
      DELETE: (exchange, _query, grant) => del(context, exchange, grant)
    }
  }))

/**
 * Builds the transport's route: POST, GET and DELETE on one path. Its keep-alive ticker lives in the current
 * scope, whose end also ends every stream still open.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Route, never, SessionRegistry | Scope.Scope> =>
  Effect.flatMap(McpServerTransport.host, (host) => routeOf(host, options))

/**
 * The transport for `HttpTransport`'s `transports`, or a front of your own: its route, built over the front's host.
 *
 * @since 0.1.0
 */
export const transport = (options: Options = {}): McpServerTransport.Http => ({
  name: TRANSPORT,
  routes: (host) => Effect.map(routeOf(host, options), (route) => [route])
})
