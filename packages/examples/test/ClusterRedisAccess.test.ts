/**
 * The Redis a cluster runs on across machines: TLS (`rediss://`, a private CA given with `RedisClient`'s `tls`) and
 * the ACL user the README gives, copied from the README itself. Two servers in this process, each in the cluster
 * as that user, do what a cluster does (leases and beats, a session served through another instance, a task read
 * and cancelled elsewhere, a graceful stop), and Redis's `ACL LOG` then holds no denial: the README's ACL is
 * enough, and a user with it cannot reach another prefix.
 */
import { describe, expect, it } from "@effect/vitest"
import * as McpCluster from "@effect-mcp/cluster/McpCluster"
import * as RedisClient from "@effect-mcp/cluster/RedisClient"
import * as McpTask from "@effect-mcp/core/McpTask"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { commandPath, onFreePort, redisServerPath, spawnRedis } from "../../cluster/test/utils/redisServer.js"
import { postModern } from "../../core/test/utils/modern.js"
import { capture } from "../../node/test/utils/logs.js"
import * as DemoServer from "../src/DemoServer.js"
import { CLUSTER_KEY, openSession, ping, post } from "./utils/cluster.js"

// While the file is collected, outside any test's time limit: installs redis-server and openssl where missing.
redisServerPath()
const openssl = commandPath("openssl", ["openssl"])

const README = fileURLToPath(new URL("../../../README.md", import.meta.url))
const PASSWORD = "a-password-of-the-test"
const ADMIN_PASSWORD = "the-admins-password"

/** The README's `ACL SETUSER` line for the cluster's user, as words, with this test's password. */
const readmeAcl = (): ReadonlyArray<string> => {
  const line = /`(ACL SETUSER mcp [^`]+)`/.exec(Fs.readFileSync(README, "utf8"))
  if (line === null) throw new Error("the README gives no ACL SETUSER line for the cluster's user")
  return line[1]!.replace(">password", `>${PASSWORD}`).split(/\s+/)
}

/** A self-signed certificate for 127.0.0.1, which the clients are given as their CA. */
const certificate = (dir: string) => {
  const cert = Path.join(dir, "cert.pem")
  const key = Path.join(dir, "key.pem")
  ChildProcess.execFileSync(openssl, [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"
  ], { stdio: "ignore" })
  return { cert, key, ca: Fs.readFileSync(cert, "utf8") }
}

/** A `redis-server` that speaks only TLS, its default user behind a password, for the current scope. */
const startTlsRedis = Effect.gen(function*() {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-mcp-redis-tls-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
  const { ca, cert, key } = certificate(dir)
  const { port } = yield* Effect.acquireRelease(
    onFreePort((port) =>
      spawnRedis([
        "--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1",
        "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert, "--tls-auth-clients", "no",
        "--requirepass", ADMIN_PASSWORD, "--save", "", "--appendonly", "no"
      ])
    ),
    ({ started }) => Effect.sync(() => void started.kill("SIGKILL"))
  )
  return { port, ca }
})

/** A tool whose calls are tasks that wait until cancelled. */
const Wait = McpTool.make("wait", {
  input: Schema.Struct({}),
  taskSupport: "required",
  handler: () => Effect.as(Effect.never, "never")
})

/** One server in the cluster as the ACL user over TLS, in its own scope (closing it is a graceful stop). */
const instance = (redisPort: number, ca: string, scope: Scope.Scope) =>
  Effect.gen(function*() {
    const redis = RedisClient.layer({ url: `rediss://mcp:${PASSWORD}@127.0.0.1:${redisPort}`, tls: { ca } })
    // Port 0: a port picked beforehand could be taken before the server binds it (the link listens on its own).
    const cluster = McpCluster.layer({ advertise: "http://127.0.0.1", key: CLUSTER_KEY, lease: "3 seconds" })
      .pipe(Layer.provide(redis))
    const server = NodeMcpServer.layer({ port: 0 }).pipe(
      Layer.provide(Wait.pipe(Layer.provideMerge(DemoServer.layer))),
      Layer.provide(cluster)
    )
    const context = yield* Layer.buildWithScope(server, scope).pipe(Effect.orDie)
    return Context.get(context, NodeMcpServer.NodeMcpServer).address.port
  })

