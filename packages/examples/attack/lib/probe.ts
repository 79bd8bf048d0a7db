/**
 * The probe: a well-behaved client calling `echo` every 100 ms throughout an attack, sessionless (2026-07-28), on
 * one keep-alive connection of its own from 127.0.0.1. It records every call: served, refused with 503 (when, and
 * whether a Retry-After came with it), or failed otherwise (status, timeout, connection error).
 */
import * as http from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { isJsonObject } from "../../harness/http.js"
import { modernHeaders, modernMeta, PROBE, resultOf, send } from "./client.js"

const INTERVAL_MS = 100
/** A call not answered within this long counts as failed: the probe is locked out. */
const TIMEOUT_MS = 5_000

export interface ProbeResult {
  readonly made: number
  readonly served: number
  /** 503s: ms since the probe started, and whether Retry-After came with it. */
  readonly refused: ReadonlyArray<{ readonly atMs: number; readonly retryAfter: boolean }>
  /** Other failures, by kind (`HTTP 500`, `TIMEOUT`, `ECONNREFUSED`, `wrong answer`). */
  readonly failed: ReadonlyMap<string, number>
  /** When the first failure (not a 503 with Retry-After) came, ms since the probe started. */
  readonly firstFailureMs: number | undefined
  readonly maxLatencyMs: number
}

export interface Probe {
  readonly stop: () => Promise<ProbeResult>
}

/** Starts calling `echo` on `port`; `stop` ends the loop and returns the tally. */
export const startProbe = (port: number): Probe => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, timeout: 4_000 })
  const started = Date.now()
  let running = true
  let made = 0
  let served = 0
  let maxLatencyMs = 0
  let firstFailureMs: number | undefined
  const refused: Array<{ atMs: number; retryAfter: boolean }> = []
  const failed = new Map<string, number>()
  const fail = (kind: string) => {
    failed.set(kind, (failed.get(kind) ?? 0) + 1)
    firstFailureMs ??= Date.now() - started
  }

  const callOnce = async (n: number) => {
    const text = `probe ${n}`
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: n,
      method: "tools/call",
      params: { name: "echo", arguments: { text }, _meta: modernMeta("attack-probe") }
    })
    const at = Date.now()
    const outcome = await send({
      port,
      method: "POST",
      path: "/mcp",
      agent,
      localAddress: PROBE,
      headers: modernHeaders("tools/call", "echo"),
      body,
      timeoutMs: TIMEOUT_MS
    })
    maxLatencyMs = Math.max(maxLatencyMs, Date.now() - at)
    made++
    if (outcome._tag === "Failed") return fail(outcome.code)
    const { reply } = outcome
    if (reply.status === 503) {
      const retryAfter = reply.headers["retry-after"] !== undefined
      refused.push({ atMs: at - started, retryAfter })
      if (!retryAfter) fail("HTTP 503 without Retry-After")
      return
    }
    if (reply.status !== 200) return fail(`HTTP ${reply.status}`)
    const content = resultOf(reply)?.["content"]
    const first: unknown = Array.isArray(content) ? content[0] : undefined
    if (isJsonObject(first) && first["text"] === text) served++
    else fail("wrong answer")
  }

  const loop = (async () => {
    let n = 0
    while (running) {
      const tick = Date.now()
      await callOnce(++n)
      const wait = INTERVAL_MS - (Date.now() - tick)
      if (wait > 0 && running) await sleep(wait)
    }
  })()

  return {
    stop: async () => {
      running = false
      await loop
      agent.destroy()
      return { made, served, refused, failed, firstFailureMs, maxLatencyMs }
    }
  }
}
