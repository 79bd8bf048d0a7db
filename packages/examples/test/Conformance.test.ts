/**
 * The official conformance suite (`@modelcontextprotocol/conformance`) against effect-mcp, both ways, with each
 * installed version of the suite (`Conformance.SUITES`: the `latest`, and the next one's 2025-11-25 requirements):
 *
 * - server scenarios: the fixture (`src/ConformanceServer.ts`) served in-process by `NodeMcpServer` with its
 *   defaults on a free port of 127.0.0.1, every server scenario run against it in one CLI run per version;
 * - client scenarios: every one the suite lists (`latest`'s, and the next version's for the 2025-11-25 and
 *   2026-07-28 requirement sets, each at its revision, with the ones those sets run unscored; extensions as
 *   `EXTENSIONS` says), a few at a time: the suite starts a server per scenario and runs the built client program
 *   (`dist/conformanceClient.js`, so `tsc -b` first, which `npm test` does) against it.
 *
 * A scenario passes when a check succeeded and none failed or warned. A server scenario that does not fails the
 * test unless it is in `NOT_YET_IMPLEMENTED` (`utils/conformance.ts`), with its reason; an entry there that passes
 * fails the test too, so the list only shrinks. Client scenarios have no such list: each must pass. The verdicts
 * are printed either way, the client's as one table.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as ConformanceServer from "../src/ConformanceServer.js"
import * as Conformance from "./utils/conformance.js"

const clientProgram = fileURLToPath(new URL("../dist/conformanceClient.js", import.meta.url))

/**
 * The extension scenarios run (each once, with the next version of the suite, or with `latest` where it lists
 * them): those the client implements. The suite's other extensions are listed as not run.
 */
const EXTENSIONS = [
  "auth/client-credentials-jwt",
  "auth/client-credentials-basic",
  // SEP-990: the ID token exchanged at the identity provider for an ID-JAG, then the JWT bearer grant.
  "auth/enterprise-managed-authorization",
  "auth/cross-app-access-complete-flow",
  // SEP-1933: the JWT bearer grant with a workload's JWT.
  "auth/wif-jwt-bearer",
  // SEP-2640: skills listed without fetching their files, and loaded only when they verify.
  "sep-2640-client-no-prefetch",
  "sep-2640-client-verify-digest",
  "sep-2640-client-verify-size",
  "sep-2640-client-verify-frontmatter"
]
/** Run with nothing beside it: it measures how long the client waits before it resumes. */
const TIMED = "sse-retry"
/** How many scenarios run at once: each starts the suite's CLI, its servers and a client process. */
const CONCURRENCY = 4

/** One run of the client program: a scenario of one version of the suite, at one revision. */
interface Job {
  readonly column: string
  readonly suite: Conformance.Suite
  readonly scenario: string
  readonly args: ReadonlyArray<string>
}

/**
 * Every client scenario the suite lists: `latest`'s, and those of the next version's two requirement sets (scored
 * or run unscored there, like `json-schema-2020-12-preservation`), each at its set's revision; extensions only as
 * `EXTENSIONS` says. Also what is left out.
 */
const clientPlan = async (): Promise<{ readonly jobs: ReadonlyArray<Job>; readonly left: ReadonlyArray<string> }> => {
  const [latest, next] = Conformance.SUITES as readonly [Conformance.Suite, Conformance.Suite]
  const [latestListed, sessionEra, modern, nextListed] = await Promise.all([
    Conformance.listClientScenarios(latest, []),
    Conformance.listClientScenarios(next, ["--requirements", "2025-11-25"]),
    Conformance.listClientScenarios(next, ["--requirements", "2026-07-28"]),
    // Its whole listing, for the extensions no requirement set runs (the skills extension's).
    Conformance.listClientScenarios(next, [])
  ])
  const isExtension = (listed: Conformance.Listed) => listed.tags.includes("extension")
  const jobs: Array<Job> = []
  const left = new Set<string>()
  const add = (column: string, suite: Conformance.Suite, listed: ReadonlyArray<Conformance.Listed>, args: ReadonlyArray<string>) => {
    for (const entry of listed) {
      if (isExtension(entry) && !EXTENSIONS.includes(entry.scenario)) left.add(`${entry.scenario} (${suite.version})`)
      else if (!isExtension(entry)) jobs.push({ column, suite, scenario: entry.scenario, args })
    }
  }
  add(latest.version, latest, latestListed, [])
  add("2025-11-25", next, sessionEra, ["--spec-version", "2025-11-25"])
  add("2026-07-28", next, modern, ["--spec-version", "2026-07-28"])
  // Extensions belong to no revision: each once per version that lists it, without one.
  for (const [suite, listed] of [[latest, latestListed], [next, [...sessionEra, ...modern, ...nextListed]]] as const) {
    const names = new Set(listed.filter(isExtension).map((entry) => entry.scenario))
    for (const scenario of EXTENSIONS) {
      if (names.has(scenario)) jobs.push({ column: `extension ${suite.version}`, suite, scenario, args: [] })
    }
  }
  return { jobs, left: [...left] }
}