const WITH_TASKS = { extensions: { [McpTask.EXTENSION]: {} } }
const envelope = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": WITH_TASKS,
  "io.modelcontextprotocol/clientInfo": { name: "test", version: "1.0.0" }
}
const modern = (port: number, method: string, params: { readonly [key: string]: unknown }) =>
  Effect.promise(() => postModern(`http://127.0.0.1:${port}/mcp`, method, { _meta: envelope, ...params }))

/** The entries of `ACL LOG`: one per command, key or channel Redis refused. */
const aclLog = (admin: RedisClient.RedisClientService) =>
  Effect.map(Effect.orDie(admin.send(["ACL", "LOG"])), (reply) => Array.isArray(reply) ? reply : [])

describe("a cluster on Redis over TLS as the README's ACL user", () => {
  it.scopedLive("serves sessions and tasks across instances and stops gracefully, with no command refused", () =>
    Effect.gen(function*() {
      const { ca, port: redisPort } = yield* startTlsRedis
      const admin = yield* RedisClient.make({
        url: `rediss://default:${ADMIN_PASSWORD}@127.0.0.1:${redisPort}`,
        tls: { ca }
      }).pipe(Effect.orDie)
      expect(yield* admin.send(readmeAcl()).pipe(Effect.orDie)).toBe("OK")

      // The user is confined: outside the cluster's prefix it is refused, and the refusal is logged.
      const user = yield* RedisClient.make({ url: `rediss://mcp:${PASSWORD}@127.0.0.1:${redisPort}`, tls: { ca } })
        .pipe(Effect.orDie)
      const outside = yield* Effect.either(user.send(["SET", "another-app:key", "1"]))
      expect(outside._tag === "Left" && outside.left.reason.includes("NOPERM")).toBe(true)
      expect((yield* aclLog(admin)).length).toBe(1)
      yield* admin.send(["ACL", "LOG", "RESET"]).pipe(Effect.orDie)
      // Without its password it cannot connect at all.
      const anonymous = yield* Effect.either(Effect.scoped(RedisClient.make({ url: `rediss://127.0.0.1:${redisPort}`, tls: { ca } })))
      expect(anonymous._tag === "Left" && anonymous.left.reason.includes("NOAUTH")).toBe(true)

      const logs = capture()
      const scopeA = yield* Scope.make()
      const scopeB = yield* Scope.make()
      yield* Effect.addFinalizer(() => Effect.all([Scope.close(scopeA, Exit.void), Scope.close(scopeB, Exit.void)]))
      const a = yield* instance(redisPort, ca, scopeA).pipe(Effect.provide(logs.layer))
      const b = yield* instance(redisPort, ca, scopeB).pipe(Effect.provide(logs.layer))

      // A session opened on A, served through B.
      const id = yield* openSession(a, b)
      expect((yield* post(b, id, ping)).status).toBe(202)
      const called = yield* post(b, id, {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "echo", arguments: { text: "over TLS" } }
      })
      expect(called.status).toBe(200)
      expect(called.body).toContain("over TLS")

      // A 2026-07-28 task made on A, read and cancelled on B.
      const created = yield* modern(a, "tools/call", { name: "wait", arguments: {} })
      const taskId = String(created.body.result.taskId)
      expect((yield* modern(b, "tasks/get", { taskId })).body.result).toMatchObject({ taskId, status: "working" })
      expect((yield* modern(b, "tasks/cancel", { taskId })).body.result).toMatchObject({ resultType: "complete" })
      const onA = yield* modern(a, "tasks/get", { taskId }).pipe(
        Effect.filterOrFail((read) => read.body.result.status === "cancelled", () => "not cancelled yet"),
        Effect.retry({ times: 100 }),
        Effect.orDie
      )
      expect(onA.body.result).toMatchObject({ taskId, status: "cancelled" })

      // A graceful stop of A: its session is gone on B too.
      yield* Scope.close(scopeA, Exit.void)
      expect((yield* post(b, id, ping)).status).toBe(404)

      const refused = yield* aclLog(admin)
      expect(refused).toEqual([])
      // The work above did use scripts and pub/sub, as that user.
      const stats = String(yield* admin.send(["INFO", "commandstats"]).pipe(Effect.orDie))
      expect(stats).toMatch(/cmdstat_(evalsha|eval)(_ro)?:calls=[1-9]/)
      expect(stats).toMatch(/cmdstat_publish:calls=[1-9]/)
      expect(stats).toMatch(/cmdstat_subscribe:calls=[1-9]/)
    }), 60_000)
})
