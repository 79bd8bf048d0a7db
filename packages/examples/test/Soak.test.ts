/**
 * The soak driver (soak/run.ts) with tiny counts, so it cannot rot: it starts the built demo, runs a few hundred
 * cycles over every transport, and its own checks (no live session, every old id 404, nothing logged at Error
 * level, a clean exit) must pass. The memory check is left wide open: a run this short measures nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

const examples = fileURLToPath(new URL("../", import.meta.url))
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const soak = (args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, "soak/run.ts", ...args],
      { cwd: examples, timeout: 110_000, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
        resolve({ code, stdout, stderr })
      }
    )
  })

describe("the soak driver", () => {
  it("runs a few hundred cycles over SSE, Streamable HTTP and stdio, and its checks pass", async () => {
    const result = await soak([
      "--cycles",
      "300",
      "--seconds",
      "60",
      "--concurrency",
      "10",
      "--warmup",
      "50",
      "--stdio-every",
      "60",
      "--settle",
      "1",
      "--rss-tolerance",
      "1024"
    ])
    expect(result.stdout, result.stderr).toContain("| every old session id gets 404 | ok |")
    expect(result.stdout.split("\n").filter((line) => line.includes("FAILED")), result.stderr).toEqual([])
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0)
  }, 120_000)
})
