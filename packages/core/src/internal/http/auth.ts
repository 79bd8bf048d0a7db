/**
 * The authorization step of the HTTP front: the protected resource metadata routes, and the check every request
 * to an MCP endpoint passes before its session is looked up or its body read.
 *
 * The check is synchronous when it can be: a token verified a moment ago is found in a small cache (until its
 * expiry, for at most `cacheTtl`), so a session's requests cost a map lookup. Otherwise the verifier runs in a
 * fiber and the exchange goes on when it is done; requests that carry the same token meanwhile wait for that one
 * verification instead of starting their own.
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import { type Exchange, header, type Route } from "../../HttpExchange.js"
import type * as JsonRpc from "../../JsonRpc.js"
import * as McpAuth from "../../McpAuth.js"
import * as Front from "./front.js"
import * as Refusal from "./refusal.js"

/** @internal */
export interface Guard {
  /** The metadata document's routes; they are public. */
  readonly routes: ReadonlyArray<Route>
  /** Checks the request's bearer token: calls `then` with what it grants, or answers the refusal. */
  readonly check: (exchange: Exchange, then: (grant: McpAuth.Grant) => void) => void
}

const DEFAULT_CACHE_TTL = Duration.minutes(1)
const DEFAULT_CACHE_SIZE = 1_000
/** A verifier that never answers must not hold requests forever. */
const VERIFY_TIMEOUT = Duration.seconds(30)

/** RFC 6750 `b64token`: what a bearer token may be made of. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/
const BEARER = /^bearer +/i

/** Characters RFC 6750 allows in a quoted `scope` or `error_description`; others are dropped. */
const quoted = (value: string): string => `"${value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "")}"`

const challenge = (params: ReadonlyArray<readonly [string, string | undefined]>): string =>
  "Bearer " +
  params.flatMap(([name, value]) => value === undefined || value === "" ? [] : [`${name}=${quoted(value)}`]).join(", ")

const causeOf = (error: McpAuth.VerifierUnavailable): ReadonlyArray<unknown> =>
  error.cause === undefined ? [] : [error.cause]

