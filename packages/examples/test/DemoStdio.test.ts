/**
 * The built demo as a desktop client runs it: a child process speaking MCP on stdin and stdout.
 */
import { describe, expect, it, vi } from "@effect/vitest"
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
  /** Looked at again on every chunk of stdout, and once stdout ends. */
  const watchers = new Set<() => void>()
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8")
    for (const watcher of watchers) watcher()
  })
  child.stdout.on("close", () => {
    for (const watcher of watchers) watcher()
  })
  child.stderr.on("data", (chunk: Buffer) => err += chunk.toString("utf8"))
  const send = (message: unknown) => child.stdin.write(JSON.stringify(message) + "\n")
  /** Stdout's lines, parsed: stdout must carry JSON-RPC messages and nothing else. */
  const parse = (text: string) =>
    text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { id?: unknown; method?: string })
  /** Every stdout line. */
  const lines = () => parse(out)
  /** The first stdout message that matches, once it is out; fails when stdout ends first, or after 5 s. */
  const waitFor = (predicate: (m: { id?: unknown; method?: string }) => boolean) =>
    new Promise<{ id?: unknown; method?: string }>((resolve, reject) => {
      const failed = (why: string) => new Error(`${why}; stdout: ${out}\nstderr: ${err}`)
      const timer = setTimeout(() => settle(failed("not seen on stdout within 5 s")), 5_000)
      const watcher = () => {
        try {
          // Only whole lines: a chunk may end mid-line.
          const found = parse(out.slice(0, out.lastIndexOf("\n") + 1)).find(predicate)
          if (found !== undefined) settle(found)
          else if (child.stdout.readableEnded || child.stdout.destroyed) settle(failed("stdout ended first"))
        } catch (error) {
          // A line that is no JSON: failed here, not thrown from the stream's listener.
          settle(error instanceof Error ? error : failed(String(error)))
        }
      }
      const settle = (result: { id?: unknown; method?: string } | Error) => {
        clearTimeout(timer)
        watchers.delete(watcher)
        if (result instanceof Error) reject(result)
        else resolve(result)
      }
      watchers.add(watcher)
      watcher()
    })
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

      // A cancelled sleep: the SDK sends notifications/cancelled and gives up on the answer. Cancelled once the
      // server runs it (its first progress), so the cancellation reaches a call in flight, not one on its way.
      const controller = new AbortController()
      let progressed = 0
      const sleeping = client.callTool({ name: "sleep", arguments: { ms: 60_000 } }, CallToolResultSchema, {
        signal: controller.signal,
        onprogress: () => {
          progressed++
          controller.abort("changed my mind")
        }
      })
      await expect(sleeping).rejects.toThrow("changed my mind")
      expect(progressed).toBe(1)
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

      // The SDK ends stdin, waits up to 2 s for the process to close, then signals it: no signal means the demo
      // exited on EOF by itself. `close` resolves once the process has closed (its pid reaped) or been killed.
      const kill = vi.spyOn(ChildProcess.ChildProcess.prototype, "kill")
      try {
        await client.close()
        expect(kill).not.toHaveBeenCalled()
      } finally {
        kill.mockRestore()
      }
      expect(isAlive(pid)).toBe(false)
    }), 30_000)

  it.live("SIGTERM with a short call in flight: the call finishes and its answer goes out first", () =>
    Effect.promise(async () => {
      const demo = spawnDemo()
      demo.send(initialize)
      await demo.waitFor((m) => m.id === 1)
      demo.send({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "sleep", arguments: { ms: 1_000 }, _meta: { progressToken: "p" } }
      })
      // Signalled once the call runs (its first progress) and before its answer: in flight, not still in the pipe
      // nor already done. A second is far longer than the step from seeing the progress to the signal.
      await demo.waitFor((m) => m.method === "notifications/progress")
      expect(demo.lines().some((m) => m.id === 2)).toBe(false)
      demo.child.kill("SIGTERM")
      expect(await exited(demo.child)).toBe(0)
      expect(demo.lines().find((m) => m.id === 2)).toMatchObject({ result: { content: [{ text: "slept 1000 ms" }] } })
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
