/**
 * The client's OAuth for one MCP server: the bearer token on every request, refreshed before it expires; on 401
 * discovery and a new token, then the request once more; on 403 `insufficient_scope` a step up to the scopes the
 * challenge names, a bounded number of times. One flow at a time: requests that meet a 401 together share it.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as TokenStore from "../../../TokenStore.js"
import * as Challenge from "./challenge.js"
import * as Discovery from "./discovery.js"
import * as OAuth from "./oauth.js"
import {
  AuthorizationHandler,
  type AuthorizationHandlerService,
  type AuthorizationResponse,
  McpAuthError,
  type Options
} from "./types.js"

/** @internal */
export interface Authenticator {
  /** Sends `request` with the bearer token, authorizing (once) or stepping up as the server asks. */
  readonly execute: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError | McpAuthError>
}

const DEFAULT_MAX_STEP_UPS = 2
const DEFAULT_REFRESH_BEFORE = Duration.seconds(30)

const union = (a: string | undefined, b: string | undefined): string | undefined => {
  const scopes = [...new Set([...Challenge.scopesOf(a), ...Challenge.scopesOf(b)])]
  return scopes.length === 0 ? undefined : scopes.join(" ")
}

const storeError = (cause: TokenStore.TokenStoreError) =>
  new McpAuthError({ step: "token store", message: cause.message, cause })

/**
 * The authenticator of the MCP server at `url`, with the `TokenStore` and `AuthorizationHandler` in context (a
 * store of its own when there is none; the handler is needed only when a user must authorize).
 * @internal
 */
export const make = (
  options: Options,
  url: URL,
  http: HttpClient.HttpClient
): Effect.Effect<Authenticator> =>
  Effect.gen(function*() {
    const store = yield* Effect.serviceOption(TokenStore.TokenStore).pipe(
      Effect.flatMap(Option.match({ onNone: () => TokenStore.makeMemory, onSome: Effect.succeed }))
    )
    const handler = yield* Effect.serviceOption(AuthorizationHandler)
    const lock = yield* Effect.makeSemaphore(1)
    const server = Discovery.canonicalUri(url)
    const refreshBefore = Duration.toMillis(Duration.decode(options.refreshBefore ?? DEFAULT_REFRESH_BEFORE))
    const maxStepUps = options.maxStepUps ?? DEFAULT_MAX_STEP_UPS
    let loaded = false
    let current: TokenStore.Tokens | undefined

    const save = (tokens: TokenStore.Tokens | undefined) =>
      Effect.zipRight(
        tokens === undefined ? store.removeTokens(server) : store.setTokens(server, tokens),
        Effect.sync(() => {
          current = tokens
        })
      ).pipe(Effect.mapError(storeError))

    /** The client's registration with `issuer`: given, stored, or none yet. */
    const storedClient = (issuer: string) =>
      options.clientId !== undefined
        ? Effect.succeedSome<TokenStore.ClientRegistration>({
          clientId: options.clientId,
          clientSecret: options.clientSecret,
          tokenEndpointAuthMethod: options.tokenEndpointAuthMethod
        })
        : Effect.mapError(store.client(issuer), storeError)

    /** A new access token from the refresh token; `None` when the server refuses it (the user must authorize). */
    const refresh = (tokens: TokenStore.Tokens) =>
      Effect.gen(function*() {
        const client = yield* storedClient(tokens.issuer)
        if (tokens.refreshToken === undefined || Option.isNone(client)) return Option.none<TokenStore.Tokens>()
        const endpoint = {
          issuer: tokens.issuer,
          tokenEndpoint: tokens.tokenEndpoint,
          resource: tokens.resource,
          authMethods: undefined
        }
        return yield* OAuth.tokenRequest(http, "refresh", endpoint, client.value, options, {
          grant_type: "refresh_token",
          refresh_token: tokens.refreshToken
        }, tokens.scope).pipe(
          Effect.asSome,
          // A refused grant (RFC 6749 section 5.2) ends the tokens; a server that cannot be reached is a failure.
          Effect.catchIf((error) => error.error !== undefined, () => Effect.succeedNone)
        )
      })

    /** The token to send now: loaded once from the store, refreshed when it is about to expire, never expired. */
    const bearer = lock.withPermits(1)(Effect.gen(function*() {
      if (!loaded) {
        current = Option.getOrUndefined(yield* Effect.mapError(store.tokens(server), storeError))
        loaded = true
      }
      if (current === undefined || current.expiresAt === undefined) return current
      const now = yield* Clock.currentTimeMillis
      if (now < current.expiresAt - refreshBefore) return current
      yield* save(Option.getOrUndefined(yield* refresh(current)))
      return current
    }))

    const authorize = (discovered: Discovery.Discovered, scope: string | undefined) =>
      options.grant === "client_credentials"
        ? clientCredentials(http, options, discovered, scope)
        : options.grant === "jwt_bearer"
        ? jwtBearer(http, options, discovered, scope)
        : Option.match(handler, {
          onNone: () =>
            Effect.fail(
              new McpAuthError({
                step: "authorization",
                message: `${url.href} asks for authorization and no AuthorizationHandler is in context to take the ` +
                  "user there (or set the grant client_credentials)"
              })
            ),
          onSome: (handler) => authorizationCode(http, options, discovered, scope, handler, storedClient, store)
        })

    /**
     * A new token after `response` refused `sent`: refreshed when the server only refuses an old token (401),
     * else from a new authorization with the scopes the challenge asks for.
     */
    const renew = (sent: TokenStore.Tokens | undefined, challenge: Challenge.Challenge, stepUp: boolean) =>
      lock.withPermits(1)(Effect.gen(function*() {
        // Another request renewed the token meanwhile.
        if (current !== sent) return
        if (!stepUp && sent !== undefined) {
          const refreshed = yield* refresh(sent)
          if (Option.isSome(refreshed)) return yield* save(refreshed.value)
        }
        const discovered = yield* Discovery.discover(http, url, challenge.resourceMetadata)
        const selected = selectScope(options.scope, challenge, discovered.resourceMetadata)
        const scope = stepUp ? union(sent?.scope, selected) : selected
        yield* save(yield* authorize(discovered, scope))
      }))

    /** True when a 403 asks for scopes the token lacks, so that a new authorization could help. */
    const canStepUp = (challenge: Challenge.Challenge, sent: TokenStore.Tokens | undefined) => {
      if (challenge.error !== "insufficient_scope") return false
      const granted = Challenge.scopesOf(sent?.scope)
      const needed = Challenge.scopesOf(challenge.scope)
      return needed.length === 0 || needed.some((scope) => !granted.includes(scope))
    }

    const execute = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.gen(function*() {
        let renewed = false
        let stepUps = 0
        while (true) {
          const sent = yield* bearer
          const response = yield* http.execute(
            sent === undefined ? request : HttpClientRequest.bearerToken(request, sent.accessToken)
          )
          const challenge = Challenge.parse(response.headers["www-authenticate"])
          const unauthorized = response.status === 401 && !renewed
          const stepUp = response.status === 403 && stepUps < maxStepUps && canStepUp(challenge, sent)
          if (!unauthorized && !stepUp) return response
          yield* Effect.ignore(response.arrayBuffer)
          if (unauthorized) renewed = true
          else stepUps++
          yield* renew(sent, challenge, stepUp)
        }
      })

    return { execute }
  })

