/**
 * What one Node server may hold at once (open connections, bytes of request bodies still arriving), counted per
 * server and per client, and the raw answers given to what is refused before a request exists.
 * @internal
 */
// `OnRefused` from Budget, its owner, not from NodeExchange's alias of it: NodeExchange imports this module.
import { clientOf, type OnRefused, Pool, RETRY_AFTER_SECONDS, type Shortfall } from "@effect-mcp/core/Budget"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import type * as Net from "node:net"

/**
 * How long a refused connection is kept open for the client to read its answer: closing at once, with a request
 * still unread, would reset the connection and could lose the answer on the client's side.
 */
const REFUSED_LINGER_MS = 2_000

/** A JSON-RPC error body for an answer that is not to a JSON-RPC request. @internal */
export const refusalBody = (code: number, message: string): string =>
  JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } })

/** A whole HTTP/1.1 response that closes the connection, for writing straight to a socket. @internal */
export const rawResponse = (status: number, reason: string, body: string, extra = ""): string =>
  `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
  `${extra}connection: close\r\n\r\n${body}`

/** A budget refusal as it goes out: status, reason phrase and JSON-RPC body. @internal */
export interface BudgetRefusal {
  readonly status: number
  readonly reason: string
  readonly body: string
}

/**
 * The refusal for a shortfall: 503 when the server's budget is spent, 429 when only this client's share is (others
 * are still served); `message` says what ran out.
 * @internal
 */
export const budgetRefusal = (shortfall: Shortfall, message: string): BudgetRefusal =>
  shortfall === "server"
    ? {
      status: 503,
      reason: "Service Unavailable",
      body: refusalBody(JsonRpc.ErrorCode.ConnectionClosed, `Service Unavailable: ${message}`)
    }
    : {
      status: 429,
      reason: "Too Many Requests",
      body: refusalBody(JsonRpc.ErrorCode.ConnectionClosed, `Too Many Requests: ${message}`)
    }

const rawRefusal = (shortfall: Shortfall): string => {
  const refusal = budgetRefusal(
    shortfall,
    shortfall === "server" ? "the server has too many open connections" : "this address has too many open connections"
  )
  return rawResponse(refusal.status, refusal.reason, refusal.body, `retry-after: ${RETRY_AFTER_SECONDS}\r\n`)
}

/** Written once per server start rather than per refusal: a flood of connections is when refusals are many. */
const CONNECTIONS_REFUSED: Readonly<Record<Shortfall, string>> = {
  server: rawRefusal("server"),
  client: rawRefusal("client")
}

/**
 * A `connection` listener that counts open connections in `pool` (per socket address when `perAddress`, else
 * against the server's total only) and refuses one past the budget with a raw 503 or 429 and closes it.
 * Node's own `maxConnections` drops such sockets without a word, which a client cannot tell from a network
 * failure.
 *
 * A refused socket is already handed to Node's HTTP parser (its listener runs first), so a request it sends
 * still reaches the request listener: that listener drops requests on a socket whose writable side has ended.
 * @internal
 */
export const guardConnections = (pool: Pool, perAddress: boolean, onRefused: OnRefused) => (socket: Net.Socket) => {
  const client = perAddress ? clientOf(socket.remoteAddress, undefined) : undefined
  const shortfall = pool.take(client, 1)
  if (shortfall === undefined) {
    socket.once("close", () => pool.give(client, 1))
    return
  }
  onRefused(pool, shortfall, client)
  socket.setTimeout(REFUSED_LINGER_MS, () => socket.destroy())
  socket.end(CONNECTIONS_REFUSED[shortfall])
}

/** Builds a pool, keeping a client's share within the total. @internal */
export const pool = (name: string, total: number, perClient: number): Pool =>
  new Pool(name, total, Math.min(total, perClient))
