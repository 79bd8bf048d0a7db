/**
 * Budgets: what the whole server, and each client, may hold at once (sessions, listen filters, work in flight,
 * stored events, request bodies, connections). A budget is counted as things are taken and given back, never
 * scanned, so checking one costs a map lookup on the path it guards.
 *
 * A client is who a request counts against: its principal when the request is authenticated, else its network
 * address (the socket's, or the one a trusted reverse proxy names in a header). One client past its share is
 * refused while everyone else is served; a server-wide budget refuses everyone only while it is truly spent.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { header, type Headers } from "./internal/http/httpExchange.js"
import type { Principal } from "./McpAuth.js"

/**
 * Who a request counts against. A principal's key always holds a NUL character, which no address has, so the two
 * kinds never meet.
 *
 * @since 0.1.0
 */
export type ClientKey = string

/**
 * The key of requests whose sender cannot be told (no address, no principal). Pools count it against the server's
 * total only: sharing one client's share would let one unknown caller lock every other out.
 *
 * @since 0.1.0
 */
export const UNKNOWN_CLIENT: ClientKey = "unknown"

/**
 * The client a request counts against: the principal when there is one, else the address.
 *
 * @since 0.1.0
 */
export const clientOf = (address: string | undefined, principal: Principal | undefined): ClientKey =>
  principal !== undefined
    ? `${principal.issuer ?? ""}\u0000${principal.subject}`
    : address === undefined
    ? UNKNOWN_CLIENT
    : addressKey(address)

/**
 * The key of an address: an IPv4 address as it is (an IPv4-mapped IPv6 one folded to it), an IPv6 address by its
 * /64 prefix, since one host is routinely given a whole /64 and could otherwise be thousands of clients.
 *
 * @since 0.1.0
 */
export const addressKey = (address: string): ClientKey => {
  if (!address.includes(":")) return address
  const lower = address.toLowerCase()
  const zone = lower.indexOf("%")
  const bare = zone < 0 ? lower : lower.slice(0, zone)
  if (bare.startsWith("::ffff:") && bare.includes(".")) return bare.slice(7)
  const gap = bare.indexOf("::")
  const left = gap < 0 ? bare.split(":") : bare.slice(0, gap).split(":").filter((group) => group !== "")
  const right = gap < 0 ? [] : bare.slice(gap + 2).split(":").filter((group) => group !== "")
  // An IPv4 tail (`64:ff9b::1.2.3.4`) is two groups; only the first four groups matter here.
  const width = right.reduce((n, group) => n + (group.includes(".") ? 2 : 1), 0)
  const groups = gap < 0 ? left : [...left, ...Array.from({ length: Math.max(0, 8 - left.length - width) }, () => "0"), ...right]
  const prefix = groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, ""))
  while (prefix.length < 4) prefix.push("0")
  return `${prefix.join(":")}::/64`
}

/**
 * The client's address as a trusted reverse proxy reports it in `proxyHeader` (`x-forwarded-for`, `x-real-ip`,
 * `forwarded`-style lists are not parsed): the last entry, the one the proxy itself appended. Without the
 * option, or when the header is missing, the socket's address.
 *
 * @since 0.1.0
 */
export const addressOf = (
  socketAddress: string | undefined,
  headers: Headers,
  proxyHeader: string | undefined
): string | undefined => {
  if (proxyHeader === undefined) return socketAddress
  const value = header(headers, proxyHeader)
  if (value === undefined) return socketAddress
  const comma = value.lastIndexOf(",")
  const last = (comma < 0 ? value : value.slice(comma + 1)).trim()
  return last === "" ? socketAddress : last
}

/** Why a `Pool` refused: the whole server's budget is spent, or the client's share is. @since 0.1.0 */
export type Shortfall = "server" | "client"

/**
 * A budget of units (bytes, sessions, streams...) with a total for the server and a share for each client.
 * `take` reserves and `give` returns; a caller gives back exactly what it took, once.
 *
 * @since 0.1.0
 */
export class Pool {
  private usedNow = 0
  private readonly byClient = new Map<ClientKey, number>()

  constructor(
    /** What the budget is of, for messages and logs ("sessions", "in-flight bytes"...). */
    readonly name: string,
    /** The whole server's budget. */
    readonly total: number,
    /** One client's share; at most `total`. */
    readonly perClient: number
  ) {}

  /** How much is taken now, server-wide. */
  get used(): number {
    return this.usedNow
  }

  /** How much `client` holds now. */
  usedBy(client: ClientKey): number {
    return this.byClient.get(client) ?? 0
  }

  /**
   * Reserves `amount` for `client`, or says whose budget is short and reserves nothing. `undefined` counts
   * against the server's total only (a transport with one client, such as stdio).
   */
  take(client: ClientKey | undefined, amount: number): Shortfall | undefined {
    if (this.usedNow + amount > this.total) return "server"
    if (client === undefined || client === UNKNOWN_CLIENT) {
      this.usedNow += amount
      return undefined
    }
    const held = this.byClient.get(client) ?? 0
    if (held + amount > this.perClient) return "client"
    this.byClient.set(client, held + amount)
    this.usedNow += amount
    return undefined
  }

  /** Returns what `take` reserved. */
  give(client: ClientKey | undefined, amount: number): void {
    this.usedNow -= amount
    if (client === undefined || client === UNKNOWN_CLIENT) return
    const held = (this.byClient.get(client) ?? 0) - amount
    if (held <= 0) this.byClient.delete(client)
    else this.byClient.set(client, held)
  }
}

/**
 * Remembers which clients were already logged as over a budget, so a client hammering a limit costs one log
 * line, not one per request. Bounded: once it has seen `capacity` pairs it starts again, so a flood of distinct
 * clients cannot grow it either.
 *
 * @since 0.1.0
 */
export class LogOnce {
  private readonly seen = new Set<string>()

  constructor(private readonly capacity = 10_000) {}

  /** True the first time `client` is refused by `budget` (and again only after the memory started over). */
  first(budget: string, client: ClientKey | undefined): boolean {
    const key = `${budget}\u0001${client ?? UNKNOWN_CLIENT}`
    if (this.seen.has(key)) return false
    if (this.seen.size >= this.capacity) this.seen.clear()
    this.seen.add(key)
    return true
  }
}

/** Seconds a client refused by a budget is told to wait before trying again (`Retry-After`). @since 0.1.0 */
export const RETRY_AFTER_SECONDS = 5

/** Says that `pool` refused `client`, from synchronous code. @since 0.1.0 */
export type OnRefused = (pool: Pool, shortfall: Shortfall, client: ClientKey | undefined) => void

/**
 * A refusal logger for the current runtime: each client's first refusal by each budget is logged at Warning (never
 * Error: being refused is the budget working), annotated with the client; later ones cost nothing.
 *
 * @since 0.1.0
 */
export const logRefusals: Effect.Effect<OnRefused> = Effect.map(Effect.runtime<never>(), (runtime) => {
  const once = new LogOnce()
  const runFork = Runtime.runFork(runtime)
  return (pool, shortfall, client) => {
    if (!once.first(pool.name, client)) return
    const warning = Effect.logWarning(
      shortfall === "server"
        ? `the server is at its limit of ${pool.total} ${pool.name}: refusing (logged once per client)`
        : `a client is at its limit of ${pool.perClient} ${pool.name}: refusing it (logged once per client)`
    )
    runFork(client === undefined ? warning : Effect.annotateLogs(warning, "client", client))
  }
})
