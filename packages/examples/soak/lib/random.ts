/**
 * A seeded PRNG (mulberry32) and the picks the cycles make with it, so a cycle's choices follow from the seed
 * and its number (timing still varies from run to run).
 */
export interface Random {
  /** In [0, 1). */
  readonly next: () => number
  /** An integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  readonly chance: (p: number) => boolean
  readonly item: <A>(items: ReadonlyArray<A>) => A
  /** One of `items`, with the given relative weights. */
  readonly pick: <A>(items: ReadonlyArray<A>, weights: ReadonlyArray<number>) => A
  /** Text of `length` characters: ASCII, multi-byte, quotes, newlines. */
  readonly text: (length: number) => string
}

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const ALPHABET = Array.from("abcdefghijklmnopqrstuvwxyz0123456789 \"\\\n\t{}[]é€😀\u2028")

export const random = (seed: number): Random => {
  const next = mulberry32(seed)
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  const item = <A>(items: ReadonlyArray<A>): A => items[int(0, items.length - 1)]!
  return {
    next,
    int,
    chance: (p) => next() < p,
    item,
    pick: (items, weights) => {
      const total = weights.reduce((a, b) => a + b, 0)
      let roll = next() * total
      for (let i = 0; i < items.length; i++) {
        roll -= weights[i] ?? 0
        if (roll < 0) return items[i]!
      }
      return items[items.length - 1]!
    },
    text: (length) => Array.from({ length }, () => item(ALPHABET)).join("")
  }
}

/** The generator of cycle `n` of a run seeded with `seed`. */
export const forCycle = (seed: number, n: number): Random => random((seed ^ Math.imul(n + 1, 0x9e3779b1)) | 0)
