/**
 * Resuming a dropped stream (GET with `Last-Event-ID`), the standalone one or a POST's: a stream still running
 * takes the new connection and replays what was recorded after that event; one that has ended replays what it
 * recorded, and the connection ends.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as EventStore from "../../../EventStore.js"
import type { Exchange } from "../../../HttpExchange.js"
import * as Sse from "../../../Sse.js"
import * as Front from "../front.js"
import * as Refusal from "../refusal.js"
import type { Context, State } from "./context.js"
import { connect } from "./outlet.js"

const unknownEvent = new Refusal.BadRequest({ reason: "Bad Request: unknown Last-Event-ID" })

/** @internal */
export const resume = (
  context: Context,
  exchange: Exchange,
  state: State,
  store: EventStore.EventStoreService,
  lastEventId: string
) =>
  Effect.gen(function*() {
    const session = state.session
    const streamId = yield* store.streamOf(session.id, lastEventId)
    if (Option.isNone(streamId)) return Front.refuse(exchange, unknownEvent)
    // Finding the stream and attaching happen in one step: a stream that is found has not yet handled its
    // end, so it will serve this connection.
    const live = state.streams.get(streamId.value)
    if (live !== undefined && connect(context, exchange, session, live, lastEventId)) return
    // The stream has ended: what it recorded is all there is.
    const events = yield* store.replayAfter(session.id, lastEventId)
    const stream = context.streams.open(exchange)
    for (const event of events) stream.write(Sse.encodeMessage(event.message, event.id))
    stream.end()
  })
