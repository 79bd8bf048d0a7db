/**
 * The multi round-trip requests of 2026-07-28: a `tools/call`, `prompts/get` or `resources/read` may come back
 * `input_required`, its asks answered with the client's handlers and the request sent again with the answers,
 * round after round, until it completes. Kept apart from correlation (one request, one answer) and from the
 * typed calls (which see only the complete result).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { McpClientError } from "../../McpClientError.js"
import * as McpMethod from "../../McpMethod.js"
import { decoder } from "./decode.js"
import * as Handlers from "./handlers.js"

/** An `input_required` result (2026-07-28 multi round-trip requests). */
const InputRequiredResult = Schema.Struct({
  inputRequests: Schema.optional(Schema.Record({
    key: Schema.String,
    value: Schema.Struct({ method: Schema.String, params: Schema.optional(Schema.Unknown) })
  })),
  requestState: Schema.optional(Schema.String)
})
const decodeInputRequired = decoder(InputRequiredResult)

const resultTypeOf = (result: unknown): unknown =>
  typeof result === "object" && result !== null && "resultType" in result ? result.resultType : undefined

/** What the rounds need. @internal */
export interface Inputs {
  /** One request, with recovery, to its raw result. */
  readonly call: (method: string, params: unknown) => Effect.Effect<unknown, McpClientError>
  readonly handlers: Handlers.Handlers
  readonly maxInputRounds: number
}

/**
 * One request to its complete result: a result whose `resultType` is unknown is a `Protocol` error (none at
 * all is complete, as from a server with sessions); `input_required` is answered with the handlers and the
 * request retried under a new id with `inputResponses` and the `requestState` as it came.
 * @internal
 */
export const complete = (inputs: Inputs, method: string, params: unknown): Effect.Effect<unknown, McpClientError> =>
  Effect.gen(function*() {
    const { maxInputRounds } = inputs
    let extra: { readonly [key: string]: unknown } = {}
    for (let round = 0;; round++) {
      const base = typeof params === "object" && params !== null ? params : {}
      const result = yield* inputs.call(method, round === 0 ? params : { ...base, ...extra })
      const resultType = resultTypeOf(result)
      if (resultType === undefined || resultType === "complete") return result
      // The caller follows the task (the server may make it one after rounds of input, when it escalates).
      if (resultType === "task" && method === "tools/call" && inputs.handlers.tasksDeclared) return result
      if (resultType !== "input_required" || !McpMethod.carriers.has(method)) {
        return yield* new McpClientError({
          reason: "Protocol",
          message: `The server answered ${method} with resultType ${JSON.stringify(resultType)}`
        })
      }
      if (round >= maxInputRounds) {
        return yield* Handlers.inputError(
          `The server still asked for input after ${maxInputRounds} rounds of ${method}`,
          method
        )
      }
      const asked = yield* decodeInputRequired(method)(result)
      const responses = yield* Handlers.answerInputs(inputs.handlers, Object.entries(asked.inputRequests ?? {}))
      extra = {
        ...(asked.inputRequests === undefined ? {} : { inputResponses: responses }),
        ...(asked.requestState === undefined ? {} : { requestState: asked.requestState })
      }
    }
  })
