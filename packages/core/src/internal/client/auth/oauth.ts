/**
 * The OAuth 2.1 requests of the flow: PKCE, registration (RFC 7591), the token endpoint (authorization code,
 * refresh, client credentials, JWT bearer) and how the client authenticates there (`none`, `client_secret_basic`,
 * `client_secret_post`, `private_key_jwt` per RFC 7523), and the token exchange (RFC 8693) that gets an ID-JAG.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { importPKCS8, SignJWT } from "jose"
import type { ClientRegistration, Tokens } from "../../../TokenStore.js"
import type { ServerMetadata } from "./discovery.js"
import { McpAuthError, type Options, type Step, type TokenEndpointAuthMethod } from "./types.js"

/**
 * Random bytes, base64url: PKCE verifiers, `state`, assertion ids.
 * @internal
 */
export const randomToken = (bytes = 32): Effect.Effect<string> =>
  Effect.sync(() => Encoding.encodeBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(bytes))))

/**
 * The S256 challenge of a PKCE verifier (RFC 7636 section 4.2).
 * @internal
 */
export const challengeOf = (verifier: string): Effect.Effect<string> =>
  Effect.map(
    Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
    (digest) => Encoding.encodeBase64Url(new Uint8Array(digest))
  )

const ErrorBody = Schema.Struct({ error: Schema.String, error_description: Schema.optional(Schema.String) })

/** The server's error (RFC 6749 section 5.2), in words a person can act on. */
const serverError = (step: Step, status: number, body: unknown): McpAuthError => {
  const error = Schema.decodeUnknownOption(ErrorBody)(body)
  return Option.match(error, {
    onNone: () => new McpAuthError({ step, status, message: `${step} failed: HTTP ${status}` }),
    onSome: ({ error, error_description }) =>
      new McpAuthError({
        step,
        status,
        error,
        errorDescription: error_description,
        message: `${step} failed: ${error}${error_description === undefined ? "" : ` (${error_description})`}`
      })
  })
}

/** POSTs and reads a JSON answer: the document on 2xx, the server's error otherwise. */
const postJson = (
  http: HttpClient.HttpClient,
  step: Step,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<unknown, McpAuthError> =>
  Effect.gen(function*() {
    const response = yield* http.execute(HttpClientRequest.acceptJson(request)).pipe(
      Effect.mapError((cause) => new McpAuthError({ step, message: `${step} failed: ${request.url} unreachable`, cause }))
    )
    const body = yield* Effect.orElseSucceed(response.json, () => undefined)
    if (response.status < 200 || response.status >= 300) return yield* serverError(step, response.status, body)
    return body
  })

const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.String,
  expires_in: Schema.optional(Schema.Number),
  refresh_token: Schema.optional(Schema.String),
  scope: Schema.optional(Schema.String)
})

/** Where a token request goes and what the tokens it gets are for. */
export interface Endpoint {
  readonly issuer: string
  readonly tokenEndpoint: string
  readonly resource: string
  readonly authMethods: ReadonlyArray<string> | undefined
}

/** @internal */
export const endpointOf = (server: ServerMetadata, resource: string): Endpoint => ({
  issuer: server.issuer,
  tokenEndpoint: server.token_endpoint,
  resource,
  authMethods: server.token_endpoint_auth_methods_supported
})

/**
 * How the client authenticates at the token endpoint: what it was told, else the best it can do with what it has
 * among what the server supports (RFC 8414's default is `client_secret_basic`).
 * @internal
 */
export const authMethodOf = (
  client: ClientRegistration,
  options: Options,
  supported: ReadonlyArray<string> | undefined
): TokenEndpointAuthMethod => {
  const told = options.tokenEndpointAuthMethod ?? client.tokenEndpointAuthMethod
  if (told === "none" || told === "client_secret_basic" || told === "client_secret_post" || told === "private_key_jwt") {
    return told
  }
  if (options.privateKey !== undefined) return "private_key_jwt"
  if (client.clientSecret === undefined) return "none"
  const methods = supported ?? ["client_secret_basic"]
  return methods.includes("client_secret_basic") || !methods.includes("client_secret_post")
    ? "client_secret_basic"
    : "client_secret_post"
}

