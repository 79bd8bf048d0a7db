/**
 * The system packages the examples' tests start processes of: Debian's `chromium` (the MCP Apps browser test),
 * `redis-server` and `nginx` (the cluster tests). The examples project's `globalSetup` makes sure they are there
 * before any test runs, installing them with apt-get where that can work (root on Debian or Ubuntu), since an
 * install takes longer than a test may; elsewhere it stops at once saying what to install.
 */
import { commandPath, redisServerPath } from "../../../cluster/test/utils/redisServer.js"
import { nginxPath } from "../utils/nginx.js"

/** Chromium's executable: `CHROMIUM_PATH`, else Debian's `chromium` on PATH (installed first where it can be). */
export const chromiumPath = (): string => process.env["CHROMIUM_PATH"] ?? commandPath("chromium", ["chromium"])

/** Vitest's global setup. */
export const setup = (): void => {
  chromiumPath()
  redisServerPath()
  nginxPath()
}
