import { defineProject } from "vitest/config"
import { alias } from "../../vitest.shared.js"

export default defineProject({
  resolve: { alias },
  test: {
    name: "cluster",
    include: ["test/**/*.test.ts"],
    // redis-server, installed (where it can be) before any test runs: an install takes longer than a test may.
    globalSetup: ["test/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
