// Fails when the libraries' sources import each other in a cycle, type-only imports included.
//
// `node scripts/check-cycles.mjs [root]` reads every .ts file under <root>/packages/{core,node}/src (root: the
// repository), takes its relative imports and re-exports (`import`, `import type`, `export ... from`, dynamic and
// type-position `import("...")`) and its package self-imports (`@effect-mcp/core/Foo` is
// packages/core/src/Foo.ts, `@effect-mcp/core` its index.ts), and prints every import that lies on a cycle, in
// the shortest cycle through it, as a chain of files. Exits 1 if there is one. `--list` prints each file's module
// specifiers as JSON instead (a test compares them with TypeScript's own scanner).
//
// Type-only cycles count: they erase at runtime, but they are the same tangle of ownership, and one value import
// added along them makes a load-order bug. A small scanner rather than the TypeScript API, because loading
// `typescript` alone takes longer than this whole check should.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const args = process.argv.slice(2)
const root = path.resolve(args.find((a) => !a.startsWith("--")) ?? fileURLToPath(new URL("..", import.meta.url)))
const sourceDirs = ["core", "node"].map((name) => path.join(root, "packages", name, "src"))

/** The code with comments removed and each string literal replaced by `"#<its index in strings>"`. */
const scan = (source) => {
  const strings = []
  let code = ""
  let i = 0
  let depth = 0
  // For each open `${` of a template literal, the brace depth at which its `}` goes back into the template.
  const interpolations = []
  /** Reads a literal's body from i (past its opening quote) to its end, or in a template to a `${`. */
  const literal = (quote) => {
    let text = ""
    while (i < source.length) {
      const c = source[i]
      if (c === quote) {
        i++
        return { text, interpolation: false }
      }
      if (quote === "`" && c === "$" && source[i + 1] === "{") {
        i += 2
        return { text, interpolation: true }
      }
      if (c === "\\") i++ // the escaped character is taken as it is, whatever it is
      text += source[i++] ?? ""
    }
    return { text, interpolation: false }
  }
  const templatePart = () => {
    if (literal("`").interpolation) interpolations.push(depth)
    code += "``"
  }
  while (i < source.length) {
    const c = source[i]
    const next = source[i + 1]
    if (c === "/" && (next === "/" || next === "*")) {
      const end = source.indexOf(next === "/" ? "\n" : "*/", i + 2)
      i = end === -1 ? source.length : next === "/" ? end : end + 2
      code += " "
    } else if (c === '"' || c === "'") {
      i++
      code += `"#${strings.push(literal(c).text) - 1}"`
    } else if (c === "`" || (c === "}" && interpolations.at(-1) === depth)) {
      if (c === "}") interpolations.pop()
      i++
      templatePart()
    } else if (c === "/" && /(?:^|[(,=:[!&|?{};+\-*%<>~^]|\breturn|\btypeof)$/.test(code.trimEnd())) {
      // A regex literal (a `/` where no value ends): skipped whole, so a quote in it opens no string.
      for (i++; i < source.length && source[i] !== "/"; i++) {
        if (source[i] === "\\") i++
        else if (source[i] === "[") while (++i < source.length && source[i] !== "]") if (source[i] === "\\") i++
      }
      i++
      code += "/r/"
    } else {
      depth += c === "{" ? 1 : c === "}" ? -1 : 0
      code += c
      i++
    }
  }
  return { code, strings }
}

// `import`/`export` clauses ending in `from "..."`, side-effect `import "..."`, and `import("...")`.
const importPattern =
  /(?<![\w$.])(?:(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,?\s*)?(?:\*\s*(?:as\s+[\w$]+\s*)?|\{[^}]*\}\s*)?from\s*|import\s*(?:\(\s*)?)"#(\d+)"/g

/** Every module specifier the source imports or re-exports, in order. */
const specifiers = (source) => {
  const { code, strings } = scan(source)
  return [...code.matchAll(importPattern)].map((match) => strings[Number(match[1])])
}

/** The source file a specifier names, or undefined for another package's module. */
const resolveSpecifier = (from, specifier) => {
  if (specifier.startsWith(".")) return path.resolve(path.dirname(from), specifier).replace(/\.js$/, ".ts")
  const self = /^@effect-mcp\/([\w-]+)(?:\/(.+))?$/.exec(specifier)
  return self ? path.join(root, "packages", self[1], "src", `${self[2] ?? "index"}.ts`) : undefined
}

const files = sourceDirs
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir, { recursive: true, encoding: "utf8" }).map((file) => path.join(dir, file)))
  .filter((file) => file.endsWith(".ts"))
  .sort()
const relative = (file) => path.relative(root, file).split(path.sep).join("/")
const imports = new Map(files.map((file) => [file, specifiers(readFileSync(file, "utf8"))]))

const graph = new Map(
  files.map((file) => [
    file,
    [...new Set(imports.get(file).map((s) => resolveSpecifier(file, s)).filter((to) => to !== undefined && imports.has(to)))]
  ])
)

/** The shortest chain of imports from `from` to `to` (both included), by breadth-first search. */
const shortestPath = (from, to) => {
  const previous = new Map([[from, from]])
  const queue = [from]
  for (const file of queue) {
    if (file === to) {
      const chain = [to]
      while (chain[0] !== from) chain.unshift(previous.get(chain[0]))
      return chain
    }
    for (const next of graph.get(file)) if (!previous.has(next)) (previous.set(next, file), queue.push(next))
  }
  return undefined
}

// An import a -> b is on a cycle when b leads back to a; each cycle is kept once, rotated to start at its
// smallest file, so the same loop found from each of its imports prints one line.
const cycles = new Map()
for (const [from, targets] of graph) {
  for (const to of targets) {
    const back = shortestPath(to, from)
    if (back === undefined) continue
    const loop = [from, ...back.slice(0, -1)]
    const start = loop.indexOf([...loop].sort()[0])
    const rotated = [...loop.slice(start), ...loop.slice(0, start)]
    cycles.set(rotated.join("\0"), [...rotated, rotated[0]].map(relative).join(" -> "))
  }
}

if (args.includes("--list")) {
  process.stdout.write(JSON.stringify(Object.fromEntries([...imports].map(([f, s]) => [relative(f), s])), null, 2) + "\n")
} else if (cycles.size > 0) {
  process.stderr.write(`Import cycles in the libraries' sources (type-only imports included):\n`)
  for (const chain of [...cycles.values()].sort()) process.stderr.write(`  ${chain}\n`)
  process.stderr.write(
    `${cycles.size} cycle(s). Move what the files share into the module that owns it, or into a small internal ` +
      `module both import, and re-export it from where it was public.\n`
  )
  process.exitCode = 1
}