const union = (...lists: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> =>
  Array.from(new Set(lists.flat()))

/** A verified token, taken on trust until `until`. */
interface Entry {
  readonly grant: McpAuth.Grant
  /** Set when the token lacks a scope every request needs. */
  readonly lacking: Refusal.InsufficientScope | undefined
  readonly until: number
}

/** What a verification came to, for the requests waiting on it. */
type Outcome = Entry | Refusal.Unauthorized | Refusal.ServiceUnavailable

const isEntry = (outcome: Outcome): outcome is Entry => "grant" in outcome

/** The resource must be an absolute http(s) URI without a fragment (RFC 8707 section 2). */
const invalidResource = (resource: string): string | undefined => {
  let url: URL
  try {
    url = new URL(resource)
  } catch {
    return `auth.resource must be an absolute URI, got ${resource}`
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `auth.resource must be an http(s) URI, got ${resource}`
  if (resource.includes("#")) return `auth.resource must not have a fragment, got ${resource}`
  return undefined
}

// --- Refusals -----------------------------------------------------------------------------------------------------

/** The refusals of one guard: they name its metadata URL and the scopes every request needs. */
interface Refusals {
  readonly missing: Refusal.Unauthorized
  readonly invalid: (reason: string) => Refusal.Unauthorized
  readonly malformed: Refusal.Unauthorized
  readonly insufficient: (
    principal: McpAuth.Principal,
    needed: ReadonlyArray<string>,
    reason: string
  ) => Refusal.InsufficientScope
  readonly unavailable: Refusal.ServiceUnavailable
}

const makeRefusals = (metadataUrl: string, required: ReadonlyArray<string>): Refusals => {
  const requiredScope = required.length === 0 ? undefined : required.join(" ")
  const invalid = (reason: string) =>
    new Refusal.Unauthorized({
      challenge: challenge([
        ["error", "invalid_token"],
        ["error_description", reason],
        ["resource_metadata", metadataUrl],
        ["scope", requiredScope]
      ]),
      reason
    })
  return {
    // RFC 6750 section 3.1: a request without credentials gets a challenge with no error code.
    missing: new Refusal.Unauthorized({
      challenge: challenge([["resource_metadata", metadataUrl], ["scope", requiredScope]]),
      reason: "a bearer token is required"
    }),
    invalid,
    malformed: invalid("the bearer token is malformed"),
    // The challenge names the scopes the token has as well as the missing ones, so stepping up loses nothing.
    insufficient: (principal, needed, reason) =>
      new Refusal.InsufficientScope({
        challenge: challenge([
          ["error", "insufficient_scope"],
          ["scope", union(principal.scopes, required, needed).join(" ")],
          ["resource_metadata", metadataUrl],
          ["error_description", reason]
        ]),
        reason
      }),
    unavailable: new Refusal.ServiceUnavailable({ reason: "the bearer token cannot be verified now" })
  }
}

// --- Grants -------------------------------------------------------------------------------------------------------

const admitAll = () => true

/** What a verified principal is granted, and until when the guard takes it on trust. */
const makeEntries = (options: McpAuth.Options, refusals: Refusals, cacheTtl: number) => {
  const required = options.scopes ?? []
  // A Map, so a tool named like an Object.prototype member ("constructor") needs nothing by accident.
  const toolScopes = new Map(Object.entries(options.toolScopes ?? {}))
  const admitter = (principal: McpAuth.Principal) =>
  (exchange: Exchange, messages: ReadonlyArray<JsonRpc.Message>): boolean => {
    for (const message of messages) {
      if (!("method" in message) || message.method !== "tools/call" || !("id" in message)) continue
      const params = message.params
      const name = typeof params === "object" && params !== null && "name" in params ? params.name : undefined
      const needed = typeof name === "string" ? toolScopes.get(name) : undefined
      if (needed === undefined || McpAuth.hasScopes(principal, needed)) continue
      const lacking = needed.filter((scope) => !principal.scopes.includes(scope))
      const reason = `the tool ${name} needs the scope ${lacking.join(" ")}`
      Front.refuse(exchange, refusals.insufficient(principal, needed, reason))
      return false
    }
    return true
  }
  return (principal: McpAuth.Principal, now: number): Entry => {
    const lacking = required.filter((scope) => !principal.scopes.includes(scope))
    return {
      grant: { principal, admit: toolScopes.size === 0 ? admitAll : admitter(principal) },
      lacking: lacking.length === 0
        ? undefined
        : refusals.insufficient(principal, required, `the token lacks the scope ${lacking.join(" ")}`),
      until: Math.min(now + cacheTtl, principal.expiresAt ?? Infinity)
    }
  }
}

// --- Cache --------------------------------------------------------------------------------------------------------

/** Tokens verified a moment ago, at most `size` of them, each until its entry's `until`. */
const makeCache = (clock: Clock.Clock, size: number) => {
  // Insertion-ordered, so the first key is the oldest: the one to drop when full.
  const cache = new Map<string, Entry>()
  return {
    cached: (token: string): Entry | undefined => {
      const entry = cache.get(token)
      if (entry === undefined) return undefined
      if (clock.unsafeCurrentTimeMillis() < entry.until) return entry
      cache.delete(token)
      return undefined
    },
    remember: (token: string, entry: Entry, now: number): void => {
      if (size === 0 || entry.until <= now) return
      if (cache.size >= size) {
        const oldest = cache.keys().next()
        if (oldest.done !== true) cache.delete(oldest.value)
      }
      cache.set(token, entry)
    }
  }
}

// --- Verification -------------------------------------------------------------------------------------------------

/** What verifying a token needs: the verifier, where its fibers run, and what its outcomes become. */
interface VerifyContext {
  readonly verifier: McpAuth.TokenVerifierService
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => unknown
  readonly clock: Clock.Clock
  readonly refusals: Refusals
  readonly entryOf: (principal: McpAuth.Principal, now: number) => Entry
  readonly remember: (token: string, entry: Entry, now: number) => void
}

/** Verifies a token in a fiber, once for every request that carries it meanwhile, and calls each back. */
const makeVerify = (ctx: VerifyContext) => {
  const { clock, refusals } = ctx
  const pending = new Map<string, Array<(outcome: Outcome) => void>>()
  const outcomeOf = (exit: Exit.Exit<McpAuth.Principal, McpAuth.InvalidToken | McpAuth.VerifierUnavailable>) =>
    Effect.suspend((): Effect.Effect<Outcome> => {
      if (Exit.isSuccess(exit)) {
        const now = clock.unsafeCurrentTimeMillis()
        return Effect.succeed(ctx.entryOf(exit.value, now))
      }
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) {
        const error = failure.value
        return error._tag === "InvalidToken"
          ? Effect.as(Effect.logDebug("bearer token refused", error.reason), refusals.invalid(error.reason))
          : Effect.as(
            Effect.logWarning("bearer token could not be verified", error.reason, ...causeOf(error)),
            refusals.unavailable
          )
      }
      // Interrupted: the server is shutting down, nothing to report.
      if (Cause.isInterruptedOnly(exit.cause)) return Effect.succeed(refusals.unavailable)
      return Effect.as(Effect.logError("the token verifier failed", exit.cause), refusals.unavailable)
    })
  return (token: string, then: (outcome: Outcome) => void): void => {
    const waiting = pending.get(token)
    if (waiting !== undefined) return void waiting.push(then)
    pending.set(token, [then])
    ctx.runFork(
      ctx.verifier.verify(token).pipe(
        Effect.timeoutFail({
          duration: VERIFY_TIMEOUT,
          onTimeout: () => new McpAuth.VerifierUnavailable({ reason: "the verifier did not answer in time" })
        }),
        Effect.exit,
        Effect.flatMap(outcomeOf),
        Effect.flatMap((outcome) =>
          Effect.sync(() => {
            if (isEntry(outcome)) ctx.remember(token, outcome, clock.unsafeCurrentTimeMillis())
            const callbacks = pending.get(token) ?? []
            pending.delete(token)
            for (const callback of callbacks) callback(outcome)
          })
        )
      )
    )
  }
}

// --- Metadata -----------------------------------------------------------------------------------------------------

/** The protected resource metadata document's routes. */
const metadataRoutes = (options: McpAuth.Options): ReadonlyArray<Route> => {
  const document = JSON.stringify(McpAuth.protectedResourceMetadata(options))
  const serveMetadata = (exchange: Exchange) => exchange.respond(200, { "content-type": "application/json" }, document)
  // The document lives at the resource's well-known URL; for a resource with a path, also at the root, where
  // clients look when the path-suffixed one is missing.
  const resourcePath = new URL(options.resource).pathname.replace(/\/$/, "")
  const paths = new Set<`/${string}`>([McpAuth.WELL_KNOWN_PATH, `${McpAuth.WELL_KNOWN_PATH}${resourcePath}`])
  return Array.from(paths, (path) => ({ path, methods: { GET: serveMetadata } }))
}

/**
 * Builds the guard. The verifier is `options.verifier`, else the `TokenVerifier` in context; a server configured
 * for authorization without one does not start.
 * @internal
 */
export const make = Effect.fnUntraced(function*(options: McpAuth.Options) {
  const verifier = options.verifier ?? Option.getOrUndefined(yield* Effect.serviceOption(McpAuth.TokenVerifier))
  if (verifier === undefined) {
    return yield* Effect.dieMessage(
      "auth is configured but there is no token verifier: provide McpAuth.TokenVerifier (JwtVerifier.layer, for one) or set auth.verifier"
    )
  }
  const problem = invalidResource(options.resource)
  if (problem !== undefined) return yield* Effect.dieMessage(problem)
  if (options.authorizationServers.length === 0) {
    return yield* Effect.dieMessage("auth.authorizationServers must name at least one authorization server")
  }
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const clock = yield* Effect.clock
  const cacheTtl = Duration.toMillis(Duration.decode(options.cacheTtl ?? DEFAULT_CACHE_TTL))
  const refusals = makeRefusals(McpAuth.resourceMetadataUrl(options.resource), options.scopes ?? [])
  const entryOf = makeEntries(options, refusals, cacheTtl)
  const { cached, remember } = makeCache(clock, Math.max(0, options.cacheSize ?? DEFAULT_CACHE_SIZE))
  const verify = makeVerify({ verifier, runFork, clock, refusals, entryOf, remember })

  const proceed = (exchange: Exchange, entry: Entry, then: (grant: McpAuth.Grant) => void): void =>
    entry.lacking === undefined ? then(entry.grant) : Front.refuse(exchange, entry.lacking)

  const check = (exchange: Exchange, then: (grant: McpAuth.Grant) => void): void => {
    const authorization = header(exchange.headers, "authorization")
    // Another scheme is no credential for this one (RFC 6750 section 3.1).
    if (authorization === undefined || !BEARER.test(authorization)) return Front.refuse(exchange, refusals.missing)
    const token = authorization.replace(BEARER, "").trim()
    if (!TOKEN.test(token)) return Front.refuse(exchange, refusals.malformed)
    const entry = cached(token)
    if (entry !== undefined) return proceed(exchange, entry, then)
    verify(token, (outcome) => isEntry(outcome) ? proceed(exchange, outcome, then) : Front.refuse(exchange, outcome))
  }

  const guard: Guard = { routes: metadataRoutes(options), check }
  return guard
})
