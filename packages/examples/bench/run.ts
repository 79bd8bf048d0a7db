/**
 * Benchmark driver: compares MCP servers on per-call server CPU, throughput,
 * latency and idle-session memory, against a bare `node:http` floor.
 *
 *   npx tsx packages/examples/bench/run.ts [--calls N] [--concurrency C]
 *       [--sessions S] [--warmup W] [--runs R] [--servers bare,official,effect-mcp]
 *       [--phases http,sse,idle] [--json out.json] [--start-timeout SEC]
 *       [--phase-timeout SEC]
 *
 * Each server runs as its own child process (`node --import tsx <script>
 * --port P`) and is measured from the outside through /proc, so the servers
 * need no instrumentation. Per server, in order:
 *
 * 1. Streamable HTTP: one session (initialize + notifications/initialized),
 *    then C workers issue `tools/call echo` over a keep-alive agent: W warmup
 *    calls, then R measured runs of N calls; the median run is reported.
 * 2. Legacy HTTP+SSE: C sessions, one per worker; each POSTs to its session
 *    endpoint and waits for the matching response on its event stream.
 *    Same warmup and runs.
 * 3. Idle memory, on a fresh server process: S SSE sessions opened and left
 *    idle for 2 s; RSS delta / S. Then they are closed and, if the server
 *    answers `GET /bench/sessions` with `{ "sse": n }`, the count still
 *    registered 3 s later is reported.
 *
 * A server that fails to start, or a phase that fails, is reported as such
 * and the run goes on. Markdown goes to stdout, progress to stderr, JSON to
 * `--json` if given. Everything targets 127.0.0.1 and every loop is bounded
 * by a call count and a deadline.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const EXAMPLES_DIR = path.resolve(BENCH_DIR, "..")
const HOST = "127.0.0.1"
const PROTOCOL_VERSION = "2025-11-25"
/** Per HTTP request / per awaited SSE response. */
const REQUEST_TIMEOUT_MS = 10_000
/** Parallelism used to open the idle sessions (keeps us under the listen backlog). */
const IDLE_OPEN_PARALLELISM = 64
const IDLE_SETTLE_MS = 2_000
/** Sessions opened (and excluded) before the idle-memory baseline. */
const IDLE_WARM_SESSIONS = 20
const CLOSE_SETTLE_MS = 3_000

/** Known servers; every one is started as `<script> --port <P>`. */
const SERVER_SCRIPTS: Readonly<Record<string, string>> = {
  bare: path.join(BENCH_DIR, "servers", "bare.ts"),
  official: path.join(BENCH_DIR, "servers", "official.ts"),
  "effect-mcp": path.join(EXAMPLES_DIR, "src", "main.ts")
}

const PHASES = ["http", "sse", "idle"] as const
type Phase = (typeof PHASES)[number]

interface Options {
  readonly calls: number
  readonly concurrency: number
  readonly sessions: number
  readonly warmup: number
  readonly runs: number
  readonly servers: ReadonlyArray<string>
  readonly phases: ReadonlySet<Phase>
  readonly json: string | undefined
  readonly startTimeoutMs: number
  readonly phaseTimeoutMs: number
}

const USAGE = `Usage: tsx bench/run.ts [options]
  --calls N            measured calls per transport (default 5000)
  --concurrency C      concurrent workers = SSE sessions under load (default 32)
  --sessions S         idle SSE sessions for the memory probe (default 1000)
  --warmup W           warmup calls before each measured phase (default 2000)
  --runs R             measured runs per phase, the median is reported (default 3)
  --servers LIST       comma-separated: ${Object.keys(SERVER_SCRIPTS).join(",")} (default: all)
  --phases LIST        comma-separated subset of ${PHASES.join(",")} (default: all)
  --json FILE          also write the results as JSON
  --start-timeout SEC  time for a server to accept connections (default 30)
  --phase-timeout SEC  deadline of each phase (default 45)
`

const parseOptions = (): Options => {
  const { values } = parseArgs({
    options: {
      calls: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "32" },
      sessions: { type: "string", default: "1000" },
      // 500 left the first measured run ~1.5x slower than the next ones (JIT).
      warmup: { type: "string", default: "2000" },
      runs: { type: "string", default: "3" },
      servers: { type: "string", default: Object.keys(SERVER_SCRIPTS).join(",") },
      phases: { type: "string", default: PHASES.join(",") },
      json: { type: "string" },
      "start-timeout": { type: "string", default: "30" },
      "phase-timeout": { type: "string", default: "45" },
      help: { type: "boolean", default: false }
    }
  })
  if (values.help) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  const int = (name: string, raw: string, min: number): number => {
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${raw}`)
    return n
  }
  const servers = values.servers.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  for (const name of servers) {
    if (!(name in SERVER_SCRIPTS)) throw new Error(`unknown server ${name}; known: ${Object.keys(SERVER_SCRIPTS).join(", ")}`)
  }
  const phases = new Set<Phase>()
  for (const name of values.phases.split(",").map((s) => s.trim()).filter((s) => s.length > 0)) {
    const phase = PHASES.find((p) => p === name)
    if (phase === undefined) throw new Error(`unknown phase ${name}; known: ${PHASES.join(", ")}`)
    phases.add(phase)
  }
  // npm runs scripts from the package dir; resolve --json against where the user ran npm.
  const json = values.json === undefined
    ? undefined
    : path.resolve(process.env["INIT_CWD"] ?? process.cwd(), values.json)
  return {
    calls: int("calls", values.calls, 1),
    concurrency: int("concurrency", values.concurrency, 1),
    sessions: int("sessions", values.sessions, 1),
    warmup: int("warmup", values.warmup, 0),
    runs: int("runs", values.runs, 1),
    servers,
    phases,
    json,
    startTimeoutMs: int("start-timeout", values["start-timeout"], 1) * 1000,
    phaseTimeoutMs: int("phase-timeout", values["phase-timeout"], 1) * 1000
  }
}

const log = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`)
}

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error))

