/**
 * 2025-11-25: tool schemas in JSON Schema 2020-12 (SEP-1613), and SSE polling: streams open with a priming event
 * the client can resume from (SEP-1699).
 * @internal
 */
import * as Methods from "../shared/methods.js"
import type { Revision } from "./revision.js"
import { v2025_06_18 } from "./v2025_06_18.js"

/** @internal */
export const v2025_11_25: Revision = {
  ...v2025_06_18,
  version: "2025-11-25",
  jsonSchemaDialect: "2020-12",
  primingEvents: true,
  ...Methods.step(v2025_06_18, "2025-11-25")
}
