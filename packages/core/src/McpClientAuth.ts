/**
 * OAuth 2.1 for the client, as the MCP authorization spec (2025-11-25) asks of it: give an HTTP transport an
 * `auth` option and it answers a server that wants a token.
 *
 * ```ts
 * McpClient.layerStreamableHttp({ url, auth: { clientMetadata: { client_name: "My app" } } }).pipe(
 *   Layer.provide(NodeMcpClientAuth.layerLoopback()), // the user authorizes in their browser
 *   Layer.provide(TokenStore.layerFile(".tokens.json")) // kept across runs (NodeContext.layer gives the FileSystem)
 * )
 * ```
 *
 * On a 401 the client reads the challenge, discovers the protected resource metadata (RFC 9728) and the
 * authorization server's (RFC 8414, OpenID Connect discovery), refuses metadata naming another resource, gets
 * an identity there (the given `clientId`, a Client ID Metadata Document, or dynamic registration, RFC 7591),
 * runs the authorization code flow with PKCE (S256) through the `AuthorizationHandler`, checks the response's
 * `state` and `iss` (RFC 9207), and asks for tokens for the server's resource indicator (RFC 8707); then it sends
 * the request again. Scopes are the challenge's, else the metadata's `scopes_supported`, else none; a 403
 * `insufficient_scope` steps up to the scopes it names (`maxStepUps` times per request at most). Tokens are
 * refreshed before they expire, and `offline_access` is asked for only where the server offers it. Machine clients
 * use `grant: "client_credentials"` with a secret or a private key (`private_key_jwt`); enterprise-managed
 * authorization (SEP-990) is `grant: "jwt_bearer"` with an ID-JAG from the identity provider (`identityAssertion`).
 *
 * Registrations and tokens are kept by the `TokenStore` in context (per issuer, per server); failures are
 * `McpAuthError`s naming the step and the server's `error`, carried as the `cause` of the transport's
 * `McpClientError` (`HttpStatus`).
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as OAuth from "./internal/client/auth/oauth.js"
import {
  type AssertionTarget,
  AuthorizationHandler,
  type AuthorizationResponse,
  McpAuthError
} from "./internal/client/auth/types.js"

export {
  /** @since 0.1.0 */
  AuthorizationHandler,
  /** @since 0.1.0 */
  McpAuthError
} from "./internal/client/auth/types.js"
export type {
  AssertionTarget,
  AuthorizationHandlerService,
  AuthorizationResponse,
  Options,
  Step,
  TokenEndpointAuthMethod
} from "./internal/client/auth/types.js"

/**
 * The `assertion` of enterprise-managed authorization (SEP-990), for `grant: "jwt_bearer"`: the user's ID token
 * from the enterprise's identity provider, exchanged there (RFC 8693) for an ID-JAG naming the MCP server's
 * authorization server and resource, each time the client needs a token. `idToken` may be an effect that gets a
 * fresh one.
 *
 * ```ts
 * auth: {
 *   grant: "jwt_bearer",
 *   clientId, clientSecret, // the client's at the MCP server's authorization server
 *   assertion: McpClientAuth.identityAssertion({ tokenEndpoint: `${idp}/token`, clientId: idpClientId, idToken })
 * }
 * ```
 *
 * @since 0.1.0
 */
export const identityAssertion = (idp: {
  /** The identity provider's token endpoint. */
  readonly tokenEndpoint: string
  readonly idToken: string | Effect.Effect<string, McpAuthError>
  /** The client's id (and secret) at the identity provider. */
  readonly clientId: string
  readonly clientSecret?: string | undefined
}) =>
(target: AssertionTarget): Effect.Effect<string, McpAuthError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const idToken = typeof idp.idToken === "string" ? idp.idToken : yield* idp.idToken
    return yield* OAuth.identityAssertion(http, { ...idp, idToken }, target)
  })

/**
 * The authorization response of the URL the authorization server redirected to.
 *
 * @since 0.1.0
 */
export const responseFromRedirect = (url: string | URL): Effect.Effect<AuthorizationResponse, McpAuthError> =>
  Effect.try({
    try: () => {
      const params = new URL(url).searchParams
      const get = (name: string) => params.get(name) ?? undefined
      return {
        code: get("code"),
        state: get("state"),
        iss: get("iss"),
        error: get("error"),
        errorDescription: get("error_description")
      }
    },
    catch: () => new McpAuthError({ step: "authorization", message: `The redirect ${String(url)} is not a URL` })
  })

/**
 * An `AuthorizationHandler` from a function: `authorize` takes the user to the URL and yields the URL they were
 * redirected to, at `redirectUri`.
 *
 * @since 0.1.0
 */
export const layerAuthorizationHandler = <R>(
  redirectUri: string,
  authorize: (url: URL) => Effect.Effect<string | URL, McpAuthError, R>
): Layer.Layer<AuthorizationHandler, never, R> =>
  Layer.effect(
    AuthorizationHandler,
    Effect.map(Effect.context<R>(), (context) => ({
      redirectUri,
      authorize: (url: URL) => authorize(url).pipe(Effect.flatMap(responseFromRedirect), Effect.provide(context))
    }))
  )
