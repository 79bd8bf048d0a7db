/**
 * How the two ends of a link prove to each other that they hold the cluster key: the owner sends a nonce, the
 * connecting instance answers with an HMAC over it and a nonce of its own, the owner answers that one. Neither
 * end sends a request or an answer before the other proved itself, and a recorded exchange proves nothing later
 * (the nonces are fresh).
 * @internal
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"

/** The key of the links, derived from the cluster key (so it is never the one that tags session ids). @internal */
export const linkKey = (clusterKey: Uint8Array): Buffer =>
  createHmac("sha256", clusterKey).update("effect-mcp/link").digest()

/** A fresh nonce. @internal */
export const nonce = (): string => randomBytes(18).toString("base64url")

/** The proof of holding `key` for `role`, over both nonces in the order given. @internal */
export const prove = (key: Uint8Array, role: "connecting" | "owner", first: string, second: string): string =>
  createHmac("sha256", key).update(`${role}\u0000${first}\u0000${second}`).digest("base64url")

/** Whether `proof` is the one `prove` makes of the same inputs, compared in constant time. @internal */
export const verify = (
  key: Uint8Array,
  role: "connecting" | "owner",
  first: string,
  second: string,
  proof: unknown
): boolean => {
  if (typeof proof !== "string") return false
  const expected = Buffer.from(prove(key, role, first, second))
  const given = Buffer.from(proof)
  return given.length === expected.length && timingSafeEqual(given, expected)
}