/** A client assertion (RFC 7523 section 2.2): the client vouches for itself to the issuer. */
const assertion = (clientId: string, audience: string, key: NonNullable<Options["privateKey"]>) =>
  Effect.gen(function*() {
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const jti = yield* randomToken(16)
    return yield* Effect.tryPromise({
      try: async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: key.algorithm })
          .setIssuer(clientId)
          .setSubject(clientId)
          .setAudience(audience)
          .setIssuedAt(now)
          .setExpirationTime(now + 300)
          .setJti(jti)
          .sign(await importPKCS8(key.pem, key.algorithm)),
      catch: (cause) => new McpAuthError({ step: "token", message: "Could not sign the client assertion", cause })
    })
  })

/** The grant type of RFC 7523 section 2.1. @internal */
export const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

const ExchangeResponse = Schema.Struct({ access_token: Schema.String, issued_token_type: Schema.String })
const ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"

/**
 * Token exchange (RFC 8693) at an identity provider: the user's ID token for an Identity Assertion JWT
 * Authorization Grant (ID-JAG, SEP-990) for the authorization server `target.issuer` and the resource.
 * @internal
 */
export const identityAssertion = (
  http: HttpClient.HttpClient,
  idp: {
    readonly tokenEndpoint: string
    readonly idToken: string
    readonly clientId: string
    readonly clientSecret?: string | undefined
  },
  target: { readonly issuer: string; readonly resource: string; readonly scope: string | undefined }
): Effect.Effect<string, McpAuthError> =>
  Effect.gen(function*() {
    const step = "token exchange"
    const form: Record<string, string> = {
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      requested_token_type: ID_JAG,
      subject_token: idp.idToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
      audience: target.issuer,
      resource: target.resource,
      client_id: idp.clientId,
      ...(idp.clientSecret === undefined ? {} : { client_secret: idp.clientSecret }),
      ...(target.scope === undefined ? {} : { scope: target.scope })
    }
    const body = yield* postJson(http, step, HttpClientRequest.bodyUrlParams(HttpClientRequest.post(idp.tokenEndpoint), form))
    const exchanged = yield* Schema.decodeUnknown(ExchangeResponse)(body).pipe(
      Effect.mapError((cause) => new McpAuthError({ step, message: `The token exchange response is not valid: ${cause.message}` }))
    )
    if (exchanged.issued_token_type !== ID_JAG) {
      return yield* new McpAuthError({ step, message: `${idp.tokenEndpoint} issued a ${exchanged.issued_token_type}, not an ID-JAG` })
    }
    return exchanged.access_token
  })

const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+")

/**
 * The token request: `params` with the client's authentication added.
 * @internal
 */
