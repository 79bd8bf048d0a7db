// Typechecks every ```ts block of README.md against the workspace packages, as a user's code would see them.
//
// Each block is written to .readme-check/ (ignored by git) and the folder is compiled with a strict user
// tsconfig. `@effect-mcp/*` resolve through node_modules to the packages' exports, i.e. the built declarations
// in dist/, so run `tsc -b` first (`npm run typecheck` and `npm test` do).
//
// Every block must be complete: its own imports, nothing taken from the text around it. A block may be named by
// an HTML comment on the line before its fence, `<!-- file: tools.ts -->`, and later blocks may import it
// (`import { Echo } from "./tools.js"`), the way an app splits into files. Unnamed blocks are
// `snippet-<line>.ts`, after the README line of their fence. Errors are reported at their README line.
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const outDir = path.join(root, ".readme-check")
const lines = readFileSync(path.join(root, "README.md"), "utf8").split("\n")

/** @type {Array<{ file: string, fenceLine: number }>} */
const snippets = []
rmSync(outDir, { recursive: true, force: true })
mkdirSync(outDir, { recursive: true })
for (let i = 0; i < lines.length; i++) {
  if (!/^```ts\s*$/.test(lines[i])) continue
  const named = /^<!--\s*file:\s*([\w.-]+\.ts)\s*-->\s*$/.exec(lines[i - 1] ?? "")
  const file = named ? named[1] : `snippet-${i + 1}.ts`
  if (snippets.some((s) => s.file === file)) throw new Error(`README.md:${i + 1}: a second block named ${file}`)
  const end = lines.findIndex((line, j) => j > i && /^```\s*$/.test(line))
  if (end === -1) throw new Error(`README.md:${i + 1}: the block is not closed`)
  // Line n of the file is README line fenceLine + n.
  writeFileSync(path.join(outDir, file), lines.slice(i + 1, end).join("\n") + "\n")
  snippets.push({ file, fenceLine: i + 1 })
  i = end
}

// What a careful user compiles with: strict flags, NodeNext, and no project references into our sources.
writeFileSync(
  path.join(outDir, "tsconfig.json"),
  JSON.stringify(
    {
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        types: ["node"],
        strict: true,
        noUncheckedIndexedAccess: true,
        noPropertyAccessFromIndexSignature: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: true
      },
      include: ["*.ts"]
    },
    null,
    2
  )
)
// tsc needs a package.json saying "module" for NodeNext's ESM rules.
writeFileSync(path.join(outDir, "package.json"), JSON.stringify({ private: true, type: "module" }) + "\n")

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
let output = ""
let failed = false
try {
  execFileSync(process.execPath, [tsc, "-p", outDir, "--pretty", "false"], { cwd: root, encoding: "utf8" })
} catch (error) {
  failed = true
  output = `${error.stdout ?? ""}${error.stderr ?? ""}`
}
const where = new Map(snippets.map((s) => [s.file, s.fenceLine]))
const mapped = output.replace(/^(?:\.readme-check\/)?([\w.-]+\.ts)\((\d+),(\d+)\)/gm, (all, file, line, col) => {
  const fence = where.get(file)
  return fence === undefined ? all : `README.md:${fence + Number(line)}:${col} (${file})`
})
if (failed) {
  process.stderr.write(mapped || "tsc failed without output\n")
  process.stderr.write(`README check: the ts blocks above do not compile (sources in .readme-check/)\n`)
  process.exit(1)
}
console.log(`README check: ${snippets.length} ts blocks compile`)
