/**
 * The typed requests a server sends its client (`sampling/createMessage`, `elicitation/create`, `roots/list`):
 * the capability check, the params, and the decoding of the answer. Shared by a handler's `CurrentSession` (which
 * sends on the stream of its request) and a `Session` (which sends on the session's own stream). A server built
 * with a tracer sends each in a client span of the MCP conventions, which the request carries in `_meta` (with the
 * trace's `tracestate` and the current baggage), so the client's handler continues the trace.
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as McpSchema from "../../McpSchema.js"
import * as McpTelemetry from "../../McpTelemetry.js"
import {
  CapabilityNotDeclared,
  type ClientRequestOptions,
  ClientRequestError,
  type Elicited,
  type ElicitFields,
  type ElicitUrlOptions,
  type Sink
} from "../../McpSession.js"
import * as Telemetry from "../shared/telemetry.js"
import { requestedSchemaOf } from "./elicitation.js"
import type { Rounds } from "./mrtr.js"

/**
 * Who a typed request to the client goes through: a session (a server-to-client request, or a 2026-07-28
 * round's ask), or a task (an ask parked until `tasks/update` answers it).
 * @internal
 */
export interface Asker {
  readonly clientCapabilities: McpSchema.ClientCapabilities
  /** Whether the server traces (`McpTelemetry`), decided once when it was built. */
  readonly telemetry: boolean
  /** The asks of the 2026-07-28 request being served, when it may return an `InputRequiredResult`. */
  readonly rounds: Rounds | undefined
  readonly sendRequest: (
    deliver: Sink,
    method: string,
    params: unknown,
    timeout: Duration.DurationInput | undefined,
    inputKey?: string | undefined
  ) => Effect.Effect<unknown, ClientRequestError>
}

/** `Asker.sendRequest`, in a client span when the server traces. */
const send = (
  session: Asker,
  deliver: Sink,
  method: string,
  params: unknown,
  timeout: Duration.DurationInput | undefined,
  inputKey: string | undefined
): Effect.Effect<unknown, ClientRequestError> => {
  if (!session.telemetry) return session.sendRequest(deliver, method, params, timeout, inputKey)
  const { attributes, name } = McpTelemetry.describe(method, params)
  return Telemetry.sent(name, attributes)(
    Effect.flatMap(McpTelemetry.carry(params), (carried) => session.sendRequest(deliver, method, carried, timeout, inputKey))
  )
}

const decoding = <A>(method: string, decode: (u: unknown) => Either.Either<A, ParseResult.ParseError>) =>
(result: unknown): Effect.Effect<A, ClientRequestError> => {
  const decoded = decode(result)
  return Either.isRight(decoded) ? Effect.succeed(decoded.right) : Effect.fail(
    new ClientRequestError({
      method,
      reason: "Protocol",
      message: `The client's answer to ${method} is invalid: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`
    })
  )
}

const decodeCreateMessage = decoding("sampling/createMessage", Schema.decodeUnknownEither(McpSchema.CreateMessageResult))
const decodeElicit = decoding("elicitation/create", Schema.decodeUnknownEither(McpSchema.ElicitResult))
const decodeListRoots = decoding("roots/list", Schema.decodeUnknownEither(McpSchema.ListRootsResult))

/** @internal */
export const request = <A, I>(
  session: Asker,
  deliver: Sink,
  method: string,
  params: unknown,
  schema: Schema.Schema<A, I, never>,
  options: ClientRequestOptions | undefined
): Effect.Effect<A, ClientRequestError> =>
  Effect.flatMap(
    send(session, deliver, method, params, options?.timeout, options?.inputKey),
    decoding(method, Schema.decodeUnknownEither(schema))
  )

