/**
 * Authorization for the HTTP transports, as the MCP authorization spec (2025-06-18, 2025-11-25) asks of a server:
 * it is an OAuth 2.1 resource server.
 *
 * - It publishes its protected resource metadata (RFC 9728) at `/.well-known/oauth-protected-resource` (and at
 *   the path-suffixed form for a resource with a path), naming the authorization servers that issue its tokens.
 * - Every request to an MCP endpoint must carry `Authorization: Bearer <token>`. A missing or invalid token
 *   (expired, badly signed, issued for another resource) gets 401 with a `WWW-Authenticate` challenge that points
 *   at the metadata; a token without a required scope gets 403 with `error="insufficient_scope"`, so a client can
 *   step up. Both are checked by the front before any session lookup or body decoding.
 * - A session belongs to the principal that opened it: another principal's request naming it gets 404, the same
 *   as an unknown id.
 * - Handlers see the caller as `CurrentSession.principal`.
 *
 * Token verification is a service: `TokenVerifier`. `JwtVerifier` is a ready one for JWT access tokens checked
 * against a JWKS; anything else (token introspection, a database of API keys) is a `verify` function away.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { Exchange } from "./internal/http/httpExchange.js"
import type * as JsonRpc from "./JsonRpc.js"

/**
 * Who a verified token speaks for.
 *
 * @since 0.1.0
 */
export interface Principal {
  /** The subject (`sub`): the user or client the token was issued to. */
  readonly subject: string
  /** The issuer (`iss`). A subject is unique within its issuer only, so sessions are bound to both. */
  readonly issuer?: string | undefined
  /** The scopes the token grants. */
  readonly scopes: ReadonlyArray<string>
  /** The OAuth client the token was issued to (`client_id` or `azp`), when known. */
  readonly clientId?: string | undefined
  /** When the token expires, in milliseconds since the epoch: a verified token is not trusted past it. */
  readonly expiresAt?: number | undefined
  /** Every claim of the token, for what the fields above do not cover. */
  readonly claims: { readonly [claim: string]: unknown }
}

/**
 * The token is not acceptable: malformed, expired, badly signed, from another issuer or for another resource.
 * The front answers 401 with `error="invalid_token"`; `reason` becomes its `error_description`.
 *
 * @since 0.1.0
 */
export class InvalidToken extends Data.TaggedError("InvalidToken")<{ readonly reason: string }> {}

/**
 * The token could not be checked now (the key set could not be fetched, the introspection endpoint is down): not
 * the client's fault, so the front answers 503 rather than a 401 that would make it throw its token away.
 *
 * @since 0.1.0
 */
export class VerifierUnavailable extends Data.TaggedError("VerifierUnavailable")<{
  readonly reason: string
  readonly cause?: unknown
}> {}

/** @since 0.1.0 */
export interface TokenVerifierService {
  /**
   * Checks a bearer token and says whom it speaks for. It must check that the token was issued for this server
   * (its audience is the `resource`, RFC 8707) as well as its signature and expiry.
   */
  readonly verify: (token: string) => Effect.Effect<Principal, InvalidToken | VerifierUnavailable>
}

/**
 * How bearer tokens are verified; the HTTP front uses the one in context when `Options.verifier` is not given.
 *
 * @since 0.1.0
 */
export class TokenVerifier extends Context.Tag("@effect-mcp/core/McpAuth/TokenVerifier")<
  TokenVerifier,
  TokenVerifierService
>() {}

