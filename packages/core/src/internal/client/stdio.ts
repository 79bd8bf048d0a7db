/**
 * The stdio transport: a child process, one JSON-RPC message a line each way.
 *
 * @internal
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import type { Connection, Receiver, StdioOptions } from "./transport.js"
import { deliverText, encodeJson } from "./wire.js"

const DEFAULT_STDERR_TAIL = 4096
const DEFAULT_CLOSE_TIMEOUT = Duration.seconds(2)
/** How long, after the first sign of the end (stdout closed, exit), the others get to show up. */
const LINGER = Duration.seconds(1)

interface ExitStatus {
  readonly code: number | undefined
  readonly signal: string | undefined
}

const signalOf = (error: { readonly message: string }): string | undefined => /\bSIG[A-Z0-9]+\b/.exec(error.message)?.[0]

/** What is known of the server process's end, for the error that reports it. */
interface Ending {
  /** The last of its stderr. */
  readonly stderr: string
  readonly exitStatus: ExitStatus | undefined
  readonly writeFailure: unknown
}

/** A line that names a failure: `Error [ERR_...]: ...`, `ModuleNotFoundError: ...`, `fatal: ...`, a panic. */
const failureWords = /error|exception|fatal|panic/i
/** A frame of a stack trace (Node's `at ...`, Python's `File "..."`): it says where, not why. */
const stackFrame = /^\s+(at\s|File\s")/
const MAX_LINE = 300

/**
 * The line of a dead server's stderr that says why it died, for the error's message: the last line that names a
 * failure, preferring those that start at the margin (a trace's own line: Node's `Error [ERR_MODULE_NOT_FOUND]:
 * Cannot find package 'x'`, Python's `ModuleNotFoundError: ...`), stack frames and a runtime's sign-off after it
 * (`Node.js v20.20.2`) left out; else the last line. At most `MAX_LINE` characters.
 * @internal
 */
export const tellingLine = (stderr: string): string => {
  const lines = stderr.split(/\r?\n/).filter((line) => line.trim() !== "")
  const failures = lines.flatMap((line, i) => failureWords.test(line) && !stackFrame.test(line) ? [i] : [])
  const atMargin = failures.filter((i) => !/^\s/.test(lines[i]!))
  const index = atMargin.at(-1) ?? failures.at(-1) ?? lines.length - 1
  const line = lines[index]?.trim() ?? ""
  // A line that ends in a colon announces the next one (Rust's `panicked at src/main.rs:4:5:`, then the message).
  const next = lines[index + 1]
  const told = line.endsWith(":") && next !== undefined && !stackFrame.test(next) ? `${line} ${next.trim()}` : line
  return told.length > MAX_LINE ? `${told.slice(0, MAX_LINE)}…` : told
}

/** Why the connection to the server process `name` is lost: its exit, a failed write, or its stdout closed. */
const endError = (name: string, { exitStatus, stderr, writeFailure }: Ending): McpClientError => {
  const tail = stderr.trimEnd()
  const telling = tellingLine(tail)
  const details = {
    ...(tail === "" ? {} : { stderr: tail }),
    ...(exitStatus?.code === undefined ? {} : { exitCode: exitStatus.code }),
    ...(exitStatus?.signal === undefined ? {} : { signal: exitStatus.signal })
  }
  const said = telling === "" ? "" : ` (stderr: ${telling})`
  if (exitStatus !== undefined) {
    const how = exitStatus.code !== undefined
      ? `exited with code ${exitStatus.code}`
      : `was killed${exitStatus.signal === undefined ? "" : ` by ${exitStatus.signal}`}`
    return new McpClientError({
      reason: "ProcessExited",
      message: `The MCP server \`${name}\` ${how}${said}`,
      ...details
    })
  }
  if (writeFailure !== undefined) {
    return new McpClientError({
      reason: "Transport",
      message: `Could not write to the MCP server \`${name}\`${said}`,
      cause: writeFailure,
      ...details
    })
  }
  return new McpClientError({
    reason: "Transport",
    message: `The MCP server \`${name}\` closed its standard output${said}`,
    ...details
  })
}

/**
 * Whether the server process exits within `grace`: by itself (no signal), or after `signal`, which `kill` sends
 * to the process group (the server's own children too) and waits for the exit.
 */
const waitForExitOf = (inputs: {
  readonly process: CommandExecutor.Process
  readonly exited: Deferred.Deferred<void>
  readonly name: string
  readonly grace: Duration.Duration
}) =>
(signal: "SIGTERM" | "SIGKILL" | undefined): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const { exited, grace, name, process } = inputs
    if (yield* Deferred.isDone(exited)) return true
    if (signal !== undefined) {
      yield* Effect.logDebug(`MCP server \`${name}\` still running ${Duration.format(grace)} later: sending ${signal}`)
      yield* Effect.ignore(Effect.timeout(Effect.interruptible(process.kill(signal)), grace))
      return yield* Deferred.isDone(exited)
    }
    return Option.isSome(yield* Effect.timeoutOption(Effect.interruptible(Deferred.await(exited)), grace))
  })

/**
 * The stdio transport: spawns the server, writes newline-delimited JSON-RPC to its stdin and reads it from its
 * stdout. Its stderr is kept (the last `stderrTail` characters) for the errors, and logged at debug level when
 * asked. The process's end (exit, stdout closed, stdin broken) fails what is pending and what comes after, unless
 * the client closed it: then stdin is closed, and SIGTERM then SIGKILL follow, each after `closeTimeout`.
 * @internal
 */
