/**
 * 2025-06-18: batches removed; `MCP-Protocol-Version` on every request after `initialize`; structured tool
 * output and elicitation.
 * @internal
 */
import * as Methods from "../shared/methods.js"
import type { Revision } from "./revision.js"
import { v2025_03_26 } from "./v2025_03_26.js"

/** @internal */
export const v2025_06_18: Revision = {
  ...v2025_03_26,
  version: "2025-06-18",
  batches: false,
  ...Methods.step(v2025_03_26, "2025-06-18")
}
