import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as EventStore from "../src/EventStore.js"
import * as JsonRpc from "../src/JsonRpc.js"

const note = (n: number) => JsonRpc.notification("notifications/progress", { progressToken: "t", progress: n })
const progressOf = (events: ReadonlyArray<EventStore.StoredEvent>) =>
  events.map((e) => JsonRpc.isNotification(e.message) ? (e.message.params as { progress: number }).progress : -1)

describe("EventStore (memory)", () => {
  it.effect("assigns ids that name their stream, and replays what came after a cursor", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make()
      const a = yield* store.openStream("s1")
      const b = yield* store.openStream("s1")
      expect(a.streamId).not.toBe(b.streamId)
      const a1 = yield* store.append("s1", a.streamId, note(1))
      const b1 = yield* store.append("s1", b.streamId, note(10))
      const a2 = yield* store.append("s1", a.streamId, note(2))
      const a3 = yield* store.append("s1", a.streamId, JsonRpc.success(7, { ok: true }))
      expect(new Set([a1, b1, a2, a3]).size).toBe(4)
      for (const id of [a.cursor, a1, a2, a3]) {
        expect(yield* store.streamOf("s1", id)).toEqual(Option.some(a.streamId))
      }
      expect(yield* store.streamOf("s1", b1)).toEqual(Option.some(b.streamId))
      // From the cursor: everything on that stream and nothing from the other one.
      const all = yield* store.replayAfter("s1", a.cursor)
      expect(all.map((e) => e.id)).toEqual([a1, a2, a3])
      expect(all[2]!.message).toEqual(JsonRpc.success(7, { ok: true }))
      expect(progressOf(yield* store.replayAfter("s1", a1))).toEqual([2, -1])
      expect(yield* store.replayAfter("s1", a3)).toEqual([])
      expect(progressOf(yield* store.replayAfter("s1", b.cursor))).toEqual([10])
    }))

  it.effect("keeps sessions apart: another session's ids are unknown", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make()
      const a = yield* store.openStream("s1")
      const id = yield* store.append("s1", a.streamId, note(1))
      expect(yield* store.streamOf("s2", id)).toEqual(Option.none())
      expect(yield* store.replayAfter("s2", a.cursor)).toEqual([])
      const other = yield* store.openStream("s2")
      expect(yield* store.replayAfter("s2", other.cursor)).toEqual([])
    }))

  it.effect("rejects ids it did not make", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make()
      const a = yield* store.openStream("s1")
      yield* store.append("s1", a.streamId, note(1))
      for (const bad of ["", "nonsense", ":1", `${a.streamId}:`, `${a.streamId}:x`, `${a.streamId}:-1`, "99:1"]) {
        expect(yield* store.streamOf("s1", bad)).toEqual(Option.none())
        expect(yield* store.replayAfter("s1", bad)).toEqual([])
      }
    }))

  it.effect("keeps at most maxEventsPerStream events per stream, forgetting the oldest", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make({ maxEventsPerStream: 3 })
      const a = yield* store.openStream("s1")
      const ids: Array<string> = []
      for (let i = 1; i <= 5; i++) ids.push(yield* store.append("s1", a.streamId, note(i)))
      expect(progressOf(yield* store.replayAfter("s1", a.cursor))).toEqual([3, 4, 5])
      // A cursor inside what was forgotten replays what is left; one inside what is kept, exactly the rest.
      expect(progressOf(yield* store.replayAfter("s1", ids[0]!))).toEqual([3, 4, 5])
      expect(progressOf(yield* store.replayAfter("s1", ids[3]!))).toEqual([5])
    }))

  it.effect("keeps at most maxStreamsPerSession streams, forgetting the least recently written", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make({ maxStreamsPerSession: 2 })
      const a = yield* store.openStream("s1")
      const b = yield* store.openStream("s1")
      // Writing to `a` makes `b` the least recently written.
      yield* store.append("s1", a.streamId, note(1))
      const c = yield* store.openStream("s1")
      expect(Option.isSome(yield* store.streamOf("s1", a.cursor))).toBe(true)
      expect(Option.isNone(yield* store.streamOf("s1", b.cursor))).toBe(true)
      expect(Option.isSome(yield* store.streamOf("s1", c.cursor))).toBe(true)
      // A forgotten stream written to again comes back without reusing an id.
      const again = yield* store.append("s1", b.streamId, note(2))
      expect(progressOf(yield* store.replayAfter("s1", b.cursor))).toEqual([2])
      expect(yield* store.streamOf("s1", again)).toEqual(Option.some(b.streamId))
    }))

  it.effect("dropSession forgets every stream, and a late write does not bring the session back", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make()
      const a = yield* store.openStream("s1")
      const kept = yield* store.openStream("s2")
      yield* store.append("s1", a.streamId, note(1))
      yield* store.append("s2", kept.streamId, note(1))
      yield* store.dropSession("s1")
      expect(yield* store.streamOf("s1", a.cursor)).toEqual(Option.none())
      expect(yield* store.replayAfter("s1", a.cursor)).toEqual([])
      yield* store.append("s1", a.streamId, note(2))
      expect(yield* store.streamOf("s1", a.cursor)).toEqual(Option.none())
      expect(yield* store.replayAfter("s1", a.cursor)).toEqual([])
      expect(progressOf(yield* store.replayAfter("s2", kept.cursor))).toEqual([1])
    }))

  it.effect("keeps at most maxBytesPerStream bytes per stream, forgetting the oldest, and never keeps an event larger", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make({ maxBytesPerStream: 100 })
      const a = yield* store.openStream("s1")
      const ids: Array<string> = []
      for (let i = 1; i <= 3; i++) ids.push(yield* store.append("s1", a.streamId, note(i), 40))
      expect(progressOf(yield* store.replayAfter("s1", a.cursor))).toEqual([2, 3])
      // Too large for the stream: it gets an id, and is not kept; what was kept stays.
      const big = yield* store.append("s1", a.streamId, note(4), 101)
      yield* store.append("s1", a.streamId, note(5), 10)
      expect(yield* store.streamOf("s1", big)).toEqual(Option.some(a.streamId))
      expect(progressOf(yield* store.replayAfter("s1", a.cursor))).toEqual([2, 3, 5])
      expect(progressOf(yield* store.replayAfter("s1", big))).toEqual([5])
      // A cursor in what was forgotten replays what is left.
      expect(progressOf(yield* store.replayAfter("s1", ids[0]!))).toEqual([2, 3, 5])
    }))

  it.effect("measures a message's JSON when not told its size", () =>
    Effect.gen(function*() {
      const size = JSON.stringify(note(1)).length
      const store = yield* EventStore.make({ maxBytesPerStream: size })
      const a = yield* store.openStream("s1")
      yield* store.append("s1", a.streamId, note(1))
      yield* store.append("s1", a.streamId, note(12))
      expect(progressOf(yield* store.replayAfter("s1", a.cursor))).toEqual([1])
    }))

  it.effect("keeps at most maxBytesPerSession, forgetting the least recently written stream's oldest first", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make({ maxBytesPerSession: 100 })
      const a = yield* store.openStream("s1")
      const b = yield* store.openStream("s1")
      yield* store.append("s1", a.streamId, note(1), 30)
      yield* store.append("s1", a.streamId, note(2), 30)
      yield* store.append("s1", b.streamId, note(10), 30)
      // `a` written last: `b` is the least recently written, and goes first, though `a` holds older events.
      yield* store.append("s1", a.streamId, note(3), 30)
      expect(progressOf(yield* store.replayAfter("s1", a.cursor))).toEqual([1, 2, 3])
      expect(yield* store.replayAfter("s1", b.cursor)).toEqual([])
      // The stream itself is still known: resuming it replays what is left, nothing.
      expect(yield* store.streamOf("s1", b.cursor)).toEqual(Option.some(b.streamId))
      yield* store.append("s1", b.streamId, note(11), 30)
      expect(progressOf(yield* store.replayAfter("s1", a.cursor))).toEqual([2, 3])
      expect(progressOf(yield* store.replayAfter("s1", b.cursor))).toEqual([11])
    }))

  it.effect("keeps at most maxBytes in the whole store, forgetting the least recently written session's first", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make({ maxBytes: 100 })
      const [s1, s2, s3] = [yield* store.openStream("s1"), yield* store.openStream("s2"), yield* store.openStream("s3")]
      yield* store.append("s1", s1.streamId, note(1), 40)
      yield* store.append("s2", s2.streamId, note(2), 40)
      yield* store.append("s1", s1.streamId, note(11), 10)
      // s2 is the least recently written session, though s1 holds the oldest event.
      yield* store.append("s3", s3.streamId, note(3), 40)
      expect(progressOf(yield* store.replayAfter("s1", s1.cursor))).toEqual([1, 11])
      expect(yield* store.replayAfter("s2", s2.cursor)).toEqual([])
      expect(progressOf(yield* store.replayAfter("s3", s3.cursor))).toEqual([3])
      yield* store.append("s2", s2.streamId, note(21), 30)
      expect(progressOf(yield* store.replayAfter("s1", s1.cursor))).toEqual([11])
      expect(progressOf(yield* store.replayAfter("s2", s2.cursor))).toEqual([21])
      expect(progressOf(yield* store.replayAfter("s3", s3.cursor))).toEqual([3])
    }))

  it.effect("gives a session's bytes back when it is dropped, and a forgotten stream's when it is forgotten", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make({ maxBytes: 100, maxStreamsPerSession: 1 })
      const gone = yield* store.openStream("gone")
      yield* store.append("gone", gone.streamId, note(1), 60)
      yield* store.dropSession("gone")
      const a = yield* store.openStream("s1")
      yield* store.append("s1", a.streamId, note(1), 60)
      // Opening a second stream forgets `a` (one stream per session), and its 60 bytes with it.
      const b = yield* store.openStream("s1")
      yield* store.append("s1", b.streamId, note(2), 60)
      const other = yield* store.openStream("s2")
      yield* store.append("s2", other.streamId, note(3), 40)
      expect(progressOf(yield* store.replayAfter("s1", b.cursor))).toEqual([2])
      expect(progressOf(yield* store.replayAfter("s2", other.cursor))).toEqual([3])
    }))

  it.effect("replays exactly the kept suffix after many evictions", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make({ maxBytesPerStream: 100, maxEventsPerStream: 10_000 })
      const a = yield* store.openStream("s1")
      const ids: Array<string> = []
      for (let i = 1; i <= 5_000; i++) ids.push(yield* store.append("s1", a.streamId, note(i), 1))
      const kept = Array.from({ length: 100 }, (_, i) => 4_901 + i)
      expect(progressOf(yield* store.replayAfter("s1", a.cursor))).toEqual(kept)
      expect(progressOf(yield* store.replayAfter("s1", ids[4_949]!))).toEqual(kept.slice(50))
      expect(yield* store.replayAfter("s1", ids[4_999]!)).toEqual([])
    }))

  it.effect("layerMemory provides the service", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const a = yield* store.openStream("s1")
      const id = yield* store.append("s1", a.streamId, note(1))
      expect((yield* store.replayAfter("s1", a.cursor)).map((e) => e.id)).toEqual([id])
    }).pipe(Effect.provide(EventStore.layerMemory({ maxEventsPerStream: 10 }))))
})
