/**
 * The built demo's command line, as a real process: `--help`, a bad flag (one line, exit 2, no stack trace), and
 * `--auth-*` protecting every MCP request with JWTs checked against a JWKS this test serves on 127.0.0.1.
 */
import { describe, expect, it } from "@effect/vitest"
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose"
import * as ChildProcess from "node:child_process"
import * as Http from "node:http"
import * as Net from "node:net"
import { main, spawnDemo } from "./utils/demoProcess.js"

interface Exit {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the demo to its exit (killed after 10 s: a demo that starts serving has ignored its bad flag). */
const runDemo = (args: ReadonlyArray<string>): Promise<Exit> =>
  new Promise((resolve) => {
    ChildProcess.execFile(process.execPath, [main, ...args], { timeout: 10_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })

const portOf = (address: string | Net.AddressInfo | null): number => {
  if (address === null || typeof address === "string") throw new Error("not a TCP server")
  return address.port
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = portOf(server.address())
      server.close(() => resolve(port))
    })
  })

describe("the demo's command line", () => {
  it("--help prints every flag, one line each, and exits 0", async () => {
    const result = await runDemo(["--help"])
    expect(result.code).toBe(0)
    const flags = [
      "--port",
      "--host",
      "--stdio",
      "--verbose",
      "--drain-timeout",
      "--idle-timeout",
      "--auth-jwks",
      "--auth-issuer",
      "--auth-audience",
      "--help"
    ]
    for (const flag of flags) {
      expect(result.stdout.split("\n").filter((line) => line.trimStart().startsWith(`${flag} `)), flag).toHaveLength(1)
    }
    expect(result.stderr).toBe("")
  })

  it.each([
    [["--bogus"], "Unknown option '--bogus'"],
    [["--port", "abc"], "--port: expected a port number"],
    [["--port", "70000"], "--port: expected a port number"],
    [["--port"], "argument missing"],
    [["--idle-timeout=-5"], "--idle-timeout: expected a positive number"],
    [["--drain-timeout", "soon"], "--drain-timeout: expected a positive number"],
    [["stray"], "Unexpected argument 'stray'"],
    [["--auth-jwks", "http://127.0.0.1:1/jwks"], "go together"],
    [["--auth-jwks", "nope", "--auth-issuer", "http://i", "--auth-audience", "http://a"], "--auth-jwks: expected an absolute URL"],
    [["--stdio", "--auth-jwks", "http://j", "--auth-issuer", "http://i", "--auth-audience", "http://a"], "authorization is for HTTP"]
  ])("%j: one line saying what is wrong, exit 2", async (args, message) => {
    const result = await runDemo(args)
    expect(result.code, result.stderr).toBe(2)
    expect(result.stdout).toBe("")
    const lines = result.stderr.split("\n").filter((line) => line !== "")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(message)
    expect(result.stderr).not.toMatch(/\n\s+at |ERR_PARSE_ARGS/)
  })
})

/** A JWKS on 127.0.0.1 and a signer of ES256 tokens, with a key it does not publish for bad signatures. */
const startJwks = async () => {
  const kid = "demo-test"
  const { privateKey, publicKey } = await generateKeyPair("ES256")
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }
  let fetches = 0
  const server = Http.createServer((request, response) => {
    if (request.url !== "/jwks") return response.writeHead(404).end()
    fetches++
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const issuer = `http://127.0.0.1:${portOf(server.address())}`
  const sign = (audience: string, claims: { readonly iss?: string } = {}) => {
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({ scope: "mcp" })
      .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
      .setIssuer(claims.iss ?? issuer)
      .setSubject("alice")
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey)
  }
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    sign,
    fetches: () => fetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/**
 * The demo over HTTP on a free port, with the arguments `argsFor` gives for that port's origin, until `stop`;
 * resolves once it logs that it listens. The port is picked before the demo binds it, so another process can take
 * it first: then the demo exits with EADDRINUSE and another port is tried.
 */
const startDemo = async (argsFor: (origin: string) => ReadonlyArray<string>) => {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const origin = `http://127.0.0.1:${port}`
    const started = await spawnDemo(["--port", String(port), ...argsFor(origin)])
    if (started !== "in use") return { stop: started.stop, output: started.output, origin }
  }
  throw new Error("each free port picked was taken before the demo could bind it, 5 times")
}

const call = (url: string, token: string | undefined, id: number, method: string, params: object) =>
  fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...("name" in params && typeof params.name === "string" ? { "mcp-name": params.name } : {}),
      ...("uri" in params && typeof params.uri === "string" ? { "mcp-name": params.uri } : {}),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method,
      params: {
        ...params,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": {},
          "io.modelcontextprotocol/clientInfo": { name: "demo-auth-test", version: "0" }
        }
      }
    })
  })

