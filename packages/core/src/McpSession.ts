/**
 * What a session is to the code around it.
 *
 * - `Session` is the view transports and tests get: read-only facts (id, negotiated revision, client) and intent
 *   methods (`offer` a message from the client, `send` one to it, `setWriter`, `hold`, `close`). What changes a
 *   session lives in one internal place; nothing outside can write its fields.
 * - `CurrentSession` is the view a tool, resource or prompt handler gets: who called, and how to talk back about
 *   the request it serves (notifications, logging, progress).
 * - Both send requests to the client (`ClientRequests`: sampling, elicitation, roots): a handler's travel with
 *   the request it serves, a `Session`'s on the session's own stream. Each waits for its answer, at most a timeout,
 *   and is cancelled on the client when it is interrupted; the session closing fails those still waiting.
 *
 * Sessions are made only by `SessionRegistry`, which ties each to a `Scope`: everything a session owns (handler
 * fibers, what its transport attached) is released by that scope's finalizers.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as JsonRpc from "./JsonRpc.js"
import type { Principal } from "./McpAuth.js"
import type * as McpSchema from "./McpSchema.js"

/** A session id: at least 122 random bits, visible ASCII. @since 0.1.0 */
export type SessionId = string

const HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/**
 * Random bytes drawn from the platform's cryptographic source 256 ids at a time: one draw per id cost more than
 * the rest of minting it (a 2026-07-28 request is served in a session of its own, so that is once per request).
 * Each byte is used once.
 */
const POOL_BYTES = 4096
let pool = new Uint8Array(0)
let taken = 0

/**
 * Mints a session id from 128 bits of the platform's cryptographic random source, as 32 hex characters.
 *
 * @since 0.1.0
 */
export const makeSessionId = (): SessionId => {
  if (taken + 16 > pool.length) {
    pool = globalThis.crypto.getRandomValues(new Uint8Array(POOL_BYTES))
    taken = 0
  }
  let id = ""
  for (let i = taken; i < taken + 16; i++) id += HEX[pool[i]!]
  taken += 16
  return id
}

const VALID_ID = /^[\x21-\x7e]{1,256}$/

/** Session ids are checked before lookup, so garbage never reaches the registry. @since 0.1.0 */
export const isValidSessionId = (id: string): boolean => VALID_ID.test(id)

/**
 * Where messages for the client go: a stream, a pending HTTP response, stdout. Returns false when that place is
 * gone (or refuses the message), so the caller knows it was not delivered.
 *
 * @since 0.1.0
 */
export type Sink = (message: JsonRpc.Message) => boolean

/** A sink that delivers nothing. @since 0.1.0 */
export const noSink: Sink = () => false

/**
 * Lifecycle of the MCP handshake within a session.
 *
 * @since 0.1.0
 */
export type Phase = "awaiting-initialize" | "initialized"

// --- Requests to the client ---------------------------------------------------------------------------------------

/**
 * The client did not declare the capability a request needs (`sampling`, `elicitation` with the mode asked for,
 * `roots`), so the request was not sent: the spec forbids it.
 *
 * @since 0.1.0
 */
export class CapabilityNotDeclared extends Data.TaggedError("CapabilityNotDeclared")<{
  readonly method: string
  /** The capability missing, as a path: "sampling", "sampling.tools", "elicitation.url", "roots". */
  readonly capability: string
}> {
  override get message(): string {
    return `The client did not declare the capability ${this.capability}, which ${this.method} needs`
  }
}

/**
 * A request to the client got no usable answer:
 *
 * - `RpcError`: the client answered with a JSON-RPC error (`code`, `data`), e.g. the user refused;
 * - `Timeout`: no answer in time; the request was cancelled (`notifications/cancelled`);
 * - `Closed`: the session closed before the answer, or there was no way to send the request (no open stream);
 * - `Protocol`: the answer does not match the method's result schema (or, for `elicit`, the form's schema);
 * - `TooMany`: the session already has its limit of requests to the client awaiting an answer; nothing was sent.
 *
 * @since 0.1.0
 */
export class ClientRequestError extends Data.TaggedError("ClientRequestError")<{
  readonly method: string
  readonly reason: "RpcError" | "Timeout" | "Closed" | "Protocol" | "TooMany"
  readonly message: string
  readonly code?: number | undefined
  readonly data?: unknown
}> {}

/** Why a typed request to the client (`createMessage`, `elicit`, `listRoots`) failed. @since 0.1.0 */
export type RequestError = CapabilityNotDeclared | ClientRequestError

