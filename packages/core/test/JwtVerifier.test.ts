/**
 * The JWT verifier on its own: claims to principal, every way a token is refused, times read from the Effect
 * clock, and a remote key set that rotates or cannot be fetched.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose"
import * as Http from "node:http"
import * as JwtVerifier from "../src/JwtVerifier.js"
import * as McpAuth from "../src/McpAuth.js"

const ISSUER = "https://auth.example.com"
const AUDIENCE = "https://mcp.example.com/mcp"
/** The clock of every test: tokens are issued "now" on it. */
const NOW = 1_800_000_000_000

interface Key {
  readonly jwk: JWK
  readonly sign: (payload: JWTPayload, header?: { readonly typ?: string }) => Promise<string>
}

const makeKey = (kid: string): Promise<Key> =>
  generateKeyPair("ES256").then(async ({ privateKey, publicKey }) => ({
    jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" },
    sign: (payload, header = {}) =>
      new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid, typ: header.typ ?? "at+jwt" }).sign(privateKey)
  }))

const seconds = NOW / 1000
const claims = (extra: JWTPayload = {}): JWTPayload => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: "alice",
  iat: seconds,
  exp: seconds + 60,
  ...extra
})

const verifyWith = (options: JwtVerifier.Options, token: string) =>
  Effect.flatMap(JwtVerifier.make(options), (verifier) => Effect.either(verifier.verify(token)))

const reasonOf = (result: { readonly _tag: "Left"; readonly left: unknown } | { readonly _tag: "Right" }) =>
  result._tag === "Left" && result.left instanceof McpAuth.InvalidToken ? result.left.reason : undefined

describe("JwtVerifier", () => {
  it.effect("a valid token speaks for its subject, with its issuer, scopes, client and expiry", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const key = yield* Effect.promise(() => makeKey("k1"))
      const options = { jwks: { keys: [key.jwk] }, issuer: ISSUER, audience: AUDIENCE }
      const token = yield* Effect.promise(() => key.sign(claims({ scope: "mcp  notes:write", client_id: "app" })))
      const result = yield* verifyWith(options, token)
      expect(result._tag === "Right" && result.right).toEqual({
        subject: "alice",
        issuer: ISSUER,
        scopes: ["mcp", "notes:write"],
        clientId: "app",
        expiresAt: NOW + 60_000,
        claims: claims({ scope: "mcp  notes:write", client_id: "app" })
      })
      // `scp` as a list, `azp` as the client; one of several audiences.
      const other = yield* Effect.promise(() => key.sign(claims({ scp: ["a", "b"], azp: "web", aud: "https://x.example" })))
      const multi = yield* verifyWith({ ...options, audience: [AUDIENCE, "https://x.example"] }, other)
      expect(multi._tag === "Right" && [multi.right.scopes, multi.right.clientId]).toEqual([["a", "b"], "web"])
    }))

  it.effect("refuses, with a reason, every token that must not pass", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const key = yield* Effect.promise(() => makeKey("k1"))
      const stranger = yield* Effect.promise(() => makeKey("k1"))
      const unknown = yield* Effect.promise(() => makeKey("k2"))
      const options = { jwks: { keys: [key.jwk] }, issuer: ISSUER, audience: AUDIENCE }
      const cases: ReadonlyArray<readonly [string, Promise<string>, Partial<JwtVerifier.LocalOptions>?]> = [
        ["the token has expired", key.sign(claims({ exp: seconds - 1 }))],
        ["the token is not valid yet", key.sign(claims({ nbf: seconds + 30 }))],
        ["the token is not for this resource", key.sign(claims({ aud: "https://other.example" }))],
        ["the token is from another issuer", key.sign(claims({ iss: "https://evil.example" }))],
        ["the token's exp claim is invalid", key.sign({ iss: ISSUER, aud: AUDIENCE, sub: "alice" })],
        ["the token has no subject", key.sign({ iss: ISSUER, aud: AUDIENCE, exp: seconds + 60 })],
        ["the token's signature is invalid", stranger.sign(claims())],
        ["the token is signed with an unknown key", unknown.sign(claims())],
        ["the token's algorithm is not accepted", key.sign(claims()), { algorithms: ["RS256"] }],
        ["the token is not an access token", key.sign(claims(), { typ: "JWT" }), { typ: "at+jwt" }],
        ["the token is malformed", Promise.resolve("a.b.c")]
      ]
      for (const [reason, signed, extra] of cases) {
        const token = yield* Effect.promise(() => signed)
        expect(reasonOf(yield* verifyWith({ ...options, ...extra }, token)), reason).toBe(reason)
      }
    }))

  it.effect("reads time from the Effect clock, with the tolerance given", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const key = yield* Effect.promise(() => makeKey("k1"))
      const options = { jwks: { keys: [key.jwk] }, issuer: ISSUER, audience: AUDIENCE }
      const token = yield* Effect.promise(() => key.sign(claims()))
      expect((yield* verifyWith(options, token))._tag).toBe("Right")
      yield* TestClock.adjust("61 seconds")
      expect(reasonOf(yield* verifyWith(options, token))).toBe("the token has expired")
      expect((yield* verifyWith({ ...options, clockTolerance: "5 seconds" }, token))._tag).toBe("Right")
    }))

  it.scopedLive("fetches a remote key set, follows a rotation, and says when the set cannot be had", () =>
    Effect.gen(function*() {
      const first = yield* Effect.promise(() => makeKey("k1"))
      const second = yield* Effect.promise(() => makeKey("k2"))
      let keys: ReadonlyArray<JWK> = [first.jwk]
      let fetches = 0
      const server = Http.createServer((_, response) => {
        fetches++
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify({ keys }))
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () =>
          Effect.async<void>((resume) => {
            server.close(() => resume(Effect.void))
            server.closeAllConnections()
          })
      )
      const address = server.address()
      if (address === null || typeof address === "string") return yield* Effect.die(new Error("no address"))
      const live = { issuer: ISSUER, audience: AUDIENCE }
      const now = () => Math.floor(Date.now() / 1000)
      const fresh = () => ({ iss: ISSUER, aud: AUDIENCE, sub: "alice", iat: now(), exp: now() + 60 })
      const verifier = yield* JwtVerifier.make({ ...live, jwksUrl: `http://127.0.0.1:${address.port}/jwks`, cooldown: 0 })

      const a = yield* Effect.promise(() => first.sign(fresh()))
      expect((yield* Effect.either(verifier.verify(a)))._tag).toBe("Right")
      expect((yield* Effect.either(verifier.verify(a)))._tag).toBe("Right")
      expect(fetches).toBe(1)
      // The authorization server rotates its key: a token with the new kid makes the verifier fetch again.
      keys = [second.jwk]
      const b = yield* Effect.promise(() => second.sign(fresh()))
      expect((yield* Effect.either(verifier.verify(b)))._tag).toBe("Right")
      expect(fetches).toBe(2)

      // Nothing listens there: the verifier is unavailable, which is not the token's fault.
      const nowhere = yield* JwtVerifier.make({ ...live, jwksUrl: "http://127.0.0.1:1/jwks" })
      const failed = yield* Effect.flip(nowhere.verify(a))
      expect(failed._tag).toBe("VerifierUnavailable")
    }))
})
