/** Vitest's global setup for the cluster's tests: `redis-server` on PATH, installed first where it can be. */
import { redisServerPath } from "./utils/redisServer.js"

export const setup = (): void => {
  redisServerPath()
}
