/**
 * The demo's cluster flags: `--redis` needs the shared key, `--lease-ms` and `--advertise` go with it, and a Redis
 * that cannot be reached stops the demo at start.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Cli from "../src/cli.js"

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))

const key = "k".repeat(32)
const env = { EFFECT_MCP_CLUSTER_KEY: key }

const invalid = (argv: ReadonlyArray<string>, environment: Record<string, string> = env) => {
  const parsed = Cli.parse(argv, environment)
  if (parsed._tag !== "Invalid") throw new Error(`expected Invalid, got ${JSON.stringify(parsed)}`)
  return parsed.message
}

describe("the demo's cluster flags", () => {
  it("--redis joins a cluster advertised at the listening address, with the key from the environment", () => {
    const parsed = Cli.parse(["--port", "3001", "--redis", "redis://127.0.0.1:6379", "--lease-ms", "5000"], env)
    expect(parsed).toMatchObject({
      _tag: "Run",
      config: {
        cluster: { redis: "redis://127.0.0.1:6379", key, leaseMs: 5000, advertise: "http://127.0.0.1:3001" }
      }
    })
    const tls = Cli.parse(
      ["--host", "0.0.0.0", "--redis", "rediss://user:pw@redis.internal:6380", "--advertise", "http://10.0.0.5:3000"],
      env
    )
    expect(tls).toMatchObject({ config: { cluster: { advertise: "http://10.0.0.5:3000", leaseMs: undefined } } })
    expect(Cli.parse([], env)).toMatchObject({ config: { cluster: undefined } })
  })

  it("refuses what cannot work, in one line", () => {
    expect(invalid(["--redis", "redis://127.0.0.1:6379"], {})).toMatch(/EFFECT_MCP_CLUSTER_KEY/)
    expect(invalid(["--redis", "redis://127.0.0.1:6379"], { EFFECT_MCP_CLUSTER_KEY: "short" })).toMatch(/32/)
    expect(invalid(["--redis", "http://127.0.0.1:6379"])).toMatch(/redis:\/\//)
    expect(invalid(["--lease-ms", "5000"])).toMatch(/go with --redis/)
    expect(invalid(["--redis", "redis://r:6379", "--lease-ms", "0"])).toMatch(/--lease-ms/)
    expect(invalid(["--redis", "redis://r:6379", "--port", "0"])).toMatch(/--advertise/)
    expect(invalid(["--redis", "redis://r:6379", "--host", "0.0.0.0"])).toMatch(/--advertise/)
    expect(invalid(["--redis", "redis://r:6379", "--stdio"])).toMatch(/stdio/)
  })

  it("--help lists them", () => {
    const usage = Cli.usage()
    for (const flag of ["--redis URL", "--lease-ms MS", "--advertise URL"]) expect(usage).toContain(flag)
  })

  it("a Redis that cannot be reached stops the demo at start, saying so", async () => {
    const result = await new Promise<{ readonly code: number | null; readonly output: string }>((resolve) => {
      ChildProcess.execFile(
        process.execPath,
        [main, "--port", "0", "--advertise", "http://127.0.0.1:1", "--redis", "redis://127.0.0.1:1"],
        { env: { ...process.env, ...env }, timeout: 20_000 },
        (error, stdout, stderr) =>
          resolve({
            code: error === null ? 0 : error.code === undefined ? null : Number(error.code),
            output: stdout + stderr
          })
      )
    })
    expect(result.code).toBe(1)
    expect(result.output).toMatch(/^effect-mcp-demo: .*cannot connect to Redis/m)
    expect(result.output).not.toMatch(/\n\s+at /)
  }, 30_000)
})
