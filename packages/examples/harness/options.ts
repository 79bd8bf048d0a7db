/**
 * A driver's command line: a table of numeric options, each with a full-run and a `--quick` default, plus the
 * driver's own flags, `--quick` and `--help`. The drivers read their own flags' values.
 */
import { parseArgs, type ParseArgsConfig } from "node:util"

/** One numeric flag and its two presets. */
export interface NumericOption<K extends string> {
  readonly key: K
  readonly flag: string
  readonly full: number
  readonly quick: number
  readonly min: number
  /** Multiplies the command-line value (seconds to ms). */
  readonly scale?: number
  /**
   * `integer` (the default) refuses a fraction; `number` takes any finite number; `count` does too and rounds it
   * down, so `--cycles 1e5` works.
   */
  readonly kind?: "integer" | "number" | "count"
  readonly help: string
}

type Flags = NonNullable<ParseArgsConfig["options"]>

/** What `parseArgs` makes of `flags`, typed as precisely as it types them. */
type Values<F extends Flags> = ReturnType<typeof parseArgs<{ args: Array<string>; options: F }>>["values"]

/** A parsed command line: the driver's own flags' values, `--quick`, and the table's numbers. */
export interface CommandLine<K extends string, F extends Flags> {
  readonly values: Values<F>
  readonly quick: boolean
  readonly numbers: Record<K, number>
}

/**
 * Parses `argv` with the driver's own `flags` and the table's; throws on a bad option. Returns undefined after
 * printing `usage` for `--help`.
 */
export const parseCommandLine = <K extends string, F extends Flags>(
  argv: ReadonlyArray<string>,
  table: ReadonlyArray<NumericOption<K>>,
  flags: F,
  usage: () => string
): CommandLine<K, F> | undefined => {
  // Typed as the driver's flags alone: the driver reads the rest from `quick` and `numbers`.
  const options: F = {
    ...flags,
    // Read as strings, so that readNumbers can say what is wrong with a value.
    ...Object.fromEntries(table.map((o) => [o.flag, { type: "string" as const }])),
    quick: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
  const { values } = parseArgs<{ args: Array<string>; options: F }>({
    // `npm run x -- -- --quick` (the old way through nested npm runs) leaves a stray "--".
    args: argv.filter((arg) => arg !== "--"),
    options
  })
  const all: Readonly<Record<string, unknown>> = values
  if (all["help"] === true) {
    process.stdout.write(usage())
    return undefined
  }
  const quick = all["quick"] === true
  return { values, quick, numbers: readNumbers(table, all, quick) }
}

/** The table's values from `parseArgs`' result: the preset unless given; throws on a value out of range. */
const readNumbers = <K extends string>(
  table: ReadonlyArray<NumericOption<K>>,
  values: Readonly<Record<string, unknown>>,
  quick: boolean
): Record<K, number> => {
  const numbers = {} as Record<K, number>
  for (const option of table) {
    const raw = values[option.flag]
    const kind = option.kind ?? "integer"
    let n = quick ? option.quick : option.full
    if (typeof raw === "string") {
      n = Number(raw)
      const ok = kind === "integer" ? Number.isInteger(n) : Number.isFinite(n)
      if (!ok || n < option.min) {
        const what = kind === "integer" ? "an integer" : "a number"
        throw new Error(`--${option.flag} must be ${what} >= ${option.min}, got ${raw}`)
      }
    }
    numbers[option.key] = (kind === "count" ? Math.floor(n) : n) * (option.scale ?? 1)
  }
  return numbers
}

/**
 * The `--help` text: `intro`, the driver's own `flags` (a help with newlines goes on over aligned lines), then
 * the table's.
 */
export const usageText = <K extends string>(
  intro: string,
  flags: ReadonlyArray<readonly [flag: string, help: string]>,
  table: ReadonlyArray<NumericOption<K>>
): string => {
  const width = Math.max(...table.map((o) => o.flag.length)) + 5
  const line = (flag: string, help: string) =>
    `  --${flag.padEnd(width)}${help.split("\n").join(`\n${" ".repeat(width + 4)}`)}`
  return [
    intro,
    ...flags.map(([flag, help]) => line(flag, help)),
    ...table.map((o) => line(`${o.flag} N`, `${o.help} (default ${o.full}, quick ${o.quick})`))
  ].join("\n") + "\n"
}
