/**
 * scripts/check-cycles.mjs, the check that the libraries' sources import each other in no cycle: it fails on a
 * tree with cycles (relative, type-only, re-export, dynamic, type-position and package self-imports), naming each
 * as a chain of files, and passes on the repository. Its scanner is a few regexes over code with comments and
 * strings set aside, so the specifiers it finds in the real sources are compared with TypeScript's parse of them:
 * an import it missed would hide a cycle.
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"
import * as Schema from "effect/Schema"
import ts from "typescript"
import { describe, expect, it } from "vitest"
import { repoRoot, runScript, scratchTrees } from "./utils/scripts.js"

const run = (args: ReadonlyArray<string>) => runScript("check-cycles.mjs", args)

const tree = scratchTrees("check-cycles-")

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
