/**
 * The attacker's and the probe's HTTP: requests from a chosen loopback address (the attacker from 127.0.0.2, the
 * probe from 127.0.0.1, so a server's per-client budgets can tell them apart), the 2026-07-28 request shape, and
 * the tally of every refusal the attacker got: its status, and whether it carried a JSON-RPC error.
 */
import type * as http from "node:http"
import {
  eventStreamMessages,
  isJsonObject,
  type JsonObject,
  openRequest,
  type Reply,
  type Target
} from "../../harness/http.js"

export const ATTACKER = "127.0.0.2"
export const PROBE = "127.0.0.1"
export const MODERN = "2026-07-28"
export const ACCEPT_BOTH = "application/json, text/event-stream"

/** The `_meta` a 2026-07-28 request carries in place of a session. */
export const modernMeta = (clientName: string) => ({
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: clientName, version: "0.0.0" }
})

/** The headers a 2026-07-28 POST mirrors from its body. */
export const modernHeaders = (method: string, name?: string): http.OutgoingHttpHeaders => ({
  "content-type": "application/json",
  accept: ACCEPT_BOTH,
  "mcp-protocol-version": MODERN,
  "mcp-method": method,
  ...(name === undefined ? {} : { "mcp-name": name })
})

/** The JSON-RPC messages of a reply: a JSON body (one message or a batch) or an SSE body's messages. */
export const messagesOf = (reply: Reply): Array<JsonObject> => {
  try {
    const values: Array<unknown> = (reply.headers["content-type"] ?? "").includes("text/event-stream")
      ? eventStreamMessages(reply.body)
      : [JSON.parse(reply.body)]
    return values.flatMap((value) => Array.isArray(value) ? value : [value]).filter(isJsonObject)
  } catch {
    return []
  }
}

/** The first JSON-RPC error of a reply: `{ code, message }`; undefined when there is none. */
export const rpcErrorOf = (reply: Reply): { readonly code: number; readonly message: string } | undefined => {
  for (const message of messagesOf(reply)) {
    const error = message["error"]
    if (message["jsonrpc"] === "2.0" && isJsonObject(error) && typeof error["code"] === "number") {
      return { code: error["code"], message: typeof error["message"] === "string" ? error["message"] : "" }
    }
  }
  return undefined
}

/** The `result` of a reply's answer; undefined when it has none. */
export const resultOf = (reply: Reply): JsonObject | undefined => {
  for (const message of messagesOf(reply)) {
    const result = message["result"]
    if (isJsonObject(result)) return result
  }
  return undefined
}

export interface Send extends Target {
  readonly body?: string | Buffer | undefined
  /** The response is read to its end or until this long; the request is destroyed then. */
  readonly timeoutMs: number
  /** Keep at most this many bytes of the body (a big echo comes back big). Default 64 KiB. */
  readonly keepBytes?: number | undefined
}

/** What came of a request: a reply (its body cut to `keepBytes`), or the connection's failure. */
export type Outcome =
  | { readonly _tag: "Reply"; readonly reply: Reply; readonly bytes: number }
  | { readonly _tag: "Failed"; readonly code: string }

const codeOf = (error: unknown): string =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : "ERROR"

/** One request, its response read to the end (or the timeout); never rejects. */
export const send = (options: Send): Promise<Outcome> =>
  new Promise((resolve) => {
    const keep = options.keepBytes ?? 64 * 1024
    let settled = false
    const settle = (outcome: Outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(outcome)
    }
    const bodyBytes = options.body === undefined ? undefined : Buffer.byteLength(options.body)
    const request = openRequest(options, bodyBytes, (response) => {
      const chunks: Array<Buffer> = []
      let kept = 0
      let bytes = 0
      response.on("data", (chunk: Buffer) => {
        bytes += chunk.length
        if (kept < keep) {
          chunks.push(chunk)
          kept += chunk.length
        }
      })
      const done = () =>
        settle({
          _tag: "Reply",
          reply: {
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).subarray(0, keep).toString("utf8")
          },
          bytes
        })
      response.on("end", done)
      response.on("aborted", done)
      response.on("error", done)
    })
    const timer = setTimeout(() => {
      settle({ _tag: "Failed", code: "TIMEOUT" })
      request.destroy()
    }, options.timeoutMs)
    request.on("error", (error) => settle({ _tag: "Failed", code: codeOf(error) }))
    request.end(options.body)
  })

/** A JSON-RPC error body, for the refusal tally: JSON whose (first) message has `error.code`. */
export const hasRpcErrorBody = (reply: Reply): boolean => rpcErrorOf(reply) !== undefined

/**
 * Everything the attacker got back: answers by status, the refusals (4xx, 5xx) without a JSON-RPC error body,
 * and connections that failed before a status (by code).
 */
export class Tally {
  readonly statuses = new Map<number, number>()
  readonly withoutBody = new Map<number, number>()
  readonly failures = new Map<string, number>()
  readonly samples: Array<string> = []

  reply(reply: Reply): void {
    this.statuses.set(reply.status, (this.statuses.get(reply.status) ?? 0) + 1)
    if (reply.status >= 400 && !hasRpcErrorBody(reply)) {
      this.withoutBody.set(reply.status, (this.withoutBody.get(reply.status) ?? 0) + 1)
      if (this.samples.length < 3) this.samples.push(`HTTP ${reply.status}: ${reply.body.slice(0, 160)}`)
    }
  }

  /** A request that got no status: the connection failed, reset or timed out first. */
  failed(code: string): void {
    this.failures.set(code, (this.failures.get(code) ?? 0) + 1)
  }

  outcome(outcome: Outcome): Reply | undefined {
    if (outcome._tag === "Reply") {
      this.reply(outcome.reply)
      return outcome.reply
    }
    this.failed(outcome.code)
    return undefined
  }

  get refused(): number {
    let n = 0
    for (const [status, count] of this.statuses) if (status >= 400) n += count
    return n
  }

  get refusedWithoutBody(): number {
    let n = 0
    for (const count of this.withoutBody.values()) n += count
    return n
  }

  get noStatus(): number {
    let n = 0
    for (const count of this.failures.values()) n += count
    return n
  }
}

/** Runs `job(i)` for i in [0, count), `concurrency` at once, until `deadline` (ms since the epoch). */
export const pool = async (
  count: number,
  concurrency: number,
  deadline: number,
  job: (i: number) => Promise<void>
): Promise<number> => {
  let next = 0
  const worker = async () => {
    while (next < count && Date.now() < deadline) await job(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return next
}
