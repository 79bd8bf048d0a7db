/**
 * The official conformance suite (`@modelcontextprotocol/conformance`) against effect-mcp, both ways, with each
 * installed version of the suite (`Conformance.SUITES`: the `latest`, and the next one's 2025-11-25 requirements):
 *
 * - server scenarios: the fixture (`src/ConformanceServer.ts`) served in-process by `NodeMcpServer` with its
 *   defaults on a free port of 127.0.0.1, every server scenario run against it in one CLI run per version;
 * - client scenarios: the suite starts a server per scenario and runs the built client program
 *   (`dist/conformanceClient.js`, so `tsc -b` first, which `npm test` does) against it.
 *
 * A scenario passes when a check succeeded and none failed or warned. Anything else fails the test, unless the
 * scenario is in `NOT_YET_IMPLEMENTED` (`utils/conformance.ts`), with its reason; an entry there that passes fails
 * the test too, so the list only shrinks. The verdicts are printed either way.
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

/** The OAuth client scenarios of the 2025-11-25 era, which both versions of the suite score. */
const AUTH_SCENARIOS = [
  "auth/metadata-default",
  "auth/metadata-var1",
  "auth/metadata-var2",
  "auth/metadata-var3",
  "auth/basic-cimd",
  "auth/scope-from-www-authenticate",
  "auth/scope-from-scopes-supported",
  "auth/scope-omitted-when-undefined",
  "auth/scope-step-up",
  "auth/scope-retry-limit",
  "auth/token-endpoint-auth-basic",
  "auth/token-endpoint-auth-post",
  "auth/token-endpoint-auth-none",
  "auth/pre-registration"
]
/** Every client scenario of the 2025-11-25 era. */
const CLIENT_SCENARIOS = [
  "initialize",
  "tools_call",
  "elicitation-sep1034-client-defaults",
  "sse-retry",
  ...AUTH_SCENARIOS
]
/**
 * OAuth scenarios only the `latest` suite runs at 2025-11-25: the 2025-03-26 fallbacks, and the draft and extension
 * ones (the next version files them under other revisions).
 */
const LATEST_ONLY_SCENARIOS = [
  "auth/2025-03-26-oauth-metadata-backcompat",
  "auth/2025-03-26-oauth-endpoint-fallback",
  "auth/resource-mismatch",
  "auth/offline-access-scope",
  "auth/offline-access-not-supported",
  "auth/client-credentials-jwt",
  "auth/client-credentials-basic"
]
/**
 * The client scenarios of the 2026-07-28 era run here: SEP-2243's Mcp-Param-* headers and declarations, and the
 * OAuth ones (with RFC 9207 `iss` checks, SEP-837's `application_type`, an authorization server that moves).
 */
const MODERN_CLIENT_SCENARIOS = [
  "http-custom-headers",
  "http-invalid-tool-headers",
  ...AUTH_SCENARIOS,
  "auth/resource-mismatch",
  "auth/offline-access-scope",
  "auth/offline-access-not-supported",
  "auth/iss-supported",
  "auth/iss-not-advertised",
  "auth/iss-supported-missing",
  "auth/iss-wrong-issuer",
  "auth/iss-unexpected",
  "auth/iss-normalized",
  "auth/metadata-issuer-mismatch",
  "auth/authorization-server-migration"
]
/** Run with nothing beside it: it measures how long the client waits before it resumes. */
const TIMED = "sse-retry"

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
      expect(unexpected).toEqual([])
    }), 180_000)

  it.live("client scenarios: the suite drives McpClient through the built client program", () =>
    Effect.promise(async () => {
      if (!Fs.existsSync(clientProgram)) throw new Error(`${clientProgram} is missing: build first (tsc -b)`)
      const runScenario = async (suite: Conformance.Suite, scenario: string, extra: ReadonlyArray<string> = []) => {
        const run = await Conformance.run(
          suite,
          "client",
          [
            "--command",
            `${process.execPath} ${clientProgram}`,
            "--scenario",
            scenario,
            "--timeout",
            "20000",
            ...suite.clientArgs,
            ...extra
          ],
          60_000
        )
        const checks = run.scenarios.get(scenario)
        const problems = [
          ...(checks === undefined ? ["no results"] : Conformance.problemsOf(checks)),
          // The CLI also fails a scenario whose client exited with an error or timed out.
          ...(run.code === 0 ? [] : [`the suite exited with ${run.timedOut ? "a timeout" : `code ${run.code}`}`])
        ]
        if (problems.length > 0) console.log(`conformance ${suite.version}, client ${scenario}:\n${run.output}`)
        return [scenario, problems] as const
      }
      const results = new Map<Conformance.Suite, Array<readonly [string, ReadonlyArray<string>]>>(
        Conformance.SUITES.map((suite) => [suite, []])
      )
      // Each scenario with every version at once, except the timed one, which runs alone.
      for (const scenario of CLIENT_SCENARIOS) {
        const runs = scenario === TIMED
          ? await Conformance.SUITES.reduce<Promise<Array<readonly [string, ReadonlyArray<string>]>>>(
            async (done, suite) => [...await done, await runScenario(suite, scenario)],
            Promise.resolve([])
          )
          : await Promise.all(Conformance.SUITES.map((suite) => runScenario(suite, scenario)))
        Conformance.SUITES.forEach((suite, i) => results.get(suite)!.push(runs[i]!))
      }
      const latest = Conformance.SUITES[0]!
      for (const scenario of LATEST_ONLY_SCENARIOS) results.get(latest)!.push(await runScenario(latest, scenario))
      // A few at a time: each starts a client process and two servers.
      const modern: Array<readonly [string, ReadonlyArray<string>]> = []
      for (let i = 0; i < MODERN_CLIENT_SCENARIOS.length; i += 4) {
        modern.push(
          ...await Promise.all(
            MODERN_CLIENT_SCENARIOS.slice(i, i + 4).map((scenario) =>
              runScenario(Conformance.MODERN_SUITE, scenario, ["--spec-version", "2026-07-28"])
            )
          )
        )
      }
      results.set(Conformance.MODERN_SUITE, modern)
      console.log(Conformance.notYetImplemented("client"))
      const unexpected: Array<string> = []
      for (const [suite, scenarios] of results) {
        const judged = Conformance.judge("client", scenarios)
        const label = `${suite.version}${suite === Conformance.MODERN_SUITE ? " (2026-07-28)" : ""}`
        console.log(Conformance.report(`conformance ${label}, client scenarios`, judged.verdicts))
        unexpected.push(...judged.unexpected.map((problem) => `${label}: ${problem}`))
      }
      expect(unexpected).toEqual([])
    }), 600_000)
})