/**
 * Authorization of an HTTP front (`HttpTransport.Options.auth`, `NodeMcpServer.Options.auth`).
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * The canonical URI of this server (RFC 8707, RFC 9728 `resource`): clients ask for tokens for it and the
   * verifier checks that tokens name it as their audience. Absolute, `https` in production, no fragment, no
   * trailing slash: `https://mcp.example.com/mcp`, or `https://mcp.example.com` when one token should serve every
   * endpoint of the server (the SDK clients accept a resource whose path is a prefix of the URL they connect to,
   * so serving both `/mcp` and the legacy `/sse` needs the origin).
   */
  readonly resource: string
  /** The issuers of the authorization servers whose tokens are accepted; at least one. */
  readonly authorizationServers: ReadonlyArray<string>
  /** Scopes every request needs; a token without one of them gets 403 `insufficient_scope`. Default none. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /**
   * Scopes a `tools/call` of a tool needs beyond `scopes`, by tool name: `{ delete_note: ["notes:write"] }`. A call
   * without them gets 403 `insufficient_scope` naming them, before it reaches the session. Other methods (listing
   * tools included) need only `scopes`.
   */
  readonly toolScopes?: { readonly [tool: string]: ReadonlyArray<string> } | undefined
  /**
   * The metadata's `scopes_supported`: what a client without other guidance asks for. Default `scopes`, the
   * minimal set the spec recommends (clients step up to tool scopes when a call needs them).
   */
  readonly scopesSupported?: ReadonlyArray<string> | undefined
  /** The metadata's `resource_name`. */
  readonly resourceName?: string | undefined
  /** The metadata's `resource_documentation`: a page about using this server. */
  readonly resourceDocumentation?: string | undefined
  /** More members of the metadata document (`jwks_uri`, `resource_policy_uri`...). */
  readonly metadata?: { readonly [member: string]: unknown } | undefined
  /** The verifier; default: the `TokenVerifier` in context. */
  readonly verifier?: TokenVerifierService | undefined
  /**
   * How long a verified token is taken on trust before it is verified again, so a session's requests do not
   * each pay for a verification; never past the token's expiry. Default 1 minute; 0 turns the cache off. A
   * verifier that checks revocation (introspection) makes this the delay before a revoked token stops working.
   */
  readonly cacheTtl?: Duration.DurationInput | undefined
  /** How many verified tokens are kept at most; the oldest goes first. Default 1,000. */
  readonly cacheSize?: number | undefined
}

/**
 * What the front established about a request it let through, handed to the transport of its path.
 *
 * @since 0.1.0
 */
export interface Grant {
  /** Who sent the request. */
  readonly principal: Principal
  /**
   * Checks the decoded messages against the scopes their tools need (`Options.toolScopes`): true when the token
   * has them; otherwise answers 403 `insufficient_scope` on `exchange` and returns false.
   */
  readonly admit: (exchange: Exchange, messages: ReadonlyArray<JsonRpc.Message>) => boolean
}

/** The well-known path prefix of RFC 9728. @since 0.1.0 */
export const WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"

/**
 * The URL of a resource's metadata document (RFC 9728 section 3.1): the well-known path inserted between the
 * origin and the resource's path. It is the `resource_metadata` of every challenge.
 *
 * @since 0.1.0
 */
export const resourceMetadataUrl = (resource: string): string => {
  const url = new URL(resource)
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "")
  return `${url.origin}${WELL_KNOWN_PATH}${path}`
}

/**
 * The protected resource metadata document (RFC 9728 section 2) the front serves.
 *
 * @since 0.1.0
 */
export const protectedResourceMetadata = (options: Options): { readonly [member: string]: unknown } => {
  const scopes = options.scopesSupported ?? options.scopes ?? []
  return {
    ...options.metadata,
    resource: options.resource,
    authorization_servers: options.authorizationServers,
    ...(scopes.length === 0 ? {} : { scopes_supported: scopes }),
    // RFC 6750 section 2.1 only: tokens in a query string or a form body are refused, as the MCP spec asks.
    bearer_methods_supported: ["header"],
    ...(options.resourceName === undefined ? {} : { resource_name: options.resourceName }),
    ...(options.resourceDocumentation === undefined ? {} : { resource_documentation: options.resourceDocumentation })
  }
}

/**
 * True when `principal` has every one of `scopes`.
 *
 * @since 0.1.0
 */
export const hasScopes = (principal: Principal, scopes: ReadonlyArray<string>): boolean =>
  scopes.every((scope) => principal.scopes.includes(scope))

/**
 * True when two principals are the same party: the same subject of the same issuer. A session opened by one
 * serves only the other.
 *
 * @since 0.1.0
 */
export const isSameParty = (a: Principal, b: Principal): boolean => a.subject === b.subject && a.issuer === b.issuer
