/**
 * Multi round-trip requests (2026-07-28, SEP-2322). A handler asks the client through `CurrentSession` as in the
 * session era; at 2026-07-28 there is no channel for a server-to-client request, so an ask the request's
 * `inputResponses` does not answer stops the handler, and the request ends with an `InputRequiredResult` naming
 * what it needs. The client retries with the answers, and the handler runs again from the start, finding them
 * under the same keys (by call order, or the key the handler chose).
 *
 * Answers of earlier rounds travel in `requestState`, sealed (AES-256-GCM, compact JWE `dir`) so the client can
 * neither read nor forge them, bound to the request (method, name or URI, a digest of the arguments, the
 * principal) and expiring: any other state is refused with -32602.
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as JsonRpc from "../../JsonRpc.js"
import type { Principal } from "../../McpAuth.js"
import * as McpMethod from "../../McpMethod.js"
import { SessionlessCode } from "../http/refusal.js"

// jose is some fifty modules: loaded on the first state sealed or opened, not by every server at start-up.
let joseModule: Promise<typeof import("jose")> | undefined
const jose = () => (joseModule ??= import("jose"))

/** One ask sent back to the client: a JSON-RPC method and its params. @internal */
export interface InputRequest {
  readonly method: string
  readonly params: unknown
}

/** Why a handler was stopped before its answer. @internal */
export type Escape =
  | { readonly _tag: "InputRequired" }
  | { readonly _tag: "MissingCapability"; readonly requiredCapabilities: { readonly [key: string]: unknown } }


/** A capability path ("sampling.tools") as a `ClientCapabilities` object (`{ sampling: { tools: {} } }`). */
const capabilityObject = (path: string): { readonly [key: string]: unknown } =>
  path.split(".").reduceRight<{ readonly [key: string]: unknown }>((inner, key) => ({ [key]: inner }), {})

/**
 * The asks of one run of a handler: answered from `answers`, or recorded and the run stopped.
 * @internal
 */
export class Rounds {
  private count = 0
  /** The asks this run could not answer, by key. */
  readonly asked: { [key: string]: InputRequest } = {}
  /** The answers this run used, by key: what the next round's state carries. */
  readonly used: { [key: string]: unknown } = {}
  /** Completed when the run must stop. */
  readonly escape = Deferred.unsafeMake<Escape>(FiberId.none)

  constructor(private readonly answers: { readonly [key: string]: unknown }) {}

  /** The answer to this ask, or (the run stops here) none: the ask is recorded for the client. */
  ask(method: string, params: unknown, key: string | undefined): Effect.Effect<unknown> {
    return Effect.suspend(() => {
      const name = key ?? `${McpMethod.inputKinds.get(method) ?? "input"}-${this.count}`
      this.count++
      const answer = Object.prototype.hasOwnProperty.call(this.answers, name) ? this.answers[name] : undefined
      // Every answer is a result object; anything else is no answer, and is asked for again.
      if (typeof answer === "object" && answer !== null && !Array.isArray(answer)) {
        this.used[name] = answer
        return Effect.succeed(answer)
      }
      this.asked[name] = { method, params: params ?? {} }
      Deferred.unsafeDone(this.escape, Exit.succeed({ _tag: "InputRequired" }))
      return Effect.never
    })
  }

  /** The request did not declare a capability an ask needs: the run stops and the request fails with -32021. */
  missing(capability: string): Effect.Effect<never> {
    return Effect.suspend(() => {
      Deferred.unsafeDone(
        this.escape,
        Exit.succeed({ _tag: "MissingCapability", requiredCapabilities: capabilityObject(capability) })
      )
      return Effect.never
    })
  }
}

/** -32021 with the capability the request should have declared. @internal */
export const missingCapability = (requiredCapabilities: { readonly [key: string]: unknown }) =>
  new JsonRpc.JsonRpcError({
    code: SessionlessCode.MissingRequiredClientCapability,
    message: "Missing required client capability",
    data: { requiredCapabilities }
  })

// --- requestState ---------------------------------------------------------------------------------------------

/** How `requestState` is sealed. @internal */
export interface StateOptions {
  /** 32 bytes; instances that share it accept each other's state. */
  readonly key: Uint8Array
  /** How long a state is accepted, in milliseconds. */
  readonly ttlMs: number
}

/** The one answer to any state that fails verification: it says nothing about why. @internal */
export const invalidState = JsonRpc.invalidParams("Invalid or expired requestState")

/**
 * A JSON text with object keys sorted, so equal arguments digest the same. Recursive, which is safe because a
 * client's arguments reach it only through `Session.offer`, which refuses values nesting past
 * `ClientInput.MAX_DEPTH`.
 */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

const toHex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("")

/**
 * What a state is bound to: the method, its name or URI, a SHA-256 digest of its arguments, and the principal.
 * @internal
 */
export const bindingOf = (
  method: string,
  target: string,
  args: unknown,
  principal: Principal | undefined
): Effect.Effect<string> =>
  Effect.map(
    Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical(args ?? {})))),
    (digest) => canonical([method, target, toHex(digest), principal?.issuer ?? null, principal?.subject ?? null])
  )

interface Payload {
  readonly b: string
  readonly exp: number
  readonly a: { readonly [key: string]: unknown }
}

const isPayload = (u: unknown): u is Payload =>
  typeof u === "object" && u !== null && "b" in u && typeof u.b === "string" && "exp" in u &&
  typeof u.exp === "number" && "a" in u && typeof u.a === "object" && u.a !== null && !Array.isArray(u.a)

/** Seals the answers so far for the next round. @internal */
export const seal = (
  options: StateOptions,
  binding: string,
  answers: { readonly [key: string]: unknown },
  now: number
): Effect.Effect<string> => {
  const payload: Payload = { b: binding, exp: now + options.ttlMs, a: answers }
  return Effect.promise(() =>
    jose().then(({ CompactEncrypt }) =>
      new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
        .encrypt(options.key)
    )
  )
}

/** Opens a state the client echoed: its answers, or -32602 when it was tampered with, is foreign or expired. @internal */
export const open = (
  options: StateOptions,
  token: string,
  binding: string,
  now: number
): Effect.Effect<{ readonly [key: string]: unknown }, JsonRpc.JsonRpcError> =>
  Effect.tryPromise({
    try: () => jose().then(({ compactDecrypt }) => compactDecrypt(token, options.key)),
    catch: () => invalidState
  }).pipe(
    Effect.flatMap(({ plaintext }) => {
      let payload: unknown
      try {
        payload = JSON.parse(new TextDecoder().decode(plaintext))
      } catch {
        return Effect.fail(invalidState)
      }
      return isPayload(payload) && payload.b === binding && payload.exp > now
        ? Effect.succeed(payload.a)
        : Effect.fail(invalidState)
    })
  )

/** A fresh random key, for a server not given one. @internal */
export const randomKey = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32))
