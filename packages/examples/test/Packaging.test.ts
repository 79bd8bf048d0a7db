/**
 * What a user installs: `npm pack` both packages into a scratch project outside the repository, install the
 * tarballs there with the Effect packages at the lockfile's versions, then
 * - run a plain `node` script (no TypeScript, no loader) that serves a tool and calls it with the library's client;
 * - typecheck a TypeScript consumer with a strict user tsconfig and skipLibCheck off, so our shipped .d.ts are
 *   checked under flags stricter than the ones we build with.
 *
 * Takes about 25 s (install from the npm cache about 7 s, the tsc run with skipLibCheck off about 14 s).
 */
import { execFile } from "node:child_process"
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const fixtures = fileURLToPath(new URL("./fixtures/packaging/", import.meta.url))
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")

/** The version the lockfile installed, so the scratch project gets what the workspace is tested with. */
const locked = (name: string): string => {
  const lock: { readonly packages: Record<string, { readonly version?: string } | undefined> } = JSON.parse(
    readFileSync(path.join(repoRoot, "package-lock.json"), "utf8")
  )
  const version = lock.packages[`node_modules/${name}`]?.version
  if (version === undefined) throw new Error(`${name} is not in package-lock.json`)
  return `${name}@${version}`
}

/**
 * The environment without what `npm test` sets for the workspace (npm_config_local_prefix, npm_package_*, ...),
 * which would point a nested npm back at the repository; registry access settings stay.
 */
const cleanEnv = (): NodeJS.ProcessEnv => {
  const keep = new Set(["npm_config_cache", "npm_config_registry", "npm_config_userconfig", "npm_config_cafile"])
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_") || keep.has(key.toLowerCase()))
  )
}

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string, timeoutMs: number): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: cleanEnv(), timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
        const killed = error !== null && error.killed
        resolve({ code, stdout, stderr: killed ? `${stderr}\n(killed after ${timeoutMs} ms)` : stderr })
      }
    )
  })

const expectOk = (result: Run, what: string): Run => {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}\n${result.stdout}\n${result.stderr}`)
  return result
}

interface Packed {
  readonly name: string
  readonly filename: string
  readonly files: ReadonlyArray<{ readonly path: string }>
}

describe("the packed packages", () => {
  let scratch = ""
  let packed: ReadonlyArray<Packed> = []

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), "effect-mcp-pack-"))
    // `prepack` builds each package first (tsc -b, quick when `npm test` has just built).
    const pack = expectOk(
      await run(
        "npm",
        [
          "pack",
          "--workspace",
          "@effect-mcp/core",
          "--workspace",
          "@effect-mcp/node",
          "--pack-destination",
          scratch,
          "--json"
        ],
        repoRoot,
        120_000
      ),
      "npm pack"
    )
    packed = JSON.parse(pack.stdout)
    writeFileSync(
      path.join(scratch, "package.json"),
      JSON.stringify({ name: "scratch", private: true, type: "module" }, null, 2)
    )
    expectOk(
      await run(
        "npm",
        [
          "install",
          "--prefer-offline",
          "--no-audit",
          "--no-fund",
          ...packed.map((p) => `./${p.filename}`),
          locked("effect"),
          locked("@effect/platform"),
          locked("@effect/platform-node"),
          locked("@types/node")
        ],
        scratch,
        240_000
      ),
      "npm install"
    )
    cpSync(fixtures, scratch, { recursive: true })
  }, 360_000)

  afterAll(() => {
    if (scratch !== "") rmSync(scratch, { recursive: true, force: true })
  })

  it("ship dist only: JavaScript and declarations, no sources, no build info", () => {
    expect(packed.map((p) => p.name).sort()).toEqual(["@effect-mcp/core", "@effect-mcp/node"])
    for (const p of packed) {
      const files = p.files.map((f) => f.path)
      expect(files).toContain("package.json")
      expect(files).toContain("dist/index.js")
      expect(files).toContain("dist/index.d.ts")
      expect(files.filter((f) => !f.startsWith("dist/") && !/^(package\.json|README|LICENSE)/i.test(f))).toEqual([])
      expect(files.filter((f) => f.endsWith(".tsbuildinfo") || (f.endsWith(".ts") && !f.endsWith(".d.ts")))).toEqual([])
    }
  })

  it("run under plain node: serve a tool and call it with the library's client", async () => {
    const result = expectOk(await run(process.execPath, ["server.mjs"], scratch, 30_000), "node server.mjs")
    expect(result.stdout).toContain(`RESULT [{"type":"text","text":"5"}]`)
  }, 40_000)

  it("typecheck a consumer under a strict tsconfig with skipLibCheck off", async () => {
    const result = await run(process.execPath, [tsc, "-p", ".", "--pretty", "false"], scratch, 120_000)
    expect(`${result.stdout}${result.stderr}`).toBe("")
    expect(result.code).toBe(0)
  }, 130_000)
})
