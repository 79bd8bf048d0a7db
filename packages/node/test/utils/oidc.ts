/**
 * `oidc-provider` (the reference OpenID provider, certified, written by nobody here) as the authorization server of
 * the authorization tests, on 127.0.0.1: discovery (OpenID), dynamic registration, the code flow with PKCE, refresh
 * tokens, revocation, and JWT access tokens for one resource indicator (RFC 8707) that `JwtVerifier` checks. Its
 * interactions log `alice` in and consent to what the client asked at once; `browse` plays the user's browser.
 *
 * The hand-written server of `oauth.ts` stays for what a real provider does not produce on demand (tokens expired,
 * signed by another key, for another audience or issuer, malformed; a key set that cannot be fetched).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { exportJWK, generateKeyPair } from "jose"
import * as Http from "node:http"
import Provider, { errors } from "oidc-provider"

/** A listening `node:http` server on a free port of 127.0.0.1, closed with the scope. */
export const listen: Effect.Effect<Http.Server, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<Http.Server>((resume) => {
    const server = Http.createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
      server.closeAllConnections()
    })
)

/** The port a listening server got. */
export const portOf = (server: Http.Server): number => {
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no TCP address")
  return address.port
}

/** The provider, running. */
export interface Oidc {
  readonly issuer: string
  readonly jwksUrl: string
  readonly provider: Provider
  /** The grant types of every token the provider issued, in order. */
  readonly grants: Array<string>
}

/** Finishes every interaction at once: logs `alice` in, then consents to whatever the client asked. */
const interactions = (provider: Provider) => async (request: Http.IncomingMessage, response: Http.ServerResponse) => {
  const details = await provider.interactionDetails(request, response)
  if (details.prompt.name === "login") {
    return provider.interactionFinished(request, response, { login: { accountId: "alice" } }, {
      mergeWithLastSubmission: false
    })
  }
  const grant = details.grantId !== undefined
    ? (await provider.Grant.find(details.grantId))!
    : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params["client_id"]) })
  const missing = details.prompt.details as {
    missingOIDCScope?: ReadonlyArray<string>
    missingResourceScopes?: Record<string, ReadonlyArray<string>>
  }
  if (missing.missingOIDCScope !== undefined) grant.addOIDCScope(missing.missingOIDCScope.join(" "))
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(" "))
  }
  const grantId = await grant.save()
  return provider.interactionFinished(request, response, { consent: { grantId } }, { mergeWithLastSubmission: true })
}

/**
 * Starts the provider for the scope, issuing JWT access tokens for `resource` only, with at most `scopes` (space
 * separated) for it.
 */
export const startOidc = (resource: string, scopes: string): Effect.Effect<Oidc, never, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* listen
    const issuer = `http://127.0.0.1:${portOf(server)}`
    const { privateKey } = yield* Effect.promise(() => generateKeyPair("ES256", { extractable: true }))
    const jwk = yield* Effect.promise(() => exportJWK(privateKey))
    const provider = new Provider(issuer, {
      jwks: { keys: [{ ...jwk, kid: "k1", alg: "ES256", use: "sig" }] },
      scopes: ["openid", "offline_access", ...scopes.split(" ")],
      findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      cookies: { keys: ["effect-mcp-test"] },
      clientDefaults: { id_token_signed_response_alg: "ES256" },
      ttl: { AccessToken: 3600, RefreshToken: 86_400, Grant: 86_400, Session: 86_400, Interaction: 600 },
      features: {
        devInteractions: { enabled: false },
        registration: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, indicator) => {
            if (indicator !== resource) throw new errors.InvalidTarget()
            return {
              scope: scopes,
              audience: resource,
              accessTokenTTL: 3600,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg: "ES256" } }
            }
          }
        }
      }
    })
    const grants: Array<string> = []
    provider.on("grant.success", (ctx) => grants.push(String(ctx.oidc.params?.["grant_type"])))
    const callback = provider.callback()
    const interact = interactions(provider)
    server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      if (request.url?.startsWith("/interaction/") === true) void interact(request, response)
      else callback(request, response)
    })
    return { issuer, jwksUrl: `${issuer}/jwks`, provider, grants }
  })

/**
 * The user, as a browser would: follows the redirects from `url`, with their cookies (kept in `cookies` across
 * authorizations, as a browser's session), until one goes to `redirectUri`; that one is the answer.
 */
export const browse = async (url: string, redirectUri: string, cookies: Map<string, string>): Promise<string> => {
  let next = url
  for (let hops = 0; hops < 10; hops++) {
    if (next.startsWith(redirectUri)) return next
    const response = await fetch(next, {
      redirect: "manual",
      headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join("; ") }
    })
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(";")
      const at = pair!.indexOf("=")
      cookies.set(pair!.slice(0, at), pair!.slice(at + 1))
    }
    const location = response.headers.get("location")
    if (location === null) throw new Error(`${next} answered ${response.status}: ${await response.text()}`)
    next = new URL(location, next).href
  }
  throw new Error("too many redirects")
}
