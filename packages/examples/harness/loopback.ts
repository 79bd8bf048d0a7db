/**
 * Loopback source addresses, for a driver that stands in for many clients at once.
 *
 * Servers count budgets per client, and an unauthenticated client is its address: effect-mcp lets one address
 * hold 1,000 sessions and 100 listen streams, with a cap on its connections to come (about 256). A driver that
 * plays a crowd from 127.0.0.1 alone would be one client far past its share and get 429s that say nothing about
 * the figure measured. So it spreads its clients over 127.0.0.2, 127.0.0.3, ...: Linux routes all of 127.0.0.0/8
 * to `lo` (`ip route show table local`: `local 127.0.0.0/8 dev lo`), so a socket binds any of them with no
 * setup, and the server sees each as a client of its own. The target stays 127.0.0.1; only the source varies.
 *
 * 127.0.0.1 itself is left to the drivers' single-client traffic (control requests, the soak's 404 checks).
 */

/** The first address handed out is 127.0.0.2; the last, 127.0.0.254. */
const FIRST_HOST = 2
const LAST_HOST = 254

/** How many distinct source addresses `sourceAddress` can hand out. */
export const MAX_SOURCE_ADDRESSES = LAST_HOST - FIRST_HOST + 1

/**
 * The connections (or sessions) a driver lets one source address hold at once: under every per-client budget of
 * effect-mcp (1,000 sessions; about 256 connections, to come), with room for the few pooled POST connections
 * beside them.
 */
export const PER_ADDRESS = 200

/** The `index`-th source address (0 is 127.0.0.2); throws past `MAX_SOURCE_ADDRESSES`. */
export const sourceAddress = (index: number): string => {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SOURCE_ADDRESSES) {
    throw new Error(`source address #${index}: only ${MAX_SOURCE_ADDRESSES} loopback addresses are used`)
  }
  return `127.0.0.${FIRST_HOST + index}`
}

/**
 * How many source addresses `units` things (sessions, connections) held at once need so that none holds more than
 * `perAddress`; throws when that is more than the loopback addresses used, rather than overload one.
 */
export const addressesFor = (units: number, perAddress: number = PER_ADDRESS): number => {
  const count = Math.max(1, Math.ceil(units / perAddress))
  if (count > MAX_SOURCE_ADDRESSES) {
    throw new Error(
      `${units} at ${perAddress} per address needs ${count} loopback source addresses; at most ${MAX_SOURCE_ADDRESSES}`
    )
  }
  return count
}
