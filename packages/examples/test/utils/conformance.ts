/**
 * Runs the official conformance suite (`@modelcontextprotocol/conformance`) as a child process and reads its
 * verdicts and its lists of scenarios, for `Conformance.test.ts`. Also home of `NOT_YET_IMPLEMENTED`, the one list
 * of server scenarios allowed to fail, each with its reason: the goal is to empty it (client scenarios have none).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** Which side of effect-mcp a scenario tests: `server` scenarios run against our server, `client` ones drive our client. */
export type Mode = "server" | "client"

/** A scenario that fails because effect-mcp lacks what it tests, and why. */
export interface NotYetImplemented {
  readonly mode: Mode
  readonly scenario: string
  readonly reason: string
}

/**
 * The scenarios expected to fail for now. Each run fails on any other failure, and on an entry here that passes
 * (then remove it).
 */
export const NOT_YET_IMPLEMENTED: ReadonlyArray<NotYetImplemented> = []

/**
 * The scenarios of the 2026-07-28 run (`--requirements 2026-07-28`) expected to fail for now: none. Every scenario
 * of that run passes, scored or not.
 */
export const NOT_YET_IMPLEMENTED_2026: ReadonlyArray<NotYetImplemented> = []

/**
 * Scenarios the suite ships as placeholders: they test nothing and report a single SKIPPED check (the suite's own
 * summary says "Passed: 0/0, 0 failed"). One counts as a stub only while every check it reports is SKIPPED; once
 * the suite makes it test something, it is judged like any other and must pass (and the run asks for its entry
 * here to go).
 */
export const SUITE_STUBS: ReadonlyArray<{ readonly mode: Mode; readonly scenario: string; readonly why: string }> = [
  {
    mode: "server",
    scenario: "tasks-status-notifications",
    why: "0.2.0-alpha.12 only reports SKIPPED, pending a rewrite onto subscriptions/listen (where effect-mcp sends " +
      "notifications/tasks, tested in McpTask.test.ts)"
  }
]

/** Every check the scenario reported was SKIPPED: it tested nothing. */
export const testedNothing = (checks: ReadonlyArray<Check>): boolean =>
  checks.length > 0 && checks.every((check) => check.status === "SKIPPED")

/** One check of a scenario, as the suite writes it to `checks.json`. */
export interface Check {
  readonly id: string
  readonly status: string
  readonly description: string
  readonly errorMessage?: string | undefined
}

/** What one run of the suite produced. */
export interface Run {
  /** The exit code, or null when it was killed (see `timedOut`). */
  readonly code: number | null
  readonly timedOut: boolean
  /** The end of what it printed (stdout and stderr together), for diagnostics. */
  readonly output: string
  /** The checks of each scenario it ran, by scenario name. */
  readonly scenarios: ReadonlyMap<string, ReadonlyArray<Check>>
}

/** One installed version of the suite. */
export interface Suite {
  /** Its version, for reports. */
  readonly version: string
  /** Its CLI, run with plain `node` so that the Node 20 hook goes with it. */
  readonly cli: string
  /** What selects the server scenarios of the 2025-11-25 era. */
  readonly serverArgs: ReadonlyArray<string>
  /** What pins a client scenario to the 2025-11-25 wire. */
  readonly clientArgs: ReadonlyArray<string>
}

const require = createRequire(import.meta.url)

const suite = (name: string, serverArgs: ReadonlyArray<string>, clientArgs: ReadonlyArray<string>): Suite => {
  const manifest = require.resolve(`${name}/package.json`)
  const parsed: unknown = JSON.parse(Fs.readFileSync(manifest, "utf8"))
  const version = typeof parsed === "object" && parsed !== null && "version" in parsed ? String(parsed.version) : "?"
  return { version, cli: Path.join(Path.dirname(manifest), "dist", "index.js"), serverArgs, clientArgs }
}

/**
 * The suite's `latest` (0.1.16), every server scenario, pending ones included; and its next version (installed as
 * `conformance-next`), with what it scores for 2025-11-25 (`--requirements`, which also runs the pending and
 * newer scenarios unscored) and its check of every message against the spec's JSON schema.
 */
export const SUITES: ReadonlyArray<Suite> = [
  suite("@modelcontextprotocol/conformance", ["--suite", "all"], []),
  suite("conformance-next", ["--requirements", "2025-11-25"], ["--spec-version", "2025-11-25"])
]

