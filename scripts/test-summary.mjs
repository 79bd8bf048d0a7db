// Prints vitest's JSON report as one plain line: "N passed, N failed" (and skipped, when any), then one line per
// failed test with how long it ran and the start of its error, so that the end of CI's log names what failed even
// when only the end of the log is kept.
import { readFileSync } from "node:fs"
import { relative } from "node:path"

const report = JSON.parse(readFileSync(process.argv[2], "utf8"))
const skipped = report.numPendingTests + report.numTodoTests
console.log(
  `${report.numPassedTests} passed, ${report.numFailedTests} failed` + (skipped > 0 ? `, ${skipped} skipped` : "")
)
for (const file of report.testResults ?? []) {
  const failed = (file.assertionResults ?? []).filter((test) => test.status === "failed")
  // A file that failed to load has no failed test, only a message of its own.
  if (failed.length === 0 && file.status === "failed" && file.message) {
    console.log(`  FAIL ${relative(process.cwd(), file.name)}: ${firstLines(file.message)}`)
  }
  for (const test of failed) {
    const why = (test.failureMessages ?? []).map(firstLines).join(" | ")
    const after = typeof test.duration === "number" ? ` (after ${(test.duration / 1000).toFixed(1)} s)` : ""
    console.log(`  FAIL ${relative(process.cwd(), file.name)} > ${test.fullName}${after}: ${why}`)
  }
}

/**
 * The message's first line and the first place in the project's own code it names (a timeout's message names only
 * vitest's internals, then the test's line).
 */
function firstLines(message) {
  const lines = String(message).split("\n").map((line) => line.trim())
  const own = lines.slice(1).find((line) => line.startsWith("at ") && line.includes("/packages/") && !line.includes("node_modules"))
  return [lines[0], ...(own === undefined ? [] : [own])].join(" / ").slice(0, 400)
}
