/**
 * A POST of a revision with sessions: `initialize` (which opens one), then requests, notifications and responses
 * to the server's own requests on the session `Mcp-Session-Id` names; in stateless mode, every POST on a session
 * of its own.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { ClientKey } from "../../../Budget.js"
import { type Exchange, header } from "../../../HttpExchange.js"
import * as JsonRpc from "../../../JsonRpc.js"
import type { Grant } from "../../../McpAuth.js"
import * as McpSchema from "../../../McpSchema.js"
import type { Session } from "../../../McpSession.js"
import * as Inbound from "../../server/inbound.js"
import * as Front from "../front.js"
import * as Refusal from "../refusal.js"
import { answer, holdBatch, single } from "./answer.js"
import {
  type Context,
  missingSession,
  notFound,
  sessionOf,
  statelessVersion,
  TRANSPORT,
  versionOf
} from "./context.js"
import { track } from "./outlet.js"

const initializeInBatch = new Refusal.BadRequest({ reason: "Invalid request: initialize must not be part of a batch" })

/**
 * A POST of a revision with sessions, its body already read (the revision is decided by it). `accept` holds the
 * `Front.ACCEPT_*` flags, `size` the body's size, `text` the body.
 * @internal
 */
export const sessionPost = (
  context: Context,
  exchange: Exchange,
  grant: Grant | undefined,
  client: ClientKey,
  accept: number,
  decoded: JsonRpc.Decoded,
  size: number,
  text: string
): void => {
  if (context.stateless) {
    const version = statelessVersion(exchange)
    if (typeof version !== "string") return Front.refuse(exchange, version)
    return void context.runFork(statelessPost(context, exchange, version, grant, client, accept, decoded, size))
  }
  const id = header(exchange.headers, "mcp-session-id")
  if (id === undefined) {
    if (decoded._tag === "Single" && Inbound.isInitialize(decoded.message)) {
      return void context.runFork(initialize(context, exchange, grant, client, accept, decoded.message))
    }
    if (decoded._tag === "Batch" && decoded.messages.some((m) => Either.isRight(m) && Inbound.isInitialize(m.right))) {
      return Front.refuse(exchange, initializeInBatch)
    }
    return Front.refuse(exchange, missingSession)
  }
  const session = sessionOf(context, id, grant)
  if ("_tag" in session) return Front.refuse(exchange, session)
  // A retry of a request another instance gave up on, to a session still here: the first try's answer.
  if (context.host.repeated(exchange, id, text)) return
  const version = versionOf(exchange, session)
  if (typeof version !== "string") return Front.refuse(exchange, version)
  const messages = Inbound.messagesOf(decoded, version)
  if ("_tag" in messages) return Front.refuse(exchange, messages)
  if (grant !== undefined && !grant.admit(exchange, messages)) return
  const held = holdBatch(context, decoded, client, size)
  if (typeof held !== "function") return Front.refuse(exchange, held)
  answer(context, exchange, session, context.states.get(session), messages, decoded._tag === "Batch", accept, size, held)
}

/**
 * Opens a session for an `initialize` and answers it. The session exists only for this request until
 * `initialize` succeeds: a refusal or an error closes it, so nothing stays registered and no id leaves the
 * server.
 */
const initialize = (
  context: Context,
  exchange: Exchange,
  grant: Grant | undefined,
  client: ClientKey,
  accept: number,
  request: JsonRpc.Request
) =>
  Effect.gen(function*() {
    const opened = yield* Effect.either(
      context.host.openDetached({
        transport: TRANSPORT,
        protocolVersion: McpSchema.DEFAULT_NEGOTIATED_VERSION,
        principal: grant?.principal,
        client
      })
    )
    if (Either.isLeft(opened)) return Front.refuse(exchange, Front.unavailable(opened.left))
    const session = opened.right
    const response = yield* answerOf(session, request)
    if (response === undefined || "error" in response) {
      yield* session.close
      return response === undefined ? Front.refuse(exchange, notFound) : single(context, exchange, response, accept)
    }
    yield* track(context, session)
    single(context, exchange, response, accept, { "mcp-session-id": session.id })
  })

/** The one answer of a request handed to a session, once it settles; undefined if the session took none. */
const answerOf = (session: Session, request: JsonRpc.Request) =>
  Effect.async<JsonRpc.Message | undefined>((resume) => {
    let response: JsonRpc.Message | undefined
    const taken = session.offer(request, (message) => {
      if (JsonRpc.isResponse(message)) response = message
      return true
    }, () => resume(Effect.succeed(response)))
    if (!taken) resume(Effect.succeed(undefined))
  })

/** A stateless POST: a session of its own, served as initialized, closed once answered or abandoned. */
const statelessPost = (
  context: Context,
  exchange: Exchange,
  version: string,
  grant: Grant | undefined,
  client: ClientKey,
  accept: number,
  decoded: JsonRpc.Decoded,
  size: number
) =>
  Effect.gen(function*() {
    const messages = Inbound.messagesOf(decoded, version)
    if ("_tag" in messages) return Front.refuse(exchange, messages)
    if (grant !== undefined && !grant.admit(exchange, messages)) return
    const first = messages[0]
    const opened = yield* Effect.either(context.host.openDetached({
      transport: TRANSPORT,
      protocolVersion: version,
      principal: grant?.principal,
      // An `initialize` still negotiates; anything else is served as if it had happened.
      initialized: !(first !== undefined && Inbound.isInitialize(first)),
      perRequest: true,
      client
    }))
    if (Either.isLeft(opened)) return Front.refuse(exchange, Front.unavailable(opened.left))
    const session = opened.right
    const held = holdBatch(context, decoded, client, size)
    if (typeof held !== "function") {
      yield* session.close
      return Front.refuse(exchange, held)
    }
    const close = () => {
      held()
      session.end()
    }
    exchange.onClose(close)
    answer(context, exchange, session, undefined, messages, decoded._tag === "Batch", accept, size, close)
  })
