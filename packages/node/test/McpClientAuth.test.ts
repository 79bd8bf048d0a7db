/**
 * The client's OAuth against real parts: `oidc-provider` (the reference OpenID provider) as the authorization
 * server on 127.0.0.1, issuing JWT access tokens for the MCP server's resource indicator, and an effect-mcp server
 * protected by `McpAuth` with `JwtVerifier`; and a server protected by the official SDK's own OAuth
 * (`fixtures/sdk-auth-server.mjs`: `mcpAuthRouter` and `requireBearerAuth`). The authorization handler plays the
 * user: it follows the redirects with their cookies, and oidc-provider's interaction routes log in and consent at
 * once.
 *
 * `server-everything` (the reference server, tested in `ServerEverything.test.ts`) asks for no authorization in
 * any of its transports, so there is no OAuth to test against it.
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
import { decodeJwt } from "jose"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type Provider from "oidc-provider"
import { browse, listen, portOf, startOidc } from "./utils/oidc.js"

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

interface Setup {
  readonly url: string
  readonly issuer: string
  /** The grant types of every token the provider issued, in order. */
  readonly grants: Array<string>
  /** Access tokens (by `jti`) the MCP server no longer accepts, as if it had been told they were revoked. */
  readonly denied: Set<string>
  readonly provider: Provider
}

const start: Effect.Effect<Setup, never, Scope.Scope> = Effect.gen(function*() {
  const mcpServer = yield* listen
  const resource = `http://127.0.0.1:${portOf(mcpServer)}/mcp`
  const { grants, issuer, provider } = yield* startOidc(resource, "mcp:read mcp:write")

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

/** The user, as a browser would: follows the redirects, with its cookies, back to the redirect URI. */
const REDIRECT_URI = "http://127.0.0.1:1/callback"
const cookies = new Map<string, string>()
const user = McpClientAuth.layerAuthorizationHandler(REDIRECT_URI, (url) =>
  Effect.tryPromise({
    try: () => browse(url.href, REDIRECT_URI, cookies),
    catch: (cause) => new McpClientAuth.McpAuthError({ step: "authorization", message: String(cause), cause })
  }))

/** A client of `url` with OAuth (`user` authorizes), and the token store it keeps its registration and tokens in. */
const connect = (url: string) =>
  Effect.gen(function*() {
    const store = yield* TokenStore.makeMemory
    const ClientLive = McpClient.layerStreamableHttp({ url, auth: {}, standaloneStream: false }).pipe(
      Layer.provide(user),
      Layer.provide(Layer.succeed(TokenStore.TokenStore, store)),
      Layer.provide(FetchHttpClient.layer)
    )
    return { client: Context.get(yield* Layer.build(ClientLive), McpClient.McpClient), store }
  })

describe("McpClientAuth against oidc-provider", () => {
  it.scoped("discovers, registers, authorizes with PKCE, refreshes before expiry, steps up, and recovers a revoked token", () =>
    Effect.gen(function*() {
      // The provider's tokens carry real times; the client's and the verifier's clock starts at the real now.
      yield* TestClock.setTime(Date.now())
      const setup = yield* start
      const { client, store } = yield* connect(setup.url)
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

/** The SDK-protected fixture as a child process, for the scope: its MCP URL and the requests it got. */
const sdkAuthServer: Effect.Effect<{ readonly url: string; readonly requests: Array<string> }, never, Scope.Scope> =
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly requests: Array<string>; readonly stop: () => Promise<void> }>(
      (resume) => {
        const fixture = fileURLToPath(new URL("./fixtures/sdk-auth-server.mjs", import.meta.url))
        const child = spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "inherit"] })
        const requests: Array<string> = []
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
        const stop = () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
          return exited
        }
        let buffered = ""
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          buffered += chunk
          const lines = buffered.split("\n")
          buffered = lines.pop() ?? ""
          for (const line of lines) {
            const port = /^listening (\d+)$/.exec(line)?.[1]
            if (port !== undefined) resume(Effect.succeed({ url: `http://127.0.0.1:${port}/mcp`, requests, stop }))
            const request = /^request (.+)$/.exec(line)?.[1]
            if (request !== undefined) requests.push(request)
          }
        })
        child.once("exit", (code) => resume(Effect.dieMessage(`the SDK auth fixture exited with ${code}`)))
      }
    ),
    ({ stop }) => Effect.promise(stop)
  )

describe("McpClientAuth against the official SDK's OAuth (mcpAuthRouter, requireBearerAuth)", () => {
  it.scopedLive("discovers, registers, authorizes with PKCE for the resource, and calls a tool with the token", () =>
    Effect.gen(function*() {
      const served = yield* sdkAuthServer
      const { client, store } = yield* connect(served.url)
      const result = yield* client.callTool("whoami", {})
      const registered = Option.getOrThrow(yield* store.client(new URL(served.url).origin + "/"))
      const said = result.content[0]
      expect(said?.type === "text" ? JSON.parse(said.text) : undefined).toEqual({
        clientId: registered.clientId,
        scopes: ["mcp:tools"],
        resource: served.url
      })
      // The 401's resource_metadata, RFC 8414 metadata, registration, the code flow, then the retried request.
      expect(served.requests.slice(0, 7)).toEqual([
        "POST /mcp",
        "GET /.well-known/oauth-protected-resource/mcp",
        "GET /.well-known/oauth-authorization-server",
        "POST /register",
        "GET /authorize",
        "POST /token",
        "POST /mcp"
      ])
      const tokens = Option.getOrThrow(yield* store.tokens(served.url))
      expect(tokens.scope).toBe("mcp:tools")
    }), 30_000)
})
