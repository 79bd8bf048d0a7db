/**
 * The attack suite (attack/run.ts) with tiny sizes, so it cannot rot: it starts a fresh demo per attack, runs the
 * attack from 127.0.0.2 with the probe on 127.0.0.1, prints a table and verdicts per attack, and exits non-zero
 * exactly when a verdict fails. Which verdicts fail depends on the server's fixes, so the test checks what the
 * suite measured and that its exit code agrees with its verdicts, not the verdicts themselves (but for the probe
 * under an attack the demo has always withstood at these sizes).
 */
import { describe, expect, it } from "@effect/vitest"
import { runDriver } from "./utils/driver.js"

const attack = (args: ReadonlyArray<string>) => runDriver("attack/run.ts", args)

/** The rows `| name | value |` of the table of attack `n`. */
const rowsOf = (stdout: string, n: number): Map<string, string> => {
  const section = stdout.split(/^## /m).find((s) => s.startsWith(`Attack ${n}:`)) ?? ""
  const rows = new Map<string, string>()
  for (const line of section.split("\n")) {
    const cells = line.split(" | ")
    if (line.startsWith("| ") && cells.length >= 2) rows.set(cells[0]!.slice(2), cells.slice(1).join(" | "))
  }
  return rows
}

describe("the attack suite", () => {
  it("runs attacks 6 and 9 at tiny sizes: tables, verdicts, and an exit code that agrees with them", async () => {
    const result = await attack(["--quick", "--only", "6,9", "--idle-connections", "300", "--idle-hold", "1", "--settle", "0.5"])
    const all = `${result.stdout}\n${result.stderr}`
    const idle = rowsOf(result.stdout, 6)
    expect(idle.get("connections"), all).toMatch(/^300 open of 300 asked/)
    expect(idle.get("the server is up"), all).toMatch(/^ok/)
    expect(idle.get("the probe was served every time"), all).toMatch(/^ok \| \d+\/\d+ served/)
    const nine = rowsOf(result.stdout, 9)
    expect(nine.get("add 1e309"), all).toMatch(/^HTTP \d{3}: /)
    expect(nine.get("the traversal is not handed to the handler"), all).toMatch(/^(ok|FAILED) \| /)
    expect(result.stdout).toContain("| 6 | up |")
    const failed = result.stdout.includes("**FAIL**")
    expect(result.code, all).toBe(failed ? 1 : 0)
    expect(result.stdout.split("\n").filter((l) => l === "**PASS**" || l === "**FAIL**")).toHaveLength(2)
  }, 120_000)

  it("--help exits 0 with every option; a bad option is one line and exit 2", async () => {
    const help = await attack(["--help"])
    expect(help.code).toBe(0)
    for (const flag of ["--quick", "--only", "--max-rss-mib", "--heap-mib", "--listen-connections", "--idle-connections"]) {
      expect(help.stdout).toContain(flag)
    }
    const bad = await attack(["--only", "12"])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split("\n")).toEqual(["[attack] --only: expected attack numbers 1-9, got 12 (see --help)"])
  }, 60_000)
})