// ---------------------------------------------------------------------------
// /proc sampling (Linux only). A server may be a wrapper process (e.g. the tsx
// CLI re-spawning node), so everything is summed over the process tree.
// ---------------------------------------------------------------------------

const readProc = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** Fields of /proc/<pid>/stat after `comm`, which may itself contain spaces and parens. */
const statFields = (stat: string): Array<string> => stat.slice(stat.lastIndexOf(")") + 2).split(" ")

const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
    return Number.isFinite(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
})()

/** Field 22 of /proc/<pid>/stat: with the pid, identifies a process across pid reuse. */
const startTime = (pid: number): string | undefined => {
  const stat = readProc(`/proc/${pid}/stat`)
  return stat === undefined ? undefined : statFields(stat)[19]
}

/** `root` and all its live descendants. */
const processTree = (root: number): Array<number> => {
  const children = new Map<number, Array<number>>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const stat = readProc(`/proc/${entry}/stat`)
    if (stat === undefined) continue
    const ppid = Number(statFields(stat)[1])
    const siblings = children.get(ppid)
    if (siblings === undefined) children.set(ppid, [Number(entry)])
    else siblings.push(Number(entry))
  }
  const tree: Array<number> = []
  const queue = [root]
  while (queue.length > 0) {
    const pid = queue.pop()!
    if (!existsSync(`/proc/${pid}`)) continue
    tree.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return tree
}

type CpuSource = "schedstat" | "stat"

/**
 * CPU time of one process in ns. Prefers the per-thread schedstat counters
 * (ns resolution; /proc/<pid>/schedstat alone is only the main thread, and
 * V8's GC and compiler threads do real work), else utime+stime in ticks.
 */
const processCpu = (pid: number): { ns: number; source: CpuSource } | undefined => {
  let tids: Array<string> = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return undefined
  }
  let total = 0
  let found = false
  for (const tid of tids) {
    const schedstat = readProc(`/proc/${pid}/task/${tid}/schedstat`)
    if (schedstat === undefined) continue
    total += Number(schedstat.split(" ")[0])
    found = true
  }
  if (found) return { ns: total, source: "schedstat" }
  const stat = readProc(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  const fields = statFields(stat)
  // utime and stime are fields 14 and 15 of the full line.
  return { ns: ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e9, source: "stat" }
}

const treeCpu = (root: number): { ns: number; source: CpuSource } => {
  let ns = 0
  let source: CpuSource = "schedstat"
  for (const pid of processTree(root)) {
    const cpu = processCpu(pid)
    if (cpu === undefined) continue
    ns += cpu.ns
    if (cpu.source === "stat") source = "stat"
  }
  return { ns, source }
}

const treeRssKiB = (root: number): number => {
  let kib = 0
  for (const pid of processTree(root)) {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readProc(`/proc/${pid}/status`) ?? "")
    if (match !== null) kib += Number(match[1])
  }
  return kib
}

// ---------------------------------------------------------------------------
// HTTP / JSON-RPC / SSE client plumbing
// ---------------------------------------------------------------------------

interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

