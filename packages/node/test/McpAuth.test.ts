/**
 * Authorization end to end: a server on a real socket protected by `auth`, the official SDK client's OAuth support,
 * and raw HTTP for what the SDK never sends. The interop tests run against `oidc-provider` (utils/oidc.ts), the
 * reference OpenID provider, and against a small hand-written authorization server (utils/oauth.ts), which also
 * signs the tokens a real provider does not produce on demand: expired, signed by a key it does not publish, for
 * another audience or issuer, without `exp`, of other subjects and scopes at will (the 401, 403, session-owner and
 * cache tests); and it can make its key set fail (the 503 test).
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, it } from "@effect/vitest"
import { NodeExchange, NodeMcpServer } from "@effect-mcp/node"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { type OAuthClientProvider, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js"
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens
} from "@modelcontextprotocol/sdk/shared/auth.js"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { decodeJwt } from "jose"
import * as Http from "node:http"
import * as HttpTransport from "@effect-mcp/core/HttpTransport"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as JwtVerifier from "@effect-mcp/core/JwtVerifier"
import * as McpAuth from "@effect-mcp/core/McpAuth"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as PlatformHttpTransport from "@effect-mcp/core/PlatformHttpTransport"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import { errorBody, type HttpResult, openSse, parseObject, request } from "./utils/http.js"
import { capture } from "./utils/logs.js"
import { type AuthServer, startAuthServer } from "./utils/oauth.js"
import { browse, listen, portOf, startOidc } from "./utils/oidc.js"

// --- The protected server -------------------------------------------------------------------------------------------

const WhoAmI = McpTool.make("whoami", {
  description: "Says who called",
  input: Schema.Struct({}),
  handler: () =>
    Effect.map(CurrentSession, ({ principal }) =>
      JSON.stringify({ subject: principal?.subject, scopes: principal?.scopes, clientId: principal?.clientId }))
})

const WriteNote = McpTool.make("write_note", {
  description: "Needs notes:write",
  input: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(`written: ${text}`)
})

const ServerLive = Layer.mergeAll(WhoAmI, WriteNote).pipe(
  Layer.provideMerge(McpServer.layer({ name: "protected", version: "1.0.0" }))
)

interface Protected {
  readonly port: number
  readonly origin: string
  readonly resource: string
  readonly registry: SessionRegistry.SessionRegistryService
  readonly as: AuthServer
  /** `METHOD /path` of every request the server got, in order. */
  readonly requests: ReadonlyArray<string>
  /** How many times the verifier ran. */
  readonly verifications: () => number
  /** A token the server accepts: audience the resource, issuer the authorization server. */
  readonly token: (claims?: { readonly sub?: string; readonly scope?: string }) => Effect.Effect<string>
}

interface ProtectedOptions {
  /** Appended to the origin to make the resource; default none (the origin covers every endpoint). */
  readonly resourcePath?: string
  readonly auth?: Partial<McpAuth.Options>
  readonly streamable?: HttpTransport.Options["streamable"]
}

// `listen` (from `utils/oidc.ts`) listens on a free port first, so the resource URI (which names the port) is known
// before the front is built.

/** Serves the protected front on `server` for `resource`, trusting the tokens of `issuer` (keys at `jwksUrl`). */
const protect = (
  server: Http.Server,
  resource: string,
  issuer: { readonly issuer: string; readonly jwksUrl: string },
  options: ProtectedOptions
) =>
  Effect.gen(function*() {
    const jwt = yield* JwtVerifier.make({ jwksUrl: issuer.jwksUrl, issuer: issuer.issuer, audience: resource })
    let verifications = 0
    const verifier: McpAuth.TokenVerifierService = {
      verify: (token) =>
        Effect.suspend(() => {
          verifications++
          return jwt.verify(token)
        })
    }
    const context = yield* Layer.build(ServerLive)
    const registry = yield* SessionRegistry.make({}).pipe(Effect.provide(context))
    const front = yield* HttpTransport.make({
      loopback: true,
      streamable: options.streamable,
      auth: {
        resource,
        authorizationServers: [issuer.issuer],
        scopes: ["mcp"],
        toolScopes: { write_note: ["notes:write"] },
        resourceName: "Protected test server",
        verifier,
        ...options.auth
      }
    }).pipe(Effect.provideService(SessionRegistry.SessionRegistry, registry))
    const requests: Array<string> = []
    const listener = NodeExchange.listener(front.handle)
    server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      requests.push(`${request.method} ${request.url}`)
      listener(request, response)
    })
    return { registry, requests, verifications: () => verifications }
  })