/**
 * The spec's scope selection: the app's choice, else the challenge's `scope`, else every scope the resource
 * metadata lists, else none (the server's default).
 * @internal
 */
export const selectScope = (
  configured: string | undefined,
  challenge: Challenge.Challenge,
  metadata: Option.Option<Discovery.ResourceMetadata>
): string | undefined =>
  configured ?? challenge.scope ??
    Option.getOrUndefined(Option.flatMapNullable(metadata, (m) => m.scopes_supported?.join(" ")))

/**
 * A grant without a user: the client, as its `clientId`, asks for a token with the form `grant` makes for the
 * authorization server and resource (and the scopes).
 */
const withoutUser = (
  http: HttpClient.HttpClient,
  options: Options,
  discovered: Discovery.Discovered,
  scope: string | undefined,
  name: string,
  grant: Effect.Effect<Record<string, string>, McpAuthError>
) =>
  Effect.gen(function*() {
    if (options.clientId === undefined) {
      return yield* new McpAuthError({ step: "token", message: `The ${name} grant needs a clientId` })
    }
    const form = yield* grant
    return yield* OAuth.tokenRequest(http, "token", OAuth.endpointOf(discovered.server, discovered.resource), {
      clientId: options.clientId,
      clientSecret: options.clientSecret
    }, options, { ...form, ...(scope === undefined ? {} : { scope }) }, scope)
  })

/** The client credentials grant: a machine client asks for a token for itself. */
const clientCredentials = (
  http: HttpClient.HttpClient,
  options: Options,
  discovered: Discovery.Discovered,
  scope: string | undefined
) => withoutUser(http, options, discovered, scope, "client_credentials", Effect.succeed({ grant_type: "client_credentials" }))

/**
 * The JWT bearer grant (RFC 7523 section 2.1): the client trades an assertion issued for this authorization server
 * and resource (SEP-990's ID-JAG, a workload's JWT) for a token, authenticating as itself.
 */
const jwtBearer = (
  http: HttpClient.HttpClient,
  options: Options,
  discovered: Discovery.Discovered,
  scope: string | undefined
) =>
  withoutUser(
    http,
    options,
    discovered,
    scope,
    "jwt_bearer",
    options.assertion === undefined
      ? Effect.fail(new McpAuthError({ step: "token", message: "The jwt_bearer grant needs an assertion" }))
      : options.assertion({ issuer: discovered.server.issuer, resource: discovered.resource, scope }).pipe(
        Effect.provideService(HttpClient.HttpClient, http),
        Effect.map((assertion) => ({ grant_type: OAuth.JWT_BEARER, assertion }))
      )
  )

