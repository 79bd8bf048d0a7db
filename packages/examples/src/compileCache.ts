/**
 * The module compile cache (Node 22.1 and later): V8's compiled code for every module loaded after `enable`,
 * kept on disk and reused by the next start, which then skips most of the parsing and compiling. On Node 20,
 * which has no such cache, `enable` does nothing.
 */
import * as Module from "node:module"

/** What `enableCompileCache` is on the Node versions that have it (the types of Node 20 do not declare it). */
interface WithCompileCache {
  readonly enableCompileCache: (directory?: string) => unknown
}

const hasCompileCache = (module: object): module is WithCompileCache =>
  "enableCompileCache" in module && typeof module.enableCompileCache === "function"

/**
 * Turns the compile cache on, in `NODE_COMPILE_CACHE` if set, else Node's default folder in the OS temp dir;
 * `NODE_DISABLE_COMPILE_CACHE=1` turns it off. Only modules loaded afterwards are cached: call it before
 * importing the program. A cache that cannot be written is reported in its result, not thrown: the start goes on
 * without the speed-up.
 */
export const enable = (): void => {
  if (hasCompileCache(Module)) Module.enableCompileCache()
}
