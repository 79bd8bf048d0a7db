/**
 * scripts/check-shape.mjs, the check that no function in the packages' sources is over 150 lines and that core's
 * tests import nothing but core: it fails on a tree with a long function (naming file, line and length, once for
 * a function and what it nests) or with a core test importing another package, and passes on the repository.
 */
import { describe, expect, it } from "vitest"
import { runScript, scratchTrees } from "./utils/scripts.js"

const run = (args: ReadonlyArray<string>) => runScript("check-shape.mjs", args, 20_000)

const tree = scratchTrees("check-shape-")

/** `n` lines of statements. */
const statements = (n: number) => Array.from({ length: n }, (_, i) => `  const x${i} = ${i}`).join("\n")

/** The offender lines of the output, trimmed. */
const offenders = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("  ")).map((l) => l.trim())

describe("check-shape", () => {
  it("fails on a function over 150 lines, naming file, line and length once for it and what it nests", async () => {
    const root = tree("long", {
      // 2 + 149 + 1 = 152 lines, an arrow function inside it as long as most of it.
      "packages/core/src/Long.ts": [
        "// a comment line first",
        "export const make = (a: number) => {",
        "  const inner = () => {",
        statements(147),
        "  }",
        "  return inner",
        "}",
        ""
      ].join("\n"),
      // Exactly 150 lines: allowed.
      "packages/node/src/Edge.ts": ["export function edge() {", statements(148), "}", ""].join("\n"),
      // A long generator passed to a call is named for what it is assigned to.
      "packages/node/src/Gen.ts": ["export const run = Effect.gen(function*() {", statements(151), "})", ""].join("\n")
    })
    const result = await run([root])
    expect(result.code).toBe(1)
    expect(offenders(result.stderr)).toEqual([
      "packages/core/src/Long.ts:2 make (152 lines)",
      "packages/node/src/Gen.ts:1 run (153 lines)"
    ])
    expect(result.stderr).toContain("2 long function(s)")
  })

  it("fails on a core test importing another workspace package or a path out of packages/core", async () => {
    const root = tree("leaks", {
      "packages/core/test/A.test.ts": [
        `import * as Core from "@effect-mcp/core/JsonRpc"`,
        `import { NodeMcpServer } from "@effect-mcp/node"`,
        `import * as Local from "./utils/local.js"`,
        `const demo = () => import("../../examples/src/DemoServer.js")`,
        ""
      ].join("\n"),
      "packages/core/test/utils/local.ts": `export * from "../../src/JsonRpc.js"\n`,
      "packages/node/test/B.test.ts": `import * as Demo from "@effect-mcp/examples"\n`
    })
    const result = await run([root])
    expect(result.code).toBe(1)
    expect(offenders(result.stderr)).toEqual([
      "packages/core/test/A.test.ts:2 imports @effect-mcp/node",
      "packages/core/test/A.test.ts:4 imports ../../examples/src/DemoServer.js"
    ])
    expect(result.stderr).toContain("2 import(s)")
  })

  it("passes on the repository", async () => {
    const result = await run([])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
  })
})
