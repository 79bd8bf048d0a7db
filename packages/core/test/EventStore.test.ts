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

  it.effect("layerMemory provides the service", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const a = yield* store.openStream("s1")
      const id = yield* store.append("s1", a.streamId, note(1))
      expect((yield* store.replayAfter("s1", a.cursor)).map((e) => e.id)).toEqual([id])
    }).pipe(Effect.provide(EventStore.layerMemory({ maxEventsPerStream: 10 }))))
})
