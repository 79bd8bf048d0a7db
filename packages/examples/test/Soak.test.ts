/**
 * The soak driver (soak/run.ts) with tiny counts, so it cannot rot: it starts the built demo, runs a few hundred
 * cycles over every transport, and its own checks (no live session, every old id 404, nothing logged at Error
 * level, a clean exit) must pass, with those that say how much it did: a minimum of cycles after the warm-up,
 * every way of ending a cycle seen among them, and enough old ids checked. The report's table and counts are
 * read too, so the test holds even if a check's verdict were wrong. The memory check is left wide open: a run
 * this short measures nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { runDriver } from "./utils/driver.js"

const soak = (args: ReadonlyArray<string>) => runDriver("soak/run.ts", args)

/** The report's table of cycles: "transport ending" to its warm-up and run counts (not the totals, "all"). */
const cycleCounts = (stdout: string): Map<string, { readonly warmup: number; readonly run: number }> => {
  const counts = new Map<string, { readonly warmup: number; readonly run: number }>()
  for (const line of stdout.split("\n")) {
    const match = /^\| (sse|streamable|stdio) \| ([a-z-]+) \| (\d+) \| (\d+) \|$/.exec(line)
    if (match !== null && match[2] !== "all") counts.set(`${match[1]} ${match[2]}`, { warmup: Number(match[3]), run: Number(match[4]) })
  }
  return counts
}

/** A check's row of the report: whether it passed, and what it says it did. */
const check = (stdout: string, name: string): { readonly ok: boolean; readonly detail: string } | undefined => {
  const line = stdout.split("\n").find((l) => l.startsWith(`| ${name} | `))
  const cells = line?.replace(/ \|$/, "").split(" | ")
  return cells === undefined ? undefined : { ok: cells[1] === "ok", detail: cells[2] ?? "" }
}

/** The 404 check's counts, from its detail: "passed/checked (N sse, M streamable)". */
const goneCounts = (detail: string | undefined) => {
  const match = /^(\d+)\/(\d+) \((\d+) sse, (\d+) streamable\)$/.exec(detail ?? "")
  return match === null
    ? undefined
    : { passed: Number(match[1]), checked: Number(match[2]), sse: Number(match[3]), streamable: Number(match[4]) }
}

const MIN_CYCLES = 150

