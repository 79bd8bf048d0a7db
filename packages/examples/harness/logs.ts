/**
 * The demo's output, line by line: lines counted by level, the ones at Error level or worse kept, and lines that
 * are no log line of the demo's (a stack trace, a crash) kept too. Shared by the soak and the attack suite.
 */

/** A log line of the demo's logger: `[12:00:00.000] LEVEL (#fiber): message`. */
const LOG_LINE = /^\[[^\]]*\] ([A-Z]+) /

/** What a process logged: lines by level, and the lines at Error level or worse (the first few of them). */
export class LogWatch {
  readonly levels = new Map<string, number>()
  readonly problems: Array<string> = []
  /** Lines that are no log line of the demo's (a stack trace, a crash), the first few. */
  readonly strays: Array<string> = []
  private rest = ""
  private listeners: Array<(line: string) => void> = []

  push(chunk: string): void {
    const text = this.rest + chunk
    const lines = text.split("\n")
    this.rest = lines.pop() ?? ""
    for (const line of lines) this.line(line)
  }

  end(): void {
    if (this.rest !== "") this.line(this.rest)
    this.rest = ""
  }

  /** Calls `f` with every line from now on, until it returns true. */
  watch(f: (line: string) => boolean): void {
    const listener = (line: string) => {
      if (f(line)) this.listeners = this.listeners.filter((l) => l !== listener)
    }
    this.listeners.push(listener)
  }

  get problemCount(): number {
    return (this.levels.get("ERROR") ?? 0) + (this.levels.get("FATAL") ?? 0)
  }

  private line(line: string): void {
    if (line.trim() === "") return
    const match = LOG_LINE.exec(line)
    if (match !== null) {
      const level = match[1]!
      this.levels.set(level, (this.levels.get(level) ?? 0) + 1)
      if ((level === "ERROR" || level === "FATAL") && this.problems.length < 5) this.problems.push(line)
    } else if (this.strays.length < 20 && /^\S/.test(line)) {
      // Indented lines belong to the entry above them (a cause, annotations).
      this.strays.push(line)
    }
    for (const listener of [...this.listeners]) listener(line)
  }
}