const httpRequest = (
  agent: http.Agent,
  port: number,
  method: string,
  urlPath: string,
  headers: http.OutgoingHttpHeaders,
  body?: string
): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = http.request({
      host: HOST,
      port,
      method,
      path: urlPath,
      agent,
      headers: body === undefined ? headers : { ...headers, "Content-Length": Buffer.byteLength(body) }
    }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        text += chunk
      })
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
      res.on("error", reject)
    })
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${urlPath} timed out`)))
    req.on("error", reject)
    req.end(body)
  })

type JsonObject = Record<string, unknown>

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Incremental `text/event-stream` parser (LF or CRLF line endings). */
class SseParser {
  private buffer = ""
  private event = ""
  private data: Array<string> = []

  constructor(private readonly onEvent: (event: string, data: string) => void) {}

  push(chunk: string): void {
    this.buffer += chunk
    let newline: number
    while ((newline = this.buffer.indexOf("\n")) !== -1) {
      const raw = this.buffer.slice(0, newline)
      this.buffer = this.buffer.slice(newline + 1)
      this.line(raw.endsWith("\r") ? raw.slice(0, -1) : raw)
    }
  }

  private line(line: string): void {
    if (line === "") {
      if (this.data.length > 0) this.onEvent(this.event === "" ? "message" : this.event, this.data.join("\n"))
      this.event = ""
      this.data = []
      return
    }
    if (line.startsWith(":")) return
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "")
    if (field === "event") this.event = value
    else if (field === "data") this.data.push(value)
  }
}

/** JSON-RPC messages in a response body, whether sent as JSON or as an SSE stream. */
const rpcMessages = (reply: Reply): Array<unknown> => {
  const contentType = reply.headers["content-type"] ?? ""
  if (contentType.includes("text/event-stream")) {
    const messages: Array<unknown> = []
    const parser = new SseParser((event, data) => {
      // Empty-data events are resumability primers (an event id only), not messages.
      if (event === "message" && data !== "") messages.push(JSON.parse(data))
    })
    parser.push(reply.body + "\n\n")
    return messages
  }
  if (reply.body === "") throw new Error(`HTTP ${reply.status} with an empty body (content-type ${contentType || "none"})`)
  const parsed: unknown = JSON.parse(reply.body)
  return Array.isArray(parsed) ? parsed : [parsed]
}

const findResponse = (messages: ReadonlyArray<unknown>, id: number): JsonObject => {
  const response = messages.find((m): m is JsonObject => isObject(m) && m["id"] === id)
  if (response === undefined) throw new Error(`no response with id ${id}`)
  if (response["error"] !== undefined) throw new Error(`JSON-RPC error: ${JSON.stringify(response["error"])}`)
  return response
}

const INITIALIZE_PARAMS = {
  protocolVersion: PROTOCOL_VERSION,
  capabilities: {},
  clientInfo: { name: "effect-mcp-bench", version: "0.0.0" }
}

const initializeRequest = (id: number): string =>
  JSON.stringify({ jsonrpc: "2.0", id, method: "initialize", params: INITIALIZE_PARAMS })

const INITIALIZED_NOTIFICATION = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })

const echoRequest = (id: number, text: string): string =>
  JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text } } })

/** Throws unless `response` is the echo tool's result for `text`. */
const checkEcho = (response: JsonObject, text: string): void => {
  const result = response["result"]
  const content = isObject(result) ? result["content"] : undefined
  const first: unknown = Array.isArray(content) ? content[0] : undefined
  if (!isObject(first) || first["text"] !== text) {
    throw new Error(`unexpected echo result: ${JSON.stringify(response).slice(0, 200)}`)
  }
}

const negotiatedVersion = (response: JsonObject): string => {
  const result = response["result"]
  const version = isObject(result) ? result["protocolVersion"] : undefined
  return typeof version === "string" ? version : PROTOCOL_VERSION
}

const expect2xx = (reply: Reply, what: string): void => {
  if (reply.status < 200 || reply.status >= 300) {
    throw new Error(`${what}: HTTP ${reply.status} ${reply.body.slice(0, 200)}`)
  }
}

// --- Streamable HTTP --------------------------------------------------------

interface StreamableSession {
  readonly sessionId: string
  readonly protocolVersion: string
}

const STREAMABLE_ACCEPT = "application/json, text/event-stream"

const openStreamableSession = async (agent: http.Agent, port: number): Promise<StreamableSession> => {
  const headers = { "Content-Type": "application/json", Accept: STREAMABLE_ACCEPT }
  const reply = await httpRequest(agent, port, "POST", "/mcp", headers, initializeRequest(0))
  expect2xx(reply, "initialize")
  const sessionId = reply.headers["mcp-session-id"]
  if (typeof sessionId !== "string") throw new Error("initialize: no Mcp-Session-Id header")
  const protocolVersion = negotiatedVersion(findResponse(rpcMessages(reply), 0))
  const sessionHeaders = { ...headers, "Mcp-Session-Id": sessionId, "MCP-Protocol-Version": protocolVersion }
  expect2xx(
    await httpRequest(agent, port, "POST", "/mcp", sessionHeaders, INITIALIZED_NOTIFICATION),
    "notifications/initialized"
  )
  return { sessionId, protocolVersion }
}

const streamableEcho = async (
  agent: http.Agent,
  port: number,
  session: StreamableSession,
  id: number
): Promise<void> => {
  const text = `echo-${id}`
  const reply = await httpRequest(agent, port, "POST", "/mcp", {
    "Content-Type": "application/json",
    Accept: STREAMABLE_ACCEPT,
    "Mcp-Session-Id": session.sessionId,
    "MCP-Protocol-Version": session.protocolVersion
  }, echoRequest(id, text))
  expect2xx(reply, "tools/call")
  checkEcho(findResponse(rpcMessages(reply), id), text)
}

// --- Legacy HTTP+SSE --------------------------------------------------------

interface Pending {
  readonly resolve: (message: JsonObject) => void
  readonly reject: (error: Error) => void
}

/** One legacy SSE session: the GET stream plus the POST endpoint it announced. */
class SseSession {
  private readonly pending = new Map<number, Pending>()
  private request: http.ClientRequest | undefined
  private endpoint = ""
  private closedWith: Error | undefined
  private nextId = 1

  private constructor(private readonly port: number) {}

  /** Opens GET /sse and resolves once the `endpoint` event has arrived. */
  static open(agent: http.Agent, port: number): Promise<SseSession> {
    const session = new SseSession(port)
    return new Promise((resolve, reject) => {
      let settled = false
      const settle = (error: Error | undefined) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (error === undefined) resolve(session)
        else reject(error)
      }
      const timer = setTimeout(() => {
        session.close()
        settle(new Error("timed out waiting for the endpoint event"))
      }, REQUEST_TIMEOUT_MS)
      const parser = new SseParser((event, data) => {
        if (event === "endpoint") {
          // The endpoint may be relative or absolute; only its path matters here.
          const url = new URL(data, `http://${HOST}:${port}/sse`)
          session.endpoint = url.pathname + url.search
          settle(undefined)
        } else if (event === "message") {
          session.dispatch(data)
        }
      })
      const req = http.request({
        host: HOST,
        port,
        method: "GET",
        path: "/sse",
        agent,
        headers: { Accept: "text/event-stream" }
      }, (res) => {
        if (res.statusCode !== 200) {
          res.resume()
          session.close()
          settle(new Error(`GET /sse: HTTP ${res.statusCode ?? 0}`))
          return
        }
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => parser.push(chunk))
        res.on("end", () => session.fail(new Error("SSE stream ended")))
        res.on("error", (error) => session.fail(error))
      })
      req.on("error", (error) => {
        session.fail(error)
        settle(error)
      })
      req.end()
      session.request = req
    })
  }

  /** POSTs a request and waits for both the POST's 2xx and the response event. */
  async call(agent: http.Agent, method: string, params: JsonObject): Promise<JsonObject> {
    if (this.closedWith !== undefined) throw this.closedWith
    const id = this.nextId++
    let timer: NodeJS.Timeout | undefined
    const response = new Promise<JsonObject>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      timer = setTimeout(() => reject(new Error(`no SSE response to ${method} #${id}`)), REQUEST_TIMEOUT_MS)
    })
    // If the POST fails first, nobody awaits `response`; don't let it reject unhandled.
    response.catch(() => undefined)
    try {
      const body = JSON.stringify({ jsonrpc: "2.0", id, method, params })
      expect2xx(await this.post(agent, body), `POST ${method}`)
      const message = await response
      if (message["error"] !== undefined) throw new Error(`JSON-RPC error: ${JSON.stringify(message["error"])}`)
      return message
    } finally {
      clearTimeout(timer)
      this.pending.delete(id)
    }
  }

  async notify(agent: http.Agent, body: string): Promise<void> {
    expect2xx(await this.post(agent, body), "POST notification")
  }

  async initialize(agent: http.Agent): Promise<void> {
    await this.call(agent, "initialize", INITIALIZE_PARAMS)
    await this.notify(agent, INITIALIZED_NOTIFICATION)
  }

  async echo(agent: http.Agent, text: string): Promise<void> {
    checkEcho(await this.call(agent, "tools/call", { name: "echo", arguments: { text } }), text)
  }

  close(): void {
    this.fail(new Error("session closed"))
    this.request?.destroy()
  }

  private post(agent: http.Agent, body: string): Promise<Reply> {
    return httpRequest(agent, this.port, "POST", this.endpoint, { "Content-Type": "application/json" }, body)
  }

  private dispatch(data: string): void {
    let message: unknown
    try {
      message = JSON.parse(data)
    } catch {
      return
    }
    if (!isObject(message) || typeof message["id"] !== "number") return // notifications etc.
    this.pending.get(message["id"])?.resolve(message)
  }

  private fail(error: Error): void {
    if (this.closedWith !== undefined) return
    this.closedWith = error
    for (const pending of this.pending.values()) pending.reject(error)
    this.pending.clear()
  }
}

