/**
 * Command-line options, with two presets: the full run (the defaults) and `--quick` (a few thousand cycles in
 * well under a minute, for CI). Every number can be set on its own; the run stops at whichever of `--cycles`
 * and `--seconds` comes first.
 */
import { type NumericOption, parseCommandLine, usageText } from "../../harness/options.js"

export interface Options {
  readonly quick: boolean
  /**
   * The cluster mode (`--cluster`): three instances on Redis behind nginx, instances and Redis killed and restarted
   * during the run (see `cluster.ts`).
   */
  readonly cluster: boolean
  /** Cycles in all, warm-up included. */
  readonly cycles: number
  /**
   * Fewest cycles the run after the warm-up must complete (failed ones not counted): fewer fails the run, since
   * its checks would then vouch for work it did not do.
   */
  readonly minCycles: number
  /**
   * Wall-clock limit of the cycles (warm-up included; draining and RSS readings not), in seconds. The warm-up
   * gets at most `WARMUP_SHARE` of it, so it can never leave the run after it without time.
   */
  readonly seconds: number
  /** Cycles running at once. */
  readonly concurrency: number
  /** One cycle in this many is a stdio process. */
  readonly stdioEvery: number
  /** stdio processes alive at once. */
  readonly stdioConcurrency: number
  /** Cycles run before the first memory reading. */
  readonly warmup: number
  /** The soak server's session idle timeout, in ms. */
  readonly idleTimeoutMs: number
  /** How long memory is watched before it is read, in seconds. */
  readonly settleSeconds: number
  /** How far settled RSS may end above where it started, in MiB. */
  readonly rssToleranceMiB: number
  readonly seed: number
  /** Print every failure as it happens. */
  readonly verbose: boolean
  /** Cluster mode: a folder for every instance's output, logging every session (`--verbose`). */
  readonly serverLogs: string | undefined
  /** Cluster mode: the instances' lease, in ms. */
  readonly leaseMs: number
  /** Cluster mode: seconds between two faults (an instance killed or stopped, Redis restarted). */
  readonly faultSeconds: number
}

type Numeric = Exclude<keyof Options, "quick" | "verbose" | "cluster" | "serverLogs">

const NUMERIC: ReadonlyArray<NumericOption<Numeric>> = [
  { key: "cycles", flag: "cycles", full: 100_000, quick: 3_000, min: 1, kind: "count", help: "cycles in all, warm-up included" },
  // Quick: two thirds of what a quick run did after its warm-up on 2 cores under a load average of 11 (1,161 in
  // 23 s); full: a fifth of what it plans. The floor of a run that did its job on a slow machine, far above one
  // whose warm-up or failures left it next to nothing.
  { key: "minCycles", flag: "min-cycles", full: 20_000, quick: 800, min: 1, kind: "count", help: "fewest cycles after the warm-up for a pass" },
  { key: "seconds", flag: "seconds", full: 300, quick: 30, min: 1, kind: "number", help: "time limit of the cycles, in s" },
  { key: "concurrency", flag: "concurrency", full: 50, quick: 20, min: 1, kind: "count", help: "cycles at once" },
  { key: "stdioEvery", flag: "stdio-every", full: 500, quick: 150, min: 1, kind: "count", help: "one cycle in N is a stdio process" },
  { key: "stdioConcurrency", flag: "stdio-concurrency", full: 2, quick: 2, min: 1, kind: "count", help: "stdio processes at once" },
  // The baseline is read once pools and caches have reached their high-water mark: settled RSS after 3,000
  // cycles was still 3 MiB below where it settled after 15,000.
  { key: "warmup", flag: "warmup", full: 10_000, quick: 500, min: 0, kind: "count", help: "cycles before the first RSS reading" },
  { key: "idleTimeoutMs", flag: "idle-timeout", full: 2_000, quick: 1_000, min: 50, kind: "number", help: "server idle timeout, ms" },
  { key: "settleSeconds", flag: "settle", full: 12, quick: 4, min: 1, kind: "number", help: "s of watching RSS before reading it" },
  { key: "rssToleranceMiB", flag: "rss-tolerance", full: 6, quick: 10, min: 0, kind: "number", help: "allowed RSS growth, MiB" },
  { key: "leaseMs", flag: "lease-ms", full: 5_000, quick: 3_000, min: 300, kind: "count", help: "--cluster: the instances' lease, ms" },
  { key: "faultSeconds", flag: "fault-every", full: 20, quick: 8, min: 1, kind: "number", help: "--cluster: s between two faults" },
  { key: "seed", flag: "seed", full: 0x50a4, quick: 0x50a4, min: 0, kind: "count", help: "PRNG seed of the cycles' choices" }
]

export const usage = (): string =>
  usageText("Usage: npm run soak -- [options]        (or: tsx packages/examples/soak/run.ts [options])", [
    ["quick", "a few thousand cycles in under a minute (for CI)"],
    ["cluster", "three instances on Redis behind nginx, killed and restarted during the run (with --quick: for CI)"],
    ["server-logs DIR", "--cluster: every instance's output, every session logged, to DIR/PORT-N.log"],
    ["verbose", "print every failure as it happens"]
  ], NUMERIC)

/**
 * The share of `--seconds` the warm-up may take. The rest is the run's, counted from its own start: draining the
 * warm-up's sessions and reading the baseline (up to half a minute) are not taken from it.
 */
export const WARMUP_SHARE = 0.25

/** Parses the command line; throws on a bad option. Returns undefined after printing `--help`. */
export const parseOptions = (argv: ReadonlyArray<string>): Options | undefined => {
  const parsed = parseCommandLine(
    argv,
    NUMERIC,
    {
      verbose: { type: "boolean", default: false },
      cluster: { type: "boolean", default: false },
      "server-logs": { type: "string" }
    },
    usage
  )
  if (parsed === undefined) return undefined
  const options = {
    quick: parsed.quick,
    verbose: parsed.values.verbose === true,
    cluster: parsed.values.cluster === true,
    serverLogs: parsed.values["server-logs"],
    ...parsed.numbers
  }
  // A minimum the counts cannot reach would fail every run: said at once, not after the run.
  const after = options.cycles - Math.min(options.warmup, options.cycles)
  if (options.minCycles > after) {
    throw new Error(
      `--min-cycles ${options.minCycles} is more than the ${after} cycles after the warm-up ` +
        `(--cycles ${options.cycles}, --warmup ${options.warmup}): lower it, or raise --cycles`
    )
  }
  return options
}
