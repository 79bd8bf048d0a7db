/**
 * The attack suite's command line: each attack's sizes (the attacker's report, or `--quick` for CI), the budgets
 * the verdicts hold the demo to, and `--only N,M`.
 */
import { type NumericOption, parseCommandLine, usageText } from "../../harness/options.js"

export interface Sizes {
  readonly listenConnections: number
  readonly listenHoldSeconds: number
  readonly batchSessions: number
  readonly batchSize: number
  readonly batchSeconds: number
  readonly echoSessions: number
  readonly echoPosts: number
  readonly echoMiB: number
  readonly echoSeconds: number
  readonly initPosts: number
  readonly sseStreams: number
  readonly sseHoldSeconds: number
  readonly trickleConnections: number
  readonly trickleMiB: number
  readonly trickleSeconds: number
  readonly idleConnections: number
  readonly idleHoldSeconds: number
  readonly depth: number
}

export interface Options {
  readonly quick: boolean
  readonly sizes: Sizes
  /** The attacks to run, by number. */
  readonly only: ReadonlyArray<number>
  /** The demo's peak RSS budget, in MiB. */
  readonly maxRssMiB: number
  /** The demo's `--max-old-space-size`, in MiB. */
  readonly heapMiB: number
  /** How long the probe goes on after an attack ends, in s. */
  readonly settleSeconds: number
}

type Numeric = keyof Sizes | "maxRssMiB" | "heapMiB" | "settleSeconds"

const NUMERIC: ReadonlyArray<NumericOption<Numeric>> = [
  { key: "listenConnections", flag: "listen-connections", full: 46, quick: 3, min: 1, help: "1: listen streams held open" },
  { key: "listenHoldSeconds", flag: "listen-hold", full: 20, quick: 3, min: 0, kind: "number", help: "1: s to hold them" },
  { key: "batchSessions", flag: "batch-sessions", full: 2_100, quick: 40, min: 1, help: "2: sessions each sending a batch" },
  { key: "batchSize", flag: "batch-size", full: 256, quick: 256, min: 1, help: "2: sleep calls per batch" },
  { key: "batchSeconds", flag: "batch-seconds", full: 180, quick: 8, min: 1, kind: "number", help: "2: time limit, s" },
  { key: "echoSessions", flag: "echo-sessions", full: 12, quick: 2, min: 1, help: "3: sessions" },
  { key: "echoPosts", flag: "echo-posts", full: 100, quick: 4, min: 1, help: "3: big echoes per session" },
  { key: "echoMiB", flag: "echo-mib", full: 3.9, quick: 3.9, min: 0.001, kind: "number", help: "3: echo size, MiB" },
  { key: "echoSeconds", flag: "echo-seconds", full: 240, quick: 15, min: 1, kind: "number", help: "3: time limit, s" },
  { key: "initPosts", flag: "init-posts", full: 10_050, quick: 400, min: 0, help: "4: initialize POSTs" },
  { key: "sseStreams", flag: "sse-streams", full: 10_000, quick: 400, min: 0, help: "4: idle legacy SSE streams held" },
  { key: "sseHoldSeconds", flag: "sse-hold", full: 15, quick: 3, min: 0, kind: "number", help: "4: s to hold them" },
  { key: "trickleConnections", flag: "trickle-connections", full: 8, quick: 2, min: 1, help: "5: connections" },
  { key: "trickleMiB", flag: "trickle-mib", full: 7.6, quick: 0.05, min: 0.001, kind: "number", help: "5: bytes in all, MiB" },
  { key: "trickleSeconds", flag: "trickle-seconds", full: 60, quick: 5, min: 1, kind: "number", help: "5: time limit, s" },
  { key: "idleConnections", flag: "idle-connections", full: 20_500, quick: 1_000, min: 1, help: "6: idle connections" },
  { key: "idleHoldSeconds", flag: "idle-hold", full: 15, quick: 3, min: 0, kind: "number", help: "6: s to hold them" },
  { key: "depth", flag: "depth", full: 5_000, quick: 5_000, min: 1, help: "8: nesting depth of the arguments" },
  { key: "maxRssMiB", flag: "max-rss-mib", full: 1_024, quick: 1_024, min: 1, kind: "number", help: "the demo's peak RSS budget, MiB" },
  { key: "heapMiB", flag: "heap-mib", full: 2_048, quick: 2_048, min: 64, help: "the demo's --max-old-space-size, MiB" },
  { key: "settleSeconds", flag: "settle", full: 5, quick: 2, min: 0, kind: "number", help: "s the probe goes on after an attack" }
]

export const usage = (): string =>
  usageText("Usage: npm run attack -- [options]      (or: tsx packages/examples/attack/run.ts [options])", [
    ["quick", "reduced sizes, under ~90 s (for CI)"],
    ["only N,M", "run only these attacks (1-9)"]
  ], NUMERIC)

/** Parses the command line; throws on a bad option. Returns undefined after printing `--help`. */
export const parseOptions = (argv: ReadonlyArray<string>): Options | undefined => {
  const parsed = parseCommandLine(argv, NUMERIC, { only: { type: "string" } }, usage)
  if (parsed === undefined) return undefined
  const raw = parsed.values.only
  const only = typeof raw === "string"
    ? raw.split(",").map((part) => {
      const n = Number(part.trim())
      if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`--only: expected attack numbers 1-9, got ${raw}`)
      return n
    })
    : [1, 2, 3, 4, 5, 6, 7, 8, 9]
  const { maxRssMiB, heapMiB, settleSeconds, ...sizes } = parsed.numbers
  return { quick: parsed.quick, sizes, only, maxRssMiB, heapMiB, settleSeconds }
}
