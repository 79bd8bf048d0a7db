/** Polling for a condition that another fiber or the server makes true (a session closing, a count settling). */
import * as Effect from "effect/Effect"

/** Polls until `condition` holds, for at most `timeoutMs`; returns how long it took. */
export const eventually = (condition: Effect.Effect<boolean>, timeoutMs = 5_000): Effect.Effect<number> =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!(yield* condition)) {
      if (Date.now() - start > timeoutMs) return yield* Effect.die(new Error(`condition not met within ${timeoutMs} ms`))
      yield* Effect.sleep("2 millis")
    }
    return Date.now() - start
  })