/** The 2026-07-28 scenarios of the next version, run against the same URL as the others (a dual-era endpoint). */
export const MODERN_SUITE: Suite = suite("conformance-next", ["--requirements", "2026-07-28"], [])

/**
 * The server scenarios of the skills extension (SEP-2640), which no requirement set of the suite runs: each is run
 * on its own (`--scenario`), once per era (`EXTENSION_ERAS`), against the same URL.
 */
export const SKILLS_SERVER_SCENARIOS: ReadonlyArray<string> = [
  "sep-2640-skills-directory",
  "sep-2640-skills-enumeration",
  "sep-2640-skills-manifest"
]

/**
 * The revisions an extension's server scenarios run at: the newest of the session era and 2026-07-28. An extension
 * is on no revision's timeline, so the suite is told to run it anyway (`--force`).
 */
export const EXTENSION_ERAS: ReadonlyArray<string> = ["2025-11-25", "2026-07-28"]

/** Supplies `fs.globSync`, which both CLIs import, on Node 20 (see the script). */
const node20Hook = fileURLToPath(new URL("../../../../scripts/conformance/node20.mjs", import.meta.url))

const OUTPUT_LIMIT = 64 * 1024

/** `<scenario>-<ISO time with - for : and .>`, with a `server-` prefix in server mode: how the suite names results. */
const resultDir = /^(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/

const readChecks = (file: string): ReadonlyArray<Check> => {
  const parsed: unknown = JSON.parse(Fs.readFileSync(file, "utf8"))
  if (!Array.isArray(parsed)) throw new Error(`${file} is not an array of checks`)
  return parsed.map((item: unknown): Check => {
    if (typeof item !== "object" || item === null) throw new Error(`${file} holds a check that is not an object`)
    const id = "id" in item && typeof item.id === "string" ? item.id : "(no id)"
    const status = "status" in item && typeof item.status === "string" ? item.status : "(no status)"
    const description = "description" in item && typeof item.description === "string" ? item.description : ""
    const errorMessage = "errorMessage" in item && typeof item.errorMessage === "string" ? item.errorMessage : undefined
    return { id, status, description, errorMessage }
  })
}

const readResults = (dir: string, mode: Mode, prefix = ""): Map<string, ReadonlyArray<Check>> => {
  const scenarios = new Map<string, ReadonlyArray<Check>>()
  for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const match = resultDir.exec(entry.name)
    // A scenario named with a slash (`auth/metadata-default`) has its results one folder down (`auth/`).
    if (match === null) {
      if (prefix === "") {
        for (const [name, checks] of readResults(Path.join(dir, entry.name), mode, `${entry.name}/`)) {
          scenarios.set(name, checks)
        }
      }
      continue
    }
    const name = prefix + (mode === "server" ? match[1]!.replace(/^server-/, "") : match[1]!)
    const file = Path.join(dir, entry.name, "checks.json")
    // A run killed mid-scenario leaves its folder without checks: that scenario has no results.
    if (Fs.existsSync(file)) scenarios.set(name, readChecks(file))
  }
  return scenarios
}

/**
 * Runs `conformance <mode> ...args` of `suite` with its results in a scratch folder, and kills it (with whatever
 * it started: it runs in a process group of its own) after `timeoutMs`.
 */
