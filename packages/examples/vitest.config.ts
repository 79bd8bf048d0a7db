import { defineProject } from "vitest/config"
import { alias } from "../../vitest.shared.js"

export default defineProject({
  resolve: { alias },
  test: {
    name: "examples",
    include: ["test/**/*.test.ts"],
    // chromium, redis-server and nginx, installed (where they can be) before any test runs.
    globalSetup: ["test/setup/system.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // After the other projects, not beside them: the packaging test's npm install and tsc would take CPU from
    // their timing checks (shutdown within a second) on a 2-core machine.
    sequence: { groupOrder: 1 }
  }
})
