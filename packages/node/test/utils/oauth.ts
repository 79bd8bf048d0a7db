/**
 * A small OAuth 2.1 authorization server for the authorization tests, on `node:http` at 127.0.0.1: just what the
 * MCP authorization flow needs. Metadata (RFC 8414), dynamic registration (RFC 7591), an authorization endpoint
 * that approves at once and redirects with a code, a token endpoint that checks PKCE (S256) and issues an ES256
 * JWT whose audience is the `resource` asked for (RFC 8707), and the JWKS. No refresh tokens: a client that needs
 * more scopes authorizes again.
 *
 * It also signs tokens directly, for the cases the flow never produces (expired, wrong audience, another key).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose"
import { createHash, randomUUID } from "node:crypto"
import * as Http from "node:http"

export interface TokenClaims {
  readonly sub?: string | undefined
  readonly scope?: string | undefined
  readonly aud?: string | undefined
  readonly iss?: string | undefined
  /** Seconds from now; negative for a token that has expired. Default 3600; null for a token without `exp`. */
  readonly expiresIn?: number | null | undefined
  /** Sign with a key the JWKS does not publish (same `kid`): a bad signature. */
  readonly foreignKey?: boolean | undefined
  readonly extra?: JWTPayload | undefined
}

export interface AuthServer {
  readonly issuer: string
  readonly jwksUrl: string
  /** Who `/authorize` approves the next request as. */
  subject: string
  /** The scopes `/authorize` grants at most; undefined grants whatever is asked. */
  grantable: ReadonlyArray<string> | undefined
  /** `METHOD /path` of every request, in order. */
  readonly requests: Array<string>
  /** The form of every token request. */
  readonly tokenRequests: Array<URLSearchParams>
  /** Makes `/jwks` answer 500 (the key set cannot be fetched). */
  jwksDown: boolean
  readonly sign: (claims: TokenClaims) => Promise<string>
}

interface Code {
  readonly clientId: string
  readonly redirectUri: string
  readonly challenge: string
  readonly scope: string
  readonly resource: string | undefined
  readonly subject: string
}

const readBody = (request: Http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

const json = (response: Http.ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { "content-type": "application/json" })
  response.end(JSON.stringify(body))
}

const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url")

/** Starts the server in the current scope. */
export const startAuthServer: Effect.Effect<AuthServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const kid = "test-key"
    const { privateKey, publicKey } = await generateKeyPair("ES256")
    const foreign = await generateKeyPair("ES256")
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }
    const clients = new Map<string, ReadonlyArray<string>>()
    const codes = new Map<string, Code>()
    const server = Http.createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    if (address === null || typeof address === "string") throw new Error("the server has no TCP address")
    const issuer = `http://127.0.0.1:${address.port}`

    const sign = (claims: TokenClaims): Promise<string> => {
      const now = Math.floor(Date.now() / 1000)
      const expiresIn = claims.expiresIn === undefined ? 3600 : claims.expiresIn
      return new SignJWT({
        ...claims.extra,
        ...(claims.scope === undefined ? {} : { scope: claims.scope }),
        ...(expiresIn === null ? {} : { exp: now + expiresIn })
      })
        .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
        .setIssuer(claims.iss ?? issuer)
        .setSubject(claims.sub ?? "alice")
        .setAudience(claims.aud ?? "unset")
        .setIssuedAt(now)
        .setJti(randomUUID())
        .sign(claims.foreignKey === true ? foreign.privateKey : privateKey)
    }

    const state: AuthServer = {
      issuer,
      jwksUrl: `${issuer}/jwks`,
      subject: "alice",
      grantable: undefined,
      requests: [],
      tokenRequests: [],
      jwksDown: false,
      sign
    }

    const handle = async (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      const url = new URL(request.url ?? "/", issuer)
      state.requests.push(`${request.method} ${url.pathname}`)
      if (request.method === "GET" && url.pathname === "/.well-known/oauth-authorization-server") {
        return json(response, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          registration_endpoint: `${issuer}/register`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ["code"],
          grant_types_supported: ["authorization_code"],
          code_challenge_methods_supported: ["S256"],
          token_endpoint_auth_methods_supported: ["none"]
        })
      }
      if (request.method === "GET" && url.pathname === "/jwks") {
        return state.jwksDown ? json(response, 500, { error: "down" }) : json(response, 200, { keys: [publicJwk] })
      }
      if (request.method === "POST" && url.pathname === "/register") {
        const metadata: unknown = JSON.parse(await readBody(request))
        if (typeof metadata !== "object" || metadata === null || !("redirect_uris" in metadata)) {
          return json(response, 400, { error: "invalid_client_metadata" })
        }
        const uris = metadata.redirect_uris
        const clientId = randomUUID()
        clients.set(clientId, Array.isArray(uris) ? uris.filter((uri): uri is string => typeof uri === "string") : [])
        return json(response, 201, { ...metadata, client_id: clientId, client_id_issued_at: Math.floor(Date.now() / 1000) })
      }
      if (request.method === "GET" && url.pathname === "/authorize") {
        const params = url.searchParams
        const clientId = params.get("client_id") ?? ""
        const redirectUri = params.get("redirect_uri") ?? ""
        const challenge = params.get("code_challenge")
        if (!clients.get(clientId)?.includes(redirectUri) || challenge === null) {
          return json(response, 400, { error: "invalid_request" })
        }
        if (params.get("code_challenge_method") !== "S256" || params.get("response_type") !== "code") {
          return json(response, 400, { error: "invalid_request" })
        }
        const asked = (params.get("scope") ?? "").split(" ").filter((scope) => scope !== "")
        const grantable = state.grantable
        const granted = grantable === undefined ? asked : asked.filter((scope) => grantable.includes(scope))
        const code = randomUUID()
        codes.set(code, {
          clientId,
          redirectUri,
          challenge,
          scope: granted.join(" "),
          resource: params.get("resource") ?? undefined,
          subject: state.subject
        })
        const location = new URL(redirectUri)
        location.searchParams.set("code", code)
        const stateParam = params.get("state")
        if (stateParam !== null) location.searchParams.set("state", stateParam)
        response.writeHead(302, { location: location.href })
        return response.end()
      }
      if (request.method === "POST" && url.pathname === "/token") {
        const form = new URLSearchParams(await readBody(request))
        state.tokenRequests.push(form)
        const code = codes.get(form.get("code") ?? "")
        codes.delete(form.get("code") ?? "")
        if (
          form.get("grant_type") !== "authorization_code" || code === undefined ||
          code.clientId !== form.get("client_id") || code.redirectUri !== form.get("redirect_uri") ||
          s256(form.get("code_verifier") ?? "") !== code.challenge
        ) {
          return json(response, 400, { error: "invalid_grant" })
        }
        const resource = form.get("resource") ?? code.resource
        const accessToken = await sign({
          sub: code.subject,
          scope: code.scope,
          aud: resource,
          extra: { client_id: code.clientId }
        })
        return json(response, 200, { access_token: accessToken, token_type: "Bearer", expires_in: 3600, scope: code.scope })
      }
      json(response, 404, { error: "not_found" })
    }
    server.on("request", (request, response) => {
      handle(request, response).catch(() => json(response, 500, { error: "server_error" }))
    })
    return { state, server }
  }),
  ({ server }) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    )
).pipe(Effect.map(({ state }) => state))
