/**
 * The hostile-load suite: `npm run attack -- --help` lists the options; `npm run attack -- --quick` is the CI run.
 *
 * Each attack gets a fresh demo (`dist/main.js`, its own `node` with `--max-old-space-size`), a probe calling
 * `echo` every 100 ms from 127.0.0.1 throughout, and an attacker on 127.0.0.2. Recorded per attack: the probe's
 * calls (served, refused with 503 and when, failed), the demo's peak RSS (VmHWM, and VmRSS sampled every 100 ms),
 * whether it stayed up, every refusal the attacker got (status, JSON-RPC body or not) and what the demo logged at
 * Error level. A Markdown table per attack goes to stdout, progress to stderr; exit 1 when a verdict fails.
 *
 * Verdicts: the server up; the probe served every time (a refusal allowed only as 503 with Retry-After, while a
 * global budget is spent); peak RSS under `--max-rss-mib`; every refusal with a status and a JSON-RPC error body;
 * nothing at Error level; and for 7, 8, 9 the right answer.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { runDriver } from "../harness/children.js"
import { memoryKiB } from "../harness/proc.js"
import { startServer } from "../soak/lib/server.js"
import { type Attack, type AttackOutcome, ATTACKS } from "./lib/attacks.js"
import { Tally } from "./lib/client.js"
import { type Options, parseOptions } from "./lib/options.js"
import { type ProbeResult, startProbe } from "./lib/probe.js"

const log = (message: string): void => {
  process.stderr.write(`[attack] ${message}\n`)
}

/** The demo's session idle timeout: the default's 30 minutes, so no session expires during an attack. */
const IDLE_TIMEOUT_MS = 30 * 60 * 1000

