/**
 * The cluster's cost (`npm run bench:cluster`, `--quick` for tiny counts): three demo instances with `--redis` and
 * one `redis-server` on this machine, every session opened on the first instance (its owner). The same
 * Streamable HTTP `tools/call` is timed sent to the owner and sent to the two others (relayed to the owner), at 1
 * and 50 concurrent clients; server CPU per call is all instances plus redis-server, from /proc. Then Redis's keys
 * and data before and after opening 900 more idle sessions (one client may hold 1,000): no key per session.
 *
 * Everything runs on 127.0.0.1, every loop bounded by a count; `redis-server` must be on PATH (Debian's package).
 */
import * as ChildProcess from "node:child_process"
import * as http from "node:http"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { freePort, killChildrenOnExit } from "../harness/children.js"
import { HOST } from "../harness/http.js"
import { errorMessage, openStreamableSession, type StreamableSession, streamableEcho } from "./lib/client.js"
import { drive, percentile, sortedCopy } from "./lib/load.js"
import { treeCpu } from "./lib/proc.js"

const log = (message: string): void => void process.stderr.write(`[bench:cluster] ${message}\n`)

const quick = process.argv.includes("--quick")
const CALLS = quick ? 200 : 5_000
const IDLE_SESSIONS = quick ? 100 : 900
const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))
const KEY = "bench-cluster-key-of-at-least-32-characters"

const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, HOST)
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

const spawnReady = async (command: string, args: ReadonlyArray<string>, port: number, ready: string) => {
  const child = ChildProcess.spawn(command, args, {
    env: { ...process.env, EFFECT_MCP_CLUSTER_KEY: KEY },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => output += chunk.toString())
  child.stderr.on("data", (chunk: Buffer) => output += chunk.toString())
  const start = performance.now()
  while (!(output.includes(ready) && await listening(port))) {
    if (child.exitCode !== null || performance.now() - start > 20_000) throw new Error(`${command} did not start: ${output}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return child
}

/** A number out of one command's answer, over a raw connection (RESP is simple enough for one command). */
const redisNumber = (port: number, command: string, pattern: RegExp): Promise<number> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => socket.write(`${command}\r\n`))
    let text = ""
    socket.on("data", (chunk) => {
      text += chunk.toString()
      const match = pattern.exec(text)
      if (match !== null) {
        socket.destroy()
        resolve(Number(match[1]))
      }
    })
    socket.on("error", reject)
  })

interface Row {
  readonly label: string
  readonly concurrency: number
  readonly p50: number
  readonly p99: number
  readonly cpuUsPerCall: number
}

const measure = async (
  label: string,
  concurrency: number,
  sessions: ReadonlyArray<StreamableSession>,
  portOf: (worker: number) => number,
  pids: ReadonlyArray<number>
): Promise<Row> => {
  const agents = sessions.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }))
  let id = 0
  const workers = Array.from({ length: concurrency }, (_, w) => () =>
    streamableEcho(agents[w]!, portOf(w), sessions[w]!, ++id))
  // Warm up: connections, the JIT, the relays' pools.
  await drive(workers, Math.min(CALLS, concurrency * 20), performance.now() + 60_000)
  const cpu = () => pids.reduce((sum, pid) => sum + treeCpu(pid).ns, 0)
  const before = cpu()
  const run = await drive(workers, CALLS, performance.now() + 120_000)
  const used = cpu() - before
  for (const agent of agents) agent.destroy()
  const sorted = sortedCopy(run.latenciesMs)
  return {
    label,
    concurrency,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    cpuUsPerCall: used / 1_000 / run.latenciesMs.length
  }
}

const run = async (): Promise<number> => {
  killChildrenOnExit()
  const redisPort = await freePort()
  const redis = await spawnReady("redis-server", [
    "--port", String(redisPort), "--bind", HOST, "--save", "", "--appendonly", "no"
  ], redisPort, "Ready to accept connections")
  const url = `redis://${HOST}:${redisPort}`
  const ports = [await freePort(), await freePort(), await freePort()]
  const instances = await Promise.all(ports.map((port) =>
    spawnReady(process.execPath, [main, "--port", String(port), "--redis", url], port, "in the cluster on")
  ))
  const pids = [redis.pid!, ...instances.map((child) => child.pid!)]
  log(`redis-server on ${redisPort}, instances on ${ports.join(", ")}`)
  try {
    const owner = ports[0]!
    const setup = new http.Agent({ keepAlive: true })
    const sessions = await Promise.all(Array.from({ length: 50 }, () => openStreamableSession(setup, owner)))
    const rows: Array<Row> = []
    for (const concurrency of [1, 50]) {
      rows.push(await measure("to the owner", concurrency, sessions, () => owner, pids))
      rows.push(await measure("relayed", concurrency, sessions, (w) => ports[1 + (w % 2)]!, pids))
      log(`C=${concurrency} done`)
    }
    const keys = () => redisNumber(redisPort, "DBSIZE", /^:(\d+)/)
    const dataset = () => redisNumber(redisPort, "INFO memory", /used_memory_dataset:(\d+)/)
    const [keysBefore, before] = [await keys(), await dataset()]
    for (let i = 0; i < IDLE_SESSIONS; i += 50) {
      await Promise.all(Array.from({ length: 50 }, () => openStreamableSession(setup, owner)))
    }
    const [keysAfter, after] = [await keys(), await dataset()]
    setup.destroy()
    const lines = [
      `## Cluster: three instances and one redis-server on ${HOST} (Streamable HTTP tools/call, ${CALLS} calls a row)`,
      "",
      "| Sent | Clients | p50 ms | p99 ms | server CPU µs/call (instances + redis) |",
      "| --- | ---: | ---: | ---: | ---: |",
      ...rows.map((row) =>
        `| ${row.label} | ${row.concurrency} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.cpuUsPerCall.toFixed(0)} |`
      ),
      "",
      `Redis with 50 sessions: ${keysBefore} keys, ${before} bytes of data; after ${IDLE_SESSIONS} more idle ` +
      `sessions: ${keysAfter} keys, ${after} bytes.`
    ]
    process.stdout.write(lines.join("\n") + "\n")
    return 0
  } catch (error) {
    log(`FAILED: ${errorMessage(error)}`)
    return 1
  } finally {
    for (const child of [...instances, redis]) child.kill("SIGKILL")
  }
}

run().then((code) => process.exitCode = code, (error: unknown) => {
  log(`FAILED: ${errorMessage(error)}`)
  process.exitCode = 1
})
