/**
 * Running one of the repository's check scripts (`scripts/*.mjs`) as CI does, on the repository or on a scratch
 * tree of files a test writes.
 */
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"

/** The repository's root. */
export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `scripts/<name>` with `args` under this Node. */
export const runScript = (name: string, args: ReadonlyArray<string>, timeout = 10_000): Promise<Run> =>
  new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, "scripts", name), ...args], { timeout }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })

/**
 * A scratch folder for the test file, removed after its tests; the function writes `files` (paths relative to a
 * fresh root named `name` in it) and returns that root.
 */
export const scratchTrees = (prefix: string) => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), prefix))
  afterAll(() => rmSync(scratch, { recursive: true, force: true }))
  return (name: string, files: Readonly<Record<string, string>>): string => {
    const root = path.join(scratch, name)
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
      writeFileSync(path.join(root, file), text)
    }
    return root
  }
}
