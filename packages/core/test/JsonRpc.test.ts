import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as JsonRpc from "../src/JsonRpc.js"

const errorOf = <A>(result: Either.Either<A, JsonRpc.JsonRpcError>): JsonRpc.JsonRpcError => {
  if (Either.isRight(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.right)}`)
  return result.left
}

const valueOf = <A>(result: Either.Either<A, JsonRpc.JsonRpcError>): A => {
  if (Either.isLeft(result)) throw new Error(`expected a success, got ${result.left.message}`)
  return result.right
}

const single = (body: string): JsonRpc.Message => {
  const decoded = valueOf(JsonRpc.decodeBody(body))
  if (decoded._tag !== "Single") throw new Error("expected a single message")
  return decoded.message
}

describe("JsonRpc", () => {
  describe("decodeBody: -32700", () => {
    it.each([
      ["empty body", ""],
      ["truncated object", "{\"jsonrpc\":\"2.0\",\"id\":1,"],
      ["bare word", "hello"],
      ["trailing garbage", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x"],
      ["single quotes", "{'jsonrpc':'2.0'}"]
    ])("%s", (_, body) => {
      const error = errorOf(JsonRpc.decodeBody(body))
      expect(error.code).toBe(JsonRpc.ErrorCode.ParseError)
      expect(error.code).toBe(-32700)
    })
  })

  describe("decodeBody: -32600", () => {
    it.each([
      ["a number", "42"],
      ["a string", "\"ping\""],
      ["null", "null"],
      ["true", "true"],
      ["no jsonrpc", "{\"id\":1,\"method\":\"ping\"}"],
      ["jsonrpc 1.0", "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}"],
      ["jsonrpc as a number", "{\"jsonrpc\":2,\"id\":1,\"method\":\"ping\"}"],
      ["method not a string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}"],
      ["id an object", "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}"],
      ["id an array", "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}"],
      ["id null on a request", "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}"],
      ["id a boolean", "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}"],
      ["result without id", "{\"jsonrpc\":\"2.0\",\"result\":{}}"],
      ["result with null id", "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}"],
      ["error without a code", "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"x\"}}"],
      ["error not an object", "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}"],
      ["error with a string code", "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"-1\",\"message\":\"x\"}}"],
      // Found by HostileInput.test.ts: a client built its error from the missing message and died.
      ["error without a message", "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1}}"],
      ["both result and error", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":-1,\"message\":\"x\"}}"],
      ["neither method, result nor error", "{\"jsonrpc\":\"2.0\",\"id\":1}"],
      ["empty batch", "[]"]
    ])("%s", (_, body) => {
      const error = errorOf(JsonRpc.decodeBody(body))
      expect(error.code).toBe(JsonRpc.ErrorCode.InvalidRequest)
      expect(error.code).toBe(-32600)
    })

    it("an id that is not a finite number", () => {
      // JSON cannot carry NaN or Infinity, but decodeMessage also serves already-parsed values.
      expect(errorOf(JsonRpc.decodeMessage({ jsonrpc: "2.0", id: Number.NaN, method: "ping" })).code).toBe(-32600)
      expect(errorOf(JsonRpc.decodeMessage({ jsonrpc: "2.0", id: Infinity, method: "ping" })).code).toBe(-32600)
    })

    it("an array is not a message (only a body may be a batch)", () => {
      expect(errorOf(JsonRpc.decodeMessage([{ jsonrpc: "2.0", method: "ping" }])).code).toBe(-32600)
    })
  })

  describe("classification", () => {
    it("request: a method and an id (string or number, including 0)", () => {
      for (const id of [1, 0, -3, 1.5, "abc", ""]) {
        const message = single(JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list" }))
        expect(JsonRpc.isRequest(message)).toBe(true)
        expect(JsonRpc.isNotification(message)).toBe(false)
        expect(JsonRpc.isResponse(message)).toBe(false)
        expect(message).toEqual({ jsonrpc: "2.0", id, method: "tools/list" })
      }
    })

    it("request params stay undecoded", () => {
      const params = { name: "echo", arguments: { text: "hi" }, extra: [1, 2] }
      const message = single(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params }))
      expect(JsonRpc.isRequest(message)).toBe(true)
      expect(message).toEqual({ jsonrpc: "2.0", id: 1, method: "tools/call", params })
    })

    it("notification: a method without an id", () => {
      const message = single("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}")
      expect(JsonRpc.isNotification(message)).toBe(true)
      expect(JsonRpc.isRequest(message)).toBe(false)
      expect(JsonRpc.isResponse(message)).toBe(false)
    })

    it("success response", () => {
      const message = single("{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"result\":{\"ok\":true}}")
      expect(JsonRpc.isResponse(message)).toBe(true)
      expect(JsonRpc.isRequest(message)).toBe(false)
      expect(JsonRpc.isNotification(message)).toBe(false)
      expect(Schema.is(JsonRpc.Success)(message)).toBe(true)
    })

    it("error response, with a null id when the request could not be read", () => {
      for (const id of [7, "x", null]) {
        const message = single(JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32601, message: "nope" } }))
        expect(JsonRpc.isResponse(message)).toBe(true)
        expect(Schema.is(JsonRpc.Failure)(message)).toBe(true)
      }
    })

    it("a batch classifies each element on its own", () => {
      const decoded = valueOf(JsonRpc.decodeBody(JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "ping" },
        { jsonrpc: "2.0", method: "notifications/initialized" },
        { jsonrpc: "1.0", id: 2, method: "ping" },
        42,
        { jsonrpc: "2.0", id: 3, result: {} }
      ])))
      expect(decoded._tag).toBe("Batch")
      if (decoded._tag !== "Batch") return
      expect(decoded.messages.map((m) => Either.isRight(m) ? "ok" : m.left.code)).toEqual([
        "ok",
        "ok",
        -32600,
        -32600,
        "ok"
      ])
      const [request, notification, , , response] = decoded.messages.map(Either.getOrUndefined)
      expect(request !== undefined && JsonRpc.isRequest(request)).toBe(true)
      expect(notification !== undefined && JsonRpc.isNotification(notification)).toBe(true)
      expect(response !== undefined && JsonRpc.isResponse(response)).toBe(true)
    })

    it("the hand-written classifier agrees with the Message schema on valid messages", () => {
      const messages: ReadonlyArray<unknown> = [
        { jsonrpc: "2.0", id: 1, method: "ping" },
        { jsonrpc: "2.0", id: "a", method: "x", params: { a: 1 } },
        { jsonrpc: "2.0", method: "n" },
        { jsonrpc: "2.0", id: 2, result: null },
        { jsonrpc: "2.0", id: null, error: { code: -1, message: "m", data: [1] } }
      ]
      for (const message of messages) {
        expect(Either.isRight(JsonRpc.decodeMessage(message))).toBe(true)
        expect(Schema.is(JsonRpc.Message)(message)).toBe(true)
      }
    })
  })

  describe("constructors", () => {
    it("failure drops the tag and an absent data field", () => {
      expect(JsonRpc.failure(1, JsonRpc.methodNotFound("x/y"))).toEqual({
        jsonrpc: "2.0",
        id: 1,
        error: { code: -32601, message: "Method not found: x/y" }
      })
      const withData = new JsonRpc.JsonRpcError({ code: -32002, message: "missing", data: { uri: "a://b" } })
      expect(JsonRpc.failure(null, withData).error).toEqual({ code: -32002, message: "missing", data: { uri: "a://b" } })
    })

    it("error codes", () => {
      expect(JsonRpc.parseError().code).toBe(-32700)
      expect(JsonRpc.invalidRequest().code).toBe(-32600)
      expect(JsonRpc.methodNotFound("m").code).toBe(-32601)
      expect(JsonRpc.invalidParams("p").code).toBe(-32602)
      expect(JsonRpc.internalError().code).toBe(-32603)
    })

    it("notification and request omit absent params", () => {
      expect(JsonRpc.notification("a")).toEqual({ jsonrpc: "2.0", method: "a" })
      expect("params" in JsonRpc.notification("a")).toBe(false)
      expect(JsonRpc.request(1, "b", { x: 1 })).toEqual({ jsonrpc: "2.0", id: 1, method: "b", params: { x: 1 } })
      expect("params" in JsonRpc.request(1, "b")).toBe(false)
    })
  })

  describe("paramsDecoder", () => {
    const decode = JsonRpc.paramsDecoder(Schema.Struct({ name: Schema.String }))

    it("decodes valid params and treats absent params as {}", () => {
      expect(valueOf(decode({ name: "x" }))).toEqual({ name: "x" })
      const missing = errorOf(decode(undefined))
      expect(missing.code).toBe(-32602)
      expect(missing.message).toContain("name")
    })

    it("answers -32602 naming the problem", () => {
      const error = errorOf(decode({ name: 5 }))
      expect(error.code).toBe(-32602)
      expect(error.message).toMatch(/^Invalid params: /)
      expect(error.message).toContain("name")
    })
  })
})
