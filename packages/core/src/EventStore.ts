/**
 * Resumability for Streamable HTTP: the events each SSE stream of a session sent, so a client that lost a
 * connection can ask, with `Last-Event-ID`, for what it missed.
 *
 * Streams are keyed by session, and the store assigns both stream ids and event ids. An event id names its
 * stream, so a resume needs nothing but the id the client last saw. The transport drops a session's events from
 * a finalizer on the session's scope, so they go when the session goes, however it ends.
 *
 * The in-memory store is bounded twice per session: events per stream (the oldest are forgotten first) and
 * streams (the least recently written is forgotten first). A resume past what was forgotten replays what is
 * left: resumption is best effort, as the specification allows.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as JsonRpc from "./JsonRpc.js"
import type { SessionId } from "./McpSession.js"

/** The SSE `id` of an event; it names the stream it belongs to. @since 0.1.0 */
export type EventId = string

/** One SSE stream of a session: a POST's response stream or the session's standalone GET stream. @since 0.1.0 */
export type StreamId = string

/** A message as it was sent, with its event id. @since 0.1.0 */
export interface StoredEvent {
  readonly id: EventId
  readonly message: JsonRpc.Message
}

/** A new stream: its id, and the cursor before its first event (the id of its priming event). @since 0.1.0 */
export interface OpenedStream {
  readonly streamId: StreamId
  readonly cursor: EventId
}

/** @since 0.1.0 */
export interface EventStoreService {
  /** Starts a stream of the session. */
  readonly openStream: (sessionId: SessionId) => Effect.Effect<OpenedStream>
  /** Records a message sent on a stream and returns its event id. */
  readonly append: (sessionId: SessionId, streamId: StreamId, message: JsonRpc.Message) => Effect.Effect<EventId>
  /** The stream an event id (or a stream's cursor) belongs to, when the session has it. */
  readonly streamOf: (sessionId: SessionId, eventId: EventId) => Effect.Effect<Option.Option<StreamId>>
  /** The events recorded after `lastEventId` on its stream, oldest first; empty when the stream is unknown. */
  readonly replayAfter: (sessionId: SessionId, lastEventId: EventId) => Effect.Effect<ReadonlyArray<StoredEvent>>
  /** Forgets every stream of the session. */
  readonly dropSession: (sessionId: SessionId) => Effect.Effect<void>
}

/**
 * The store the Streamable HTTP transport records its streams in. Provide one (for example a shared store, so
 * another instance behind sticky routing could resume) or let the transport build an in-memory one.
 *
 * @since 0.1.0
 */
export class EventStore extends Context.Tag("@effect-mcp/core/EventStore")<EventStore, EventStoreService>() {}

/** @since 0.1.0 */
export interface MemoryOptions {
  /** Events kept per stream; older ones are forgotten. Default 1,000. */
  readonly maxEventsPerStream?: number | undefined
  /** Streams kept per session; the least recently written is forgotten. Default 100. */
  readonly maxStreamsPerSession?: number | undefined
}

interface MemoryStream {
  /** Sequence numbers of the retained events, ascending; `events[i]` has `seqs[i]`. */
  readonly seqs: Array<number>
  readonly events: Array<StoredEvent>
}

interface MemorySession {
  nextStream: number
  /** One counter for all streams of the session, so a forgotten stream that comes back reuses no id. */
  nextSeq: number
  /** In order of last write: the first entry is the one to forget. */
  readonly streams: Map<StreamId, MemoryStream>
}

/** Splits `<streamId>:<seq>`; undefined for anything else. */
const parse = (eventId: EventId): readonly [StreamId, number] | undefined => {
  const colon = eventId.lastIndexOf(":")
  if (colon <= 0) return undefined
  const digits = eventId.slice(colon + 1)
  if (!/^\d{1,15}$/.test(digits)) return undefined
  return [eventId.slice(0, colon), Number(digits)]
}

/**
 * Builds an in-memory store. Event ids are `<streamId>:<seq>`; a stream's cursor is `<streamId>:0`.
 *
 * @since 0.1.0
 */
export const make = (options: MemoryOptions = {}): Effect.Effect<EventStoreService> =>
  Effect.sync(() => {
    const maxEvents = Math.max(1, options.maxEventsPerStream ?? 1_000)
    const maxStreams = Math.max(1, options.maxStreamsPerSession ?? 100)
    const sessions = new Map<SessionId, MemorySession>()

    const touch = (session: MemorySession, streamId: StreamId): MemoryStream => {
      let stream = session.streams.get(streamId)
      if (stream === undefined) {
        stream = { seqs: [], events: [] }
      } else {
        session.streams.delete(streamId)
      }
      session.streams.set(streamId, stream)
      if (session.streams.size > maxStreams) {
        const oldest = session.streams.keys().next()
        if (oldest.done !== true) session.streams.delete(oldest.value)
      }
      return stream
    }

    return EventStore.of({
      openStream: (sessionId) =>
        Effect.sync(() => {
          let session = sessions.get(sessionId)
          if (session === undefined) {
            session = { nextStream: 0, nextSeq: 1, streams: new Map() }
            sessions.set(sessionId, session)
          }
          const streamId = String(session.nextStream++)
          touch(session, streamId)
          return { streamId, cursor: `${streamId}:0` }
        }),
      append: (sessionId, streamId, message) =>
        Effect.sync(() => {
          const session = sessions.get(sessionId)
          // A session that was dropped records nothing: a late write must not bring it back.
          if (session === undefined) return `${streamId}:0`
          const seq = session.nextSeq++
          const id = `${streamId}:${seq}`
          const stream = touch(session, streamId)
          stream.seqs.push(seq)
          stream.events.push({ id, message })
          if (stream.events.length > maxEvents) {
            stream.seqs.shift()
            stream.events.shift()
          }
          return id
        }),
      streamOf: (sessionId, eventId) =>
        Effect.sync(() => {
          const parsed = parse(eventId)
          if (parsed === undefined) return Option.none()
          return sessions.get(sessionId)?.streams.has(parsed[0]) === true ? Option.some(parsed[0]) : Option.none()
        }),
      replayAfter: (sessionId, lastEventId) =>
        Effect.sync((): ReadonlyArray<StoredEvent> => {
          const parsed = parse(lastEventId)
          if (parsed === undefined) return []
          const stream = sessions.get(sessionId)?.streams.get(parsed[0])
          if (stream === undefined) return []
          const after = parsed[1]
          // Sequence numbers ascend, so the first one past the cursor starts the replay.
          let start = stream.seqs.length
          while (start > 0 && stream.seqs[start - 1] > after) start--
          return stream.events.slice(start)
        }),
      dropSession: (sessionId) =>
        Effect.sync(() => {
          sessions.delete(sessionId)
        })
    })
  })

/**
 * An in-memory store as a layer.
 *
 * @since 0.1.0
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<EventStore> => Layer.effect(EventStore, make(options))
