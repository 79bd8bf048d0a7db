/**
 * effect-mcp cluster: many instances of one server behind any load balancer, sessions owned per instance,
 * requests relayed to the owner, leases on Redis.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as McpCluster from "./McpCluster.js"
/** @since 0.1.0 */
export * as RedisClient from "./RedisClient.js"
