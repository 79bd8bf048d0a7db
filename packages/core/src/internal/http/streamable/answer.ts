/**
 * Answering the messages of one POST on its session (a client's, or one opened for the request alone): 202 when
 * none is a request; otherwise one JSON body, or an SSE stream from the moment the handlers have more to say than
 * their answers (or run past a keep-alive interval).
 *
 * One `Answer` follows the requests of a POST: the session calls its `reply` with every message about them and
 * its `settled` as each finishes; when the last one has, the POST is answered the way things turned out.
 * @internal
 */
import type { ClientKey } from "../../../Budget.js"
import type { Exchange, ResponseHeaders } from "../../../HttpExchange.js"
import * as JsonRpc from "../../../JsonRpc.js"
import { noSink, type Session, type Sink } from "../../../McpSession.js"
import * as Sse from "../../../Sse.js"
import * as Front from "../front.js"
import * as Refusal from "../refusal.js"
import { type Context, notFound, type Outlet, type State, type Waiting } from "./context.js"
import { connect, outletFor } from "./outlet.js"

/** The HTTP status of a JSON answer from its one response (2026-07-28 maps some error codes to 400 and 404). */
export type StatusOf = (response: JsonRpc.Message) => number

/** How the client will take the answer, from its `Accept`. */
interface Mode {
  /** A JSON body will do. */
  readonly jsonOk: boolean
  /** A stream will do, and is not ruled out by `enableJsonResponse`. */
  readonly streamOk: boolean
}

/**
 * The requests of one POST, from their hand-off to the session until the last settles. Answers are kept until
 * then, and sent as one JSON body; the first message that is not an answer (progress, a log) turns the answer into
 * a stream, and so does the keep-alive ticker (see `Waiting`) when the requests run long.
 */
class Answer implements Waiting {
  beats = 0
  private responses: Array<JsonRpc.Message> = []
  private outlet: Outlet | undefined
  /** The requests not yet settled. */
  private pending: number
  /** The POST is answered: the session may still call back, to no effect. */
  over = false

  constructor(
    private readonly context: Context,
    private readonly exchange: Exchange,
    private readonly session: Session,
    private readonly state: State | undefined,
    private readonly batch: boolean,
    private readonly mode: Mode,
    requests: number,
    private readonly finished: (() => void) | undefined,
    private readonly statusOf: StatusOf | undefined
  ) {
    this.pending = requests
  }

  /** A message about one of the requests: kept when it is an answer and no stream is open, else streamed. */
  readonly reply: Sink = (message) => {
    if (this.over) return false
    if (this.outlet !== undefined) return this.outlet.send(message)
    if (JsonRpc.isResponse(message)) {
      this.responses.push(message)
      return true
    }
    if (!this.mode.streamOk) return false
    const outlet = this.toStream()
    return outlet !== undefined && outlet.send(message)
  }

  /** One request is done; after the last, the POST is answered. */
  readonly settled = (): void => {
    if (--this.pending > 0) return
    this.over = true
    this.context.waiting.delete(this)
    if (this.outlet !== undefined) this.outlet.done()
    else this.respond()
    this.finished?.()
  }

  /** From now on the answer is a stream, unless it is already out: what was kept goes out first. */
  toStream(): Outlet | undefined {
    if (this.outlet !== undefined || this.over) return this.outlet
    const made = outletFor(this.context, this.state, true)
    this.outlet = made
    connect(this.context, this.exchange, this.session, made)
    for (const response of this.responses) made.send(response)
    this.responses = []
    return made
  }

  /** A stream carries the answer. */
  get streaming(): boolean {
    return this.outlet !== undefined
  }

  /** The answer when no stream was opened: the kept answers as JSON (or as a short stream), 202, or 404. */
  private respond(): void {
    const exchange = this.exchange
    const responses = this.responses
    if (responses.length === 0) {
      // Every request was cancelled (202), or the session closed under them (404).
      if (this.session.isOpen) Front.accepted(exchange)
      else Front.refuse(exchange, notFound)
    } else if (this.mode.jsonOk) {
      const first = responses[0]!
      const status = this.statusOf === undefined || this.batch ? 200 : this.statusOf(first)
      Front.respondJson(exchange, this.batch ? responses : first, undefined, status)
    } else {
      writeAll(this.context, exchange, responses)
    }
  }
}