export const make = (options: StdioOptions) =>
(receiver: Receiver): Effect.Effect<Connection, McpClientError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    const args = options.args ?? []
    const name = [options.command, ...args].join(" ")
    const grace = options.closeTimeout === undefined ? DEFAULT_CLOSE_TIMEOUT : Duration.decode(options.closeTimeout)
    const tailSize = options.stderrTail ?? DEFAULT_STDERR_TAIL

    const command = Command.make(options.command, ...args).pipe(
      options.env === undefined ? identity : Command.env(options.env),
      options.cwd === undefined ? identity : Command.workingDirectory(options.cwd)
    )
    const process = yield* Command.start(command).pipe(
      Effect.mapError((cause) =>
        new McpClientError({
          reason: "Transport",
          message: `Could not start the MCP server \`${name}\`: ${cause.message}`,
          cause
        })
      )
    )

    let closing = false
    let lost: McpClientError | undefined
    let exitStatus: ExitStatus | undefined
    let writeFailure: unknown
    let stderr = ""
    const stdoutEnded = yield* Deferred.make<void>()
    const stderrEnded = yield* Deferred.make<void>()
    const exited = yield* Deferred.make<void>()
    const writeFailed = yield* Deferred.make<void>()
    const closed = yield* Deferred.make<void>()

    // stdout: one message (or batch) a line; anything else is logged and skipped.
    yield* process.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => line.trim() === "" ? Effect.void : Effect.asVoid(deliverText(receiver, line))),
      Effect.catchAll((error) => Effect.logDebug(`MCP server \`${name}\`: reading stdout failed`, error)),
      Effect.ensuring(Deferred.succeed(stdoutEnded, undefined)),
      Effect.forkScoped
    )

    yield* process.stderr.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => {
        stderr = `${stderr}${line}\n`
        if (stderr.length > tailSize) stderr = stderr.slice(stderr.length - tailSize)
        return options.logStderr === true
          ? Effect.logDebug(line).pipe(Effect.annotateLogs({ mcpServer: name, stream: "stderr" }))
          : Effect.void
      }),
      Effect.ignore,
      Effect.ensuring(Deferred.succeed(stderrEnded, undefined)),
      Effect.forkScoped
    )

    yield* process.exitCode.pipe(
      Effect.match({
        onSuccess: (code): ExitStatus => ({ code, signal: undefined }),
        onFailure: (error): ExitStatus => ({ code: undefined, signal: signalOf(error) })
      }),
      Effect.flatMap((status) => {
        exitStatus = status
        return Deferred.succeed(exited, undefined)
      }),
      Effect.forkScoped
    )

    // stdin: `none` ends it, after what was queued before.
    const outbox = yield* Queue.unbounded<Option.Option<Uint8Array>>()
    yield* Stream.fromQueue(outbox).pipe(
      Stream.takeWhile(Option.isSome),
      Stream.filterMap(identity),
      Stream.run(process.stdin),
      Effect.catchAll((error) => {
        writeFailure = error
        return Deferred.succeed(writeFailed, undefined)
      }),
      Effect.forkScoped
    )

    // The first sign of the end; then the answers still in the pipe, the exit status and the last of stderr get
    // a moment to arrive, so the error says what happened.
    yield* Effect.raceAll([Deferred.await(stdoutEnded), Deferred.await(exited), Deferred.await(writeFailed)]).pipe(
      Effect.zipRight(
        Effect.ignore(Effect.timeout(Effect.zip(Deferred.await(stdoutEnded), Deferred.await(exited)), LINGER))
      ),
      Effect.zipRight(Effect.ignore(Effect.timeout(Deferred.await(stderrEnded), "200 millis"))),
      Effect.flatMap(() => {
        if (closing) return Effect.void
        lost = endError(name, { stderr, exitStatus, writeFailure })
        return receiver.disconnected(lost)
      }),
      Effect.forkScoped
    )

    // Close stdin (what was queued is written first), then SIGTERM, then SIGKILL. Uninterruptible as a whole (it is
    // a finalizer too); the waits inside are interruptible so that their timeouts work.
    const waitForExit = waitForExitOf({ process, exited, name, grace })
    const close = Effect.suspend(() => {
      if (closing) return Deferred.await(closed)
      closing = true
      return Queue.offer(outbox, Option.none()).pipe(
        Effect.zipRight(waitForExit(undefined)),
        Effect.flatMap((done) => done ? Effect.succeed(true) : waitForExit("SIGTERM")),
        Effect.flatMap((done) => done ? Effect.void : Effect.asVoid(waitForExit("SIGKILL"))),
        Effect.ensuring(Deferred.succeed(closed, undefined)),
        Effect.uninterruptible
      )
    })
    yield* Effect.addFinalizer(() => close)

    const encoder = new TextEncoder()
    const connection: Connection = {
      send: (message: JsonRpc.Message) =>
        Effect.suspend(() => {
          if (lost !== undefined) return Effect.fail(lost)
          if (closing) {
            return Effect.fail(
              new McpClientError({ reason: "Closed", message: `The MCP server \`${name}\` is being closed` })
            )
          }
          return encodeJson(message).pipe(
            Effect.flatMap((json) => Queue.offer(outbox, Option.some(encoder.encode(`${json}\n`)))),
            Effect.asVoid
          )
        }),
      close
    }
    return connection
  })
