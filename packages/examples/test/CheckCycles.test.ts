/**
 * scripts/check-cycles.mjs, the check that the libraries' sources import each other in no cycle: it fails on a
 * tree with cycles (relative, type-only, re-export, dynamic, type-position and package self-imports), naming each
 * as a chain of files, and passes on the repository. Its scanner is a few regexes over code with comments and
 * strings set aside, so the specifiers it finds in the real sources are compared with TypeScript's parse of them:
 * an import it missed would hide a cycle.
 */
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Schema from "effect/Schema"
import ts from "typescript"
import { afterAll, describe, expect, it } from "vitest"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const script = path.join(repoRoot, "scripts", "check-cycles.mjs")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const run = (args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { timeout: 10_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })

const scratch = mkdtempSync(path.join(os.tmpdir(), "check-cycles-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** Writes `files` (paths relative to the scratch root) and returns the root. */
const tree = (name: string, files: Readonly<Record<string, string>>): string => {
  const root = path.join(scratch, name)
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    writeFileSync(path.join(root, file), text)
  }
  return root
}

describe("check-cycles", () => {
  it("fails on two files that import each other, naming the chain", async () => {
    const root = tree("pair", {
      "packages/core/src/A.ts": `import type { B } from "./B.js"\nexport interface A { readonly b: B }\n`,
      "packages/core/src/B.ts": `import type { A } from "./A.js"\nexport interface B { readonly a?: A }\n`
    })
    const result = await run([root])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("packages/core/src/A.ts -> packages/core/src/B.ts -> packages/core/src/A.ts")
    expect(result.stderr).toContain("1 cycle(s)")
  })

  it("follows re-exports, dynamic and type-position imports and package self-imports, not comments or strings", async () => {
    const root = tree("kinds", {
      // A re-export one way, a type-position import of the package's own module the other.
      "packages/core/src/C.ts": `export * as D from "./D.js"\n`,
      "packages/core/src/D.ts": `export type C = typeof import("@effect-mcp/core/C")\n`,
      // Across the packages: a dynamic import of node's module, node importing core's index.
      "packages/core/src/index.ts": "export const load = () => import(\"@effect-mcp/node/X\")\n",
      "packages/node/src/X.ts": `import * as Core from "@effect-mcp/core"\nexport const core = Core\n`,
      // Only look like imports of F: a comment, a string, a template literal and a regex with a quote in it.
      "packages/core/src/F.ts": `import { g } from "./G.js"\nexport const f = g\n`,
      "packages/core/src/G.ts": [
        `// import { f } from "./F.js"`,
        `/* export * from "./F.js" */`,
        `export const g = "import { f } from './F.js'"`,
        "export const h = `${g} import(\"./F.js\")`",
        `export const quote = /"/.test(g) ? 'x' : "y"`,
        ""
      ].join("\n")
    })
    const result = await run([root])
    expect(result.code).toBe(1)
    const chains = result.stderr.split("\n").filter((line) => line.startsWith("  ")).map((line) => line.trim())
    expect(chains).toEqual([
      "packages/core/src/C.ts -> packages/core/src/D.ts -> packages/core/src/C.ts",
      "packages/core/src/index.ts -> packages/node/src/X.ts -> packages/core/src/index.ts"
    ])
  })

  it("passes on the repository", async () => {
    const result = await run([])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
  })

  it("finds in the repository's sources the same module specifiers as TypeScript", async () => {
    const listed = await run(["--list"])
    expect(listed.code).toBe(0)
    const byFile = Schema.decodeUnknownSync(Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) }))(
      JSON.parse(listed.stdout)
    )
    expect(Object.keys(byFile).length).toBeGreaterThan(50)
    for (const [file, specifiers] of Object.entries(byFile)) {
      const source = ts.createSourceFile(file, readFileSync(path.join(repoRoot, file), "utf8"), ts.ScriptTarget.Latest)
      const expected: Array<string> = []
      const visit = (node: ts.Node): void => {
        if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) {
          if (ts.isStringLiteral(node.moduleSpecifier)) expected.push(node.moduleSpecifier.text)
        } else if (ts.isImportTypeNode(node)) {
          const argument = node.argument
          if (ts.isLiteralTypeNode(argument) && ts.isStringLiteral(argument.literal)) expected.push(argument.literal.text)
        } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
          const [first] = node.arguments
          if (first !== undefined && ts.isStringLiteralLike(first)) expected.push(first.text)
        }
        ts.forEachChild(node, visit)
      }
      visit(source)
      expect({ file, specifiers }).toEqual({ file, specifiers: expected })
    }
  })
})
