// Prints vitest's JSON report as one plain line: "N passed, N failed" (and skipped, when any), then one line per
// failed test with the start of its error, so that the end of CI's log names what failed even when only the end
// of the log is kept.
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
    console.log(`  FAIL ${relative(process.cwd(), file.name)} > ${test.fullName}: ${why}`)
  }
}

function firstLines(message) {
  return String(message).split("\n").slice(0, 3).map((line) => line.trim()).join(" / ").slice(0, 400)
}