export const run = (suite: Suite, mode: Mode, args: ReadonlyArray<string>, timeoutMs: number): Promise<Run> =>
  new Promise((resolve, reject) => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-mcp-conformance-"))
    const child = ChildProcess.spawn(
      process.execPath,
      ["--import", node20Hook, suite.cli, mode, ...args, "--output-dir", dir],
      { stdio: ["ignore", "pipe", "pipe"], detached: true }
    )
    let output = ""
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT)
    }
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
      } catch {
        // The group is already gone.
      }
    }, timeoutMs)
    child.once("error", (error) => {
      clearTimeout(timer)
      Fs.rmSync(dir, { recursive: true, force: true })
      reject(error)
    })
    child.once("close", (code) => {
      clearTimeout(timer)
      try {
        resolve({ code, timedOut, output, scenarios: readResults(dir, mode) })
      } catch (error) {
        reject(error)
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  })

/**
 * Why a scenario did not pass: its FAILURE and WARNING checks (the CLI itself fails a client scenario on a
 * warning), or that it checked nothing. Empty when it passed.
 */
export const problemsOf = (checks: ReadonlyArray<Check>): ReadonlyArray<string> => {
  const problems = checks
    .filter((check) => check.status === "FAILURE" || check.status === "WARNING")
    .map((check) => `${check.status} ${check.id}: ${check.errorMessage ?? check.description}`)
  if (problems.length === 0 && !checks.some((check) => check.status === "SUCCESS")) {
    return ["no check succeeded"]
  }
  return problems
}

/** The verdict of one scenario against `NOT_YET_IMPLEMENTED`. */
export interface Verdict {
  readonly scenario: string
  readonly outcome: "pass" | "fail" | "not yet" | "stub"
  readonly detail: string
}

/**
 * Judges every scenario of a run; `unexpected` lists what fails the test: a failure not in `NOT_YET_IMPLEMENTED`,
 * an entry there that now passes (remove it), or one that was not run.
 */
export const judge = (
  mode: Mode,
  /** Each scenario's name, its problems (`problemsOf`), and whether it tested nothing (`testedNothing`). */
  scenarios: ReadonlyArray<readonly [string, ReadonlyArray<string>, boolean?]>,
  notYet: ReadonlyArray<NotYetImplemented> = NOT_YET_IMPLEMENTED
): { readonly verdicts: ReadonlyArray<Verdict>; readonly unexpected: ReadonlyArray<string> } => {
  const verdicts: Array<Verdict> = []
  const unexpected: Array<string> = []
  for (const [scenario, problems, nothing = false] of scenarios) {
    const known = notYet.find((entry) => entry.mode === mode && entry.scenario === scenario)
    const stub = SUITE_STUBS.some((entry) => entry.mode === mode && entry.scenario === scenario)
    if (stub && nothing) {
      verdicts.push({ scenario, outcome: "stub", detail: "a placeholder of the suite: it tests nothing" })
      continue
    }
    if (stub) unexpected.push(`${scenario} now tests something: remove it from SUITE_STUBS`)
    if (problems.length === 0) {
      verdicts.push({ scenario, outcome: "pass", detail: "" })
      if (known !== undefined) unexpected.push(`${scenario} passes: remove it from NOT_YET_IMPLEMENTED`)
    } else if (known !== undefined) {
      verdicts.push({ scenario, outcome: "not yet", detail: "" })
    } else {
      verdicts.push({ scenario, outcome: "fail", detail: problems.join("; ") })
      unexpected.push(`${scenario} fails: ${problems.join("; ")}`)
    }
  }
  for (const entry of notYet) {
    if (entry.mode === mode && !scenarios.some(([scenario]) => scenario === entry.scenario)) {
      unexpected.push(`${entry.scenario} is in NOT_YET_IMPLEMENTED but was not run: renamed or dropped by the suite?`)
    }
  }
  return { verdicts, unexpected }
}

/** A client scenario a version of the suite lists, with the tag it gives it (`extension`, `draft`, a date...). */
export interface Listed {
  readonly scenario: string
  /** `[2025-11-25]` of `latest`'s listing, or the reason an unscored one of a requirement set is not scored. */
  readonly tags: ReadonlyArray<string>
  /** Scored by the requirement set (or, for a listing without one, listed among the client scenarios). */
  readonly required: boolean
}

const listedLine = /^ {2}- (\S+)(?: \[([^\]]*)\])?$/
const unscoredHeader = /^ {2}(\S.*) \(\d+\):$/
const unscoredLine = /^ {4}- (\S+) \[client\]$/

/**
 * The client scenarios of `conformance list --client` (`args` adds `--requirements <revision>`): those it lists
 * under "Client scenarios", and the client ones it runs unscored (extensions, added after the release), with why.
 * The test runs from this, so that a scenario the suite lists cannot be left out by a list kept here.
 */