/** The JSON-RPC answer of a reply, JSON or the last data line of an SSE body. */
const answerOf = async (response: Response): Promise<unknown> => {
  const text = await response.text()
  if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) return JSON.parse(text)
  const data = text.split("\n").filter((line) => line.startsWith("data: ")).at(-1)
  return data === undefined ? undefined : JSON.parse(data.slice(6))
}

describe("the demo's start", () => {
  it("a port that is taken stops the demo at start: one line saying so, exit 1", async () => {
    const holder = Net.createServer()
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve))
    try {
      const result = await runDemo(["--port", String(portOf(holder.address()))])
      expect(result.code).toBe(1)
      expect(result.stdout).toBe("")
      expect(result.stderr).toMatch(/^effect-mcp-demo: Could not listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/)
      expect(result.stderr.split("\n").filter((line) => line !== "")).toHaveLength(1)
    } finally {
      holder.close()
    }
  })
})

describe("the demo with --auth-*", () => {
  it("every MCP request needs a valid bearer JWT; the metadata names the resource and the issuer", async () => {
    const jwks = await startJwks()
    const demo = await startDemo((origin) => [
      "--auth-jwks",
      jwks.jwksUrl,
      "--auth-issuer",
      jwks.issuer,
      "--auth-audience",
      origin
    ])
    const origin = demo.origin
    try {
      const url = `${origin}/mcp`
      const metadataUrl = `${origin}/.well-known/oauth-protected-resource`

      // No token: 401 with a challenge pointing at the metadata, on both transports.
      const anonymous = await call(url, undefined, 1, "tools/call", { name: "echo", arguments: { text: "hi" } })
      expect(anonymous.status).toBe(401)
      expect(anonymous.headers.get("www-authenticate")).toContain(`resource_metadata="${metadataUrl}"`)
      expect(await anonymous.json()).toMatchObject({ jsonrpc: "2.0", error: { code: expect.any(Number) } })
      const sse = await fetch(`${origin}/sse`, { headers: { accept: "text/event-stream" } })
      expect(sse.status).toBe(401)
      await sse.body?.cancel()

      // The metadata document.
      const metadata = await fetch(metadataUrl)
      expect(metadata.status).toBe(200)
      expect(await metadata.json()).toMatchObject({
        resource: origin,
        authorization_servers: [jwks.issuer],
        bearer_methods_supported: ["header"]
      })

      // A valid token: the call is served.
      const token = await jwks.sign(origin)
      const served = await call(url, token, 2, "tools/call", { name: "echo", arguments: { text: "authorized" } })
      expect(served.status).toBe(200)
      expect(await answerOf(served)).toMatchObject({
        id: 2,
        result: { content: [{ type: "text", text: "authorized" }] }
      })
      expect(jwks.fetches()).toBeGreaterThan(0)

      // Another audience, another issuer, garbage: 401 invalid_token.
      for (const bad of [await jwks.sign("http://127.0.0.1:1"), await jwks.sign(origin, { iss: "http://other" }), "x.y.z"]) {
        const refused = await call(url, bad, 3, "tools/call", { name: "echo", arguments: { text: "hi" } })
        expect(refused.status).toBe(401)
        const challenge = refused.headers.get("www-authenticate") ?? ""
        expect(challenge).toContain(`resource_metadata="${metadataUrl}"`)
        expect(challenge).toContain(`error="invalid_token"`)
        await refused.body?.cancel()
      }
      expect(demo.output()).not.toMatch(/ ERROR /)
    } finally {
      await demo.stop()
      await jwks.close()
    }
  })
})

describe("the demo with --app", () => {
  it("serves the calculator tool with its ui:// view beside the other tools; without the flag it is absent", async () => {
    const listed = async (args: ReadonlyArray<string>) => {
      const demo = await startDemo(() => args)
      try {
        const url = `${demo.origin}/mcp`
        const tools = await answerOf(await call(url, undefined, 1, "tools/list", {}))
        const view = await answerOf(await call(url, undefined, 2, "resources/read", { uri: "ui://demo/calculator.html" }))
        const sum = await answerOf(await call(url, undefined, 3, "tools/call", { name: "calculator", arguments: { a: 2, b: 3 } }))
        return { tools, view, sum }
      } finally {
        await demo.stop()
      }
    }
    const withApp = await listed(["--app"])
    expect(withApp.tools).toMatchObject({
      result: { tools: expect.arrayContaining([expect.objectContaining({ name: "calculator" }), expect.objectContaining({ name: "add" })]) }
    })
    expect(withApp.view).toMatchObject({
      result: { contents: [{ uri: "ui://demo/calculator.html", mimeType: "text/html;profile=mcp-app" }] }
    })
    expect(withApp.sum).toMatchObject({ result: { structuredContent: { sum: 5 }, content: [{ type: "text", text: "5" }] } })
    const without = await listed([])
    expect(JSON.stringify(without.tools)).not.toContain("\"calculator\"")
    expect(without.view).toMatchObject({ error: { code: -32602 } })
  })
})