// ---------------------------------------------------------------------------
// Load driving and measurement
// ---------------------------------------------------------------------------

interface DriveResult {
  readonly latenciesMs: Float64Array
  readonly errors: number
  readonly firstError: string | undefined
  readonly truncated: boolean
}

/**
 * Runs `total` calls spread over the given workers (one in flight per worker),
 * stopping early at `deadline` (performance.now()) or once errors pile up.
 */
const drive = async (
  workers: ReadonlyArray<() => Promise<void>>,
  total: number,
  deadline: number
): Promise<DriveResult> => {
  const latencies = new Float64Array(total)
  const maxErrors = Math.max(10, Math.ceil(total / 100))
  let issued = 0
  let done = 0
  let errors = 0
  let firstError: string | undefined
  let truncated = false
  let stop = false
  await Promise.all(workers.map(async (call) => {
    while (!stop && issued < total) {
      if (performance.now() > deadline) {
        truncated = true
        stop = true
        break
      }
      issued++
      const start = performance.now()
      try {
        await call()
        latencies[done++] = performance.now() - start
      } catch (error) {
        errors++
        firstError ??= errorMessage(error)
        if (errors > maxErrors) stop = true
      }
    }
  }))
  if (errors > maxErrors) throw new Error(`${errors} failed calls, first: ${firstError ?? "?"}`)
  return { latenciesMs: latencies.subarray(0, done), errors, firstError, truncated }
}

