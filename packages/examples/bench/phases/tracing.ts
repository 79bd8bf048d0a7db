/**
 * Row 1t (`--traced`): what tracing costs. Row 1's load on a process of its own started with `--otel URL`, so
 * the server makes a span per request (and its handler's) and exports them over OTLP/HTTP; the URL is a sink in
 * this process on 127.0.0.1 that reads and drops what it is sent, so only the server's side of the export counts.
 * Set beside row 1, whose process has no tracer, it is the price of tracing on; row 1 itself is the proof that it
 * is free when off.
 */
import * as http from "node:http"
import type { LoadMetrics } from "../lib/load.js"
import type { Options } from "../lib/options.js"
import { type ServerSpec, startServer } from "../lib/servers.js"
import { benchStreamable } from "./calls.js"

/** An OTLP/HTTP collector that accepts everything and keeps nothing. */
const sink = async (): Promise<{ readonly url: string; readonly close: () => Promise<void> }> => {
  const server = http.createServer((request, response) => {
    request.resume()
    request.on("end", () => response.writeHead(200, { "content-type": "application/json" }).end("{}"))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("the sink has no TCP address")
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

export const benchTraced = async (spec: ServerSpec, options: Options): Promise<LoadMetrics> => {
  const collector = await sink()
  try {
    const server = await startServer({ ...spec, args: ["--otel", collector.url] }, options.startTimeoutMs)
    try {
      return await benchStreamable(server, options, performance.now() + options.phaseTimeoutMs)
    } finally {
      await server.stop()
    }
  } finally {
    await collector.close()
  }
}
