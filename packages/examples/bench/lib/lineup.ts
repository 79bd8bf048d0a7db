/**
 * Which servers the bench compares, in column order, and how those that need more than the workspace are made
 * ready: other Node majors (fetched by scripts/with-node.sh) and the Effect 4 peer, which cannot be installed
 * beside the workspace's Effect 3.
 *
 * Every server runs as built JavaScript on plain node, so no loader's cost shows in any column. The bare floor,
 * the official SDK 1.32 and the effect-mcp demo always run; the peers (the official SDK 2.4 and Effect 4's
 * McpServer, what a user would pick instead today) run by default in the full run and with `--peers` in
 * `--quick`.
 *
 * The Effect 4 peer is its own npm project in `bench/peers/effect4/` (exact versions, a committed lockfile). The
 * first run copies its manifest and lockfile into `.cache/bench-peers/effect-4/` (git-ignored) and installs them
 * there with `npm ci`; later runs reuse that install while its lockfile is the committed one. Every run copies
 * its `server.ts` and `tsconfig.json` there too and compiles the server to `server.mjs` beside them (esbuild, one
 * file, nothing bundled), so node resolves `effect` from the cache's `node_modules`; it runs on Node 24 (Effect
 * 4 needs >= 22.19). The workspace cannot type-check it (its `effect` is 3): `npx tsc -p .cache/bench-peers/effect-4`
 * does, against Effect 4, once a run has installed it.
 */
import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import { build } from "esbuild"
import { BENCH_DIR, EXAMPLES_DIR, REPO_ROOT, type ServerSpec } from "./servers.js"

/** The Node major the Effect 4 peer runs on: the oldest LTS line that meets its `engines` (>= 22.19). */
const EFFECT4_NODE = 24

const EFFECT4_SOURCE = path.join(BENCH_DIR, "peers", "effect4")
const EFFECT4_CACHE = path.join(REPO_ROOT, ".cache", "bench-peers", "effect-4")

/** A server of the default line-up. */
export interface Contender extends ServerSpec {
  /** One of the peers, which `--quick` leaves out unless `--peers` is given. */
  readonly peer: boolean
}

/** The servers compared by default, in column order; `--entry NAME=FILE` overrides or adds one. */
export const DEFAULT_SERVERS: ReadonlyArray<Contender> = [
  { name: "bare", entry: path.join(EXAMPLES_DIR, "dist-bench", "bare.js"), peer: false },
  { name: "official", entry: path.join(EXAMPLES_DIR, "dist-bench", "official.js"), peer: false },
  { name: "official-2", entry: path.join(EXAMPLES_DIR, "dist-bench", "official2.js"), peer: true },
  {
    name: "effect-4",
    // Compiled there by prepareEffect4 before its first start.
    entry: path.join(EFFECT4_CACHE, "server.mjs"),
    peer: true,
    transports: ["streamable"],
    prepare: (log) => prepareEffect4("effect-4", log)
  },
  { name: "effect-mcp", entry: path.join(EXAMPLES_DIR, "dist", "main.js"), peer: false }
]

/** The bin folder of Node `major`, fetched with npm by scripts/with-node.sh on first use. */
export const nodeBinOf = (major: number): string =>
  execFileSync(path.join(REPO_ROOT, "scripts", "with-node.sh"), [String(major), "--print-path"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"]
  }).trim()

const sameFile = (a: string, b: string): boolean => existsSync(b) && readFileSync(a).equals(readFileSync(b))

/** Installs the Effect 4 peer's lockfile into the cache unless that exact install is already there. */
const installEffect4 = (nodeBin: string, log: (message: string) => void): void => {
  const lock = path.join(EFFECT4_SOURCE, "package-lock.json")
  // npm writes node_modules/.package-lock.json last: an interrupted install has none and is redone.
  const complete = existsSync(path.join(EFFECT4_CACHE, "node_modules", ".package-lock.json"))
  if (complete && sameFile(lock, path.join(EFFECT4_CACHE, "package-lock.json"))) return
  log(`effect-4: installing bench/peers/effect4 into ${path.relative(REPO_ROOT, EFFECT4_CACHE)} (once)`)
  rmSync(EFFECT4_CACHE, { recursive: true, force: true })
  mkdirSync(EFFECT4_CACHE, { recursive: true })
  copyFileSync(path.join(EFFECT4_SOURCE, "package.json"), path.join(EFFECT4_CACHE, "package.json"))
  copyFileSync(lock, path.join(EFFECT4_CACHE, "package-lock.json"))
  // npm on the peer's own node, so its `engines` check sees the node that will run it.
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: EFFECT4_CACHE,
    stdio: ["ignore", process.stderr, process.stderr],
    env: { ...process.env, PATH: `${nodeBin}${path.delimiter}${process.env["PATH"] ?? ""}` },
    timeout: 300_000
  })
}

/** Fetches Node 24, installs the Effect 4 peer if need be and compiles its entry; returns what to start. */
const prepareEffect4 = async (name: string, log: (message: string) => void): Promise<ServerSpec> => {
  const nodeBin = nodeBinOf(EFFECT4_NODE)
  installEffect4(nodeBin, log)
  for (const file of ["server.ts", "tsconfig.json"]) copyFileSync(path.join(EFFECT4_SOURCE, file), path.join(EFFECT4_CACHE, file))
  const entry = path.join(EFFECT4_CACHE, "server.mjs")
  await build({
    entryPoints: [path.join(EFFECT4_CACHE, "server.ts")],
    outfile: entry,
    bundle: false,
    platform: "node",
    format: "esm",
    logLevel: "silent"
  })
  log(`${name}: on Node ${EFFECT4_NODE} (${path.relative(REPO_ROOT, nodeBin)})`)
  return { name, entry, node: path.join(nodeBin, "node"), transports: ["streamable"] }
}
