/**
 * Resumability for Streamable HTTP: the events each SSE stream of a session sent, so a client that lost a
 * connection can ask, with `Last-Event-ID`, for what it missed.
 *
 * Streams are keyed by session, and the store assigns both stream ids and event ids. An event id names its
 * stream, so a resume needs nothing but the id the client last saw. The transport drops a session's events from
 * a finalizer on the session's scope, so they go when the session goes, however it ends.
 *
 * The in-memory store is bounded in events per stream and streams per session, and in bytes per stream, per
 * session and for the whole store, so no client can make it hold more than its share however large its replies.
 * What goes first is the oldest: the stream's oldest events, then the session's least recently written stream's,
 * and when the whole store is full, the least recently written session's. A resume past what was forgotten
 * replays what is left: resumption is best effort, as the specification allows for a lost event.
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
  /**
   * Records a message sent on a stream and returns its event id. `size` is the length of the message's JSON text
   * when the caller already has it (the transport serializes each message once, for the wire); a store that
   * budgets bytes measures the message itself otherwise.
   */
  readonly append: (
    sessionId: SessionId,
    streamId: StreamId,
    message: JsonRpc.Message,
    size?: number | undefined
  ) => Effect.Effect<EventId>
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
  /**
   * Bytes (of the events' JSON text) kept per stream; the oldest events are forgotten first, and an event larger
   * than this is sent but never kept. Default 1 MiB: a stream is one request's answer with its notifications, or
   * the standalone stream, and 1 MiB holds the default 1,000 events at 1 KiB each, while one huge reply (a large
   * resource, an image) is not kept for a replay few clients will ask for.
   */
  readonly maxBytesPerStream?: number | undefined
  /**
   * Bytes kept per session; the least recently written stream's oldest events are forgotten first. Default 4 MiB:
   * a few full streams, the ones a reconnecting client is likely still reading.
   */
  readonly maxBytesPerSession?: number | undefined
  /**
   * Bytes kept for the whole store; the least recently written session's oldest events are forgotten first.
   * Default 64 MiB: events are kept as the messages that were sent, which cost about their JSON size for large
   * payloads and a few times it for many small ones, so at most a few hundred MiB on a 2 GiB heap whatever the
   * number of sessions.
   */
  readonly maxBytes?: number | undefined
}

/** One retained event and what it counts for. */
interface Entry {
  readonly seq: number
  readonly size: number
  readonly event: StoredEvent
}

interface MemoryStream {
  readonly id: StreamId
  /**
   * Retained events, sequence numbers ascending, from `head` on: forgetting the oldest moves `head`, and the array
   * is compacted once most of it is forgotten, so eviction costs O(1) amortized. A forgotten slot is cleared at
   * once, so what it held is garbage before the compaction.
   */
  entries: Array<Entry | undefined>
  head: number
  bytes: number
}

interface MemorySession {
  readonly id: SessionId
  nextStream: number
  /** One counter for all streams of the session, so a forgotten stream that comes back reuses no id. */
  nextSeq: number
  /** In order of last write: the first entry is the one to forget when there are too many. */
  readonly streams: Map<StreamId, MemoryStream>
  /** The streams holding events, in order of last write: the first is the one to evict events from. */
  readonly holding: Map<StreamId, MemoryStream>
  bytes: number
}

/** Splits `<streamId>:<seq>`; undefined for anything else. */
const parse = (eventId: EventId): readonly [StreamId, number] | undefined => {
  const colon = eventId.lastIndexOf(":")
  if (colon <= 0) return undefined
  const digits = eventId.slice(colon + 1)
  if (!/^\d{1,15}$/.test(digits)) return undefined
  return [eventId.slice(0, colon), Number(digits)]
}

/** Forgotten entries kept in a stream's array before compacting it is worth a copy. */
const COMPACT_AFTER = 64

const MIB = 1024 * 1024