interface RunMetrics {
  readonly calls: number
  readonly errors: number
  readonly truncated: boolean
  readonly wallSeconds: number
  readonly callsPerSecond: number
  /** Server process tree CPU per successful call. */
  readonly serverCpuUsPerCall: number
  /** This driver's own CPU per call: it shares the machine with the server. */
  readonly clientCpuUsPerCall: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly firstError?: string
}

/** The median run (by server CPU per call), plus every run for the spread. */
interface LoadMetrics extends RunMetrics {
  readonly cpuSource: CpuSource
  /** (max - min) / median of server µs/call over the runs, in percent. */
  readonly cpuSpreadPct: number
  readonly runs: ReadonlyArray<RunMetrics>
}

/** Nearest-rank percentile of an ascending array. */
const percentile = (sorted: Float64Array, q: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

/**
 * Warmup once, then `options.runs` measured runs of `options.calls` calls,
 * each with the server's CPU time sampled around it. Several short runs and
 * their median hold up better than one long run on a machine shared with
 * other work (including this driver).
 */
const measureLoad = async (
  serverPid: number,
  workers: ReadonlyArray<() => Promise<void>>,
  options: Options
): Promise<LoadMetrics> => {
  const deadline = performance.now() + options.phaseTimeoutMs
  if (options.warmup > 0 && (await drive(workers, options.warmup, deadline)).truncated) {
    throw new Error(`phase deadline (${options.phaseTimeoutMs / 1000}s) hit during warmup`)
  }
  const runs: Array<RunMetrics> = []
  let cpuSource: CpuSource = "schedstat"
  for (let i = 0; i < options.runs; i++) {
    const cpuBefore = treeCpu(serverPid)
    const clientBefore = process.cpuUsage()
    const start = performance.now()
    const run = await drive(workers, options.calls, deadline)
    const wallSeconds = (performance.now() - start) / 1000
    const clientCpu = process.cpuUsage(clientBefore)
    const cpuAfter = treeCpu(serverPid)
    cpuSource = cpuAfter.source
    const calls = run.latenciesMs.length
    if (calls === 0) break
    const sorted = Float64Array.from(run.latenciesMs).sort()
    runs.push({
      calls,
      errors: run.errors,
      truncated: run.truncated,
      wallSeconds,
      callsPerSecond: calls / wallSeconds,
      serverCpuUsPerCall: (cpuAfter.ns - cpuBefore.ns) / 1000 / calls,
      clientCpuUsPerCall: (clientCpu.user + clientCpu.system) / calls,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      ...(run.firstError === undefined ? {} : { firstError: run.firstError })
    })
    if (run.truncated) break
  }
  if (runs.length === 0) throw new Error("no call completed")
  const byCpu = [...runs].sort((a, b) => a.serverCpuUsPerCall - b.serverCpuUsPerCall)
  const median = byCpu[Math.floor((byCpu.length - 1) / 2)]!
  const spread = (byCpu[byCpu.length - 1]!.serverCpuUsPerCall - byCpu[0]!.serverCpuUsPerCall) /
    median.serverCpuUsPerCall
  return {
    ...median,
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    truncated: runs.some((run) => run.truncated),
    cpuSource,
    cpuSpreadPct: spread * 100,
    runs
  }
}

const benchStreamable = async (serverPid: number, port: number, options: Options): Promise<LoadMetrics> => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  try {
    const session = await openStreamableSession(agent, port)
    let nextId = 1 // 0 was initialize; ids stay unique within the session
    const call = () => streamableEcho(agent, port, session, nextId++)
    const metrics = await measureLoad(serverPid, Array.from({ length: options.concurrency }, () => call), options)
    // Best effort: not every server implements DELETE.
    await httpRequest(agent, port, "DELETE", "/mcp", {
      "Mcp-Session-Id": session.sessionId,
      "MCP-Protocol-Version": session.protocolVersion
    }).catch(() => undefined)
    return metrics
  } finally {
    agent.destroy()
  }
}

const benchSse = async (serverPid: number, port: number, options: Options): Promise<LoadMetrics> => {
  const streamAgent = new http.Agent({ keepAlive: false })
  const postAgent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  const sessions: Array<SseSession> = []
  try {
    for (let i = 0; i < options.concurrency; i++) {
      const session = await SseSession.open(streamAgent, port)
      sessions.push(session)
      await session.initialize(postAgent)
    }
    let counter = 0
    const workers = sessions.map((session) => () => session.echo(postAgent, `echo-${counter++}`))
    return await measureLoad(serverPid, workers, options)
  } finally {
    for (const session of sessions) session.close()
    postAgent.destroy()
    streamAgent.destroy()
  }
}

interface IdleMetrics {
  readonly opened: number
  readonly failed: number
  readonly rssBeforeKiB: number
  readonly rssAfterKiB: number
  readonly kibPerSession: number
  /** From GET /bench/sessions, when the server exposes it. */
  readonly registeredWhileOpen?: number
  readonly registeredAfterClose?: number
  readonly rssAfterCloseKiB: number
  readonly firstError?: string
}