describe("the soak driver", () => {
  it("runs a few hundred cycles over SSE, Streamable HTTP and stdio, every way of ending, and its checks pass", async () => {
    const result = await soak([
      "--cycles",
      "300",
      "--min-cycles",
      String(MIN_CYCLES),
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
    const output = `${result.stdout}\n${result.stderr}`
    console.log(result.stdout)
    expect(result.stdout.split("\n").filter((line) => line.includes("FAILED")), output).toEqual([])
    expect(result.code, output).toBe(0)

    // The driver's own checks of the work it did, each present and passed: the soak says what it checked.
    const minIds = Math.ceil(MIN_CYCLES / 4)
    const goneName = `every old session id gets 404, at least ${minIds} of each HTTP transport checked`
    for (
      const name of [
        `at least ${MIN_CYCLES} cycles after the warm-up`,
        "every cycle kind ran after the warm-up (15 kinds)",
        goneName,
        "no live session after the run",
        "no failed cycle"
      ]
    ) expect(check(result.stdout, name), `${name}\n${output}`).toMatchObject({ ok: true })

    // And the same read from the report's numbers, not from its verdicts: every way of ending ran after the
    // warm-up, the run did at least the minimum, and the 404 check looked at ids of both HTTP transports.
    const counts = cycleCounts(result.stdout)
    const kinds = [
      "sse disconnect", "sse disconnect-mid-call", "sse disconnect-early", "sse disconnect-mid-post",
      "sse disconnect-cut-post", "streamable delete", "streamable abandon", "streamable abandon-mid-call",
      "streamable delete-mid-call", "streamable abandon-stream", "streamable abandon-cut-post", "stdio eof",
      "stdio sigterm", "stdio sigterm-mid-call", "stdio sigkill-mid-call"
    ]
    for (const kind of kinds) expect(counts.get(kind)?.run ?? 0, `${kind}\n${output}`).toBeGreaterThan(0)
    const run = [...counts].filter(([kind]) => !kind.endsWith(" failed")).reduce((n, [, c]) => n + c.run, 0)
    expect(run, output).toBeGreaterThanOrEqual(MIN_CYCLES)
    const gone = goneCounts(check(result.stdout, goneName)?.detail)
    expect(gone, output).toBeDefined()
    expect(gone?.passed, output).toBe(gone?.checked)
    expect(gone?.sse, output).toBeGreaterThanOrEqual(minIds)
    expect(gone?.streamable, output).toBeGreaterThanOrEqual(minIds)
  }, 120_000)
})

describe("the soak driver's phases", () => {
  it("run past their count until every way of ending ran, when quick cycles use the count up before slow ones", async () => {
    // One stdio process at a time and nine HTTP workers: the count is spent on HTTP cycles long before the four
    // stdio ways of ending have each had their process.
    const result = await soak([
      "--cycles", "20", "--min-cycles", "1", "--warmup", "0", "--seconds", "60", "--concurrency", "10",
      "--stdio-concurrency", "1", "--settle", "1", "--rss-tolerance", "1024"
    ])
    const output = `${result.stdout}\n${result.stderr}`
    expect(result.code, output).toBe(0)
    expect(check(result.stdout, "every cycle kind ran after the warm-up (15 kinds)"), output).toMatchObject({ ok: true })
    const counts = cycleCounts(result.stdout)
    for (const ending of ["eof", "sigterm", "sigterm-mid-call", "sigkill-mid-call"]) {
      expect(counts.get(`stdio ${ending}`)?.run ?? 0, output).toBeGreaterThan(0)
    }
    expect(result.stdout, output).toMatch(/^Cycles: \d+ of 20 .*all ran/m)
  }, 120_000)
})

describe("the soak driver's cluster mode", () => {
  it("runs cycles of both eras and 2026-07-28 calls through nginx over three instances while they and Redis are killed and restarted", async () => {
    const minCycles = 100
    const result = await soak([
      "--cluster",
      "--cycles",
      "400",
      "--min-cycles",
      String(minCycles),
      "--warmup",
      "0",
      "--seconds",
      "30",
      "--concurrency",
      "10",
      "--fault-every",
      "4",
      "--lease-ms",
      "1500"
    ])
    const output = `${result.stdout}\n${result.stderr}`
    console.log(result.stdout)
    expect(result.stdout.split("\n").filter((line) => line.includes("FAILED")), output).toEqual([])
    expect(result.code, output).toBe(0)
    for (
      const name of [
        "no live session on any instance after the run",
        "no unexplained failure",
        `at least ${minCycles} cycles that did all they set out to`,
        `at least ${minCycles / 4} calls answered in each era (legacy SSE, Streamable HTTP, 2026-07-28)`,
        "every cycle kind ran (12 kinds)",
        "every fault injected (sigkill, sigterm, redis-restart)",
        "every instance stopped with SIGTERM exited 0",
        "nothing logged at Error level"
      ]
    ) expect(check(result.stdout, name), `${name}\n${output}`).toMatchObject({ ok: true })

    // The same from the report's numbers: every kind of cycle ran, and every fault happened at least once.
    const counts = new Map<string, number>()
    for (const line of result.stdout.split("\n")) {
      const match = /^\| ((?:sse|streamable|modern) [a-z-]+) \| (\d+) \|$/.exec(line)
      if (match !== null) counts.set(match[1]!, Number(match[2]))
    }
    const kinds = [
      "sse disconnect", "sse disconnect-mid-call", "sse disconnect-early", "sse disconnect-mid-post",
      "sse disconnect-cut-post", "streamable delete", "streamable abandon", "streamable abandon-mid-call",
      "streamable delete-mid-call", "streamable abandon-stream", "streamable abandon-cut-post", "modern calls"
    ]
    for (const kind of kinds) expect(counts.get(kind) ?? 0, `${kind}\n${output}`).toBeGreaterThan(0)
    expect(counts.get("sse failed") ?? 0, output).toBe(0)
    expect(counts.get("streamable failed") ?? 0, output).toBe(0)
    expect(counts.get("modern failed") ?? 0, output).toBe(0)
    const faults = /^Faults: (.*)\.$/m.exec(result.stdout)?.[1] ?? ""
    for (const kind of ["sigkill", "sigterm", "redis-restart"]) expect(faults, output).toContain(kind)
    const gone = goneCounts(check(result.stdout, `every old session id gets 404 through nginx, at least ${Math.ceil(minCycles / 8)} of each HTTP transport checked`)?.detail)
    expect(gone?.passed, output).toBe(gone?.checked)
    expect(gone?.sse ?? 0, output).toBeGreaterThan(0)
    expect(gone?.streamable ?? 0, output).toBeGreaterThan(0)
  }, 120_000)
})
