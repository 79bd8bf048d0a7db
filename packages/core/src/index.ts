/**
 * effect-mcp core: the MCP protocol, server, sessions, HTTP transports and client on `@effect/platform`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Budget from "./Budget.js"
/** @since 0.1.0 */
export * as EventStore from "./EventStore.js"
/** @since 0.1.0 */
export * as HttpExchange from "./HttpExchange.js"
/** @since 0.1.0 */
export * as HttpSecurity from "./HttpSecurity.js"
/** @since 0.1.0 */
export * as HttpTransport from "./HttpTransport.js"
/** @since 0.1.0 */
export * as JsonRpc from "./JsonRpc.js"
/** @since 0.1.0 */
export * as JwtVerifier from "./JwtVerifier.js"
/** @since 0.1.0 */
export * as McpApp from "./McpApp.js"
/** @since 0.1.0 */
export * as McpAuth from "./McpAuth.js"
/** @since 0.1.0 */
export * as McpClient from "./McpClient.js"
/** @since 0.1.0 */
export * as McpClientAuth from "./McpClientAuth.js"
/** @since 0.1.0 */
export * as McpClientError from "./McpClientError.js"
/** @since 0.1.0 */
export * as McpClientHandlers from "./McpClientHandlers.js"
/** @since 0.1.0 */
export * as McpClientSkills from "./McpClientSkills.js"
/** @since 0.1.0 */
export * as McpClientTransport from "./McpClientTransport.js"
/** @since 0.1.0 */
export * as McpMethod from "./McpMethod.js"
/** @since 0.1.0 */
export * as McpMiddleware from "./McpMiddleware.js"
/** @since 0.1.0 */
export * as McpPrompt from "./McpPrompt.js"
/** @since 0.1.0 */
export * as McpRevision from "./McpRevision.js"
/** @since 0.1.0 */
export * as McpResource from "./McpResource.js"
/** @since 0.1.0 */
export * as McpSchema from "./McpSchema.js"
/** @since 0.1.0 */
export * as McpServer from "./McpServer.js"
/** @since 0.1.0 */
export * as McpServerTransport from "./McpServerTransport.js"
/** @since 0.1.0 */
export * as McpSession from "./McpSession.js"
/** @since 0.1.0 */
export * as McpSkill from "./McpSkill.js"
/** @since 0.1.0 */
export * as McpTask from "./McpTask.js"
/** @since 0.1.0 */
export * as McpTelemetry from "./McpTelemetry.js"
/** @since 0.1.0 */
export * as McpTest from "./McpTest.js"
/** @since 0.1.0 */
export * as McpTool from "./McpTool.js"
/** @since 0.1.0 */
export * as McpVisibility from "./McpVisibility.js"
/** @since 0.1.0 */
export * as SessionRegistry from "./SessionRegistry.js"
/** @since 0.1.0 */
export * as Sse from "./Sse.js"
/** @since 0.1.0 */
export * as SseTransport from "./SseTransport.js"
/** @since 0.1.0 */
export * as StreamableHttpTransport from "./StreamableHttpTransport.js"
/** @since 0.1.0 */
export * as StdioTransport from "./StdioTransport.js"
/** @since 0.1.0 */
export * as PlatformHttpTransport from "./PlatformHttpTransport.js"
/** @since 0.1.0 */
export * as TokenStore from "./TokenStore.js"
/** @since 0.1.0 */
export * as WebHandler from "./WebHandler.js"
