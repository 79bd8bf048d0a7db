/**
 * The registry's budgets: sessions, listen streams, sessionless requests, work in flight and listen
 * subscriptions, each a server-wide total with a per-client share (see `Budget`).
 * @internal
 */
import * as Budget from "../../../Budget.js"

const MiB = 1024 * 1024

/** The budgets of one registry, as they stand: for metrics and tests. @internal */
export interface Budgets {
  readonly sessions: Budget.Pool
  readonly listeners: Budget.Pool
  readonly sessionless: Budget.Pool
  readonly inFlight: Budget.Pool
  readonly subscriptions: Budget.Pool
}

/** What a session counts as: each kind has a pool of its own. @internal */
export type Kind = "session" | "listener" | "sessionless"

/** The options of `SessionRegistry` the budgets are sized by (see `SessionRegistry.Options`). @internal */
export interface BudgetOptions {
  readonly maxSessions?: number | undefined
  readonly maxListeners?: number | undefined
  readonly maxSessionsPerClient?: number | undefined
  readonly maxListenersPerClient?: number | undefined
  readonly maxSessionless?: number | undefined
  readonly maxSessionlessPerClient?: number | undefined
  readonly maxInFlightBytes?: number | undefined
  readonly maxInFlightBytesPerClient?: number | undefined
  readonly maxListenFilterBytes?: number | undefined
  readonly maxSubscriptionBytes?: number | undefined
  readonly maxSubscriptionBytesPerClient?: number | undefined
}

/**
 * A registry's budgets, sized by its options (or the defaults), and what each kind of session counts against.
 * @internal
 */
export interface RegistryBudgets {
  readonly budgets: Budgets
  readonly poolOf: (kind: Kind) => Budget.Pool
  /** Bytes one listen stream's subscriptions may hold. */
  readonly maxFilterBytes: number
}

const cap = (perClient: number | undefined, fallback: number, total: number) => Math.min(perClient ?? fallback, total)

/** The budgets a registry with these options counts. @internal */
export const makeBudgets = (options: BudgetOptions): RegistryBudgets => {
  const maxSessions = options.maxSessions ?? 10_000
  const maxListeners = options.maxListeners ?? 1_000
  const maxSessionless = options.maxSessionless ?? 1_024
  const maxInFlightBytes = options.maxInFlightBytes ?? 256 * MiB
  const maxSubscriptionBytes = options.maxSubscriptionBytes ?? 64 * MiB
  const budgets: Budgets = {
    sessions: new Budget.Pool("sessions", maxSessions, cap(options.maxSessionsPerClient, 1_000, maxSessions)),
    listeners: new Budget.Pool("listen streams", maxListeners, cap(options.maxListenersPerClient, 100, maxListeners)),
    sessionless: new Budget.Pool(
      "sessionless requests",
      maxSessionless,
      cap(options.maxSessionlessPerClient, 256, maxSessionless)
    ),
    inFlight: new Budget.Pool(
      "work in flight",
      maxInFlightBytes,
      cap(options.maxInFlightBytesPerClient, 64 * MiB, maxInFlightBytes)
    ),
    subscriptions: new Budget.Pool(
      "listen subscriptions",
      maxSubscriptionBytes,
      cap(options.maxSubscriptionBytesPerClient, 16 * MiB, maxSubscriptionBytes)
    )
  }
  const poolOf = (kind: Kind): Budget.Pool =>
    kind === "listener" ? budgets.listeners : kind === "sessionless" ? budgets.sessionless : budgets.sessions
  return { budgets, poolOf, maxFilterBytes: options.maxListenFilterBytes ?? MiB }
}
