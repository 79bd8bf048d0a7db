// Module hooks (see node20.mjs): inside @modelcontextprotocol/conformance, and its next version installed beside it
// as `conformance-next`, "fs" and "node:fs" resolve to fs.mjs, which is node:fs plus `globSync`. Every other
// importer keeps the real module.
const shim = new URL("./fs.mjs", import.meta.url).href
const conformance = /\/node_modules\/(@modelcontextprotocol\/conformance|conformance-next)\//

export const resolve = (specifier, context, nextResolve) =>
  (specifier === "fs" || specifier === "node:fs") && conformance.test(context.parentURL ?? "")
    ? { url: shim, shortCircuit: true }
    : nextResolve(specifier, context)
