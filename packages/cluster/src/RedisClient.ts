/**
 * The little of Redis the cluster uses, as a service of ours: send a command, run a script. `layer` provides it
 * over node-redis (`redis`); a test, or another backend speaking the same commands, can provide its own.
 *
 * It fails fast rather than waiting: the offline queue is off, so a command sent while the connection is down
 * fails at once, and every command has a deadline (`commandTimeout`), so a Redis that stopped answering (frozen,
 * paused, partitioned away) fails it within that time. The cluster decides what a failure means (503, never a
 * wrong 404); the client reconnects by itself.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createClient } from "redis"

/** A reply, as RESP2 gives it: a string, an integer, nil, or an array of replies. @since 0.1.0 */
export type Reply = string | number | null | ReadonlyArray<Reply>

/** Redis could not be reached in time, or it answered with an error. @since 0.1.0 */
export class RedisError extends Data.TaggedError("RedisError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * A Lua script, sent by its digest once Redis knows it (`EVALSHA`), in full otherwise. A read-only one goes as
 * `EVALSHA_RO` (Redis 7): a replica may serve it, and it is told apart from writes in Redis's command counts.
 *
 * @since 0.1.0
 */
export interface Script {
  readonly source: string
  readonly sha1: string
  readonly readOnly: boolean
}

/** A script from its source. @since 0.1.0 */
export const script = (source: string, options: { readonly readOnly?: boolean } = {}): Script => ({
  source,
  sha1: createHash("sha1").update(source).digest("hex"),
  readOnly: options.readOnly === true
})

/** @since 0.1.0 */
export interface RedisClientService {
  /** Sends one command (`["SET", key, value, "PX", "3000"]`) and gives its reply. */
  readonly send: (command: ReadonlyArray<string>) => Effect.Effect<Reply, RedisError>
  /** Runs a script with its keys and arguments. */
  readonly eval: (
    script: Script,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<string>
  ) => Effect.Effect<Reply, RedisError>
  /**
   * Hears a channel's messages for the caller's scope, on a connection of its own, subscribed again after every
   * reconnection (what is published while it is away is not heard). Publish with `send(["PUBLISH", ...])`.
   */
  readonly subscribe: (
    channel: string,
    onMessage: (message: string) => void
  ) => Effect.Effect<void, RedisError, Scope.Scope>
}

/**
 * The Redis the cluster uses.
 *
 * @since 0.1.0
 */
export class RedisClient extends Context.Tag("@effect-mcp/cluster/RedisClient")<RedisClient, RedisClientService>() {}

/**
 * A client from a way to send commands and one to subscribe: scripts go by digest, and in full the first time
 * Redis does not know it (after a restart, or a failover to a replica that never saw it).
 *
 * @since 0.1.0
 */
export const fromSend = (
  send: RedisClientService["send"],
  subscribe: RedisClientService["subscribe"]
): RedisClientService => ({
  send,
  subscribe,
  eval: (script, keys, args) => {
    const tail = [String(keys.length), ...keys, ...args]
    const suffix = script.readOnly ? "_RO" : ""
    return Effect.catchIf(
      send([`EVALSHA${suffix}`, script.sha1, ...tail]),
      (error) => error.reason.startsWith("NOSCRIPT"),
      () => send([`EVAL${suffix}`, script.source, ...tail])
    )
  }
})

/** @since 0.1.0 */
export interface Options {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  readonly url: string
  /** How long a command may take before it fails. Default 500 ms. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** How long the first connection may take before building the layer fails. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * For `rediss://`: the CA that signed the server's certificate, when it is not one Node trusts (a private CA),
   * and this client's own certificate and key, when Redis asks for one (`tls-auth-clients`). PEM text.
   */
  readonly tls?: TlsOptions | undefined
}

/** What a `rediss://` connection trusts and presents. @since 0.1.0 */
export interface TlsOptions {
  readonly ca?: string | undefined
  readonly cert?: string | undefined
  readonly key?: string | undefined
}

// Only what was given: node-redis merges these socket options with what the URL says (TLS on, host, port).
const tlsSocket = (tls: TlsOptions | undefined) => ({
  ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
  ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
  ...(tls?.key === undefined ? {} : { key: tls.key })
})

const replyOf = (value: unknown): Reply | RedisError => {
  if (value === null || typeof value === "string" || typeof value === "number") return value
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8")
  if (Array.isArray(value)) {
    const replies: Array<Reply> = []
    for (const item of value) {
      const reply = replyOf(item)
      if (reply instanceof RedisError) return reply
      replies.push(reply)
    }
    return replies
  }
  return new RedisError({ reason: `unexpected reply of type ${typeof value}` })
}

const messageOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/**
 * A node-redis client in the current scope: connected (or failed) within `connectTimeout`, closed with the scope.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<RedisClientService, RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = Duration.toMillis(Duration.decode(options.commandTimeout ?? Duration.millis(500)))
    const connectTimeout = Duration.decode(options.connectTimeout ?? Duration.seconds(5))
    const client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        ...tlsSocket(options.tls),
        connectTimeout: Math.max(timeout, 1000),
        // Keep trying, soon: a Redis that restarts should be found again within about a beat.
        reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 500)
      }
    })
    // node-redis reports every failed reconnection here; a command that fails says so to its caller.
    client.on("error", () => {})
    yield* Effect.addFinalizer(() => Effect.sync(() => client.destroy()))
    yield* Effect.tryPromise({
      try: () => client.connect(),
      catch: (cause) => new RedisError({ reason: `cannot connect to Redis: ${messageOf(cause)}`, cause })
    }).pipe(
      Effect.timeoutFail({
        duration: connectTimeout,
        onTimeout: () => new RedisError({ reason: `cannot connect to Redis within ${Duration.format(connectTimeout)}` })
      })
    )
    // node-redis's own command timeout covers only the wait to be sent: the deadline covers the reply too.
    const late = () => new RedisError({ reason: `Redis did not answer within ${timeout} ms` })
    const send = (command: ReadonlyArray<string>) =>
      Effect.tryPromise({
        try: () => client.sendCommand(command),
        catch: (cause) => new RedisError({ reason: messageOf(cause), cause })
      }).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: late }),
        Effect.flatMap((value) => {
          const reply = replyOf(value)
          return reply instanceof RedisError ? Effect.fail(reply) : Effect.succeed(reply)
        })
      )
    const subscribe = (channel: string, onMessage: (message: string) => void) =>
      Effect.gen(function*() {
        const subscriber = client.duplicate()
        subscriber.on("error", () => {})
        yield* Effect.addFinalizer(() => Effect.sync(() => subscriber.destroy()))
        yield* Effect.tryPromise({
          try: () => subscriber.connect().then(() => subscriber.subscribe(channel, onMessage)),
          catch: (cause) => new RedisError({ reason: `cannot subscribe to ${channel}: ${messageOf(cause)}`, cause })
        }).pipe(
          Effect.timeoutFail({
            duration: connectTimeout,
            onTimeout: () => new RedisError({ reason: `cannot subscribe to ${channel} within ${Duration.format(connectTimeout)}` })
          })
        )
      })
    // Connecting needs no credentials: a missing or refused one shows only at the first command, so at start-up.
    yield* Effect.mapError(
      send(["PING"]),
      (error) => new RedisError({ reason: `Redis refused this client: ${error.reason}`, cause: error })
    )
    return fromSend(send, subscribe)
  })

/**
 * The client as a layer over node-redis.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<RedisClient, RedisError> =>
  Layer.scoped(RedisClient, make(options))
