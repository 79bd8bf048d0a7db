/**
 * Sums the V8 CPU profiles a bench run wrote with `--cpu-prof DIR` (or any `.cpuprofile` files): self time by
 * function and by where the code comes from (node's own, a package, the project's own), as a share of the time
 * the process was not idle; then the project's own functions by total time (their callees included), which
 * tells which step of the request path the runtime's and the libraries' time is spent under.
 *
 * V8 samples wall time: a thread descheduled inside a system call (`writev`, `writeLatin1String`: the socket
 * writes, where loopback also runs the receiver's network stack) is counted as busy there, so on a loaded machine
 * those frames grow. They are therefore counted apart, and the shares are of the rest: the process's own work.
 *
 *   tsx packages/examples/bench/profile.ts DIR/effect-mcp [--top 40] [--under offer]
 *
 * `--under TEXT` keeps only the samples with a frame whose `name file:line` contains TEXT on their stack: where
 * the time under one step goes.
 *
 * A folder sums every profile in it (a server restarted mid-run writes one per process).
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** V8's pseudo-frames that are not work of the process. */
const IDLE = new Set(["(idle)", "(program)"])

/** Native frames that are one system call each: socket writes. */
const SYSCALLS = new Set(["writev", "writeLatin1String", "writeUtf8String", "writeBuffer", "writeAsciiString"])

/** Where a frame's code comes from: the package of a node_modules path, the project's own, or node's. */
const originOf = (url: string, name: string): string => {
  if (url === "") return name.startsWith("(") ? name : "(native)"
  if (url.startsWith("node:")) return "node:" + url.slice(5).split("/")[0]
  const modules = url.lastIndexOf("/node_modules/")
  if (modules >= 0) {
    const rest = url.slice(modules + 14).split("/")
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  const packages = /\/packages\/([^/]+)\//.exec(url)
  return packages === null ? path.basename(url) : `effect-mcp ${packages[1]}`
}

const shortUrl = (url: string): string => {
  const modules = url.lastIndexOf("/node_modules/")
  if (modules >= 0) return url.slice(modules + 14)
  const packages = url.indexOf("/packages/")
  return packages >= 0 ? url.slice(packages + 10) : url.replace(/^file:\/\//, "")
}

const profilesIn = (target: string): Array<string> =>
  statSync(target).isDirectory()
    ? readdirSync(target).filter((f) => f.endsWith(".cpuprofile")).map((f) => path.join(target, f))
    : [target]

const keyOf = (f: CallFrame): string => `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}`

const onStack = (
  leaf: number,
  nodes: ReadonlyMap<number, CallFrame>,
  parents: ReadonlyMap<number, number>,
  text: string
): boolean => {
  for (let at: number | undefined = leaf; at !== undefined; at = parents.get(at)) {
    const f = nodes.get(at)
    if (f !== undefined && keyOf(f).includes(text)) return true
  }
  return false
}

const main = (): void => {
  const { values, positionals } = parseArgs({
    options: { top: { type: "string", default: "40" }, under: { type: "string" } },
    allowPositionals: true
  })
  const under = values.under
  const top = Number(values.top)
  const byFunction = new Map<string, number>()
  const byOrigin = new Map<string, number>()
  const ownTotal = new Map<string, number>()
  let busy = 0
  let idle = 0
  let syscalls = 0
  const files = positionals.flatMap(profilesIn)
  if (files.length === 0) throw new Error("usage: profile.ts DIR|FILE.cpuprofile... [--top N]")
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile
    const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]))
    const parents = new Map<number, number>()
    for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id)
    profile.samples.forEach((id, i) => {
      const us = profile.timeDeltas[i] ?? 0
      const frame = nodes.get(id)
      if (frame === undefined) return
      if (IDLE.has(frame.functionName)) {
        idle += us
        return
      }
      if (frame.url === "" && SYSCALLS.has(frame.functionName)) {
        syscalls += us
        return
      }
      if (under !== undefined && !onStack(id, nodes, parents, under)) return
      busy += us
      const name = keyOf(frame)
      byFunction.set(name, (byFunction.get(name) ?? 0) + us)
      const origin = originOf(frame.url, frame.functionName)
      byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + us)
      // Each of the project's functions on the stack once, however deep it recurses.
      const seen = new Set<string>()
      for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
        const f = nodes.get(at)
        if (f === undefined || !originOf(f.url, f.functionName).startsWith("effect-mcp ")) continue
        const key = keyOf(f)
        if (seen.has(key)) continue
        seen.add(key)
        ownTotal.set(key, (ownTotal.get(key) ?? 0) + us)
      }
    })
  }
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1)}%`
  const table = (title: string, map: Map<string, number>, count: number) => {
    process.stdout.write(`\n| ${title} | self ms | share of busy |\n|---|--:|--:|\n`)
    for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, count)) {
      process.stdout.write(`| ${key.replace(/\|/g, "\\|")} | ${(us / 1000).toFixed(0)} | ${pct(us)} |\n`)
    }
  }
  process.stdout.write(
    `${files.length} profile(s): ${(busy / 1000).toFixed(0)} ms busy (the shares below are of this), ` +
      `${(syscalls / 1000).toFixed(0)} ms in socket writes, ${(idle / 1000).toFixed(0)} ms idle or in V8's (program)\n`
  )
  table("origin", byOrigin, 20)
  table("function (self time)", byFunction, top)
  table("the project's functions (total time, callees included)", ownTotal, top)
}

// Piped into `head`, the reader may go first: that is not an error of the summary.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error
})
main()
