/**
 * Shared by every package's vitest.config.ts: tests run against the TypeScript sources, never dist/.
 *
 * The packages' `exports` point at dist/ (what users install), so without this a test that imports
 * `../src/JsonRpc.js` and, through `@effect-mcp/node`, `@effect-mcp/core/JsonRpc` would load two copies of the
 * module, and `JsonRpcError` (or any tag or class) from one would not be the one from the other. Mapping every
 * `@effect-mcp/<package>` and `@effect-mcp/<package>/<Module>` to `packages/<package>/src/<Module>.ts` gives one
 * module instance per source file, and no build is needed before the tests. A new package needs nothing here
 * as long as its folder is named like the package (`@effect-mcp/foo` in packages/foo).
 *
 * An alias rather than a custom export condition (e.g. "source" in package.json): the mapping stays in the test
 * setup and does not ship in the published package.json, where it would point at files the tarball leaves out.
 */
import { fileURLToPath } from "node:url"
import type { UserConfig } from "vitest/config"

const packages = fileURLToPath(new URL("./packages/", import.meta.url))

export const alias: NonNullable<NonNullable<UserConfig["resolve"]>["alias"]> = [
  { find: /^@effect-mcp\/([\w-]+)$/, replacement: `${packages}$1/src/index.ts` },
  { find: /^@effect-mcp\/([\w-]+)\/(.+)$/, replacement: `${packages}$1/src/$2.ts` }
]
