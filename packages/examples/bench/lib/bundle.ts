/**
 * The bundled variant of a server for row 7: its entry and everything it imports in one ESM file, built with
 * esbuild (the bundler tsx already brings), so start-up and RSS can also be compared without the cost of
 * resolving and loading one file per module as npm installs them. All servers are bundled alike:
 * `--bundle --platform=node --format=esm --splitting`, with a banner that defines `require` (some dependencies call
 * it), written to `dist-bench/bundle/<name>/<name>.mjs` and started with plain `node`. Splitting keeps what a
 * server imports only on demand (`import()`: the demo's `--otel` and `--redis` machinery) in chunks of its own,
 * loaded when asked for, as a user's bundler with code splitting does. A .ts entry is compiled by esbuild
 * here, so its bundle runs without tsx.
 */
import { build } from "esbuild"
import { mkdirSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { ServerSpec } from "./servers.js"

const EXAMPLES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
export const BUNDLE_DIR = path.join(EXAMPLES_DIR, "dist-bench", "bundle")

/** ESM output has no `require`; bundled CommonJS dependencies that call it get node's. */
const REQUIRE_BANNER =
  'import { createRequire as __benchCreateRequire } from "node:module";\n' +
  "const require = __benchCreateRequire(import.meta.url);"

/** Bundles `spec`'s entry and returns the spec of the bundle (same name, the .mjs as entry). */
export const bundleServer = async (spec: ServerSpec): Promise<ServerSpec> => {
  mkdirSync(BUNDLE_DIR, { recursive: true })
  // A custom --entry NAME may hold characters a file name should not.
  const name = spec.name.replace(/[^\w.-]/g, "_")
  const outdir = path.join(BUNDLE_DIR, name)
  const outfile = path.join(outdir, `${name}.mjs`)
  try {
    await build({
      entryPoints: { [name]: spec.entry },
      outdir,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      splitting: true,
      platform: "node",
      format: "esm",
      banner: { js: REQUIRE_BANNER },
      logLevel: "silent"
    })
  } catch (error) {
    // esbuild's error lists every message; keep the first one for the report.
    const errors = (error as { errors?: ReadonlyArray<{ text: string; location?: { file: string; line: number } | null }> })
      .errors
    const first = errors?.[0]
    if (first !== undefined) {
      const where = first.location == null ? "" : `${first.location.file}:${first.location.line}: `
      throw new Error(`esbuild could not bundle ${spec.entry}: ${where}${first.text}`)
    }
    throw error
  }
  // Same node and transports: only the entry changes.
  const { prepare: _, ...rest } = spec
  return { ...rest, entry: outfile }
}