describe("conformance", () => {
  it.scopedLive("server scenarios: the fixture served by NodeMcpServer", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(ConformanceServer.layer)))
      const { port } = Context.get(context, NodeMcpServer.NodeMcpServer).address
      const url = `http://127.0.0.1:${port}/mcp`
      // The session-era runs and the 2026-07-28 run, all at once on the one URL.
      const suites = [...Conformance.SUITES, Conformance.MODERN_SUITE]
      const runs = yield* Effect.promise(() =>
        Promise.all(suites.map((suite) => Conformance.run(suite, "server", ["--url", url, ...suite.serverArgs], 120_000)))
      )
      console.log(Conformance.notYetImplemented("server"))
      console.log(Conformance.notYetImplemented("server", Conformance.NOT_YET_IMPLEMENTED_2026))
      const unexpected: Array<string> = []
      for (const [i, run] of runs.entries()) {
        const suite = suites[i]!
        const modern = suite === Conformance.MODERN_SUITE
        expect(run.timedOut, run.output).toBe(false)
        // Every scenario the suite announced has results: none was skipped or crashed the CLI.
        const announced = /^Running .*\((\d+) scenarios\)/m.exec(run.output)
        expect(announced, run.output).not.toBeNull()
        expect(run.scenarios.size, run.output).toBe(Number(announced?.[1]))
        const judged = Conformance.judge(
          "server",
          Array.from(
            run.scenarios,
            ([scenario, checks]) => [scenario, Conformance.problemsOf(checks), Conformance.testedNothing(checks)] as const
          ),
          modern ? Conformance.NOT_YET_IMPLEMENTED_2026 : Conformance.NOT_YET_IMPLEMENTED
        )
        const label = `${suite.version}${modern ? " (2026-07-28)" : ""}`
        console.log(Conformance.report(`conformance ${label}, server scenarios`, judged.verdicts))
        unexpected.push(...judged.unexpected.map((problem) => `${label}: ${problem}`))
      }
      // The skills extension's scenarios, which no requirement set runs: each on its own, in both eras.
      const [next] = Conformance.SUITES.slice(1)
      const skillRuns = Conformance.SKILLS_SERVER_SCENARIOS.flatMap((scenario) =>
        Conformance.EXTENSION_ERAS.map((era) => ({ scenario, era }))
      )
      const skillResults = yield* Effect.promise(() =>
        Promise.all(skillRuns.map(({ era, scenario }) =>
          Conformance.run(
            next!,
            "server",
            ["--url", url, "--scenario", scenario, "--spec-version", era, "--force"],
            60_000
          )
        ))
      )
      const judgedSkills = Conformance.judge(
        "server",
        skillResults.map((run, i) => {
          const checks = run.scenarios.get(skillRuns[i]!.scenario)
          const problems = checks === undefined ? [`no results${run.timedOut ? " (timed out)" : ""}`] : Conformance.problemsOf(checks)
          return [`${skillRuns[i]!.scenario} at ${skillRuns[i]!.era}`, problems, false] as const
        })
      )
      console.log(Conformance.report(`conformance ${next!.version}, the skills extension's server scenarios`, judgedSkills.verdicts))
      unexpected.push(...judgedSkills.unexpected)
      expect(judgedSkills.verdicts.filter((verdict) => verdict.outcome === "pass")).toHaveLength(skillRuns.length)
      expect(unexpected).toEqual([])
    }), 180_000)

  it.live("client scenarios: the suite drives McpClient through the built client program", () =>
    Effect.promise(async () => {
      if (!Fs.existsSync(clientProgram)) throw new Error(`${clientProgram} is missing: build first (tsc -b)`)
      const started = Date.now()
      const runJob = async (job: Job): Promise<Conformance.ClientResult> => {
        const run = await Conformance.run(
          job.suite,
          "client",
          [
            "--command",
            `${process.execPath} ${clientProgram}`,
            "--scenario",
            job.scenario,
            "--timeout",
            "20000",
            ...job.args
          ],
          60_000
        )
        const checks = run.scenarios.get(job.scenario)
        const problems = [
          ...(checks === undefined ? ["no results"] : Conformance.problemsOf(checks)),
          // The CLI also fails a scenario whose client exited with an error or timed out.
          ...(run.code === 0 ? [] : [`the suite exited with ${run.timedOut ? "a timeout" : `code ${run.code}`}`])
        ]
        if (problems.length > 0) console.log(`conformance ${job.column}, client ${job.scenario}:\n${run.output}`)
        return { column: job.column, scenario: job.scenario, problems }
      }
      const { jobs, left } = await clientPlan()
      const results = [
        ...await Conformance.pool(jobs.filter((job) => job.scenario !== TIMED), CONCURRENCY, runJob),
        ...await Conformance.pool(jobs.filter((job) => job.scenario === TIMED), 1, runJob)
      ]
      const columns = [...new Set(jobs.map((job) => job.column))]
      console.log(
        `${Conformance.table("conformance, client scenarios", columns, results)}\n` +
          `  extensions not run: ${left.join(", ") || "(none)"}\n` +
          `  took ${((Date.now() - started) / 1000).toFixed(1)} s, ${CONCURRENCY} at a time`
      )
      // No expected failures: every scenario run passes.
      expect(results.filter((result) => result.problems.length > 0)).toEqual([])
      // The scenarios the issue names, in case a listing changes shape.
      for (
        const scenario of [
          "tools_call",
          "request-metadata",
          "sep-2322-client-request-state",
          "http-standard-headers",
          "json-schema-ref-no-deref",
          "json-schema-2020-12-preservation"
        ]
      ) {
        expect(results.some((result) => result.scenario === scenario && result.column === "2026-07-28")).toBe(true)
      }
    }), 600_000)
})
