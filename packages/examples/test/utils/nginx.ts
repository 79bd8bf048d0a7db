/**
 * A real nginx in front of a cluster, as the README sets it up: round robin over the instances, no affinity,
 * buffering off (SSE), HTTP/1.1 kept alive to the upstreams, and a request never retried on another upstream.
 * Debian's `nginx-light` is installed first where it is missing and can be (see `commandPath`).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { commandPath, listening, onFreePort } from "../../../cluster/test/utils/redisServer.js"
import { nginxConfig } from "../../harness/nginx.js"

/** The path of `nginx`, installed first where it is missing and can be. */
export const nginxPath = (): string => commandPath("nginx", ["nginx-light", "nginx"])

/**
 * Starts nginx in front of `upstreams` for the current scope; gives its port. nginx writes its pid file only once it
 * has bound its port, so that file, not a connection (which something else on the port would accept too), says it
 * is up; when the port was taken first, nginx exits and another port is tried.
 */
export const startNginx = (upstreams: ReadonlyArray<number>): Effect.Effect<number, never, Scope.Scope> =>
  Effect.map(onFreePort((port) => nginxOn(port, upstreams)), ({ port }) => port)

const nginxOn = (port: number, upstreams: ReadonlyArray<number>): Effect.Effect<"in use" | void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const binary = nginxPath()
    const prefix = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-mcp-nginx-"))
    Fs.writeFileSync(Path.join(prefix, "nginx.conf"), nginxConfig(prefix, port, upstreams))
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(binary, ["-p", prefix, "-e", `${prefix}/error.log`, "-c", `${prefix}/nginx.conf`], {
          stdio: ["ignore", "ignore", "pipe"]
        })
      ),
      (child) =>
        Effect.async<void>((resume) => {
          const done = () => {
            Fs.rmSync(prefix, { recursive: true, force: true })
            resume(Effect.void)
          }
          if (child.exitCode !== null || child.signalCode !== null) return done()
          child.once("exit", done)
          child.kill("SIGKILL")
        })
    )
    let stderr = ""
    child.stderr?.on("data", (chunk: Buffer) => stderr += chunk.toString())
    const start = Date.now()
    while (!Fs.existsSync(Path.join(prefix, "nginx.pid")) || !(yield* listening(port))) {
      if (child.exitCode !== null) {
        if (stderr.includes("Address already in use")) return "in use"
        return yield* Effect.die(new Error(`nginx exited: ${stderr}`))
      }
      if (Date.now() - start > 10_000) return yield* Effect.die(new Error(`nginx did not start: ${stderr}`))
      yield* Effect.sleep("10 millis")
    }
  })