const startProtected = (options: ProtectedOptions = {}): Effect.Effect<Protected, never, Scope.Scope> =>
  Effect.gen(function*() {
    const as = yield* startAuthServer
    const server = yield* listen
    const port = portOf(server)
    const origin = `http://127.0.0.1:${port}`
    const resource = `${origin}${options.resourcePath ?? ""}`
    const { registry, requests, verifications } = yield* protect(server, resource, as, options)
    return {
      requests,
      port,
      origin,
      resource,
      registry,
      as,
      verifications,
      token: (claims = {}) =>
        Effect.promise(() => as.sign({ sub: claims.sub ?? "alice", scope: claims.scope ?? "mcp", aud: resource }))
    }
  })

/** The same protected server, trusting `oidc-provider` (`utils/oidc.ts`) instead of the hand-written server. */
const startProtectedByOidc = Effect.gen(function*() {
  const server = yield* listen
  const origin = `http://127.0.0.1:${portOf(server)}`
  const oidc = yield* startOidc(origin, "mcp notes:write")
  const { registry, requests } = yield* protect(server, origin, oidc, {})
  return { origin, resource: origin, registry, requests, oidc }
})

// --- Raw HTTP -------------------------------------------------------------------------------------------------------

const BOTH = "application/json, text/event-stream"

const initialize = (id: JsonRpc.RequestId) =>
  JsonRpc.request(id, "initialize", {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "raw", version: "0" }
  })

interface Send {
  readonly token?: string | undefined
  readonly session?: string | undefined
  readonly method?: string | undefined
  readonly path?: string | undefined
  readonly headers?: Http.OutgoingHttpHeaders | undefined
}

const send = (port: number, message: unknown, options: Send = {}): Effect.Effect<HttpResult> =>
  request({
    port,
    method: options.method ?? "POST",
    path: options.path ?? "/mcp",
    body: message === undefined ? "" : JSON.stringify(message),
    headers: {
      accept: BOTH,
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.session === undefined ? {} : { "mcp-session-id": options.session }),
      ...options.headers
    }
  })

/** Initializes a session over raw HTTP with a token; returns its id. */
const openSession = (port: number, token: string) =>
  Effect.gen(function*() {
    const opened = yield* send(port, initialize(1), { token })
    expect(opened.status).toBe(200)
    const id = opened.headers["mcp-session-id"]
    if (typeof id !== "string") return yield* Effect.die(new Error("no session id"))
    const initialized = yield* send(port, JsonRpc.notification("notifications/initialized"), { token, session: id })
    expect(initialized.status).toBe(202)
    return id
  })

const textOf = (result: HttpResult): string => {
  const body = parseObject(result.body)
  const content = Schema.decodeUnknownSync(
    Schema.Struct({ result: Schema.Struct({ content: Schema.Tuple(Schema.Struct({ text: Schema.String })) }) })
  )(body)
  return content.result.content[0].text
}

const callTool = (id: number, name: string, args: unknown = {}) => JsonRpc.request(id, "tools/call", { name, arguments: args })

const challengeOf = (result: HttpResult): string => String(result.headers["www-authenticate"])

// --- The SDK client's OAuth provider --------------------------------------------------------------------------------

/**
 * An `OAuthClientProvider` for tests: everything in memory, and the "browser" is a fetch of the authorization URL
 * whose redirect is read for the code, as an auto-approving user would produce it.
 */
class TestProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined = undefined
  saved: OAuthTokens | undefined = undefined
  verifier = ""
  /** The code of the last authorization, for `finishAuth`. */
  code: string | undefined = undefined
  authorizations = 0

  get redirectUrl(): string {
    return "http://127.0.0.1/callback"
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "effect-mcp auth test",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "none"
    }
  }
  clientInformation() {
    return this.client
  }
  saveClientInformation(client: OAuthClientInformationMixed) {
    this.client = client
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  async redirectToAuthorization(url: URL) {
    this.authorizations++
    const response = await fetch(url, { redirect: "manual" })
    const location = response.headers.get("location")
    if (response.status !== 302 || location === null) throw new Error(`authorization answered ${response.status}`)
    this.code = new URL(location).searchParams.get("code") ?? undefined
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier
  }
  codeVerifier() {
    return this.verifier
  }
}

/** The same provider, for `oidc-provider`: its user logs in and consents through redirects that carry cookies. */
class OidcTestProvider extends TestProvider {
  private readonly cookies = new Map<string, string>()
  override async redirectToAuthorization(url: URL) {
    this.authorizations++
    const back = new URL(await browse(url.href, this.redirectUrl, this.cookies))
    this.code = back.searchParams.get("code") ?? undefined
  }
}

/**
 * Connects the SDK client the way an app does: the first attempt runs discovery and sends the user to authorize
 * (UnauthorizedError); the app then finishes with the code and connects again.
 */
const connectWithOAuth = async (
  makeTransport: () => StreamableHTTPClientTransport | SSEClientTransport,
  provider: TestProvider
): Promise<{ readonly client: Client; readonly transport: StreamableHTTPClientTransport | SSEClientTransport }> => {
  const first = makeTransport()
  const refused = await new Client({ name: "sdk-oauth", version: "1.0.0" }).connect(first).then(() => undefined, (e) => e)
  if (!(refused instanceof UnauthorizedError)) throw new Error(`expected UnauthorizedError, got ${String(refused)}`)
  await first.finishAuth(provider.code ?? "")
  const transport = makeTransport()
  const client = new Client({ name: "sdk-oauth", version: "1.0.0" })
  await client.connect(transport)
  return { client, transport }
}

const toolText = (result: unknown): string => {
  const decoded = Schema.decodeUnknownSync(Schema.Struct({ content: Schema.Tuple(Schema.Struct({ text: Schema.String })) }))(
    result
  )
  return decoded.content[0].text
}

// --- Tests ----------------------------------------------------------------------------------------------------------

