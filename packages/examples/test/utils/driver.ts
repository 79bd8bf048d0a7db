/**
 * Runs one of the examples' drivers (`soak/run.ts`, `attack/run.ts`) as its own process through tsx, as
 * `npm run soak` / `npm run attack` would, and returns its exit code and output.
 */
import { execFile } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

const examples = fileURLToPath(new URL("../../", import.meta.url))
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `script` (relative to packages/examples) with `args`; killed after 110 s. */
export const runDriver = (script: string, args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, script, ...args],
      { cwd: examples, timeout: 110_000, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
        resolve({ code, stdout, stderr })
      }
    )
  })