/** Open SSE sessions per GET /bench/sessions, or undefined if not exposed. */
const registeredSseSessions = async (agent: http.Agent, port: number): Promise<number | undefined> => {
  try {
    const reply = await httpRequest(agent, port, "GET", "/bench/sessions", {})
    if (reply.status !== 200) return undefined
    const body: unknown = JSON.parse(reply.body)
    return isObject(body) && typeof body["sse"] === "number" ? body["sse"] : undefined
  } catch {
    return undefined
  }
}

const benchIdle = async (serverPid: number, port: number, options: Options): Promise<IdleMetrics> => {
  const streamAgent = new http.Agent({ keepAlive: false })
  const probeAgent = new http.Agent({ keepAlive: false })
  const sessions: Array<SseSession> = []
  const warm: Array<SseSession> = []
  let failed = 0
  let firstError: string | undefined
  try {
    // Run the SSE code path a few times before the baseline so that lazy
    // module loading and compilation are not billed to the sessions. These
    // stay open and are not counted.
    for (let i = 0; i < IDLE_WARM_SESSIONS; i++) warm.push(await SseSession.open(streamAgent, port))
    await sleep(1000)
    const rssBeforeKiB = treeRssKiB(serverPid)
    let next = 0
    const deadline = performance.now() + options.phaseTimeoutMs
    await Promise.all(Array.from({ length: Math.min(IDLE_OPEN_PARALLELISM, options.sessions) }, async () => {
      while (next < options.sessions && performance.now() < deadline && failed <= options.sessions / 10) {
        next++
        try {
          sessions.push(await SseSession.open(streamAgent, port))
        } catch (error) {
          failed++
          firstError ??= errorMessage(error)
        }
      }
    }))
    if (sessions.length === 0) throw new Error(`no idle session could be opened: ${firstError ?? "?"}`)
    await sleep(IDLE_SETTLE_MS)
    const rssAfterKiB = treeRssKiB(serverPid)
    const registeredWhileOpen = await registeredSseSessions(probeAgent, port)
    for (const session of [...warm, ...sessions]) session.close()
    await sleep(CLOSE_SETTLE_MS)
    const registeredAfterClose = await registeredSseSessions(probeAgent, port)
    return {
      opened: sessions.length,
      failed,
      rssBeforeKiB,
      rssAfterKiB,
      kibPerSession: (rssAfterKiB - rssBeforeKiB) / sessions.length,
      ...(registeredWhileOpen === undefined ? {} : { registeredWhileOpen: registeredWhileOpen - warm.length }),
      ...(registeredAfterClose === undefined ? {} : { registeredAfterClose }),
      rssAfterCloseKiB: treeRssKiB(serverPid),
      ...(firstError === undefined ? {} : { firstError })
    }
  } finally {
    for (const session of [...warm, ...sessions]) session.close()
    streamAgent.destroy()
    probeAgent.destroy()
  }
}

// ---------------------------------------------------------------------------
// Server processes
// ---------------------------------------------------------------------------

/** Registered so children are killed even if the driver dies mid-run. */
const liveChildren = new Set<ChildProcess>()

interface RunningServer {
  readonly pid: number
  readonly port: number
  readonly startupMs: number
  readonly output: () => string
  readonly stop: () => Promise<void>
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, HOST, () => {
      const address = probe.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

/**
 * The tsx ESM loader, passed to node with --import so the server is a single
 * node process (the tsx CLI would add a wrapper process around it).
 */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

/**
 * Starts `script --port P`. Ready when it prints `READY <port>` (that port
 * wins) or when P accepts TCP connections, for servers that print nothing.
 */
const startServer = async (script: string, timeoutMs: number): Promise<RunningServer> => {
  if (!existsSync(script)) throw new Error(`${path.relative(process.cwd(), script)} does not exist`)
  const requestedPort = await freePort()
  const started = performance.now()
  const child = spawn(process.execPath, ["--import", TSX_LOADER, script, "--port", String(requestedPort)], {
    cwd: EXAMPLES_DIR,
    stdio: ["ignore", "pipe", "pipe"]
  })
  liveChildren.add(child)
  // Keep draining both pipes for the whole run: a full pipe would block the server.
  let tail = ""
  let readyPort: number | undefined
  const keep = (chunk: string) => {
    tail = (tail + chunk).slice(-4000)
    if (readyPort !== undefined) return
    const match = /^READY (\d+)\s*$/m.exec(tail)
    if (match !== null) readyPort = Number(match[1])
  }
  child.stdout?.setEncoding("utf8").on("data", keep)
  child.stderr?.setEncoding("utf8").on("data", keep)
  let exitCode: number | string | undefined
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exitCode = code ?? signal ?? "?"
      liveChildren.delete(child)
      resolve()
    })
  })
  const rootPid = child.pid
  if (rootPid === undefined) throw new Error("spawn failed")

  const stop = async (): Promise<void> => {
    // Snapshot the tree first: once the root exits, its children are reparented.
    const tree = processTree(rootPid).map((pid) => ({ pid, started: startTime(pid) }))
    if (exitCode === undefined) child.kill("SIGTERM")
    await Promise.race([exited, sleep(5000, undefined, { ref: false })])
    for (const { pid, started } of tree) {
      // Same start time = still the process we spawned, not a reused pid.
      if (started === undefined || startTime(pid) !== started) continue
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
    await Promise.race([exited, sleep(1000, undefined, { ref: false })])
  }

  const deadline = performance.now() + timeoutMs
  while (true) {
    if (exitCode !== undefined) throw new Error(`exited (${exitCode}) before listening:\n${tail.trim()}`)
    const port = readyPort ?? ((await canConnect(requestedPort)) ? requestedPort : undefined)
    if (port !== undefined) {
      return { pid: rootPid, port, startupMs: performance.now() - started, output: () => tail, stop }
    }
    if (performance.now() > deadline) {
      await stop()
      throw new Error(`not listening after ${timeoutMs / 1000}s:\n${tail.trim()}`)
    }
    await sleep(100)
  }
}

