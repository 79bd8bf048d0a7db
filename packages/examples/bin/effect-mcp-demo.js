#!/usr/bin/env node
// `effect-mcp-demo`: runs the built demo, dist/main.js (`npm run build` at the repo root makes it).
// This launcher is committed (with its executable bit) rather than pointing `bin` at dist/main.js, because
// `npm install` on a fresh clone skips linking a bin whose file does not exist yet, and tsc writes files
// without the executable bit.
import { existsSync } from "node:fs"

const main = new URL("../dist/main.js", import.meta.url)
if (!existsSync(main)) {
  console.error("effect-mcp-demo: the demo is not built; run `npm run build` at the repository root first")
  process.exit(1)
}
await import(main.href)
