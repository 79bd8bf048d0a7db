/**
 * effect-mcp for Node.js: the HTTP server layer, the client's Node wiring and runtime wiring.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as NodeMcpClient from "./NodeMcpClient.js"
/** @since 0.1.0 */
export * as NodeMcpClientAuth from "./NodeMcpClientAuth.js"
/** @since 0.1.0 */
export * as NodeMcpServer from "./NodeMcpServer.js"

/** @since 0.1.0 */
export * as NodeMcpStdio from "./NodeMcpStdio.js"

/** @since 0.1.0 */
export * as NodeExchange from "./NodeExchange.js"
