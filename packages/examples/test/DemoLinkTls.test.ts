/**
 * The demo's link TLS flags: `--link-tls-dir DIR` (its `ca.pem`, `cert.pem` and `key.pem`, made with `openssl`
 * here) and `--link-tls-psk`, on demo processes in a cluster on a `redis-server` of the test's own: requests are
 * relayed between instances with the same TLS, an instance without it gets 503, and a directory without the
 * certificates stops the demo at start.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { certificateMaker, opensslPath } from "../../cluster/test/utils/certificates.js"
import { redisServerPath, startRedis } from "../../cluster/test/utils/redisServer.js"
import * as Cli from "../src/cli.js"
import { CLUSTER_KEY, openSession, ping, post, startInstance } from "./utils/cluster.js"

// While the file is collected, outside any test's time limit: installs redis-server and openssl where missing.
redisServerPath()
opensslPath()

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))
const env = { EFFECT_MCP_CLUSTER_KEY: CLUSTER_KEY }
const REDIS = ["--redis", "redis://127.0.0.1:6379"]

const invalid = (argv: ReadonlyArray<string>) => {
  const parsed = Cli.parse(argv, env)
  if (parsed._tag !== "Invalid") throw new Error(`expected Invalid, got ${JSON.stringify(parsed)}`)
  return parsed.message
}

describe("the demo's link TLS flags", () => {
  it("--link-tls-dir and --link-tls-psk go with --redis, one at a time", () => {
    expect(Cli.parse([...REDIS, "--link-tls-dir", "/etc/mcp/link"], env)).toMatchObject({
      config: { cluster: { linkTls: { dir: "/etc/mcp/link" } } }
    })
    expect(Cli.parse([...REDIS, "--link-tls-psk"], env)).toMatchObject({ config: { cluster: { linkTls: "cluster-key" } } })
    expect(Cli.parse(REDIS, env)).toMatchObject({ config: { cluster: { linkTls: undefined } } })
    expect(invalid(["--link-tls-dir", "/etc/mcp/link"])).toMatch(/go with --redis/)
    expect(invalid(["--link-tls-psk"])).toMatch(/go with --redis/)
    expect(invalid([...REDIS, "--link-tls-dir", "d", "--link-tls-psk"])).toMatch(/give one/)
    expect(invalid([...REDIS, "--link-tls-dir", ""])).toMatch(/--link-tls-dir/)
    for (const flag of ["--link-tls-dir DIR", "--link-tls-psk"]) expect(Cli.usage()).toContain(flag)
  })

  it.scopedLive("instances with the same link TLS relay to each other; one without it gets 503 with Retry-After", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const certificates = yield* certificateMaker
      const pem = certificates.authority("demo-ca").sign("demo.cluster")
      const dir = Path.join(certificates.dir, "link")
      Fs.mkdirSync(dir)
      Fs.writeFileSync(Path.join(dir, "ca.pem"), pem.ca)
      Fs.writeFileSync(Path.join(dir, "cert.pem"), pem.cert)
      Fs.writeFileSync(Path.join(dir, "key.pem"), pem.key)
      const [a, b, plain, pskA, pskB] = yield* Effect.all([
        startInstance(redis.url, 15_000, ["--link-tls-dir", dir]),
        startInstance(redis.url, 15_000, ["--link-tls-dir", dir]),
        startInstance(redis.url, 15_000),
        startInstance(redis.url, 15_000, ["--link-tls-psk"]),
        startInstance(redis.url, 15_000, ["--link-tls-psk"])
      ], { concurrency: "unbounded" })
      expect(a.output()).toContain("links over TLS")
      const session = yield* openSession(a.port)
      expect((yield* post(b.port, session, ping)).status).toBe(202)
      const refused = yield* post(plain.port, session, ping)
      expect(refused.status).toBe(503)
      expect(refused.headers["retry-after"]).toBeDefined()
      expect((yield* post(pskB.port, yield* openSession(pskA.port), ping)).status).toBe(202)
    }), { timeout: 60_000 })

  it("a directory without the certificates stops the demo at start, saying which file", async () => {
    const result = await new Promise<{ readonly code: number | null; readonly output: string }>((resolve) => {
      ChildProcess.execFile(
        process.execPath,
        [main, "--port", "0", "--advertise", "http://127.0.0.1:1", ...REDIS, "--link-tls-dir", "/nonexistent-link-tls"],
        { env: { ...process.env, ...env }, timeout: 20_000 },
        (error, stdout, stderr) =>
          resolve({
            code: error === null ? 0 : error.code === undefined ? null : Number(error.code),
            output: stdout + stderr
          })
      )
    })
    expect(result.code).toBe(2)
    expect(result.output).toMatch(/--link-tls-dir: cannot read \/nonexistent-link-tls\/ca\.pem/)
  }, 30_000)
})
