/**
 * The line of a dead stdio server's stderr that the client's error quotes (`internal/client/stdio.ts`), on the
 * traces runtimes print when a server cannot start. The error itself, from a real child that dies so, is tested in
 * `packages/node/test/NodeMcpClient.test.ts`.
 */
import { describe, expect, it } from "@effect/vitest"
import { tellingLine } from "../src/internal/client/stdio.js"

describe("ClientStdio.tellingLine", () => {
  it("Node's trace of a missing package: its Error line, not the source line above or `Node.js v..` below", () => {
    const trace = [
      "node:internal/modules/esm/resolve:873",
      "  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);",
      "        ^",
      "",
      "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x' imported from /srv/main.js",
      "    at packageResolve (node:internal/modules/esm/resolve:873:9)",
      "    at ModuleJob._link (node:internal/modules/esm/module_job:168:49) {",
      "  code: 'ERR_MODULE_NOT_FOUND'",
      "}",
      "",
      "Node.js v20.20.2",
      ""
    ].join("\n")
    expect(tellingLine(trace)).toBe("Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x' imported from /srv/main.js")
  })

  it("Node's trace of a thrown error with a cause: the error, after the source line that threw it", () => {
    const trace = [
      "file:///srv/main.js:3",
      "throw new Error(\"no config\", { cause })",
      "^",
      "",
      "Error: no config",
      "    at file:///srv/main.js:3:7 {",
      "  [cause]: Error: ENOENT",
      "      at open (node:fs:1)",
      "}",
      "",
      "Node.js v22.1.0"
    ].join("\n")
    expect(tellingLine(trace)).toBe("Error: no config")
  })

  it("Python's traceback: its last line; a Windows line ending is no part of it", () => {
    const trace = "Traceback (most recent call last):\r\n  File \"<string>\", line 1, in <module>\r\n" +
      "    raise SystemExit(load())\r\nModuleNotFoundError: No module named 'mcp'\r\n"
    expect(tellingLine(trace)).toBe("ModuleNotFoundError: No module named 'mcp'")
  })

  it("without a line that names a failure, the last line; a long one is cut", () => {
    expect(tellingLine("starting\nraw-server: something went badly wrong\n")).toBe("raw-server: something went badly wrong")
    expect(tellingLine("")).toBe("")
    expect(tellingLine(`fatal: ${"x".repeat(400)}`)).toBe(`fatal: ${"x".repeat(293)}…`)
  })

  it("a line that ends in a colon takes the next one along: Rust's panic and its message", () => {
    const trace = "thread 'main' panicked at src/main.rs:4:5:\nmissing API_KEY\n" +
      "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
    expect(tellingLine(trace)).toBe("thread 'main' panicked at src/main.rs:4:5: missing API_KEY")
  })
})