export const listClientScenarios = async (
  suite: Suite,
  args: ReadonlyArray<string>
): Promise<ReadonlyArray<Listed>> => {
  const output = await new Promise<string>((resolve, reject) =>
    ChildProcess.execFile(
      process.execPath,
      ["--import", node20Hook, suite.cli, "list", "--client", ...args],
      { maxBuffer: 1024 * 1024 },
      (error, stdout) => error === null ? resolve(stdout) : reject(error)
    )
  )
  const listed: Array<Listed> = []
  let section: "client" | "unscored" | "other" = "other"
  let reason = ""
  for (const line of output.split("\n")) {
    if (/^\S/.test(line)) {
      section = line.startsWith("Client scenarios") ? "client" : line.startsWith("Run and reported") ? "unscored" : "other"
      continue
    }
    const header = unscoredHeader.exec(line)
    if (section === "unscored" && header !== null) reason = header[1]!
    const client = section === "client" ? listedLine.exec(line) : null
    if (client !== null) {
      listed.push({ scenario: client[1]!, tags: client[2]?.split(",") ?? [], required: true })
    }
    const unscored = section === "unscored" ? unscoredLine.exec(line) : null
    if (unscored !== null) listed.push({ scenario: unscored[1]!, tags: [reason], required: false })
  }
  if (listed.length === 0) throw new Error(`conformance ${suite.version} listed no client scenario:\n${output}`)
  return listed
}

/** Runs `task` on every item, at most `limit` at a time, and gives the results in the items' order. */
export const pool = async <A, B>(
  items: ReadonlyArray<A>,
  limit: number,
  task: (item: A) => Promise<B>
): Promise<ReadonlyArray<B>> => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await task(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** One scenario run against the client program, for `table`: the column it belongs to and what came of it. */
export interface ClientResult {
  readonly column: string
  readonly scenario: string
  readonly problems: ReadonlyArray<string>
}

/**
 * The client scenarios as one table, a row per scenario and a column per run (`PASS`, `FAIL`, or `-` where that
 * run does not have the scenario), then the reasons of each failure.
 */
export const table = (title: string, columns: ReadonlyArray<string>, results: ReadonlyArray<ClientResult>): string => {
  const scenarios = [...new Set(results.map((result) => result.scenario))]
  const width = Math.max(8, ...scenarios.map((scenario) => scenario.length))
  const widths = columns.map((column) => Math.max(4, column.length))
  const cell = (scenario: string, column: string) => {
    const result = results.find((r) => r.scenario === scenario && r.column === column)
    return result === undefined ? "-" : result.problems.length === 0 ? "PASS" : "FAIL"
  }
  const row = (first: string, cells: ReadonlyArray<string>) =>
    `  ${first.padEnd(width)}  ${cells.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd()
  const failed = results.filter((result) => result.problems.length > 0)
  return [
    `${title}: ${results.length} runs, ${results.length - failed.length} pass, ${failed.length} fail`,
    row("scenario", columns),
    ...scenarios.map((scenario) => row(scenario, columns.map((column) => cell(scenario, column)))),
    ...failed.map((result) => `  FAIL ${result.column} ${result.scenario}: ${result.problems.join("; ")}`)
  ].join("\n")
}

/** `NOT_YET_IMPLEMENTED` of one mode, one line per scenario, for the test's output. */
export const notYetImplemented = (mode: Mode, list: ReadonlyArray<NotYetImplemented> = NOT_YET_IMPLEMENTED): string =>
  `${list === NOT_YET_IMPLEMENTED ? "NOT_YET_IMPLEMENTED" : "NOT_YET_IMPLEMENTED_2026"} (${mode}):\n${
    list.filter((entry) => entry.mode === mode).map((entry) => `  ${entry.scenario}: ${entry.reason}`)
      .join("\n") || "  (none)"
  }`

/** A plain table of verdicts, for the test's output. */
export const report = (title: string, verdicts: ReadonlyArray<Verdict>): string => {
  const width = Math.max(...verdicts.map((v) => v.scenario.length))
  const lines = verdicts.map((v) =>
    `  ${v.outcome.toUpperCase().padEnd(7)} ${v.detail === "" ? v.scenario : `${v.scenario.padEnd(width)}  ${v.detail}`}`
  )
  const count = (outcome: Verdict["outcome"]) => verdicts.filter((v) => v.outcome === outcome).length
  return `${title}: ${count("pass")} pass, ${count("not yet")} not yet implemented, ${count("fail")} fail, ${
    count("stub")
  } placeholder${count("stub") === 1 ? "" : "s"} of the suite\n${
    lines.join("\n")
  }`
}
