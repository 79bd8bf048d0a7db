#!/usr/bin/env node
/**
 * Runs the demo server.
 *
 * - HTTP (default): `npm start -- --port 3000 --host 127.0.0.1`; Streamable HTTP at /mcp, legacy SSE at /sse.
 * - stdio: `npx effect-mcp-demo --stdio`, for a client that starts the server as a process. Only protocol
 *   messages go to stdout; logs go to stderr.
 *
 * `--help` lists every flag. `--verbose` also logs every session opening and closing; `--drain-timeout MS` sets how long a shutdown lets
 * requests in flight finish; `--idle-timeout MS` closes HTTP sessions idle that long (default 30 minutes). Over
 * HTTP, `kill -USR2 <pid>` logs how many sessions are live and the heap in use, so a soak run can watch the
 * registry from outside the process; under `node --expose-gc` it collects garbage first.
 *
 * `--auth-jwks URL --auth-issuer ISS --auth-audience AUD` protect every MCP request with bearer JWTs (see `cli.ts`).
 * A bad flag prints one line and exits 2.
 *
 * On Node 22 and later the module compile cache is on (see `compileCache.ts`), so a restart skips compiling the
 * demo's modules again. It must be on before they load: this entry imports nothing else statically (ESM compiles
 * a whole static import graph before running any of it) and loads the demo program, `demo.ts`, once it is.
 */
import * as CompileCache from "./compileCache.js"

CompileCache.enable()
await import("./demo.js")
