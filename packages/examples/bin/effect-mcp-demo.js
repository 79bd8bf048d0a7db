#!/usr/bin/env node
// `effect-mcp-demo`: runs the built demo, dist/main.js (`npm run build` at the repo root makes it).
// This launcher is committed (with its executable bit) rather than pointing `bin` at dist/main.js, because
// `npm install` on a fresh clone skips linking a bin whose file does not exist yet, and tsc writes files
// without the executable bit.
import { existsSync } from "node:fs"
import * as Module from "node:module"

const main = new URL("../dist/main.js", import.meta.url)
if (!existsSync(main)) {
  console.error("effect-mcp-demo: the demo is not built; run `npm run build` at the repository root first")
  process.exit(1)
}
// Node 22.1+: cache compiled modules on disk (as main.js does too), from here so the whole demo is cached; a start
// after the first then skips compiling it. Node 20 has no such cache.
if (typeof Module.enableCompileCache === "function") Module.enableCompileCache()
await import(main.href)
