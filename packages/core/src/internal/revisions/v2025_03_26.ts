/**
 * 2025-03-26: Streamable HTTP (one endpoint, `Mcp-Session-Id`, resumable streams), and JSON-RPC batches, which
 * only this revision allows.
 * @internal
 */
import * as Methods from "../shared/methods.js"
import type { Revision } from "./revision.js"
import { v2024_11_05 } from "./v2024_11_05.js"

/** @internal */
export const v2025_03_26: Revision = {
  ...v2024_11_05,
  version: "2025-03-26",
  batches: true,
  ...Methods.step(v2024_11_05, "2025-03-26")
}
