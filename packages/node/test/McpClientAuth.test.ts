/**
 * The client's OAuth against real parts: `oidc-provider` (the reference OpenID provider) as the authorization
 * server on 127.0.0.1, issuing JWT access tokens for the MCP server's resource indicator, and an effect-mcp server
 * protected by `McpAuth` with `JwtVerifier`. The authorization handler plays the user: it follows the provider's
 * redirects with its cookies, and the provider's interaction routes log in and consent at once.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpTransport from "@effect-mcp/core/HttpTransport"
import * as JwtVerifier from "@effect-mcp/core/JwtVerifier"
import * as McpAuth from "@effect-mcp/core/McpAuth"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpClientAuth from "@effect-mcp/core/McpClientAuth"
import * as McpServer from "@effect-mcp/core/McpServer"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as TokenStore from "@effect-mcp/core/TokenStore"
import * as NodeExchange from "@effect-mcp/node/NodeExchange"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { decodeJwt, exportJWK, generateKeyPair } from "jose"
import * as Http from "node:http"
import Provider, { errors } from "oidc-provider"

const ReadNote = McpTool.make("read_note", {
  description: "Needs mcp:read",
  input: Schema.Struct({}),
  handler: () => Effect.succeed("a note")
})
const WriteNote = McpTool.make("write_note", {
  description: "Needs mcp:write too",
  input: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(`written: ${text}`)
})
const ServerLive = Layer.mergeAll(ReadNote, WriteNote).pipe(
  Layer.provideMerge(McpServer.layer({ name: "protected", version: "1.0.0" }))
)

const listen = Effect.acquireRelease(
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

const portOf = (server: Http.Server): number => {
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no TCP address")
  return address.port
}

interface Setup {
  readonly url: string
  readonly issuer: string
  /** The grant types of every token the provider issued, in order. */
  readonly grants: Array<string>
  /** Access tokens (by `jti`) the MCP server no longer accepts, as if it had been told they were revoked. */
  readonly denied: Set<string>
  readonly provider: Provider
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

const start: Effect.Effect<Setup, never, Scope.Scope> = Effect.gen(function*() {
  const asServer = yield* listen
  const mcpServer = yield* listen
  const issuer = `http://127.0.0.1:${portOf(asServer)}`
  const resource = `http://127.0.0.1:${portOf(mcpServer)}/mcp`
  const { privateKey } = yield* Effect.promise(() => generateKeyPair("ES256", { extractable: true }))
  const jwk = yield* Effect.promise(() => exportJWK(privateKey))
  const provider = new Provider(issuer, {
    jwks: { keys: [{ ...jwk, kid: "k1", alg: "ES256", use: "sig" }] },
    scopes: ["openid", "offline_access", "mcp:read", "mcp:write"],
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
            scope: "mcp:read mcp:write",
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
  asServer.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    if (request.url?.startsWith("/interaction/") === true) void interact(request, response)
    else callback(request, response)
  })

  const jwt = yield* JwtVerifier.make({ jwksUrl: `${issuer}/jwks`, issuer, audience: resource })
  const denied = new Set<string>()
  const verifier: McpAuth.TokenVerifierService = {
    verify: (token) =>
      Effect.flatMap(jwt.verify(token), (principal) =>
        denied.has(String(principal.claims["jti"]))
          ? Effect.fail(new McpAuth.InvalidToken({ reason: "the token was revoked" }))
          : Effect.succeed(principal))
  }
  const context = yield* Layer.build(ServerLive)
  const registry = yield* SessionRegistry.make({}).pipe(Effect.provide(context))
  const front = yield* HttpTransport.make({
    loopback: true,
    auth: {
      resource,
      authorizationServers: [issuer],
      scopes: ["mcp:read"],
      toolScopes: { write_note: ["mcp:write"] },
      verifier,
      cacheTtl: 0
    }
  }).pipe(Effect.provideService(SessionRegistry.SessionRegistry, registry))
  mcpServer.on("request", NodeExchange.listener(front.handle))
  return { url: resource, issuer, grants, denied, provider }
})

/** The user, as a browser would: follows the provider's redirects, with its cookies, back to the redirect URI. */
const REDIRECT_URI = "http://127.0.0.1:1/callback"
const cookies = new Map<string, string>()
const user = McpClientAuth.layerAuthorizationHandler(REDIRECT_URI, (url) =>
  Effect.tryPromise({
    try: async () => {
      let next = url.href
      for (let hops = 0; hops < 10; hops++) {
        if (next.startsWith(REDIRECT_URI)) return next
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
    },
    catch: (cause) => new McpClientAuth.McpAuthError({ step: "authorization", message: String(cause), cause })
  }))

describe("McpClientAuth against oidc-provider", () => {
  it.scoped("discovers, registers, authorizes with PKCE, refreshes before expiry, steps up, and recovers a revoked token", () =>
    Effect.gen(function*() {
      // The provider's tokens carry real times; the client's and the verifier's clock starts at the real now.
      yield* TestClock.setTime(Date.now())
      const setup = yield* start
      const store = yield* TokenStore.makeMemory
      const ClientLive = McpClient.layerStreamableHttp({ url: setup.url, auth: {}, standaloneStream: false }).pipe(
        Layer.provide(user),
        Layer.provide(Layer.succeed(TokenStore.TokenStore, store)),
        Layer.provide(FetchHttpClient.layer)
      )
      const client = Context.get(yield* Layer.build(ClientLive), McpClient.McpClient)
      const first = yield* client.callTool("read_note", {})
      expect(first.isError).not.toBe(true)
      expect(setup.grants).toEqual(["authorization_code"])
      const tokens = Option.getOrThrow(yield* store.tokens(setup.url))
      expect(tokens.issuer).toBe(setup.issuer)
      expect(tokens.refreshToken).toBeDefined()
      expect(decodeJwt(tokens.accessToken).aud).toBe(setup.url)

      // An hour later the token is about to expire: the client refreshes it before it sends anything.
      yield* TestClock.adjust("3600 seconds")
      yield* client.callTool("read_note", {})
      expect(setup.grants).toEqual(["authorization_code", "refresh_token"])

      // write_note needs mcp:write: the 403 makes the client authorize again with it.
      const written = yield* client.callTool("write_note", { text: "hi" })
      expect(written.content).toEqual([{ type: "text", text: "written: hi" }])
      expect(setup.grants).toEqual(["authorization_code", "refresh_token", "authorization_code"])
      const wider = Option.getOrThrow(yield* store.tokens(setup.url))
      expect(wider.scope?.split(" ")).toEqual(expect.arrayContaining(["mcp:read", "mcp:write"]))

      // Revoked: the refresh token at the provider, the access token at the MCP server. The 401 finds the refresh
      // refused, and the user authorizes again.
      const registered = Option.getOrThrow(yield* store.client(setup.issuer))
      const revoked = yield* Effect.promise(() =>
        fetch(`${setup.issuer}/token/revocation`, {
          method: "POST",
          body: new URLSearchParams({ token: wider.refreshToken!, client_id: registered.clientId })
        })
      )
      expect(revoked.status).toBe(200)
      setup.denied.add(String(decodeJwt(wider.accessToken).jti))
      yield* client.callTool("read_note", {})
      expect(setup.grants.at(-1)).toBe("authorization_code")
      expect(setup.grants.length).toBe(4)
    }), 60_000)
})