describe("McpAuth", () => {
  it.scopedLive("the SDK client discovers, registers, authorizes with PKCE, and steps up on the same session", () =>
    Effect.gen(function*() {
      const served = yield* startProtected()
      const { as } = served
      const provider = new TestProvider()
      const url = new URL(`${served.origin}/mcp`)
      const { client, transport } = yield* Effect.promise(() =>
        connectWithOAuth(() => new StreamableHTTPClientTransport(url, { authProvider: provider }), provider)
      )
      // RFC 9728 discovery from the 401's challenge, then RFC 8414, RFC 7591 and the code flow.
      expect(served.requests.slice(0, 2)).toEqual(["POST /mcp", "GET /.well-known/oauth-protected-resource"])
      expect(as.requests[0]).toBe("GET /.well-known/oauth-authorization-server")
      const flow = as.requests.filter((r) => r !== "GET /jwks" && !r.startsWith("GET /.well-known/"))
      expect(flow.slice(0, 3)).toEqual([
        "POST /register",
        "GET /authorize",
        "POST /token"
      ])
      // RFC 8707: the token was asked for this resource, with the PKCE verifier.
      const tokenRequest = as.tokenRequests[0]
      expect(tokenRequest?.get("resource")).toBe(served.resource)
      expect(tokenRequest?.get("code_verifier")).toBe(provider.verifier)
      expect(provider.saved?.scope).toBe("mcp")

      const sessionId = transport instanceof StreamableHTTPClientTransport ? transport.sessionId : undefined
      expect(sessionId).toMatch(/^[0-9a-f]{32}$/)
      const session = Option.getOrUndefined(yield* served.registry.lookup(sessionId ?? ""))
      expect(session?.principal?.subject).toBe("alice")

      const who = yield* Effect.promise(() => client.callTool({ name: "whoami", arguments: {} }))
      expect(JSON.parse(toolText(who))).toEqual({
        subject: "alice",
        scopes: ["mcp"],
        clientId: provider.client?.client_id
      })

      // write_note needs notes:write: 403 insufficient_scope; the SDK authorizes again for "mcp notes:write".
      const stepUp = yield* Effect.promise(() =>
        client.callTool({ name: "write_note", arguments: { text: "hi" } }).then(() => undefined, (e) => e)
      )
      expect(stepUp).toBeInstanceOf(UnauthorizedError)
      expect(provider.authorizations).toBe(2)
      yield* Effect.promise(() => transport.finishAuth(provider.code ?? ""))
      expect(provider.saved?.scope).toBe("mcp notes:write")

      // The same session serves the new token of the same party, and handlers see its scopes.
      const written = yield* Effect.promise(() => client.callTool({ name: "write_note", arguments: { text: "hi" } }))
      expect(toolText(written)).toBe("written: hi")
      expect(transport instanceof StreamableHTTPClientTransport ? transport.sessionId : undefined).toBe(sessionId)
      const after = yield* Effect.promise(() => client.callTool({ name: "whoami", arguments: {} }))
      expect(JSON.parse(toolText(after)).scopes).toEqual(["mcp", "notes:write"])
      expect(yield* served.registry.size).toBe(1)
      yield* Effect.promise(() => client.close())
    }), 20_000)

  it.scopedLive("the SDK client authorizes over the legacy SSE transport", () =>
    Effect.gen(function*() {
      const served = yield* startProtected()
      const provider = new TestProvider()
      const url = new URL(`${served.origin}/sse`)
      const { client } = yield* Effect.promise(() =>
        connectWithOAuth(() => new SSEClientTransport(url, { authProvider: provider }), provider)
      )
      const who = yield* Effect.promise(() => client.callTool({ name: "whoami", arguments: {} }))
      expect(JSON.parse(toolText(who)).subject).toBe("alice")
      const sessions = yield* served.registry.sessions
      expect(sessions.map((s) => [s.transport, s.principal?.subject])).toEqual([["sse", "alice"]])
      yield* Effect.promise(() => client.close())
    }), 20_000)

  it.scopedLive("with oidc-provider: the SDK client discovers, authorizes with PKCE, and steps up", () =>
    Effect.gen(function*() {
      const served = yield* startProtectedByOidc
      const provider = new OidcTestProvider()
      // Registered beforehand for both scopes: the SDK registers a client for the first challenge's scope alone,
      // and oidc-provider holds a client to the scopes it registered (the SSE test below registers dynamically).
      const registered = yield* Effect.promise(() =>
        fetch(`${served.oidc.issuer}/reg`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ...provider.clientMetadata, scope: "mcp notes:write" })
        }).then((response) => response.json())
      )
      provider.client = Schema.decodeUnknownSync(Schema.Struct({ client_id: Schema.String }))(registered)
      const url = new URL(`${served.origin}/mcp`)
      const { client, transport } = yield* Effect.promise(() =>
        connectWithOAuth(() => new StreamableHTTPClientTransport(url, { authProvider: provider }), provider)
      )
      expect(served.requests.slice(0, 2)).toEqual(["POST /mcp", "GET /.well-known/oauth-protected-resource"])
      expect(served.oidc.grants).toEqual(["authorization_code"])
      // The provider's JWT, for this resource (RFC 8707), checked by JwtVerifier against the provider's keys.
      const claims = decodeJwt(provider.saved?.access_token ?? "")
      expect([claims.iss, claims.aud, claims.sub]).toEqual([served.oidc.issuer, served.resource, "alice"])

      const who = yield* Effect.promise(() => client.callTool({ name: "whoami", arguments: {} }))
      expect(JSON.parse(toolText(who))).toEqual({ subject: "alice", scopes: ["mcp"], clientId: provider.client?.client_id })

      // write_note needs notes:write: 403 insufficient_scope, and the provider consents to the wider scope.
      const sessionId = transport instanceof StreamableHTTPClientTransport ? transport.sessionId : undefined
      const stepUp = yield* Effect.promise(() =>
        client.callTool({ name: "write_note", arguments: { text: "hi" } }).then(() => undefined, (e) => e)
      )
      expect(stepUp).toBeInstanceOf(UnauthorizedError)
      yield* Effect.promise(() => transport.finishAuth(provider.code ?? ""))
      expect(served.oidc.grants).toEqual(["authorization_code", "authorization_code"])
      const written = yield* Effect.promise(() => client.callTool({ name: "write_note", arguments: { text: "hi" } }))
      expect(toolText(written)).toBe("written: hi")
      expect(transport instanceof StreamableHTTPClientTransport ? transport.sessionId : undefined).toBe(sessionId)
      const after = yield* Effect.promise(() => client.callTool({ name: "whoami", arguments: {} }))
      expect([...JSON.parse(toolText(after)).scopes].sort()).toEqual(["mcp", "notes:write"])
      expect(yield* served.registry.size).toBe(1)
      yield* Effect.promise(() => client.close())
    }), 20_000)

  it.scopedLive("with oidc-provider: the SDK client registers dynamically and authorizes over the legacy SSE transport", () =>
    Effect.gen(function*() {
      const served = yield* startProtectedByOidc
      const provider = new OidcTestProvider()
      const { client } = yield* Effect.promise(() =>
        connectWithOAuth(() => new SSEClientTransport(new URL(`${served.origin}/sse`), { authProvider: provider }), provider)
      )
      expect(provider.client?.client_id).toBeDefined()
      expect(served.oidc.grants).toEqual(["authorization_code"])
      const who = yield* Effect.promise(() => client.callTool({ name: "whoami", arguments: {} }))
      expect(JSON.parse(toolText(who))).toEqual({ subject: "alice", scopes: ["mcp"], clientId: provider.client?.client_id })
      const sessions = yield* served.registry.sessions
      expect(sessions.map((s) => [s.transport, s.principal?.subject])).toEqual([["sse", "alice"]])
      yield* Effect.promise(() => client.close())
    }), 20_000)

  it.scopedLive("serves the protected resource metadata at the root and path-suffixed well-known URIs", () =>
    Effect.gen(function*() {
      const served = yield* startProtected({ resourcePath: "/mcp" })
      const { port, origin } = served
      const expected = {
        resource: `${origin}/mcp`,
        authorization_servers: [served.as.issuer],
        scopes_supported: ["mcp"],
        bearer_methods_supported: ["header"],
        resource_name: "Protected test server"
      }
      for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
        const result = yield* request({ port, path, method: "GET", body: "" })
        expect(result.status, path).toBe(200)
        expect(result.headers["content-type"]).toBe("application/json")
        expect(JSON.parse(result.body)).toEqual(expected)
      }
      // The challenge points at the path-suffixed document (RFC 9728 section 3.1).
      const refused = yield* send(port, initialize(1))
      expect(challengeOf(refused)).toBe(
        `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="mcp"`
      )
      // Only GET; and the security policy applies here as on every path.
      const posted = yield* request({ port, path: "/.well-known/oauth-protected-resource", body: "{}" })
      expect(posted.status).toBe(405)
      expect(posted.headers["allow"]).toBe("GET")
      const foreign = yield* request({
        port,
        path: "/.well-known/oauth-protected-resource",
        method: "GET",
        body: "",
        headers: { origin: "https://evil.example" }
      })
      expect(foreign.status).toBe(403)
    }))

  it.scopedLive("no token or another scheme: 401 with the challenge on every MCP path, before anything else", () =>
    Effect.gen(function*() {
      const served = yield* startProtected()
      const { port, origin } = served
      const challenge = `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource", scope="mcp"`
      const cases: ReadonlyArray<readonly [string, string, unknown]> = [
        ["POST", "/mcp", initialize(1)],
        // Not even JSON: the body is never read.
        ["POST", "/mcp", "not json"],
        ["GET", "/mcp", undefined],
        ["DELETE", "/mcp", undefined],
        ["GET", "/sse", undefined],
        ["POST", "/messages?session_id=0123", JsonRpc.request(1, "ping")]
      ]
      for (const [method, path, body] of cases) {
        for (const headers of [{}, { authorization: "Basic YWxpY2U6c2VjcmV0" }]) {
          const result = yield* send(port, body, { method, path, headers })
          expect(result.status, `${method} ${path}`).toBe(401)
          expect(challengeOf(result)).toBe(challenge)
          expect(errorBody(result)).toEqual({
            code: JsonRpc.ErrorCode.ConnectionClosed,
            message: "Unauthorized: a bearer token is required"
          })
        }
      }
      expect(yield* served.registry.size).toBe(0)
      expect(served.verifications()).toBe(0)
    }))

  it.scopedLive("invalid tokens get 401 invalid_token: expired, bad signature, wrong audience or issuer, malformed", () =>
    Effect.gen(function*() {
      const served = yield* startProtected()
      const { as, port, origin, resource } = served
      const metadata = `${origin}/.well-known/oauth-protected-resource`
      const cases: ReadonlyArray<readonly [string, string]> = [
        [yield* Effect.promise(() => as.sign({ aud: resource, scope: "mcp", expiresIn: -60 })), "the token has expired"],
        [
          yield* Effect.promise(() => as.sign({ aud: resource, scope: "mcp", foreignKey: true })),
          "the token's signature is invalid"
        ],
        [
          yield* Effect.promise(() => as.sign({ aud: "https://other.example/mcp", scope: "mcp" })),
          "the token is not for this resource"
        ],
        [
          yield* Effect.promise(() => as.sign({ aud: resource, iss: "https://other.example", scope: "mcp" })),
          "the token is from another issuer"
        ],
        [yield* Effect.promise(() => as.sign({ aud: resource, scope: "mcp", expiresIn: null })), "the token's exp claim is invalid"],
        ["not-a-jwt", "the token is malformed"],
        ["bad token with spaces", "the bearer token is malformed"]
      ]
      for (const [token, reason] of cases) {
        const result = yield* send(port, initialize(1), { token })
        expect(result.status, reason).toBe(401)
        expect(challengeOf(result)).toBe(
          `Bearer error="invalid_token", error_description="${reason}", resource_metadata="${metadata}", scope="mcp"`
        )
        expect(errorBody(result).message).toBe(`Unauthorized: ${reason}`)
      }
      expect(yield* served.registry.size).toBe(0)
    }))

  it.scopedLive("insufficient scope: 403 naming the scopes needed, for the server's scopes and a tool's", () =>
    Effect.gen(function*() {
      const served = yield* startProtected()
      const { port, origin } = served
      const metadata = `${origin}/.well-known/oauth-protected-resource`

      const unscoped = yield* served.token({ scope: "profile" })
      const refused = yield* send(port, initialize(1), { token: unscoped })
      expect(refused.status).toBe(403)
      expect(challengeOf(refused)).toBe(
        `Bearer error="insufficient_scope", scope="profile mcp", resource_metadata="${metadata}", error_description="the token lacks the scope mcp"`
      )
      expect(errorBody(refused).message).toBe("Forbidden: the token lacks the scope mcp")
      expect(yield* served.registry.size).toBe(0)

      // With "mcp" the session opens; a tools/call of write_note needs notes:write as well, and is refused
      // before it reaches the session. Everything else goes through.
      const token = yield* served.token()
      const id = yield* openSession(port, token)
      const write = yield* send(port, callTool(2, "write_note", { text: "x" }), { token, session: id })
      expect(write.status).toBe(403)
      expect(challengeOf(write)).toBe(
        `Bearer error="insufficient_scope", scope="mcp notes:write", resource_metadata="${metadata}", error_description="the tool write_note needs the scope notes:write"`
      )
      const who = yield* send(port, callTool(3, "whoami"), { token, session: id })
      expect(who.status).toBe(200)
      expect(JSON.parse(textOf(who)).subject).toBe("alice")
      const list = yield* send(port, JsonRpc.request(4, "tools/list"), { token, session: id })
      expect(list.status).toBe(200)

      // A new token of the same party with the scope: same session, and the handler sees the new scopes.
      const writer = yield* served.token({ scope: "mcp notes:write" })
      const written = yield* send(port, callTool(5, "write_note", { text: "x" }), { token: writer, session: id })
      expect(textOf(written)).toBe("written: x")
      const whoNow = yield* send(port, callTool(6, "whoami"), { token: writer, session: id })
      expect(JSON.parse(textOf(whoNow)).scopes).toEqual(["mcp", "notes:write"])
    }))

  it.scopedLive("a session belongs to whoever opened it: another principal gets 404, like an unknown id", () =>
    Effect.gen(function*() {
      const served = yield* startProtected()
      const { port } = served
      const alice = yield* served.token({ sub: "alice" })
      const bob = yield* served.token({ sub: "bob" })
      const id = yield* openSession(port, alice)
      const unknown = yield* send(port, JsonRpc.request(2, "tools/list"), { token: bob, session: "f".repeat(32) })
      expect(unknown.status).toBe(404)

      const probes: ReadonlyArray<readonly [string, unknown]> = [
        ["POST", JsonRpc.request(3, "tools/list")],
        ["GET", undefined],
        ["DELETE", undefined]
      ]
      for (const [method, body] of probes) {
        const result = yield* send(port, body, { method, token: bob, session: id })
        expect(result.status, method).toBe(404)
        expect(result.body, method).toBe(unknown.body)
      }
      // Legacy SSE: the same rule for POST /messages.
      const stream = yield* openSse({ port, headers: { authorization: `Bearer ${alice}` } })
      const endpoint = yield* Effect.promise(() => stream.endpoint())
      const hijack = yield* send(port, JsonRpc.request(4, "ping"), { token: bob, path: endpoint })
      expect(hijack.status).toBe(404)
      expect(hijack.body).toBe(unknown.body)
      const own = yield* send(port, JsonRpc.request(5, "ping"), { token: alice, path: endpoint })
      expect(own.status).toBe(202)
      stream.destroy()

      // The owner's session is untouched.
      const list = yield* send(port, JsonRpc.request(6, "tools/list"), { token: alice, session: id })
      expect(list.status).toBe(200)
      expect((yield* served.registry.sessions).some((s) => s.id === id && s.principal?.subject === "alice")).toBe(true)
    }))

  it.scopedLive("verified tokens are cached: one verification per token, shared by concurrent requests", () =>
    Effect.gen(function*() {
      const served = yield* startProtected()
      const { port } = served
      const token = yield* served.token()
      const id = yield* openSession(port, token)
      for (let i = 0; i < 5; i++) {
        expect((yield* send(port, JsonRpc.request(10 + i, "ping"), { token, session: id })).status).toBe(200)
      }
      expect(served.verifications()).toBe(1)
      // A new token, sent by ten requests at once: verified once.
      const fresh = yield* served.token({ scope: "mcp notes:write" })
      const results = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => i),
        (i) => send(port, JsonRpc.request(20 + i, "ping"), { token: fresh, session: id }),
        { concurrency: "unbounded" }
      )
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200))
      expect(served.verifications()).toBe(2)
    }))

  it.scopedLive("without a cache every request is verified", () =>
    Effect.gen(function*() {
      const served = yield* startProtected({ auth: { cacheTtl: 0 } })
      const token = yield* served.token()
      const id = yield* openSession(served.port, token)
      for (let i = 0; i < 3; i++) yield* send(served.port, JsonRpc.request(10 + i, "ping"), { token, session: id })
      expect(served.verifications()).toBe(5)
    }))

  it.scopedLive("a key set that cannot be fetched is the server's fault: 503, not 401", () =>
    Effect.gen(function*() {
      const logs = capture()
      const served = yield* Effect.provide(startProtected(), logs.layer)
      served.as.jwksDown = true
      const token = yield* served.token()
      const result = yield* send(served.port, initialize(1), { token })
      expect(result.status).toBe(503)
      expect(result.headers["www-authenticate"]).toBeUndefined()
      expect(errorBody(result).message).toBe("Service Unavailable: the bearer token cannot be verified now")
      expect(logs.entries.some((e) => e.message.startsWith("bearer token could not be verified"))).toBe(true)
      served.as.jwksDown = false
      expect((yield* send(served.port, initialize(2), { token })).status).toBe(200)
    }))

  it.scopedLive("stateless: each request's session carries its principal, and tool scopes are checked", () =>
    Effect.gen(function*() {
      const served = yield* startProtected({ streamable: { stateless: true } })
      const token = yield* served.token()
      const who = yield* send(served.port, callTool(1, "whoami"), { token })
      expect(JSON.parse(textOf(who)).subject).toBe("alice")
      const write = yield* send(served.port, callTool(2, "write_note", { text: "x" }), { token })
      expect(write.status).toBe(403)
      expect(yield* served.registry.size).toBe(0)
    }))

  it.scopedLive("mounted on an HttpLayerRouter, the same authorization holds", () =>
    Effect.gen(function*() {
      const as = yield* startAuthServer
      const resource = "https://mcp.example.com/mcp"
      const app = HttpLayerRouter.serve(
        PlatformHttpTransport.layer({ auth: { resource, authorizationServers: [as.issuer], scopes: ["mcp"] } }),
        { disableLogger: true }
      ).pipe(
        Layer.provide(ServerLive),
        Layer.provide(JwtVerifier.layer({ jwksUrl: as.jwksUrl, issuer: as.issuer, audience: resource })),
        Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" }))
      )
      // Platform's server logs where it listens; captured, not printed.
      const built = yield* Effect.provide(Layer.build(app), capture().layer)
      const address = Context.get(built, HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") return yield* Effect.die(new Error("expected a TCP address"))
      const port = address.port
      const metadata = yield* request({ port, path: "/.well-known/oauth-protected-resource/mcp", method: "GET", body: "" })
      expect(JSON.parse(metadata.body).resource).toBe(resource)
      const refused = yield* send(port, initialize(1))
      expect(refused.status).toBe(401)
      expect(challengeOf(refused)).toBe(
        `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp"`
      )
      const token = yield* Effect.promise(() => as.sign({ aud: resource, scope: "mcp" }))
      const id = yield* openSession(port, token)
      const bob = yield* Effect.promise(() => as.sign({ sub: "bob", aud: resource, scope: "mcp" }))
      expect((yield* send(port, JsonRpc.request(2, "ping"), { token: bob, session: id })).status).toBe(404)
      expect((yield* send(port, JsonRpc.request(3, "ping"), { token, session: id })).status).toBe(200)
    }))

  it.scopedLive("a server configured for authorization without a verifier does not start", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(ServerLive)
      const exit = yield* NodeMcpServer.layer({
        port: 0,
        auth: { resource: "https://mcp.example.com/mcp", authorizationServers: ["https://auth.example.com"] }
      }).pipe(Layer.build, Effect.provide(context), Effect.exit)
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("there is no token verifier")
    }))

  it.scopedLive("NodeMcpServer.layer takes auth and the verifier from context; without auth nothing changes", () =>
    Effect.gen(function*() {
      const as = yield* startAuthServer
      const resource = "https://mcp.example.com/mcp"
      const protectedLayer = NodeMcpServer.layer({
        port: 0,
        auth: { resource, authorizationServers: [as.issuer], scopes: ["mcp"] }
      }).pipe(
        Layer.provide(ServerLive),
        Layer.provide(JwtVerifier.layer({ jwksUrl: as.jwksUrl, issuer: as.issuer, audience: resource }))
      )
      const port = Context.get(yield* Layer.build(protectedLayer), NodeMcpServer.NodeMcpServer).address.port
      const metadata = yield* request({ port, path: "/.well-known/oauth-protected-resource/mcp", method: "GET", body: "" })
      expect(JSON.parse(metadata.body).resource).toBe(resource)
      expect((yield* send(port, initialize(1))).status).toBe(401)
      const token = yield* Effect.promise(() => as.sign({ aud: resource, scope: "mcp" }))
      expect((yield* send(port, initialize(2), { token })).status).toBe(200)

      // Authorization off: no metadata, no token needed, a token is ignored, sessions have no principal.
      const open = NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(ServerLive))
      const built = yield* Layer.build(open)
      const openPort = Context.get(built, NodeMcpServer.NodeMcpServer).address.port
      const none = yield* request({ port: openPort, path: "/.well-known/oauth-protected-resource", method: "GET", body: "" })
      expect(none.status).toBe(404)
      expect((yield* send(openPort, initialize(1))).status).toBe(200)
      expect((yield* send(openPort, initialize(2), { token: "whatever" })).status).toBe(200)
      const sessions = yield* Context.get(built, SessionRegistry.SessionRegistry).sessions
      expect(sessions.map((s) => s.principal)).toEqual([undefined, undefined])
    }))
})
