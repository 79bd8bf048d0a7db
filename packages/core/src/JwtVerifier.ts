/**
 * A `McpAuth.TokenVerifier` for JWT access tokens, on `jose`: the signature is checked against a JSON Web Key Set
 * (an authorization server's `jwks_uri`, fetched and cached, or keys given here), then the issuer, the audience
 * (this server's resource URI, RFC 8707), the expiry (required) and not-before.
 *
 * ```ts
 * JwtVerifier.layer({
 *   jwksUrl: "https://auth.example.com/.well-known/jwks.json",
 *   issuer: "https://auth.example.com",
 *   audience: "https://mcp.example.com/mcp"
 * })
 * ```
 *
 * The principal is the token's `sub`, its scopes the space-separated `scope` claim (RFC 9068), or `scp` as some
 * servers send it, and its client the `client_id` (or `azp`) claim.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWSAlgorithm,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify
} from "jose"
import * as McpAuth from "./McpAuth.js"

/** @since 0.1.0 */
export interface CommonOptions {
  /** The accepted issuers (`iss`). */
  readonly issuer: string | ReadonlyArray<string>
  /** The accepted audiences (`aud`): this server's resource URI, `McpAuth.Options.resource`. */
  readonly audience: string | ReadonlyArray<string>
  /** The accepted signature algorithms. Default: every asymmetric algorithm the key allows. */
  readonly algorithms?: ReadonlyArray<JWSAlgorithm> | undefined
  /** How far clocks may disagree when `exp` and `nbf` are checked. Default none. */
  readonly clockTolerance?: Duration.DurationInput | undefined
  /** The required `typ` header, e.g. `"at+jwt"` for RFC 9068 access tokens. Default: not checked. */
  readonly typ?: string | undefined
}

/** Keys from an authorization server's JWKS endpoint. @since 0.1.0 */
export interface RemoteOptions extends CommonOptions {
  /** The key set's URL (the authorization server metadata's `jwks_uri`). */
  readonly jwksUrl: string | URL
  readonly jwks?: never
  /** How long fetched keys are used before the set is fetched again. Default 10 minutes. */
  readonly cacheMaxAge?: Duration.DurationInput | undefined
  /**
   * How long after a fetch a token signed with an unknown key may trigger another (keys rotate; garbage key ids
   * must not make the server hammer the endpoint). Default 30 seconds.
   */
  readonly cooldown?: Duration.DurationInput | undefined
  /** How long a fetch may take. Default 5 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** Keys given here. @since 0.1.0 */
export interface LocalOptions extends CommonOptions {
  /** The public keys, as a JSON Web Key Set. */
  readonly jwks: JSONWebKeySet
  readonly jwksUrl?: never
}

/** @since 0.1.0 */
export type Options = RemoteOptions | LocalOptions

const millis = (duration: Duration.DurationInput): number => Duration.toMillis(Duration.decode(duration))

const keysOf = (options: Options): JWTVerifyGetKey => {
  if (options.jwks !== undefined) return createLocalJWKSet(options.jwks)
  return createRemoteJWKSet(new URL(options.jwksUrl), {
    ...(options.cacheMaxAge === undefined ? {} : { cacheMaxAge: millis(options.cacheMaxAge) }),
    ...(options.cooldown === undefined ? {} : { cooldownDuration: millis(options.cooldown) }),
    ...(options.timeout === undefined ? {} : { timeoutDuration: Math.round(millis(options.timeout)) })
  })
}

const CLAIM_REASONS: { readonly [claim: string]: string } = {
  aud: "the token is not for this resource",
  iss: "the token is from another issuer",
  nbf: "the token is not valid yet",
  typ: "the token is not an access token"
}

/**
 * What a `jose` failure means for the client: its token is bad (401), or the keys could not be had (503). Only
 * the key set's own failures are the server's: a timeout, a non-200 answer or garbage (`ERR_JOSE_GENERIC`), a
 * network error (not a JOSE error at all).
 */
const classify = (error: unknown): McpAuth.InvalidToken | McpAuth.VerifierUnavailable => {
  if (!(error instanceof errors.JOSEError)) {
    return new McpAuth.VerifierUnavailable({ reason: "the key set could not be fetched", cause: error })
  }
  if (error instanceof errors.JWTExpired) return new McpAuth.InvalidToken({ reason: "the token has expired" })
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new McpAuth.InvalidToken({ reason: CLAIM_REASONS[error.claim] ?? `the token's ${error.claim} claim is invalid` })
  }
  switch (error.code) {
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return new McpAuth.InvalidToken({ reason: "the token's signature is invalid" })
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return new McpAuth.InvalidToken({ reason: "the token is signed with an unknown key" })
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return new McpAuth.InvalidToken({ reason: "the token's algorithm is not accepted" })
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
    case "ERR_JOSE_GENERIC":
      return new McpAuth.VerifierUnavailable({ reason: "the key set could not be fetched", cause: error })
    default:
      return new McpAuth.InvalidToken({ reason: "the token is malformed" })
  }
}

