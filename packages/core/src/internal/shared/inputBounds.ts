/**
 * The rules every value a client sends must keep before any handler, decoder or digest sees it: JSON has no
 * prototypes, no numbers past the doubles and, here, no unbounded nesting.
 *
 * - A key `__proto__` is an own property once `JSON.parse` made it, but any code that copies it by assignment
 *   (Effect Schema's `Record` decoding among them) sets the copy's prototype instead, so a handler would read
 *   arguments the client hid from every check made on the raw value (the `Mcp-Param-*` headers); `constructor`
 *   and `prototype` are the keys the other prototype pollutions go through. They are refused, not dropped: a
 *   client that sends them is told so rather than having its arguments silently changed.
 * - `JSON.parse` reads `1e309` as `Infinity`, which JSON cannot carry back (it becomes `null`).
 * - Nesting is bounded, so that the recursive walks downstream (Schema decoding and its error messages, the
 *   `requestState` digest) cannot overflow the stack.
 *
 * The check is one iterative walk, run once per message where every transport hands messages over
 * (`Session.offer`), where a request can still be answered with its id.
 * @internal
 */

/** How deeply a message's `params` (or a response's `result`) may nest objects and arrays; the payload is level 1. @internal */
export const MAX_DEPTH = 64

/** Keys refused anywhere in a client's values. @internal */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

type JsonObject = { readonly [key: string]: unknown }

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null

const isList = (value: JsonObject | ReadonlyArray<unknown>): value is ReadonlyArray<unknown> => Array.isArray(value)

const NOT_FINITE = "a number is out of range (JSON numbers must be finite)"

/**
 * Why a value a client sent breaks the rules above, or undefined when it keeps them. Iterative: the depth of the
 * value costs heap, not stack, and the walk stops at the first problem.
 * @internal
 */
export const problemOf = (value: unknown): string | undefined => {
  if (!isObject(value)) return typeof value === "number" && !Number.isFinite(value) ? NOT_FINITE : undefined
  // Two parallel stacks rather than one of pairs: no allocation per node.
  const pending: Array<JsonObject | ReadonlyArray<unknown>> = [value]
  const depths: Array<number> = [1]
  while (pending.length > 0) {
    const current = pending.pop()!
    const depth = depths.pop()!
    if (depth > MAX_DEPTH) return `the value nests objects and arrays more than ${MAX_DEPTH} levels deep`
    if (isList(current)) {
      for (const item of current) {
        if (isObject(item)) {
          pending.push(item)
          depths.push(depth + 1)
        } else if (typeof item === "number" && !Number.isFinite(item)) return NOT_FINITE
      }
      continue
    }
    for (const key of Object.keys(current)) {
      if (FORBIDDEN_KEYS.has(key)) return `the key ${key} is not allowed`
      const item = current[key]
      if (isObject(item)) {
        pending.push(item)
        depths.push(depth + 1)
      } else if (typeof item === "number" && !Number.isFinite(item)) return NOT_FINITE
    }
  }
  return undefined
}