// ---------------------------------------------------------------------------
// Run and report
// ---------------------------------------------------------------------------

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string }

interface ServerResult {
  readonly name: string
  readonly started: Outcome<{ readonly startupMs: number; readonly port: number }>
  readonly streamable?: Outcome<LoadMetrics>
  readonly sse?: Outcome<LoadMetrics>
  readonly idle?: Outcome<IdleMetrics>
}

const attempt = async <T>(label: string, run: () => Promise<T>): Promise<Outcome<T>> => {
  const started = performance.now()
  try {
    const value = await run()
    log(`  ${label}: done in ${((performance.now() - started) / 1000).toFixed(1)}s`)
    return { ok: true, value }
  } catch (error) {
    log(`  ${label}: FAILED ${errorMessage(error)}`)
    return { ok: false, error: errorMessage(error) }
  }
}

const benchServer = async (name: string, options: Options): Promise<ServerResult> => {
  const script = SERVER_SCRIPTS[name]!
  const launch = async (): Promise<RunningServer> => {
    const server = await startServer(script, options.startTimeoutMs)
    log(`${name}: pid ${server.pid} on port ${server.port} (ready in ${Math.round(server.startupMs)} ms)`)
    return server
  }
  log(`${name}: starting`)
  let server: RunningServer
  try {
    server = await launch()
  } catch (error) {
    log(`${name}: FAILED to start: ${errorMessage(error)}`)
    return { name, started: { ok: false, error: errorMessage(error) } }
  }
  const result: {
    -readonly [K in keyof ServerResult]: ServerResult[K]
  } = { name, started: { ok: true, value: { startupMs: server.startupMs, port: server.port } } }
  // On failure the server's last words usually say more than the client's view.
  const showOutput = (from: RunningServer) => {
    const lines = from.output().trim().split("\n").slice(-10)
    if (lines.join("") !== "") log(`  ${name} output (last lines):\n    ${lines.join("\n    ")}`)
  }
  try {
    if (options.phases.has("http")) {
      result.streamable = await attempt("streamable HTTP", () => benchStreamable(server.pid, server.port, options))
      if (!result.streamable.ok) showOutput(server)
    }
    if (options.phases.has("sse")) {
      result.sse = await attempt("legacy SSE", () => benchSse(server.pid, server.port, options))
      if (!result.sse.ok) showOutput(server)
    }
  } finally {
    await server.stop()
  }
  if (options.phases.has("idle")) {
    // A fresh process: after the load phases the V8 heap has enough free
    // space to absorb the sessions without growing RSS at all, which made the
    // delta mostly noise.
    result.idle = await attempt("idle SSE sessions (fresh process)", async () => {
      const fresh = await launch()
      try {
        return await benchIdle(fresh.pid, fresh.port, options)
      } catch (error) {
        showOutput(fresh)
        throw error
      } finally {
        await fresh.stop()
      }
    })
  }
  return result
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : "n/a")

const ratio = (a: number, b: number): string => {
  if (!(b > 0) || !Number.isFinite(a)) return "n/a"
  const r = a / b
  return `${r.toFixed(r >= 10 ? 0 : r >= 1 ? 1 : 2)}x`
}

const valueOf = <T>(outcome: Outcome<T> | undefined): T | undefined => (outcome?.ok === true ? outcome.value : undefined)

