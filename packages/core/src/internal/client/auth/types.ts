/**
 * What the client's OAuth is configured with and what it needs from the app, as types: the options, the
 * authorization handler (the redirect step), and the error. `McpClientAuth` re-exports all of it, and is where
 * users find it.
 *
 * Kept apart from `McpClientAuth` because the HTTP transports read these types, and the flow built on them is
 * internal: the public module only names them.
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"

/**
 * How the client authenticates to its token endpoint: as a public client (`none`, PKCE alone), with its secret
 * (`client_secret_basic`, `client_secret_post`), or with a JWT signed by its private key (`private_key_jwt`).
 *
 * @since 0.1.0
 */
export type TokenEndpointAuthMethod = "none" | "client_secret_basic" | "client_secret_post" | "private_key_jwt"

/**
 * The client's OAuth configuration (the `auth` option of the HTTP transports). Everything is optional: with none
 * of it the client discovers the authorization server, registers itself there (RFC 7591) and runs the
 * authorization code flow with PKCE through the `AuthorizationHandler` in context.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * `authorization_code` (default): a user authorizes, through the `AuthorizationHandler`. `client_credentials`:
   * a machine client acts for itself, with `clientId` and `clientSecret` or `privateKey`; no handler is needed.
   * `jwt_bearer` (RFC 7523 section 2.1): the client presents an `assertion` someone else issued, with `clientId`;
   * no handler either.
   */
  readonly grant?: "authorization_code" | "client_credentials" | "jwt_bearer" | undefined
  /**
   * The assertion of the `jwt_bearer` grant, asked for each time the client needs a token, for the authorization
   * server and resource it is for. For enterprise-managed authorization (SEP-990) it is an ID-JAG from the
   * enterprise's identity provider: `McpClientAuth.identityAssertion`.
   */
  readonly assertion?:
    | ((target: AssertionTarget) => Effect.Effect<string, McpAuthError, HttpClient.HttpClient>)
    | undefined
  /** A client id registered beforehand with the authorization server; registration is then skipped. */
  readonly clientId?: string | undefined
  /** The secret of `clientId`, for a confidential client. */
  readonly clientSecret?: string | undefined
  /**
   * The client's private key for `private_key_jwt` (RFC 7523): PKCS#8 PEM and its JWS algorithm (`ES256`,
   * `RS256`...).
   */
  readonly privateKey?: { readonly pem: string; readonly algorithm: string } | undefined
  /**
   * How the client authenticates at the token endpoint. Default: what registration said, else `private_key_jwt`
   * with a `privateKey`, `client_secret_basic` (or `_post` when the server supports only that) with a secret,
   * `none` without.
   */
  readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod | undefined
  /**
   * The HTTPS URL of this client's Client ID Metadata Document: used as its `client_id` by an authorization server
   * that advertises `client_id_metadata_document_supported`, instead of registering.
   */
  readonly clientMetadataUrl?: string | undefined
  /** Fields of the registration request (RFC 7591) besides those the flow sets; `client_name` at least is kind. */
  readonly clientMetadata?: { readonly [field: string]: unknown } | undefined
  /**
   * The scopes to ask for, replacing the spec's choice (the challenge's `scope`, else the resource's
   * `scopes_supported`, else none).
   */
  readonly scope?: string | undefined
  /** How many times one request may step up its scopes on 403 `insufficient_scope`. Default 2. */
  readonly maxStepUps?: number | undefined
  /** How long before its expiry an access token is refreshed. Default 30 seconds. */
  readonly refreshBefore?: Duration.DurationInput | undefined
}

/**
 * Whom a `jwt_bearer` assertion is for: the authorization server (its issuer, the assertion's audience), the MCP
 * server's resource indicator (RFC 8707), and the scopes the client is about to ask for.
 *
 * @since 0.1.0
 */
export interface AssertionTarget {
  readonly issuer: string
  readonly resource: string
  readonly scope: string | undefined
}

/**
 * What came back to the redirect URI: the query of the authorization response (RFC 6749 section 4.1.2), `iss`
 * included (RFC 9207), or its error.
 *
 * @since 0.1.0
 */
export interface AuthorizationResponse {
  readonly code?: string | undefined
  readonly state?: string | undefined
  readonly iss?: string | undefined
  readonly error?: string | undefined
  readonly errorDescription?: string | undefined
}

/**
 * Which step of the authorization failed, for the person who has to act on it.
 *
 * @since 0.1.0
 */
export type Step =
  | "protected resource metadata"
  | "authorization server metadata"
  | "registration"
  | "authorization"
  | "token"
  | "token exchange"
  | "refresh"
  | "token store"

/**
 * The client could not get a token: `step` names where, `error` and `errorDescription` carry the server's words
 * (RFC 6749 section 5.2) when it sent any. The HTTP transports carry it as the `cause` of an `HttpStatus`
 * `McpClientError`.
 *
 * @since 0.1.0
 */
export class McpAuthError extends Data.TaggedError("McpAuthError")<{
  readonly step: Step
  readonly message: string
  readonly error?: string | undefined
  readonly errorDescription?: string | undefined
  readonly status?: number | undefined
  readonly cause?: unknown
}> {}

/** @since 0.1.0 */
export interface AuthorizationHandlerService {
  /** Where the authorization server sends the user back: registered with it and sent in every request. */
  readonly redirectUri: string
  /**
   * Sends the user to `url` (a browser, a link printed for them) and waits for the redirect to `redirectUri`;
   * yields what came with it.
   */
  readonly authorize: (url: URL) => Effect.Effect<AuthorizationResponse, McpAuthError>
}

/**
 * The app's part of the authorization code flow: taking the user to the authorization server and back. Needed by
 * a client with `auth` whose grant is `authorization_code`; `NodeMcpClientAuth.layerLoopback` is one for CLI apps.
 *
 * @since 0.1.0
 */
export class AuthorizationHandler extends Context.Tag("@effect-mcp/core/McpClientAuth/AuthorizationHandler")<
  AuthorizationHandler,
  AuthorizationHandlerService
>() {}