/** @internal */
export const createMessage = (
  session: Asker,
  deliver: Sink,
  params: McpSchema.CreateMessageParams,
  options: ClientRequestOptions | undefined
): Effect.Effect<McpSchema.CreateMessageResult, CapabilityNotDeclared | ClientRequestError> =>
  Effect.suspend((): Effect.Effect<McpSchema.CreateMessageResult, CapabilityNotDeclared | ClientRequestError> => {
    const method = "sampling/createMessage"
    const sampling = session.clientCapabilities.sampling
    if (sampling === undefined) return Effect.fail(new CapabilityNotDeclared({ method, capability: "sampling" }))
    // The spec has the client refuse these without the sub-capability; asking would only earn an error.
    if ((params.tools !== undefined || params.toolChoice !== undefined) && sampling.tools === undefined) {
      return Effect.fail(new CapabilityNotDeclared({ method, capability: "sampling.tools" }))
    }
    if (params.includeContext !== undefined && params.includeContext !== "none" && sampling.context === undefined) {
      return Effect.fail(new CapabilityNotDeclared({ method, capability: "sampling.context" }))
    }
    return Effect.flatMap(send(session, deliver, method, params, options?.timeout, options?.inputKey), decodeCreateMessage)
  })

/** Form mode is offered by `elicitation: {}` (as before modes existed) or `{ form: {} }`. */
const offersForm = (elicitation: McpSchema.ClientCapabilities["elicitation"]) =>
  elicitation !== undefined && (elicitation.form !== undefined || elicitation.url === undefined)

/** @internal */
export const elicit = <A, I extends ElicitFields>(
  session: Asker,
  deliver: Sink,
  message: string,
  schema: Schema.Schema<A, I, never>,
  options: ClientRequestOptions | undefined
): Effect.Effect<Elicited<A>, CapabilityNotDeclared | ClientRequestError> =>
  Effect.suspend((): Effect.Effect<Elicited<A>, CapabilityNotDeclared | ClientRequestError> => {
    const method = "elicitation/create"
    const elicitation = session.clientCapabilities.elicitation
    if (!offersForm(elicitation)) {
      return Effect.fail(
        new CapabilityNotDeclared({ method, capability: elicitation === undefined ? "elicitation" : "elicitation.form" })
      )
    }
    // `mode` is left out: "form" is its default, and clients of 2025-06-18 do not know the field.
    const params: McpSchema.ElicitFormParams = { message, requestedSchema: requestedSchemaOf(schema) }
    const decodeContent = decoding(method, Schema.decodeUnknownEither(schema))
    return send(session, deliver, method, params, options?.timeout, options?.inputKey).pipe(
      Effect.flatMap(decodeElicit),
      Effect.flatMap((result): Effect.Effect<Elicited<A>, ClientRequestError> =>
        result.action === "accept"
          ? Effect.map(decodeContent(result.content ?? {}), (content) => ({ action: "accept", content }))
          : Effect.succeed({ action: result.action })
      )
    )
  })

type ElicitedUrl = { readonly action: McpSchema.ElicitResult["action"]; readonly elicitationId: string }

/** @internal */
export const elicitUrl = (
  session: Asker,
  deliver: Sink,
  options: ElicitUrlOptions
): Effect.Effect<ElicitedUrl, CapabilityNotDeclared | ClientRequestError> =>
  Effect.suspend((): Effect.Effect<ElicitedUrl, CapabilityNotDeclared | ClientRequestError> => {
    const method = "elicitation/create"
    if (session.clientCapabilities.elicitation?.url === undefined) {
      return Effect.fail(new CapabilityNotDeclared({ method, capability: "elicitation.url" }))
    }
    const elicitationId = options.elicitationId ?? globalThis.crypto.randomUUID()
    const params: McpSchema.ElicitUrlParams = { mode: "url", message: options.message, url: options.url, elicitationId }
    return send(session, deliver, method, params, options.timeout, options.inputKey).pipe(
      Effect.flatMap(decodeElicit),
      Effect.map((result) => ({ action: result.action, elicitationId }))
    )
  })

/** @internal */
export const listRoots = (
  session: Asker,
  deliver: Sink,
  options: ClientRequestOptions | undefined
): Effect.Effect<ReadonlyArray<McpSchema.Root>, CapabilityNotDeclared | ClientRequestError> =>
  Effect.suspend((): Effect.Effect<ReadonlyArray<McpSchema.Root>, CapabilityNotDeclared | ClientRequestError> => {
    const method = "roots/list"
    if (session.clientCapabilities.roots === undefined) {
      return Effect.fail(new CapabilityNotDeclared({ method, capability: "roots" }))
    }
    return send(session, deliver, method, undefined, options?.timeout, options?.inputKey).pipe(
      Effect.flatMap(decodeListRoots),
      Effect.map((result) => result.roots)
    )
  })