const mib = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`

/** Samples the demo's memory every 100 ms until `stop`; VmHWM is the kernel's own peak. */
const sampleMemory = (pid: number) => {
  let peakRss = 0
  let hwm = 0
  const read = () => {
    const memory = memoryKiB(pid)
    if (memory === undefined) return
    peakRss = Math.max(peakRss, memory.rss)
    hwm = Math.max(hwm, memory.hwm)
  }
  read()
  const timer = setInterval(read, 100)
  return {
    stop: () => {
      read()
      clearInterval(timer)
      return { peakRss, hwm }
    }
  }
}

interface Result {
  readonly attack: Attack
  readonly outcome: AttackOutcome | undefined
  readonly harnessError: string | undefined
  readonly probe: ProbeResult
  readonly peakKiB: number
  readonly up: boolean
  readonly exit: string | undefined
  readonly tally: Tally
  readonly errorLines: number
  readonly crash: ReadonlyArray<string>
  readonly seconds: number
  readonly checks: ReadonlyArray<readonly [string, boolean, string]>
}

const runAttack = async (attack: Attack, options: Options): Promise<Result> => {
  const started = performance.now()
  const server = await startServer(IDLE_TIMEOUT_MS, { nodeFlags: [`--max-old-space-size=${options.heapMiB}`] })
  log(`attack ${attack.n}: ${attack.title} (demo pid ${server.pid}, port ${server.port})`)
  const memory = sampleMemory(server.pid)
  const probe = startProbe(server.port)
  const tally = new Tally()
  let outcome: AttackOutcome | undefined
  let harnessError: string | undefined
  let exit: string | undefined
  // Set in `finally`: a failure of the harness itself still gets its demo stopped and its reading.
  let result!: Result
  try {
    await sleep(500)
    try {
      outcome = await attack.run({
        port: server.port,
        sizes: options.sizes,
        tally,
        log: (message) => log(`  ${attack.n}: ${message}`)
      })
    } catch (error) {
      harnessError = error instanceof Error ? error.message : String(error)
    }
    await sleep(options.settleSeconds * 1000)
  } finally {
    const probed = await probe.stop()
    const { peakRss, hwm } = memory.stop()
    const up = server.alive()
    if (up) {
      const stopped = await server.stop(5_000)
      // Only a demo that was up is asked to stop; its exit is not a verdict here (the soak checks it).
      exit = `stopped: ${stopped}`
    } else {
      exit = "died"
    }
    const crash = server.logs.strays.filter((line) => /heap|FATAL|Error|Allocation|abort/i.test(line)).slice(0, 3)
    const peakKiB = Math.max(peakRss, hwm)
    // One client's attack spends at most its own share of every budget, and each share is below the server's
    // total: another client is never refused, not even with 503.
    const probeOk = probed.made > 0 && probed.failed.size === 0 && probed.served === probed.made
    const checks: Array<readonly [string, boolean, string]> = [
      ["the server is up", up, up ? "up" : `died${crash.length > 0 ? `: ${crash[0]!.slice(0, 120)}` : ""}`],
      [
        "the probe was served every time",
        probeOk,
        `${probed.served}/${probed.made} served, ${probed.refused.length} refused 503, ${
          [...probed.failed.values()].reduce((a, b) => a + b, 0)
        } failed`
      ],
      [`peak RSS under ${options.maxRssMiB} MiB`, peakKiB <= options.maxRssMiB * 1024, mib(peakKiB)],
      [
        "every refusal has a status and a JSON-RPC error body",
        tally.refusedWithoutBody === 0 && tally.noStatus === 0,
        `${tally.refused} refused, ${tally.refusedWithoutBody} without a JSON-RPC body, ${tally.noStatus} without a status`
      ],
      ["nothing logged at Error level", server.logs.problemCount === 0, `${server.logs.problemCount} lines`],
      ...(outcome?.checks ?? []),
      ...(harnessError === undefined ? [] : [["the attack ran to its end", false, harnessError] as const])
    ]
    result = {
      attack,
      outcome,
      harnessError,
      probe: probed,
      peakKiB,
      up,
      exit,
      tally,
      errorLines: server.logs.problemCount,
      crash,
      seconds: (performance.now() - started) / 1000,
      checks
    }
  }
  return result
}

const table = (result: Result): string => {
  const { probe, tally } = result
  const failed = [...probe.failed].map(([kind, n]) => `${n} ${kind}`).join(", ") || "none"
  const refused = probe.refused.length === 0
    ? "none"
    : `${probe.refused.length} (first at ${(probe.refused[0]!.atMs / 1000).toFixed(1)} s, last at ${
      (probe.refused[probe.refused.length - 1]!.atMs / 1000).toFixed(1)
    } s; ${probe.refused.filter((r) => !r.retryAfter).length} without Retry-After)`
  const statuses = [...tally.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${n}× ${s}`).join(", ") || "none"
  const noStatus = [...tally.failures].map(([code, n]) => `${n} ${code}`).join(", ") || "none"
  const rows: Array<readonly [string, string]> = [
    ...(result.outcome?.notes ?? []),
    ["probe calls", `${probe.made} made, ${probe.served} served, max latency ${probe.maxLatencyMs} ms`],
    ["probe refused (503)", refused],
    [
      "probe failed",
      probe.firstFailureMs === undefined ? failed : `${failed} (first at ${(probe.firstFailureMs / 1000).toFixed(1)} s)`
    ],
    ["demo peak RSS", mib(result.peakKiB)],
    ["demo", result.up ? `up (${result.exit})` : `DIED${result.crash.length > 0 ? `: ${result.crash.join(" / ").slice(0, 200)}` : ""}`],
    ["attacker answers by status", statuses],
    ["refusals without a JSON-RPC body", `${tally.refusedWithoutBody}${tally.samples.length > 0 ? ` (e.g. ${tally.samples[0]})` : ""}`],
    ["attacker requests without a status", noStatus],
    ["Error-level log lines", String(result.errorLines)],
    ["duration", `${result.seconds.toFixed(1)} s`]
  ]
  const pass = result.checks.every(([, ok]) => ok)
  return [
    `## Attack ${result.attack.n}: ${result.attack.title}`,
    "",
    "| | |",
    "| --- | --- |",
    ...rows.map(([key, value]) => `| ${key} | ${value.replace(/\|/g, "\\|")} |`),
    "",
    "| verdict | result | |",
    "| --- | --- | --- |",
    ...result.checks.map(([name, ok, detail]) => `| ${name} | ${ok ? "ok" : "FAILED"} | ${detail.replace(/\|/g, "\\|")} |`),
    "",
    `**${pass ? "PASS" : "FAIL"}**`,
    ""
  ].join("\n")
}

const main = async (): Promise<number> => {
  let options: Options | undefined
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    // A bad option is one line and exit 2, like the demo's.
    log(`${error instanceof Error ? error.message.split("\n")[0] : String(error)} (see --help)`)
    return 2
  }
  if (options === undefined) return 0
  log(`${options.quick ? "quick" : "full"} run of attacks ${options.only.join(", ")}; demo heap ${options.heapMiB} MiB`)
  process.stdout.write(`# Attack suite (${options.quick ? "quick" : "full"})\n\n`)
  const results: Array<Result> = []
  for (const attack of ATTACKS) {
    if (!options.only.includes(attack.n)) continue
    const result = await runAttack(attack, options)
    results.push(result)
    // Each table as soon as it is done: a long run shows its progress, and a later crash loses nothing.
    process.stdout.write(`${table(result)}\n`)
  }
  const summary = [
    "## Summary",
    "",
    "| attack | server | probe served | peak RSS | verdict |",
    "| --- | --- | --- | --- | --- |",
    ...results.map((r) =>
      `| ${r.attack.n} | ${r.up ? "up" : "DIED"} | ${r.probe.served}/${r.probe.made} | ${mib(r.peakKiB)} | ${
        r.checks.every(([, ok]) => ok) ? "pass" : "FAIL"
      } |`
    )
  ]
  process.stdout.write(summary.join("\n") + "\n")
  return results.every((r) => r.checks.every(([, ok]) => ok)) ? 0 : 1
}

runDriver(main, log)
