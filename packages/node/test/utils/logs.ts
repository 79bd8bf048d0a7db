/**
 * A logger that records instead of printing, so tests can assert that nothing was logged at Error level and that no
 * defect reached a log.
 */
import * as Cause from "effect/Cause"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

export interface LogEntry {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly cause: Cause.Cause<unknown>
}

export interface CapturedLogs {
  readonly entries: Array<LogEntry>
  /** Replaces the default logger for whatever it is provided to (layers built under it included). */
  readonly layer: Layer.Layer<never>
  /** Entries at Error level or above, or carrying a defect. */
  readonly problems: () => ReadonlyArray<LogEntry>
}

const render = (message: unknown): string =>
  Array.isArray(message) ? message.map(render).join(" ") : typeof message === "string" ? message : String(message)

export const capture = (): CapturedLogs => {
  const entries: Array<LogEntry> = []
  const logger = Logger.make<unknown, void>(({ cause, logLevel, message }) => {
    entries.push({ level: logLevel, message: render(message), cause })
  })
  return {
    entries,
    layer: Logger.replace(Logger.defaultLogger, logger),
    problems: () =>
      entries.filter((entry) =>
        LogLevel.greaterThanEqual(entry.level, LogLevel.Error) || Cause.isDie(entry.cause) || Cause.isFailure(entry.cause)
      )
  }
}