/** Options of one request to the client. @since 0.1.0 */
export interface ClientRequestOptions {
  /**
   * How long to wait for the answer before cancelling the request and failing with `Timeout`. Default the server's
   * `clientRequestTimeout` (60 seconds).
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * At 2026-07-28 the ask goes back to the client inside an `InputRequiredResult` (multi round-trip requests),
   * under this key of `inputRequests`, and its answer comes back under the same key of `inputResponses`. Default
   * `<kind>-<n>` (`elicit-0`, `sample-1`, `roots-2`...) by the order of the asks, so a handler that asks the same
   * things in the same order finds its answers on the retry. Ignored in the session era.
   */
  readonly inputKey?: string | undefined
}

/** What an elicitation form's fields may be, on the wire: the encoded side of the schema given to `elicit`. @since 0.1.0 */
export type ElicitFields = {
  readonly [field: string]: string | number | boolean | ReadonlyArray<string> | undefined
}

/** The user's answer to a form: the decoded fields when accepted. @since 0.1.0 */
export type Elicited<A> =
  | { readonly action: "accept"; readonly content: A }
  | { readonly action: "decline" }
  | { readonly action: "cancel" }

/** A URL-mode elicitation (2025-11-25). @since 0.1.0 */
export interface ElicitUrlOptions extends ClientRequestOptions {
  /** Why the user should go there. */
  readonly message: string
  readonly url: string
  /** Names the elicitation in `notifications/elicitation/complete`; a random one by default. */
  readonly elicitationId?: string | undefined
}

/**
 * Requests the server sends the client, from a handler (on the stream of the request being handled) or from a
 * `Session` (on the session's own stream). Each waits for the answer (at most the timeout), and interrupting it
 * cancels it on the client (`notifications/cancelled`).
 *
 * @since 0.1.0
 */
export interface ClientRequests {
  /** Sends any request and decodes its result with `schema`; no capability is checked. */
  request<A, I>(
    method: string,
    params: unknown,
    schema: Schema.Schema<A, I, never>,
    options?: ClientRequestOptions
  ): Effect.Effect<A, ClientRequestError>
  /** `sampling/createMessage`: asks the client's model for a message. Needs `sampling` (`sampling.tools` with tools). */
  createMessage(
    params: McpSchema.CreateMessageParams,
    options?: ClientRequestOptions
  ): Effect.Effect<McpSchema.CreateMessageResult, RequestError>
  /**
   * `elicitation/create` in form mode: asks the user to fill a form whose fields are `schema`'s, a struct of
   * strings, numbers, integers, booleans and string enums (single, or an array for several), with the fields'
   * `title`, `description` and `default` annotations (and `optionalWith` defaults). A union of titled literals is
   * a titled choice (`oneOf`, or `items.anyOf` in an array); a literal enum annotated with
   * `jsonSchema: { enumNames }` keeps those legacy labels. An accepted answer is decoded with `schema`. Needs
   * `elicitation` (form mode).
   */
  elicit<A, I extends ElicitFields>(
    message: string,
    schema: Schema.Schema<A, I, never>,
    options?: ClientRequestOptions
  ): Effect.Effect<Elicited<A>, RequestError>
  /**
   * `elicitation/create` in URL mode: asks the user to visit a URL (a sign-in, a payment) and returns whether they
   * agreed, with the elicitation's id. Needs `elicitation.url`.
   */
  elicitUrl(
    options: ElicitUrlOptions
  ): Effect.Effect<{ readonly action: McpSchema.ElicitResult["action"]; readonly elicitationId: string }, RequestError>
  /** `roots/list`: the directories and files the client lets the server work on. Needs `roots`. */
  listRoots(options?: ClientRequestOptions): Effect.Effect<ReadonlyArray<McpSchema.Root>, RequestError>
}

/**
 * One connected client, as transports see it. Its `ClientRequests` go out on the session's own stream (the legacy
 * SSE stream, the Streamable HTTP GET stream, stdout): for requests that belong to no request of the client.
 *
 * @since 0.1.0
 */
