/**
 * What the soak's runs share: failures counted by category, waiting for a server's sessions to be gone, and the
 * final check that every session id the run was given now gets 404.
 */
import type * as http from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { ACCEPT_BOTH, send, SoakError } from "./client.js"

const log = (message: string): void => {
  process.stderr.write(`[soak] ${message}\n`)
}

/** Session ids the run was given, by transport. */
export interface SessionIds {
  readonly sse: Array<string>
  readonly streamable: Array<string>
}

/** Failures by category, with the first few details of each. */
export class Failures {
  readonly byCategory = new Map<string, { count: number; samples: Array<string> }>()
  constructor(private readonly verbose: boolean) {}

  add(category: string, detail: string): void {
    const entry = this.byCategory.get(category) ?? { count: 0, samples: [] }
    entry.count++
    if (entry.samples.length < 3) entry.samples.push(detail)
    this.byCategory.set(category, entry)
    if (this.verbose) log(`FAILED ${category}: ${detail}`)
  }

  get total(): number {
    let total = 0
    for (const entry of this.byCategory.values()) total += entry.count
    return total
  }
}

/** A failure's category and detail: a `SoakError`'s own, or a connection error by its code. */
export const describe = (error: unknown): readonly [string, string] => {
  if (error instanceof SoakError) return [error.category, error.message]
  const message = error instanceof Error ? error.message : String(error)
  // Connection-level failures, grouped by their code rather than their text.
  const code = error instanceof Error && "code" in error ? String(error.code) : undefined
  return [code === undefined ? "unexpected" : `connection: ${code}`, message]
}

/** Polls the server's live session count until it is 0, for at most `timeoutMs`; returns the last count. */
export const drain = async (server: { readonly liveSessions: () => Promise<number | undefined> }, timeoutMs: number): Promise<number | undefined> => {
  const started = Date.now()
  let live = await server.liveSessions()
  while (live !== 0 && Date.now() - started < timeoutMs) {
    await sleep(250)
    live = await server.liveSessions()
  }
  return live
}

/** Every old id must get 404: POST to it as its client would, `concurrency` at once. */
export const checkGone = async (
  port: number,
  agent: http.Agent,
  ids: SessionIds,
  concurrency: number,
  failures: Failures
): Promise<{ readonly checked: number; readonly sse: number; readonly streamable: number; readonly notGone: number }> => {
  const jobs: Array<() => Promise<number>> = [
    ...ids.sse.map((id) => () =>
      send({
        port,
        method: "POST",
        path: `/messages?session_id=${id}`,
        agent,
        headers: { "content-type": "application/json" },
        body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"
      }).then((r) => r.status)
    ),
    ...ids.streamable.map((id) => () =>
      send({
        port,
        method: "POST",
        path: "/mcp",
        agent,
        headers: { "content-type": "application/json", accept: ACCEPT_BOTH, "mcp-session-id": id },
        body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"
      }).then((r) => r.status)
    )
  ]
  let next = 0
  let notGone = 0
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!
      try {
        const status = await job()
        if (status !== 404) {
          notGone++
          failures.add(`old session id: HTTP ${status}`, `expected 404`)
        }
      } catch (error) {
        notGone++
        const [category, detail] = describe(error)
        failures.add(`old session id: ${category}`, detail)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { checked: jobs.length, sse: ids.sse.length, streamable: ids.streamable.length, notGone }
}


/** The report's table of checks, and the failures with their first few details. */
export const checkLines = (
  checks: ReadonlyArray<readonly [name: string, ok: boolean, detail: string]>,
  failures: Failures
): Array<string> => {
  const lines = [
    "| check | result | |",
    "| --- | --- | --- |",
    ...checks.map(([name, ok, detail]) => `| ${name} | ${ok ? "ok" : "FAILED"} | ${detail} |`)
  ]
  if (failures.total > 0) {
    lines.push("", "Failures:", "")
    for (const [category, { count, samples }] of failures.byCategory) {
      lines.push(`- ${category}: ${count}`, ...samples.map((s) => `  - ${s.slice(0, 300)}`))
    }
  }
  return lines
}