/** The authorization code grant with PKCE: the user authorizes through the handler; the code becomes tokens. */
const authorizationCode = (
  http: HttpClient.HttpClient,
  options: Options,
  discovered: Discovery.Discovered,
  requested: string | undefined,
  handler: AuthorizationHandlerService,
  storedClient: (issuer: string) => Effect.Effect<Option.Option<TokenStore.ClientRegistration>, McpAuthError>,
  store: TokenStore.TokenStoreService
) =>
  Effect.gen(function*() {
    const { server } = discovered
    const step = "authorization"
    if (server.authorization_endpoint === undefined) {
      return yield* new McpAuthError({ step, message: `${server.issuer} has no authorization endpoint` })
    }
    // PKCE is required; S256 is the method the spec asks for, and an absent list means no PKCE at all.
    if (!(server.code_challenge_methods_supported ?? []).includes("S256")) {
      return yield* new McpAuthError({
        step,
        message: `${server.issuer} does not advertise PKCE with S256 (code_challenge_methods_supported): refusing ` +
          "to authorize without it"
      })
    }
    const refreshable = server.grant_types_supported === undefined ||
      server.grant_types_supported.includes("refresh_token")
    const client = yield* clientFor(http, options, server, handler.redirectUri, refreshable, storedClient, store)
    // offline_access only where the server offers it (SEP-2207); OpenID Connect then wants consent asked.
    const offline = refreshable && (server.scopes_supported ?? []).includes("offline_access") &&
      !Challenge.scopesOf(requested).includes("offline_access")
    const scope = offline ? union(requested, "offline_access") : requested
    const verifier = yield* OAuth.randomToken()
    const state = yield* OAuth.randomToken(16)
    const url = new URL(server.authorization_endpoint)
    const query: Record<string, string | undefined> = {
      response_type: "code",
      client_id: client.clientId,
      redirect_uri: handler.redirectUri,
      code_challenge: yield* OAuth.challengeOf(verifier),
      code_challenge_method: "S256",
      state,
      scope,
      resource: discovered.resource,
      prompt: offline ? "consent" : undefined
    }
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value)
    const response = yield* handler.authorize(url)
    yield* checkResponse(response, state, server)
    return yield* OAuth.tokenRequest(http, "token", OAuth.endpointOf(server, discovered.resource), client, options, {
      grant_type: "authorization_code",
      code: response.code ?? "",
      redirect_uri: handler.redirectUri,
      code_verifier: verifier
    }, scope)
  })

/**
 * The client's identity at `server`: given (`clientId`), registered before, its metadata document's URL where the
 * server takes those, else a new registration, kept per issuer.
 */
const clientFor = (
  http: HttpClient.HttpClient,
  options: Options,
  server: Discovery.ServerMetadata,
  redirectUri: string,
  refreshable: boolean,
  storedClient: (issuer: string) => Effect.Effect<Option.Option<TokenStore.ClientRegistration>, McpAuthError>,
  store: TokenStore.TokenStoreService
) =>
  Effect.gen(function*() {
    const stored = yield* storedClient(server.issuer)
    const now = yield* Clock.currentTimeMillis
    if (
      Option.isSome(stored) &&
      (options.clientId !== undefined ||
        (stored.value.redirectUri === redirectUri &&
          (stored.value.secretExpiresAt === undefined || stored.value.secretExpiresAt > now)))
    ) return stored.value
    if (options.clientMetadataUrl !== undefined && server.client_id_metadata_document_supported === true) {
      return { clientId: options.clientMetadataUrl, tokenEndpointAuthMethod: "none", redirectUri }
    }
    const grantTypes = refreshable ? ["authorization_code", "refresh_token"] : ["authorization_code"]
    const registered = yield* OAuth.register(http, server, options, redirectUri, grantTypes)
    yield* Effect.mapError(store.setClient(server.issuer, registered), storeError)
    return registered
  })

/**
 * Checks the authorization response: the server's error, the `state` sent, and the issuer (RFC 9207): an `iss`
 * that is not exactly the issuer's (no normalization), or none where the server promised one, is a mix-up attack.
 * @internal
 */
export const checkResponse = (response: AuthorizationResponse, state: string, server: Discovery.ServerMetadata) => {
  const step = "authorization"
  if (response.error !== undefined) {
    return Effect.fail(
      new McpAuthError({
        step,
        error: response.error,
        errorDescription: response.errorDescription,
        message: `The authorization server refused: ${response.error}${
          response.errorDescription === undefined ? "" : ` (${response.errorDescription})`
        }`
      })
    )
  }
  if (response.state !== state) {
    return Effect.fail(new McpAuthError({ step, message: "The authorization response does not carry the state sent" }))
  }
  if (response.iss !== undefined ? response.iss !== server.issuer : server.authorization_response_iss_parameter_supported === true) {
    return Effect.fail(
      new McpAuthError({
        step,
        message: response.iss === undefined
          ? `${server.issuer} promised an iss in its authorization response and sent none`
          : `The authorization response comes from ${response.iss}, not ${server.issuer}`
      })
    )
  }
  if (response.code === undefined || response.code === "") {
    return Effect.fail(new McpAuthError({ step, message: "The authorization response carries no code" }))
  }
  return Effect.void
}
