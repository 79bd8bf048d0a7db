/**
 * The client's OAuth in parts, against small real HTTP servers on 127.0.0.1: the challenge, discovery's order,
 * refusing metadata for another resource, scope selection, and the authorization response's `state` and `iss`.
 * The whole flow against a real authorization server is `packages/node/test/McpClientAuth.test.ts`.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Http from "node:http"
import * as Challenge from "../src/internal/client/auth/challenge.js"
import * as Discovery from "../src/internal/client/auth/discovery.js"
import * as Session from "../src/internal/client/auth/session.js"
import * as McpClientAuth from "../src/McpClientAuth.js"
import * as TokenStore from "../src/TokenStore.js"

/** A server answering `documents` by path (404 otherwise), recording every path asked for. */
const serve = (documents: (origin: string) => Record<string, unknown>) =>
  Effect.acquireRelease(
    Effect.async<{ readonly origin: string; readonly paths: Array<string>; readonly server: Http.Server }>((resume) => {
      const paths: Array<string> = []
      let origin = ""
      const server = Http.createServer((request, response) => {
        paths.push(request.url ?? "")
        const document = documents(origin)[request.url ?? ""]
        if (document === undefined) response.writeHead(404).end()
        else response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(document))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        origin = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
        resume(Effect.succeed({ origin, paths, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )

const discover = (url: string, fromChallenge?: string) =>
  Effect.flatMap(HttpClient.HttpClient, (http) => Discovery.discover(http, new URL(url), fromChallenge)).pipe(
    Effect.provide(FetchHttpClient.layer)
  )

const metadata = (issuer: string) => ({
  issuer,
  authorization_endpoint: `${issuer}/authorize`,
  token_endpoint: `${issuer}/token`,
  code_challenge_methods_supported: ["S256"]
})

describe("McpClientAuth", () => {
  it("reads the Bearer challenge among others, quoted or not", () => {
    expect(Challenge.parse(
      `DPoP algs="ES256", Bearer error="insufficient_scope", scope="a b", resource_metadata="https://x/.well-known/y", realm=mcp`
    )).toEqual({
      error: "insufficient_scope",
      errorDescription: undefined,
      scope: "a b",
      resourceMetadata: "https://x/.well-known/y"
    })
    expect(Challenge.parse("Basic realm=\"x\"")).toEqual({})
    expect(Challenge.parse(undefined)).toEqual({})
  })

  it.scopedLive("discovers in the spec's order: path-suffixed then root PRM; RFC 8414 then OpenID, path-aware", () =>
    Effect.gen(function*() {
      const served = yield* serve((origin) => ({
        "/.well-known/oauth-protected-resource": {
          resource: `${origin}/mcp`,
          authorization_servers: [`${origin}/tenant`],
          scopes_supported: ["mcp:read", "mcp:write"]
        },
        "/tenant/.well-known/openid-configuration": metadata(`${origin}/tenant`)
      }))
      const found = yield* discover(`${served.origin}/mcp`)
      expect(served.paths).toEqual([
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/openid-configuration/tenant",
        "/tenant/.well-known/openid-configuration"
      ])
      expect(found.resource).toBe(`${served.origin}/mcp`)
      expect(found.server.issuer).toBe(`${served.origin}/tenant`)
      // Scope selection: the challenge's, else every scope of the metadata, else none.
      expect(Session.selectScope(undefined, { scope: "mcp:read" }, found.resourceMetadata)).toBe("mcp:read")
      expect(Session.selectScope(undefined, {}, found.resourceMetadata)).toBe("mcp:read mcp:write")
      expect(Session.selectScope(undefined, {}, Option.none())).toBeUndefined()
      expect(Session.selectScope("x", { scope: "mcp:read" }, found.resourceMetadata)).toBe("x")
    }))

  it.scopedLive("takes the challenge's resource_metadata and nothing else; refuses metadata for another resource", () =>
    Effect.gen(function*() {
      const served = yield* serve((origin) => ({
        "/custom.json": { resource: "https://evil.example.com/mcp", authorization_servers: [origin] },
        "/.well-known/oauth-authorization-server": metadata(origin)
      }))
      const error = yield* Effect.flip(discover(`${served.origin}/mcp`, `${served.origin}/custom.json`))
      expect(error.step).toBe("protected resource metadata")
      expect(error.message).toContain("https://evil.example.com/mcp")
      expect(served.paths).toEqual(["/custom.json"])
    }))

  it.scopedLive("refuses authorization server metadata that names another issuer", () =>
    Effect.gen(function*() {
      const served = yield* serve((origin) => ({
        "/.well-known/oauth-protected-resource/mcp": { resource: `${origin}/mcp`, authorization_servers: [origin] },
        "/.well-known/oauth-authorization-server": metadata("https://other.example.com")
      }))
      const error = yield* Effect.flip(discover(`${served.origin}/mcp`))
      expect(error.step).toBe("authorization server metadata")
    }))

  it("a resource covers its own path and those under it, on its origin only", () => {
    const url = new URL("https://mcp.example.com/api/mcp")
    expect(Discovery.resourceCovers("https://mcp.example.com", url)).toBe(true)
    expect(Discovery.resourceCovers("https://mcp.example.com/api/mcp", url)).toBe(true)
    expect(Discovery.resourceCovers("https://mcp.example.com/api/m", url)).toBe(false)
    expect(Discovery.resourceCovers("https://mcp.example.com:8443/api/mcp", url)).toBe(false)
  })

  it.effect("checks the authorization response: error, state, and iss compared without normalization", () =>
    Effect.gen(function*() {
      const server = { ...metadata("https://as.example.com"), authorization_response_iss_parameter_supported: true }
      const ok = { code: "c", state: "s", iss: "https://as.example.com" }
      yield* Session.checkResponse(ok, "s", server)
      const reasons = yield* Effect.all([
        Effect.flip(Session.checkResponse({ ...ok, iss: "https://as.example.com/" }, "s", server)),
        Effect.flip(Session.checkResponse({ ...ok, iss: "https://evil.example.com" }, "s", server)),
        Effect.flip(Session.checkResponse({ code: "c", state: "s" }, "s", server)),
        Effect.flip(Session.checkResponse(ok, "other", server)),
        Effect.flip(Session.checkResponse({ error: "access_denied", errorDescription: "no", state: "s" }, "s", server))
      ])
      expect(reasons.map((e) => e.step)).toEqual(Array(5).fill("authorization"))
      expect(reasons[4]!.error).toBe("access_denied")
      expect(reasons[4]!.message).toContain("access_denied (no)")
      // No iss promised and none sent: fine; one sent anyway is still compared.
      const quiet = metadata("https://as.example.com")
      yield* Session.checkResponse({ code: "c", state: "s" }, "s", quiet)
      expect((yield* Effect.flip(Session.checkResponse({ ...ok, iss: "https://x" }, "s", quiet))).step).toBe(
        "authorization"
      )
    }))
})

/** An identity provider's token endpoint: answers every POST with `answer`, recording the forms it got. */
const identityProvider = (answer: { readonly status: number; readonly body: unknown }) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly forms: Array<URLSearchParams>; readonly server: Http.Server }>(
      (resume) => {
        const forms: Array<URLSearchParams> = []
        const server = Http.createServer((request, response) => {
          let body = ""
          request.setEncoding("utf8").on("data", (chunk: string) => body += chunk).on("end", () => {
            forms.push(new URLSearchParams(body))
            response.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body))
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          resume(Effect.succeed({ url: `http://127.0.0.1:${port}/token`, forms, server }))
        })
      }
    ),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )

describe("McpClientAuth.identityAssertion (SEP-990)", () => {
  const target = { issuer: "https://as.example.com", resource: "https://mcp.example.com/mcp", scope: "mcp:read" }
  const ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"

  it.scopedLive("exchanges the ID token at the identity provider (RFC 8693) for an ID-JAG for the issuer and resource", () =>
    Effect.gen(function*() {
      const idp = yield* identityProvider({ status: 200, body: { access_token: "the-jag", issued_token_type: ID_JAG, token_type: "N_A" } })
      const assertion = McpClientAuth.identityAssertion({
        tokenEndpoint: idp.url,
        idToken: Effect.succeed("the-id-token"),
        clientId: "idp-client"
      })
      expect(yield* assertion(target).pipe(Effect.provide(FetchHttpClient.layer))).toBe("the-jag")
      expect(Object.fromEntries(idp.forms[0]!)).toEqual({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        requested_token_type: ID_JAG,
        subject_token: "the-id-token",
        subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
        audience: target.issuer,
        resource: target.resource,
        scope: target.scope,
        client_id: "idp-client"
      })
    }))

  it.scopedLive("a refusal, or a token that is not an ID-JAG, fails the token exchange step with the server's words", () =>
    Effect.gen(function*() {
      const refusing = yield* identityProvider({ status: 400, body: { error: "invalid_grant", error_description: "expired" } })
      const wrong = yield* identityProvider({
        status: 200,
        body: { access_token: "x", issued_token_type: "urn:ietf:params:oauth:token-type:access_token" }
      })
      const exchange = (url: string) =>
        Effect.flip(
          McpClientAuth.identityAssertion({ tokenEndpoint: url, idToken: "t", clientId: "c" })(target).pipe(
            Effect.provide(FetchHttpClient.layer)
          )
        )
      const refused = yield* exchange(refusing.url)
      expect([refused.step, refused.error, refused.errorDescription]).toEqual(["token exchange", "invalid_grant", "expired"])
      const notJag = yield* exchange(wrong.url)
      expect(notJag.step).toBe("token exchange")
      expect(notJag.message).toContain("not an ID-JAG")
    }))
})

describe("TokenStore", () => {
  const tokens: TokenStore.Tokens = {
    accessToken: "at",
    refreshToken: "rt",
    expiresAt: 1000,
    scope: "mcp:read",
    issuer: "https://as.example.com",
    tokenEndpoint: "https://as.example.com/token",
    resource: "https://mcp.example.com/mcp"
  }

  it.scoped("layerFile keeps registrations and tokens across stores, and fails on a file it cannot read", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/tokens.json`
      const first = yield* TokenStore.makeFile(path)
      yield* first.setClient("https://as.example.com", { clientId: "c1", redirectUri: "http://127.0.0.1:1/cb" })
      yield* first.setTokens("https://mcp.example.com/mcp", tokens)
      const second = yield* TokenStore.makeFile(path)
      expect(Option.getOrThrow(yield* second.tokens("https://mcp.example.com/mcp"))).toEqual(tokens)
      expect(Option.getOrThrow(yield* second.client("https://as.example.com")).clientId).toBe("c1")
      expect((yield* fs.stat(path)).mode & 0o777).toBe(0o600)
      yield* second.removeTokens("https://mcp.example.com/mcp")
      expect(yield* first.tokens("https://mcp.example.com/mcp")).toEqual(Option.none())
      yield* fs.writeFileString(path, "{ not json")
      const error = yield* Effect.flip(second.tokens("https://mcp.example.com/mcp"))
      expect(error._tag).toBe("TokenStoreError")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
