/**
 * The long-lived streams of the Streamable HTTP transport: a session's standalone GET stream, for messages the
 * server starts, and a 2026-07-28 `subscriptions/listen` stream, served by a session of its own for as long as
 * the connection lasts. A GET with `Last-Event-ID` resumes a stream instead (`resume.ts`).
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Scope from "effect/Scope"
import type { ClientKey } from "../../../Budget.js"
import { type Exchange, header } from "../../../HttpExchange.js"
import * as JsonRpc from "../../../JsonRpc.js"
import type { Grant } from "../../../McpAuth.js"
import type { Session, Sink } from "../../../McpSession.js"
import type { OpenError } from "../../../SessionRegistry.js"
import * as Sse from "../../../Sse.js"
import type * as Sessionless from "../../revisions/sessionless.js"
import * as Listen from "../../server/listen.js"
import * as Front from "../front.js"
import * as Refusal from "../refusal.js"
import { type Context, forwarded, notFound, stateOf, TRANSPORT } from "./context.js"
import { connect, standaloneOf } from "./outlet.js"
import { resume } from "./resume.js"

const needsStream = new Refusal.NotAcceptable({ needs: "text/event-stream" })

/** GET: the session's standalone stream, or with `Last-Event-ID` the resumption of one of its streams. @internal */
export const get = (context: Context, exchange: Exchange, grant: Grant | undefined): void => {
  if (context.stateless) return Front.refuse(exchange, context.getNotAllowed)
  if ((Front.acceptOf(header(exchange.headers, "accept")) & Front.ACCEPT_SSE) === 0) {
    return Front.refuse(exchange, needsStream)
  }
  if (forwarded(context, exchange, grant)) return
  const state = stateOf(context, exchange, grant)
  if ("_tag" in state) return Front.refuse(exchange, state)
  const lastEventId = header(exchange.headers, "last-event-id")
  const store = context.store
  if (lastEventId !== undefined && store !== undefined) {
    return void context.runFork(resume(context, exchange, state, store, lastEventId))
  }
  if (!context.standaloneStream) return Front.refuse(exchange, context.getNotAllowed)
  if (!connect(context, exchange, state.session, standaloneOf(context, state))) Front.refuse(exchange, notFound)
}

/**
 * A `subscriptions/listen` stream: always SSE, even in JSON-response mode. Its session lives as long as the
 * connection (held busy, so idle expiry leaves it alone); the acknowledgement goes out before the session's
 * writer is set, so it is first; when the server ends it (shutdown), the listen result goes out last.
 * @internal
 */
export const listen = (
  context: Context,
  exchange: Exchange,
  grant: Grant | undefined,
  client: ClientKey,
  accept: number,
  request: JsonRpc.Request,
  envelope: Sessionless.Envelope
) =>
  Effect.gen(function*() {
    if ((accept & Front.ACCEPT_SSE) === 0) return Front.refuse(exchange, needsStream)
    const filter = Listen.filterOf(request.params, context.link.capabilities(), envelope.clientCapabilities)
    if (filter instanceof JsonRpc.JsonRpcError) return Front.respondJson(exchange, JsonRpc.failure(request.id, filter))
    const opened = yield* Effect.either(context.host.openDetached({
      transport: TRANSPORT,
      protocolVersion: envelope.version,
      principal: grant?.principal,
      sessionless: envelope,
      subscriptions: filter.resourceSubscriptions,
      listener: true,
      client
    }))
    if (Either.isLeft(opened)) return refuseListen(exchange, request.id, opened.left)
    const session = opened.right
    const stream = context.streams.open(exchange)
    if (!stream.isOpen) return yield* session.close
    const write: Sink = (message) => stream.write(Sse.encodeMessage(message))
    write(Listen.acknowledged(request.id, filter))
    session.setWriter(Listen.sinkFor(request.id, filter, write))
    yield* endsWithSession(context, exchange, session, () => {
      write(Listen.closing(request.id))
      stream.end()
    })
  })

/**
 * Ties a listen stream to its session, held busy meanwhile: the stream ends (`end`) when the session does or the
 * server shuts down, and the session when the client goes.
 */
const endsWithSession = (context: Context, exchange: Exchange, session: Session, end: () => void) => {
  const release = session.hold()
  let ended = false
  const ending = () => {
    if (ended) return
    ended = true
    context.listening.delete(ending)
    release()
    end()
  }
  context.listening.add(ending)
  return Effect.zipRight(
    Scope.addFinalizer(session.scope, Effect.sync(ending)),
    Effect.sync(() =>
      exchange.onClose(() => {
        context.listening.delete(ending)
        session.end()
      })
    )
  )
}

/** A listen stream that could not be opened: a JSON-RPC error for a budget of listen streams, else a refusal. */
const refuseListen = (exchange: Exchange, id: JsonRpc.RequestId, error: OpenError): void => {
  switch (error._tag) {
    case "ListenerLimitExceeded":
      return Front.respondJson(exchange, JsonRpc.failure(id, Listen.tooMany(error.limit)))
    case "ClientLimitExceeded":
      return Front.respondJson(exchange, JsonRpc.failure(id, Listen.tooManyForClient(error.limit)))
    case "SubscriptionLimitExceeded":
      return Front.respondJson(exchange, JsonRpc.failure(id, Listen.tooManySubscriptions(error.limit, error.scope)))
    default:
      return Front.refuse(exchange, Front.unavailable(error))
  }
}
