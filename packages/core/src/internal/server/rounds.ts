/**
 * Serving a request that may come back `input_required` (2026-07-28 multi round-trip, SEP-2322): the handler
 * runs with the answers the request brings (its `inputResponses`, and those of earlier rounds sealed in its
 * `requestState`); the first ask they do not answer stops it, and the request ends with an `InputRequiredResult`.
 * The sealing and the asks themselves are `mrtr.ts`.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as JsonRpc from "../../JsonRpc.js"
import * as Mrtr from "./mrtr.js"
import type { SessionState } from "./session.js"

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Runs `run`, a handler that may ask the client, for `request`: asks the answers cover go on; the first that is
 * not covered stops the run, which ends with an `InputRequiredResult` (after letting asks made alongside it
 * register, so one round can carry several).
 * @internal
 */
export const run = (
  options: Mrtr.StateOptions,
  session: SessionState,
  request: JsonRpc.Request,
  run: Effect.Effect<unknown, JsonRpc.JsonRpcError>
): Effect.Effect<unknown, JsonRpc.JsonRpcError> =>
  Effect.gen(function*() {
    const params = isRecord(request.params) ? request.params : {}
    const target = typeof params.name === "string" ? params.name : typeof params.uri === "string" ? params.uri : ""
    // Only a state opened or sealed needs the binding: most calls do neither, and its digest is a WebCrypto round
    // trip (to the thread pool and back), so it is computed then, once.
    let bound: string | undefined
    const binding = Effect.suspend(() =>
      bound !== undefined
        ? Effect.succeed(bound)
        : Effect.tap(Mrtr.bindingOf(request.method, target, params.arguments, session.principal), (b) => {
          bound = b
        })
    )
    const now = yield* Clock.currentTimeMillis
    const token = params.requestState
    if (token !== undefined && typeof token !== "string") return yield* Effect.fail(Mrtr.invalidState)
    const prior = token === undefined ? {} : yield* Mrtr.open(options, token, yield* binding, now)
    const responses = isRecord(params.inputResponses) ? params.inputResponses : {}
    const rounds = new Mrtr.Rounds({ ...prior, ...responses })
    session.setRounds(rounds)
    const fiber = yield* Effect.fork(run)
    const outcome = yield* Effect.raceFirst(
      Effect.map(Effect.either(Fiber.join(fiber)), (done) => ({ _tag: "Done" as const, done })),
      Deferred.await(rounds.escape)
    )
    if (outcome._tag === "Done") {
      return yield* outcome.done
    }
    // Asks forked alongside the one that stopped the run get to register before it is interrupted.
    for (let i = 0; i < 3; i++) yield* Effect.yieldNow()
    yield* Fiber.interrupt(fiber)
    if (outcome._tag === "MissingCapability") {
      return yield* Effect.fail(Mrtr.missingCapability(outcome.requiredCapabilities))
    }
    const requestState = yield* Mrtr.seal(options, yield* binding, rounds.used, now)
    return { resultType: "input_required", inputRequests: { ...rounds.asked }, requestState }
  })
