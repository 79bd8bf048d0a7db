/**
 * A router of the bare relay, the cluster bench's floor: plain `node:http` and one TCP connection, no MCP
 * library. Every HTTP request it gets (method, URL, the headers an MCP server reads, body) goes as a frame over
 * one persistent connection to the owner (`bare.ts --link-port`), and the owner's answer, matched by id, is
 * written back as the response (`bareLink.ts` for the frames). It parses no JSON and knows no session: what it
 * costs is what any relay on this machine must pay (an HTTP exchange, a frame each way, a wake-up of the owner),
 * the floor under effect-mcp's routed calls. Streams (`GET /sse`) are not relayed: they stay on the owner.
 *
 * Usage: `node dist-bench/bareRelay.js --port N --relay-to L [--host H]`; connects to the owner's link port L on
 * the same host, then listens and prints `READY <port>`. It exits when the link closes.
 */
import * as http from "node:http"
import * as net from "node:net"
import { parseArgs } from "node:util"
import { decode, FrameReader, head, TurnWriter } from "./bareLink.js"

/** What the owner reads of a request besides its body; everything else stays here. */
const RELAYED = ["content-type", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"] as const

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "relay-to": { type: "string" }
  }
})
if (values["relay-to"] === undefined) throw new Error("--relay-to PORT is required")

const link = net.connect(Number(values["relay-to"]), values.host)
link.setNoDelay(true)
const writer = new TurnWriter(link)
/** The responses waiting for their answer, by frame id. */
const waiting = new Map<number, http.ServerResponse>()
let lastId = 0

const reader = new FrameReader((id, payload) => {
  const res = waiting.get(id)
  if (res === undefined) return
  waiting.delete(id)
  const answer = decode(payload)
  const headers: Record<string, string | number> = { "Content-Length": answer.body.length }
  for (const [name, value] of answer.headers) headers[name] = value
  // A client gone meanwhile makes this a no-op: the owner answers every request, so nothing is left waiting.
  res.writeHead(Number(answer.first), headers)
  res.end(answer.body)
})

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url?.startsWith("/sse") === true) {
    res.writeHead(501, { "Content-Length": 0 }).end()
    return
  }
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const headers: Array<readonly [string, string]> = []
    for (const name of RELAYED) {
      const value = req.headers[name]
      if (typeof value === "string") headers.push([name, value])
    }
    // Ids wrap at 2^32, far more than can be in flight.
    const id = lastId = (lastId + 1) >>> 0
    waiting.set(id, res)
    writer.send(id, head(`${req.method ?? "GET"} ${req.url ?? "/"}`, headers), chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
  })
})

link.on("data", reader.push)
link.on("error", (error) => process.stderr.write(`link: ${error.message}\n`))
link.on("close", () => process.exit(1))
link.once("connect", () =>
  server.listen(Number(values.port), values.host, () => {
    const address = server.address()
    process.stdout.write(`READY ${typeof address === "object" && address !== null ? address.port : values.port}\n`)
  }))

const shutdown = () => {
  link.removeAllListeners("close")
  link.destroy()
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.on("SIGTERM", shutdown)
process.on("SIGINT", shutdown)