const stringClaim = (payload: JWTPayload, claim: string): string | undefined => {
  const value = payload[claim]
  return typeof value === "string" ? value : undefined
}

/** `scope` is a space-separated string (RFC 9068, RFC 8693); some servers send `scp`, as a list or a string. */
const scopesOf = (payload: JWTPayload): ReadonlyArray<string> => {
  const value = payload["scope"] ?? payload["scp"]
  if (typeof value === "string") return value.split(" ").filter((scope) => scope !== "")
  if (Array.isArray(value)) return value.filter((scope): scope is string => typeof scope === "string")
  return []
}

/**
 * The principal a verified payload speaks for; a token without a subject speaks for no one.
 *
 * @since 0.1.0
 */
export const principalOf = (payload: JWTPayload): McpAuth.Principal | McpAuth.InvalidToken => {
  if (payload.sub === undefined || payload.sub === "") return new McpAuth.InvalidToken({ reason: "the token has no subject" })
  return {
    subject: payload.sub,
    issuer: payload.iss,
    scopes: scopesOf(payload),
    clientId: stringClaim(payload, "client_id") ?? stringClaim(payload, "azp"),
    expiresAt: payload.exp === undefined ? undefined : payload.exp * 1000,
    claims: payload
  }
}

/**
 * Builds the verifier. Times are read from the Effect `Clock`, so tests can move it.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<McpAuth.TokenVerifierService> =>
  Effect.map(Effect.clock, (clock) => {
    const keys = keysOf(options)
    const issuer = typeof options.issuer === "string" ? options.issuer : [...options.issuer]
    const audience = typeof options.audience === "string" ? options.audience : [...options.audience]
    const algorithms = options.algorithms === undefined ? undefined : [...options.algorithms]
    const clockTolerance = options.clockTolerance === undefined
      ? undefined
      : Duration.toSeconds(Duration.decode(options.clockTolerance))
    return McpAuth.TokenVerifier.of({
      verify: (token) =>
        Effect.tryPromise({
          try: () =>
            jwtVerify(token, keys, {
              issuer,
              audience,
              currentDate: new Date(clock.unsafeCurrentTimeMillis()),
              // RFC 9068: an access token has an expiry; one without would be trusted forever.
              requiredClaims: ["exp"],
              ...(algorithms === undefined ? {} : { algorithms }),
              ...(clockTolerance === undefined ? {} : { clockTolerance }),
              ...(options.typ === undefined ? {} : { typ: options.typ })
            }),
          catch: classify
        }).pipe(
          Effect.flatMap(({ payload }) => {
            const principal = principalOf(payload)
            return principal instanceof McpAuth.InvalidToken ? Effect.fail(principal) : Effect.succeed(principal)
          })
        )
    })
  })

/**
 * The verifier as the `McpAuth.TokenVerifier` layer.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<McpAuth.TokenVerifier> =>
  Layer.effect(McpAuth.TokenVerifier, make(options))
