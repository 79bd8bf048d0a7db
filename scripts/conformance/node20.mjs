// `node --import ./scripts/conformance/node20.mjs <conformance cli>`: lets @modelcontextprotocol/conformance
// (0.1.16, and 0.2.0-alpha.12 installed as `conformance-next`) run on Node 20.
//
// Its bundle does `import { globSync } from "fs"`, and `fs.globSync` arrived in Node 22. Named imports of a builtin
// are checked when the module links, before any of its code runs, and the ESM face of `fs` never gains names added
// to the CommonJS object later, so a `--require` polyfill cannot help: the import must resolve to a module that
// has the export. This registers a resolve hook that does that, for the conformance packages only.
import * as fs from "node:fs"
import { register } from "node:module"

// Node 22 and later have it: nothing to do.
if (!("globSync" in fs)) register("./hooks.mjs", import.meta.url)