/** A short SSE stream of these messages, ended at once. */
const writeAll = (
  context: Context,
  exchange: Exchange,
  messages: ReadonlyArray<JsonRpc.Message>,
  headers?: ResponseHeaders
): void => {
  const stream = context.streams.open(exchange, headers)
  for (const message of messages) stream.write(Sse.encodeMessage(message))
  stream.end()
}

/** A POST of notifications and responses only: each handed to the session, then 202 (404 if it closed). */
const acceptAll = (
  exchange: Exchange,
  session: Session,
  messages: ReadonlyArray<JsonRpc.Message>,
  finished: (() => void) | undefined
): void => {
  for (const message of messages) {
    if (!session.offer(message, noSink)) {
      Front.refuse(exchange, notFound)
      return finished?.()
    }
  }
  Front.accepted(exchange)
  finished?.()
}

const countRequests = (messages: ReadonlyArray<JsonRpc.Message>): number => {
  let requests = 0
  for (const message of messages) if ("method" in message && "id" in message) requests++
  return requests
}

/**
 * Answers the messages of one POST on a session. `finished` runs once the answer is out; `bodySize` is the body's
 * size, of which each request counts its share against the budget of work in flight.
 * @internal
 */
export const answer = (
  context: Context,
  exchange: Exchange,
  session: Session,
  state: State | undefined,
  messages: ReadonlyArray<JsonRpc.Message>,
  batch: boolean,
  accept: number,
  bodySize: number,
  finished?: () => void,
  statusOf?: StatusOf
): void => {
  const requests = countRequests(messages)
  if (requests === 0) return acceptAll(exchange, session, messages, finished)
  const jsonOk = (accept & Front.ACCEPT_JSON) !== 0
  const sseOk = (accept & Front.ACCEPT_SSE) !== 0
  const mode: Mode = jsonOk
    ? sseOk && !context.preferJson ? EITHER : JSON_ONLY
    : sseOk ? STREAM_ONLY : NEITHER
  const pending = new Answer(context, exchange, session, state, batch, mode, requests, finished, statusOf)
  if (!jsonOk) pending.toStream()
  const share = bodySize / requests
  for (const message of messages) {
    // The session can only have closed before the first hand-off: each is synchronous with its check.
    if (!session.offer(message, pending.reply, pending.settled, share)) {
      pending.over = true
      Front.refuse(exchange, notFound)
      return finished?.()
    }
  }
  if (!pending.over && mode.streamOk && !pending.streaming) context.waiting.add(pending)
}

const JSON_ONLY: Mode = { jsonOk: true, streamOk: false }
const EITHER: Mode = { jsonOk: true, streamOk: true }
const STREAM_ONLY: Mode = { jsonOk: false, streamOk: true }
const NEITHER: Mode = { jsonOk: false, streamOk: false }

/** The reply to `initialize`, the only message of its response. @internal */
export const single = (
  context: Context,
  exchange: Exchange,
  response: JsonRpc.Message,
  accept: number,
  headers?: ResponseHeaders
): void => {
  if ((accept & Front.ACCEPT_JSON) !== 0) return Front.respondJson(exchange, response, headers)
  writeAll(context, exchange, [response], headers)
}

const noRelease = () => {}

/**
 * A batch's answers are kept until its last request settles, whatever each request's own charge: its whole body
 * is charged to the client's work in flight for as long (given back by the function returned), or the batch is
 * refused when that budget is spent.
 * @internal
 */
export const holdBatch = (
  context: Context,
  decoded: JsonRpc.Decoded,
  client: ClientKey,
  bodySize: number
): (() => void) | Refusal.TooManyRequests | Refusal.ServiceUnavailable => {
  if (decoded._tag !== "Batch") return noRelease
  const pool = context.host.budgets.inFlight
  const shortfall = pool.take(client, bodySize)
  if (shortfall !== undefined) {
    return shortfall === "client"
      ? new Refusal.TooManyRequests({ reason: `this client is at its limit of ${pool.perClient} bytes of ${pool.name}` })
      : new Refusal.ServiceUnavailable({ reason: `the server is at its limit of ${pool.total} bytes of ${pool.name}` })
  }
  let held = true
  return () => {
    if (!held) return
    held = false
    pool.give(client, bodySize)
  }
}