/** The first value of a map in insertion order. */
const first = <K, V>(map: Map<K, V>): V | undefined => {
  const next = map.values().next()
  return next.done === true ? undefined : next.value
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
    // Each bound within the next, so the event just appended always fits once older ones are forgotten.
    const maxBytes = Math.max(0, options.maxBytes ?? 64 * MIB)
    const maxSessionBytes = Math.min(maxBytes, Math.max(0, options.maxBytesPerSession ?? 4 * MIB))
    const maxStreamBytes = Math.min(maxSessionBytes, Math.max(0, options.maxBytesPerStream ?? 1 * MIB))
    const sessions = new Map<SessionId, MemorySession>()
    /** The sessions holding events, in order of last write: the first is the one to evict from. */
    const holding = new Map<SessionId, MemorySession>()
    let bytes = 0

    const forgetOldest = (session: MemorySession, stream: MemoryStream): void => {
      const entry = stream.entries[stream.head]
      if (entry === undefined) return
      stream.entries[stream.head] = undefined
      stream.head++
      stream.bytes -= entry.size
      session.bytes -= entry.size
      bytes -= entry.size
      if (stream.head === stream.entries.length) {
        stream.entries = []
        stream.head = 0
        session.holding.delete(stream.id)
        if (session.holding.size === 0) holding.delete(session.id)
      } else if (stream.head >= COMPACT_AFTER && stream.head * 2 >= stream.entries.length) {
        stream.entries = stream.entries.slice(stream.head)
        stream.head = 0
      }
    }

    const forgetStream = (session: MemorySession, stream: MemoryStream): void => {
      session.streams.delete(stream.id)
      session.bytes -= stream.bytes
      bytes -= stream.bytes
      if (session.holding.delete(stream.id) && session.holding.size === 0) holding.delete(session.id)
    }

    const touch = (session: MemorySession, streamId: StreamId): MemoryStream => {
      let stream = session.streams.get(streamId)
      if (stream === undefined) {
        stream = { id: streamId, entries: [], head: 0, bytes: 0 }
      } else {
        session.streams.delete(streamId)
      }
      session.streams.set(streamId, stream)
      if (session.streams.size > maxStreams) {
        const oldest = first(session.streams)
        if (oldest !== undefined) forgetStream(session, oldest)
      }
      return stream
    }

    const record = (session: MemorySession, stream: MemoryStream, entry: Entry): void => {
      stream.entries.push(entry)
      stream.bytes += entry.size
      session.bytes += entry.size
      bytes += entry.size
      // Moved to the end of both orders: the most recently written goes last.
      session.holding.delete(stream.id)
      session.holding.set(stream.id, stream)
      holding.delete(session.id)
      holding.set(session.id, session)
      while (stream.entries.length - stream.head > maxEvents || stream.bytes > maxStreamBytes) {
        forgetOldest(session, stream)
      }
      while (session.bytes > maxSessionBytes) {
        const oldest = first(session.holding)
        if (oldest === undefined) break
        forgetOldest(session, oldest)
      }
      while (bytes > maxBytes) {
        const oldestSession = first(holding)
        const oldest = oldestSession === undefined ? undefined : first(oldestSession.holding)
        if (oldestSession === undefined || oldest === undefined) break
        forgetOldest(oldestSession, oldest)
      }
    }

    return EventStore.of({
      openStream: (sessionId) =>
        Effect.sync(() => {
          let session = sessions.get(sessionId)
          if (session === undefined) {
            session = { id: sessionId, nextStream: 0, nextSeq: 1, streams: new Map(), holding: new Map(), bytes: 0 }
            sessions.set(sessionId, session)
          }
          const streamId = String(session.nextStream++)
          touch(session, streamId)
          return { streamId, cursor: `${streamId}:0` }
        }),
      append: (sessionId, streamId, message, size) =>
        Effect.sync(() => {
          const session = sessions.get(sessionId)
          // A session that was dropped records nothing: a late write must not bring it back.
          if (session === undefined) return `${streamId}:0`
          const seq = session.nextSeq++
          const id = `${streamId}:${seq}`
          const stream = touch(session, streamId)
          const measured = size ?? JSON.stringify(message).length
          // Too large to keep: it is sent, and a resume misses it as it would a lost event.
          if (measured <= maxStreamBytes) record(session, stream, { seq, size: measured, event: { id, message } })
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
          const entries = stream.entries
          // Sequence numbers ascend: the first one past the cursor starts the replay.
          let low = stream.head
          let high = entries.length
          while (low < high) {
            const middle = (low + high) >>> 1
            if ((entries[middle]?.seq ?? 0) > after) high = middle
            else low = middle + 1
          }
          return entries.slice(low).flatMap((entry) => entry === undefined ? [] : [entry.event])
        }),
      dropSession: (sessionId) =>
        Effect.sync(() => {
          const session = sessions.get(sessionId)
          if (session === undefined) return
          sessions.delete(sessionId)
          holding.delete(sessionId)
          bytes -= session.bytes
        })
    })
  })

/**
 * An in-memory store as a layer.
 *
 * @since 0.1.0
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<EventStore> => Layer.effect(EventStore, make(options))