export const tokenRequest = (
  http: HttpClient.HttpClient,
  step: Step,
  endpoint: Endpoint,
  client: ClientRegistration,
  options: Options,
  params: Record<string, string>,
  /** The scopes asked for: granted unless the answer says otherwise (RFC 6749 section 5.1). */
  requested: string | undefined
): Effect.Effect<Tokens, McpAuthError> =>
  Effect.gen(function*() {
    const method = authMethodOf(client, options, endpoint.authMethods)
    const form: Record<string, string> = { ...params, resource: endpoint.resource }
    let request = HttpClientRequest.post(endpoint.tokenEndpoint)
    if (method === "client_secret_basic") {
      const credentials = `${formEncode(client.clientId)}:${formEncode(client.clientSecret ?? "")}`
      request = HttpClientRequest.setHeader(request, "authorization", `Basic ${Encoding.encodeBase64(credentials)}`)
    } else {
      form.client_id = client.clientId
      if (method === "client_secret_post") form.client_secret = client.clientSecret ?? ""
      if (method === "private_key_jwt") {
        if (options.privateKey === undefined) {
          return yield* new McpAuthError({ step, message: "private_key_jwt needs the option privateKey" })
        }
        form.client_assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        form.client_assertion = yield* assertion(client.clientId, endpoint.issuer, options.privateKey)
      }
    }
    const body = yield* postJson(http, step, HttpClientRequest.bodyUrlParams(request, form))
    const tokens = yield* Schema.decodeUnknown(TokenResponse)(body).pipe(
      Effect.mapError((cause) => new McpAuthError({ step, message: `The token response is not valid: ${cause.message}` }))
    )
    if (tokens.token_type.toLowerCase() !== "bearer") {
      return yield* new McpAuthError({ step, message: `The server issued a ${tokens.token_type} token, not Bearer` })
    }
    const now = yield* Clock.currentTimeMillis
    return {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? params.refresh_token,
      expiresAt: tokens.expires_in === undefined ? undefined : now + tokens.expires_in * 1000,
      scope: tokens.scope ?? requested,
      issuer: endpoint.issuer,
      tokenEndpoint: endpoint.tokenEndpoint,
      resource: endpoint.resource
    }
  })

/**
 * `native` for an app the user runs (a loopback or private-scheme redirect), `web` for one on a server (OpenID
 * Connect registration; asked of MCP clients by SEP-837).
 */
const applicationType = (redirectUri: string): "native" | "web" => {
  try {
    const url = new URL(redirectUri)
    const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)
    return loopback || (url.protocol !== "http:" && url.protocol !== "https:") ? "native" : "web"
  } catch {
    return "web"
  }
}

const RegistrationResponse = Schema.Struct({
  client_id: Schema.String,
  client_secret: Schema.optional(Schema.String),
  client_secret_expires_at: Schema.optional(Schema.Number),
  token_endpoint_auth_method: Schema.optional(Schema.String)
})

/**
 * Dynamic client registration (RFC 7591): a public client (`none`) where the server allows it, else one with a
 * secret.
 * @internal
 */
export const register = (
  http: HttpClient.HttpClient,
  server: ServerMetadata,
  options: Options,
  redirectUri: string,
  grantTypes: ReadonlyArray<string>
): Effect.Effect<ClientRegistration, McpAuthError> =>
  Effect.gen(function*() {
    const step = "registration"
    if (server.registration_endpoint === undefined) {
      return yield* new McpAuthError({
        step,
        message: `${server.issuer} offers no dynamic registration, no client id metadata documents, and no clientId ` +
          "was given: register the client there and pass its clientId"
      })
    }
    const supported = server.token_endpoint_auth_methods_supported ?? ["client_secret_basic"]
    const method = options.tokenEndpointAuthMethod ??
      (supported.includes("none") ? "none" : supported.includes("client_secret_post") &&
          !supported.includes("client_secret_basic")
        ? "client_secret_post"
        : "client_secret_basic")
    const body = yield* postJson(
      http,
      step,
      HttpClientRequest.post(server.registration_endpoint).pipe(
        HttpClientRequest.bodyUnsafeJson({
          client_name: "effect-mcp client",
          application_type: applicationType(redirectUri),
          ...options.clientMetadata,
          redirect_uris: [redirectUri],
          grant_types: grantTypes,
          response_types: ["code"],
          token_endpoint_auth_method: method
        })
      )
    )
    const registered = yield* Schema.decodeUnknown(RegistrationResponse)(body).pipe(
      Effect.mapError((cause) => new McpAuthError({ step, message: `The registration response is not valid: ${cause.message}` }))
    )
    return {
      clientId: registered.client_id,
      clientSecret: registered.client_secret,
      tokenEndpointAuthMethod: registered.token_endpoint_auth_method ?? method,
      redirectUri,
      secretExpiresAt: registered.client_secret_expires_at === undefined || registered.client_secret_expires_at === 0
        ? undefined
        : registered.client_secret_expires_at * 1000
    }
  })
