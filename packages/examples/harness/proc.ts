/**
 * Reading processes from the outside through /proc (Linux only), so the servers under test need no
 * instrumentation.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"

/** A /proc file's text; undefined once the process is gone. */
export const readProc = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** Fields of /proc/<pid>/stat after `comm`, which may itself contain spaces and parens. */
export const statFields = (stat: string): Array<string> => stat.slice(stat.lastIndexOf(")") + 2).split(" ")

/** Field 22 of /proc/<pid>/stat: with the pid, identifies a process across pid reuse. */
export const startTime = (pid: number): string | undefined => {
  const stat = readProc(`/proc/${pid}/stat`)
  return stat === undefined ? undefined : statFields(stat)[19]
}

/** `root` and all its live descendants. */
export const processTree = (root: number): Array<number> => {
  const children = new Map<number, Array<number>>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const stat = readProc(`/proc/${entry}/stat`)
    if (stat === undefined) continue
    const ppid = Number(statFields(stat)[1])
    const siblings = children.get(ppid)
    if (siblings === undefined) children.set(ppid, [Number(entry)])
    else siblings.push(Number(entry))
  }
  const tree: Array<number> = []
  const queue = [root]
  while (queue.length > 0) {
    const pid = queue.pop()!
    if (!existsSync(`/proc/${pid}`)) continue
    tree.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return tree
}

/** VmRSS of one process, in KiB; undefined once it is gone. */
export const rssKiB = (pid: number): number | undefined => {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readProc(`/proc/${pid}/status`) ?? "")
  return match === null ? undefined : Number(match[1])
}

/** VmRSS and VmHWM (the peak RSS) of one process, in KiB; undefined once it is gone. */
export const memoryKiB = (pid: number): { readonly rss: number; readonly hwm: number } | undefined => {
  const status = readProc(`/proc/${pid}/status`) ?? ""
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
  return rss === null || hwm === null ? undefined : { rss: Number(rss[1]), hwm: Number(hwm[1]) }
}

/** This process's soft limit on open files, and how many it has open now. */
export const openFiles = (): { readonly limit: number; readonly open: number } => {
  const limits = /^Max open files\s+(\d+)/m.exec(readProc("/proc/self/limits") ?? "")
  return { limit: limits === null ? 1024 : Number(limits[1]), open: readdirSync("/proc/self/fd").length }
}