const renderMarkdown = (options: Options, results: ReadonlyArray<ServerResult>): string => {
  const lines: Array<string> = []
  const cpu = os.cpus()
  lines.push("## MCP server benchmark", "")
  lines.push(
    `Median of ${options.runs} run(s) of ${options.calls} calls per transport after ${options.warmup} warmup, ` +
      `concurrency ${options.concurrency}, ${options.sessions} idle SSE sessions; ` +
      `node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "?"}.`,
    ""
  )
  lines.push(
    "| server | HTTP µs/call | HTTP calls/s | HTTP p50 ms | HTTP p99 ms | SSE µs/call | SSE calls/s | SSE p50 ms | SSE p99 ms | idle KiB/session | SSE sessions left after close |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  )
  for (const result of results) {
    if (!result.started.ok) {
      lines.push(`| ${[result.name, "failed to start", ...Array<string>(9).fill("")].join(" | ")} |`)
      continue
    }
    const load = (outcome: Outcome<LoadMetrics> | undefined): Array<string> => {
      if (outcome === undefined) return ["skipped", "", "", ""]
      const m = valueOf(outcome)
      if (m === undefined) return ["failed", "", "", ""]
      const mark = m.truncated || m.errors > 0 ? "*" : ""
      const spread = m.runs.length > 1 ? ` ±${fixed(m.cpuSpreadPct / 2, 0)}%` : ""
      return [fixed(m.serverCpuUsPerCall, 1) + spread + mark, fixed(m.callsPerSecond, 0), fixed(m.p50Ms, 2), fixed(m.p99Ms, 2)]
    }
    const idle = valueOf(result.idle)
    const idleCell = result.idle === undefined ? "skipped" : idle === undefined ? "failed" : fixed(idle.kibPerSession, 1)
    const left = idle?.registeredAfterClose === undefined ? "n/a" : `${idle.registeredAfterClose}`
    lines.push(`| ${[
      result.name,
      ...load(result.streamable),
      ...load(result.sse),
      idleCell,
      left
    ].join(" | ")} |`)
  }
  lines.push("")
  lines.push(
    "µs/call = CPU time of the server's process tree per call (not the driver's), ± half the min–max range " +
      "over the runs; `*` = errors or deadline hit. HTTP = Streamable HTTP, one session; SSE = legacy " +
      "HTTP+SSE, one session per worker. Idle memory is measured on a fresh server process.",
    ""
  )

  const bare = results.find((r) => r.name === "bare")
  const pairs: Array<[ServerResult, ServerResult]> = []
  for (const r of results) if (bare !== undefined && r !== bare) pairs.push([r, bare])
  const official = results.find((r) => r.name === "official")
  const ours = results.find((r) => r.name === "effect-mcp")
  if (official !== undefined && ours !== undefined) pairs.push([ours, official])
  const ratioLines = pairs.flatMap(([a, b]) => {
    const cell = (metric: (r: ServerResult) => number | undefined): string => {
      const x = metric(a)
      const y = metric(b)
      return x === undefined || y === undefined ? "n/a" : ratio(x, y)
    }
    if (!a.started.ok || !b.started.ok) return []
    return [
      `- \`${a.name} / ${b.name}\`: HTTP CPU ${cell((r) => valueOf(r.streamable)?.serverCpuUsPerCall)}, ` +
        `SSE CPU ${cell((r) => valueOf(r.sse)?.serverCpuUsPerCall)}, ` +
        `idle memory ${cell((r) => valueOf(r.idle)?.kibPerSession)}, ` +
        `HTTP throughput ${cell((r) => valueOf(r.streamable)?.callsPerSecond)}`
    ]
  })
  if (ratioLines.length > 0) lines.push("Ratios:", "", ...ratioLines, "")

  const problems = results.flatMap((r) => {
    const out: Array<string> = []
    if (!r.started.ok) {
      // First line says what happened, the last line of the server's output usually why.
      const errorLines = r.started.error.split("\n").filter((line) => line.trim() !== "")
      const why = errorLines.length > 1 ? ` … ${errorLines[errorLines.length - 1]!.trim()}` : ""
      out.push(`- **${r.name}** did not start: ${errorLines[0] ?? ""}${why}`)
    }
    for (const [label, outcome] of [["HTTP", r.streamable], ["SSE", r.sse], ["idle", r.idle]] as const) {
      if (outcome !== undefined && !outcome.ok) out.push(`- **${r.name}** ${label} failed: ${outcome.error}`)
      const value = valueOf<LoadMetrics | IdleMetrics>(outcome)
      if (value === undefined) continue
      if (value.firstError !== undefined) out.push(`- **${r.name}** ${label} had errors, first: ${value.firstError}`)
      if ("truncated" in value && value.truncated) {
        out.push(
          `- **${r.name}** ${label} hit the ${options.phaseTimeoutMs / 1000}s phase deadline ` +
            `(${value.runs.length} run(s), median run ${value.calls} calls)`
        )
      }
    }
    return out
  })
  if (problems.length > 0) lines.push("Problems:", "", ...problems, "")
  return lines.join("\n")
}

const main = async (): Promise<void> => {
  let options: Options
  try {
    options = parseOptions()
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n\n${USAGE}`)
    process.exitCode = 2
    return
  }
  const killChildren = () => {
    for (const child of liveChildren) child.kill("SIGKILL")
  }
  process.on("exit", killChildren)
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      killChildren()
      process.exit(130)
    })
  }
  const started = performance.now()
  const results: Array<ServerResult> = []
  for (const name of options.servers) results.push(await benchServer(name, options))
  log(`total ${((performance.now() - started) / 1000).toFixed(1)}s`)
  process.stdout.write(renderMarkdown(options, results) + "\n")
  if (options.json !== undefined) {
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      clockTicksPerSecond: CLK_TCK,
      options: { ...options, phases: [...options.phases], json: undefined },
      results
    }
    writeFileSync(options.json, JSON.stringify(report, null, 2) + "\n")
    log(`wrote ${options.json}`)
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
