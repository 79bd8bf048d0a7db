// Fails when the sources grow a function too long to hold in one's head, or core's tests lean on another package.
//
// `node scripts/check-shape.mjs [root]` (root: the repository) checks two things and prints every offender:
//
// - No function in `<root>/packages/*/src` is longer than 150 lines, counted from its first line to its last,
//   the functions nested in it included (so a long function split into inner ones still counts as long: split
//   it into functions of a module instead). Each offender prints as `file:line name (N lines)`; a function inside
//   another offender is not printed again, and an anonymous one is named for what it is assigned or passed to.
// - No file in `<root>/packages/core/test` imports another workspace package (`@effect-mcp/<other>`) or a
//   relative path out of `packages/core`: core is the lowest package, so its tests must run on core alone. A test
//   that needs the Node server or the demo goes to that package's tests.
//
// Parsed with TypeScript's own parser (a function's extent needs a real parse, unlike check-cycles' imports).
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

/** The longest a function may be, in lines. */
export const maxLines = 150

const args = process.argv.slice(2)
const root = path.resolve(args.find((a) => !a.startsWith("--")) ?? fileURLToPath(new URL("..", import.meta.url)))
const packagesDir = path.join(root, "packages")
const relative = (file) => path.relative(root, file).split(path.sep).join("/")

const tsFiles = (dir) =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((file) => /\.(?:c|m)?tsx?$/.test(file) && !file.split(path.sep).includes("node_modules"))
      .map((file) => path.join(dir, file))
      .sort()
    : []

const packageNames = existsSync(packagesDir)
  ? readdirSync(packagesDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
  : []

/** The name a function goes by: its own, or that of what it is assigned or passed to, up to the enclosing function. */
const nameOf = (fn) => {
  if ((ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn) || ts.isAccessor(fn)) && fn.name !== undefined) {
    const owner = fn.parent && ts.isClassLike(fn.parent) && fn.parent.name ? `${fn.parent.name.text}.` : ""
    return owner + fn.name.getText()
  }
  if (ts.isConstructorDeclaration(fn)) return `${fn.parent.name?.text ?? "class"}.constructor`
  for (let node = fn.parent; node !== undefined && !ts.isSourceFile(node); node = node.parent) {
    if (ts.isVariableDeclaration(node) || ts.isPropertyAssignment(node) || ts.isPropertyDeclaration(node)) {
      return node.name.getText()
    }
    if (ts.isFunctionLike(node)) return `${nameOf(node)} (inner function)`
  }
  return "<anonymous>"
}

const isFunction = (node) =>
  ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) ||
  ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isAccessor(node)

/** Functions over `maxLines` in a file, outermost first; those inside an offender are left out. */
const longFunctions = (file) => {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const found = []
  const visit = (node) => {
    if (isFunction(node) && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line + 1
      const lines = last - first + 1
      if (lines > maxLines) {
        found.push({ file: relative(file), line: first, name: nameOf(node), lines })
        return
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

/** Imports in one of core's test files that reach another workspace package or out of packages/core. */
const foreignImports = (file) => {
  const coreDir = path.join(packagesDir, "core")
  const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true)
  return importedFiles.flatMap(({ fileName, pos }) => {
    const workspace = /^@effect-mcp\/([\w.-]+)/.exec(fileName)
    const outside = fileName.startsWith(".") &&
      path.relative(coreDir, path.resolve(path.dirname(file), fileName)).split(path.sep)[0] === ".."
    if ((workspace === null || workspace[1] === "core") && !outside) return []
    const text = readFileSync(file, "utf8")
    const line = text.slice(0, pos).split("\n").length
    return [{ file: relative(file), line, specifier: fileName }]
  })
}

const sources = packageNames.flatMap((name) => tsFiles(path.join(packagesDir, name, "src")))
const long = sources.flatMap(longFunctions)
const offenders = long
const leaks = tsFiles(path.join(packagesDir, "core", "test")).flatMap(foreignImports)

if (args.includes("--list")) {
  process.stdout.write(JSON.stringify({ long, leaks }, null, 2) + "\n")
}
if (offenders.length > 0) {
  process.stderr.write(`Functions over ${maxLines} lines in the packages' sources:\n`)
  for (const f of offenders) process.stderr.write(`  ${f.file}:${f.line} ${f.name} (${f.lines} lines)\n`)
  process.stderr.write(
    `${offenders.length} long function(s). Split each by concern into named functions or internal modules that ` +
      `share a small context object.\n`
  )
  process.exitCode = 1
}
if (leaks.length > 0) {
  process.stderr.write(`Imports from core's tests of another package (core's tests must run on core alone):\n`)
  for (const l of leaks) process.stderr.write(`  ${l.file}:${l.line} imports ${l.specifier}\n`)
  process.stderr.write(
    `${leaks.length} import(s). Move such a test to the package whose code it needs (packages/node/test, ` +
      `packages/examples/test), or serve it over what core has.\n`
  )
  process.exitCode = 1
}
