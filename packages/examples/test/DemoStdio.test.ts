/**
 * The built demo as a desktop client runs it: a child process speaking MCP on stdin and stdout.
 */
import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ListRootsRequestSchema
} from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))

/** Resolves with the exit code once the process is gone, or null after `timeoutMs`. */
const exited = (child: ChildProcess.ChildProcess, timeoutMs = 5_000): Promise<number | string | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? child.signalCode)
    const timer = setTimeout(() => resolve(null), timeoutMs)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      resolve(code ?? signal)
    })
  })

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The demo over stdio, driven by hand: lines in, lines out. */
const spawnDemo = (...args: ReadonlyArray<string>) => {
  const child = ChildProcess.spawn(process.execPath, [main, "--stdio", ...args], { stdio: ["pipe", "pipe", "pipe"] })
  let out = ""
  let err = ""
  child.stdout.on("data", (chunk: Buffer) => out += chunk.toString("utf8"))
  child.stderr.on("data", (chunk: Buffer) => err += chunk.toString("utf8"))
  const send = (message: unknown) => child.stdin.write(JSON.stringify(message) + "\n")
  /** Every stdout line, parsed: stdout must carry JSON-RPC messages and nothing else. */
  const lines = () => out.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { id?: unknown; method?: string })
  const waitFor = async (predicate: (m: { id?: unknown; method?: string }) => boolean) => {
    for (let i = 0; i < 500; i++) {
      const found = lines().find(predicate)
      if (found !== undefined) return found
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new Error(`not seen on stdout: ${out}\nstderr: ${err}`)
  }
  return { child, send, lines, waitFor, stderr: () => err }
}

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "0" } }
}

describe("the demo over stdio", () => {
  it.live("the official SDK's StdioClientTransport: tools, requests to the client, a cancelled call, resources, prompts, then close", () =>
    Effect.promise(async () => {
      const transport = new StdioClientTransport({ command: process.execPath, args: [main, "--stdio"], stderr: "pipe" })
      const client = new Client(
        { name: "sdk-stdio-client", version: "1.0.0" },
        { capabilities: { sampling: {}, roots: {} } }
      )
      client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///work" }] }))
      client.setRequestHandler(CreateMessageRequestSchema, async () => ({
        role: "assistant",
        content: { type: "text", text: "Short." },
        model: "sdk-model"
      }))
      await client.connect(transport)
      const pid = transport.pid!
      expect(isAlive(pid)).toBe(true)
      expect(client.getServerVersion()?.name).toBe("effect-mcp-demo")

      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual(["add", "confirm", "echo", "roots", "sleep", "summarize"])
      const sum = await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })
      expect(sum.structuredContent).toEqual({ sum: 5 })
      // The server asks the client, over stdout, while it handles the call.
      expect((await client.callTool({ name: "roots", arguments: {} })).content).toEqual([{ type: "text", text: "file:///work" }])
      expect((await client.callTool({ name: "summarize", arguments: { text: "A long text." } })).content).toEqual([
        { type: "text", text: "Short." }
      ])

      // A cancelled sleep: the SDK sends notifications/cancelled and gives up on the answer.
      const controller = new AbortController()
      const sleeping = client.callTool({ name: "sleep", arguments: { ms: 60_000 } }, CallToolResultSchema, {
        signal: controller.signal
      })
      setTimeout(() => controller.abort("changed my mind"), 50)
      await expect(sleeping).rejects.toThrow()
      // The server is still serving after it.
      expect((await client.callTool({ name: "echo", arguments: { text: "after" } })).content).toEqual([
        { type: "text", text: "after" }
      ])

      const readme = await client.readResource({ uri: "demo://readme" })
      expect(readme.contents[0]).toMatchObject({ uri: "demo://readme", mimeType: "text/markdown" })
      const greeting = await client.readResource({ uri: "demo://greetings/Ada" })
      expect(greeting.contents[0]).toMatchObject({ text: "Hello, Ada!" })
      const prompt = await client.getPrompt({ name: "review", arguments: { code: "x = 1" } })
      expect(JSON.stringify(prompt.messages)).toContain("x = 1")

      await client.close()
      for (let i = 0; i < 300 && isAlive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 10))
      expect(isAlive(pid)).toBe(false)
    }), 30_000)

  it.live("SIGTERM with a short call in flight: the call finishes and its answer goes out first", () =>
    Effect.promise(async () => {
      const demo = spawnDemo()
      demo.send(initialize)
      await demo.waitFor((m) => m.id === 1)
      demo.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "sleep", arguments: { ms: 300 } } })
      await new Promise((resolve) => setTimeout(resolve, 50))
      demo.child.kill("SIGTERM")
      expect(await exited(demo.child)).toBe(0)
      expect(demo.lines().find((m) => m.id === 2)).toMatchObject({ result: { content: [{ text: "slept 300 ms" }] } })
    }), 30_000)

  it.live("stdout carries protocol messages only; a bad line is answered and the session goes on; EOF exits 0", () =>
    Effect.promise(async () => {
      const demo = spawnDemo()
      demo.send(initialize)
      await demo.waitFor((m) => m.id === 1)
      demo.child.stdin.write("not json at all\n")
      demo.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } })
      await demo.waitFor((m) => m.id === 2)
      expect(demo.lines().filter((m) => m.id === null)).toEqual([
        { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error: the body is not valid JSON" } }
      ])
      demo.child.stdin.end()
      expect(await exited(demo.child)).toBe(0)
      // Every stdout line parsed as JSON (lines() would have thrown otherwise).
      expect(demo.lines().length).toBe(3)
    }), 30_000)

  it.live("SIGTERM and SIGINT: a call in flight is answered (an error past the drain period), then exit 0", () =>
    Effect.promise(async () => {
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        const demo = spawnDemo("--drain-timeout", "300")
        demo.send(initialize)
        await demo.waitFor((m) => m.id === 1)
        demo.send({
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "sleep", arguments: { ms: 60_000 }, _meta: { progressToken: "p" } }
        })
        await demo.waitFor((m) => m.method === "notifications/progress")
        demo.child.kill(signal)
        expect(await exited(demo.child), signal).toBe(0)
        // Never silence: the call it took is answered, here with an error since it outlasted the drain period.
        expect(demo.lines().find((m) => m.id === 2), signal).toMatchObject({ error: { code: -32603 } })
        expect(demo.stderr()).not.toContain("Error")
      }
    }), 30_000)
})
