// node:fs with the `globSync` of Node 22 (see node20.mjs), backed by tinyglobby. The conformance CLI uses it only
// to find checks.json files under a results folder (`tier-check`), but the import alone must succeed.
import { globSync as tinyGlobSync } from "tinyglobby"

export * from "node:fs"
export { default } from "node:fs"

/** The subset of Node 22's `fs.globSync(pattern, { cwd, exclude })` that returns paths relative to `cwd`. */
export const globSync = (pattern, options = {}) =>
  tinyGlobSync(pattern, {
    cwd: options.cwd ?? process.cwd(),
    ignore: Array.isArray(options.exclude) ? options.exclude : [],
    expandDirectories: false,
    dot: true
  })