export interface Session extends ClientRequests {
  readonly id: SessionId
  /** The transport that opened it ("sse", "streamable-http", "stdio", "memory"...). */
  readonly transport: string
  /** The negotiated revision; the transport's default until `initialize` says otherwise. */
  readonly protocolVersion: string
  readonly phase: Phase
  /** The client's `clientInfo` from `initialize`. */
  readonly clientInfo: McpSchema.Implementation | undefined
  readonly clientCapabilities: McpSchema.ClientCapabilities
  /** Minimum level of `notifications/message` the client asked for; undefined sends everything. */
  readonly logLevel: McpSchema.LoggingLevel | undefined
  /** False once the session has begun to close; a closed session accepts nothing. */
  readonly isOpen: boolean
  /** Requests of the client being handled now. */
  readonly inFlight: number
  /** Requests being handled plus open streams: idle expiry only counts time while this is zero. */
  readonly busy: number
  /** When the session last became idle or saw activity, on the registry's clock. */
  readonly lastActive: number
  /**
   * Who opened the session, when the transport authorizes requests: that principal as its latest request
   * presented it (a newer token of the same party, perhaps with more scopes). Undefined without authorization.
   */
  readonly principal: Principal | undefined
  /**
   * Whether a request from `principal` may use this session: true when it is the party that opened it (the same
   * subject of the same issuer), whose token then becomes the session's `principal`, or when neither has one.
   * Transports answer false like an unknown id (404), so ids cannot be probed.
   */
  readonly authorize: (principal: Principal | undefined) => boolean
  /** The resource URIs the client subscribed to (`resources/subscribe`); empty once the session is closed. */
  readonly subscriptions: ReadonlySet<string>
  /** What the session owns: transports attach their resources here. It closes when the session ends. */
  readonly scope: Scope.Scope
  /**
   * Hands one message from the client to the session. A request runs in a fiber the session owns (closing the
   * session interrupts it; the client going away does not), and `reply` gets its response and every message
   * the handler sends about it. Notifications and responses are handled at once. Synchronous, so "is the
   * session open?" and "the message is owned by it" cannot be separated by a close: false means it was closed
   * and nothing was taken. `settled`, for a request, is called once its handling has ended, answered or not
   * (cancelled, or the session closed). `size` is what the request weighs on the wire (its share of the body),
   * counted against the server's and the client's budget of work in flight while it runs: past either budget it
   * is answered at once with an error, and nothing runs.
   */
  readonly offer: (message: JsonRpc.Message, reply: Sink, settled?: () => void, size?: number) => boolean
  /** Sends a message the server starts (not about any request) to where `setWriter` said; false if nowhere. */
  readonly send: (message: JsonRpc.Message) => boolean
  /** Sets where the messages the server starts go: the legacy stream, the standalone GET stream, stdout. */
  readonly setWriter: (writer: Sink) => void
  /** Holds the session busy (an open stream) until the returned function is called. */
  readonly hold: () => () => void
  /** Records activity without holding the session busy. */
  readonly touch: () => void
  /**
   * Lets the session finish what it took before it ends: new requests are answered with an error at once, those
   * in flight get up to `timeout`, and any still running then are stopped and answered with an error. The
   * session stays open (its streams carry the answers). Returns how many had to be stopped.
   */
  readonly drain: (timeout: Duration.DurationInput) => Effect.Effect<number>
  /** Ends the session: every way a session ends goes through its scope, and this closes it. */
  readonly close: Effect.Effect<void>
  /**
   * `close` from outside a fiber, for a transport whose client has just gone: the session refuses everything
   * from this call on, and its scope closes in the background. Synchronous, so a busy scheduler cannot leave a
   * window in which the session still takes messages its client will never see.
   */
  readonly end: () => void
  /** Waits until the session has begun to close. */
  readonly closed: Effect.Effect<void>
}

/**
 * What a handler sees of the session and the request it serves. Its `ClientRequests` travel with the request
 * being handled (on its response stream), as the spec asks.
 *
 * @since 0.1.0
 */
export interface CurrentSessionService extends ClientRequests {
  /** The session id (empty for a stateless request). */
  readonly sessionId: SessionId
  /** The negotiated protocol revision. */
  readonly protocolVersion: string
  /** The client's `clientInfo` from `initialize`. */
  readonly clientInfo: McpSchema.Implementation | undefined
  readonly clientCapabilities: McpSchema.ClientCapabilities
  /** The caller, when the transport authorizes requests (see `McpAuth`): subject, scopes, token claims. */
  readonly principal: Principal | undefined
  /** The id of the request being handled. */
  readonly requestId: JsonRpc.RequestId
  /** Sends a notification to the client, on the stream of the current request when it has one. */
  readonly notify: (method: string, params?: unknown) => Effect.Effect<void>
  /** Sends `notifications/message`, honouring the client's `logging/setLevel`. */
  readonly log: (level: McpSchema.LoggingLevel, data: unknown, logger?: string) => Effect.Effect<void>
  /** Sends `notifications/progress` when the request carried a progress token; otherwise does nothing. */
  readonly progress: (progress: number, total?: number, message?: string) => Effect.Effect<void>
}

/**
 * The session and request a handler serves. Provided by the server around every handler call, so a handler
 * that uses it does not add it to its layer's requirements.
 *
 * @since 0.1.0
 */
export class CurrentSession extends Context.Tag("@effect-mcp/core/CurrentSession")<
  CurrentSession,
  CurrentSessionService
>() {}
