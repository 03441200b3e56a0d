import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ControlPlaneError } from "../errors.ts";
import { type BodyType, readBody, validate } from "./body.ts";

/** The body reader behind a bare Hono app: what it refuses, and that it reads once. */
function app(type: BodyType, maxBytes: number) {
  const a = new Hono();
  a.post("/", async (c) => {
    const first = await readBody(c, type, maxBytes);
    const again = await readBody(c, type, maxBytes);
    return c.json({ body: first, same: first === again });
  });
  a.onError((error, c) =>
    error instanceof ControlPlaneError
      ? c.json({ code: error.code, message: error.message }, 400)
      : c.json({ code: "other" }, 500),
  );
  return a;
}

const post = (
  a: Hono,
  body: string | ReadableStream<Uint8Array>,
  headers: Record<string, string>,
) => a.request("/", { method: "POST", body, headers, duplex: "half" } as RequestInit);

/** A body without a declared length, streamed in chunks: blanks, then the JSON number 1. */
const stream = (chunks: number, size: number) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < chunks; i++) controller.enqueue(new Uint8Array(size).fill(0x20));
      controller.enqueue(new Uint8Array([0x31]));
      controller.close();
    },
  });

describe("readBody", () => {
  it("parses JSON once and shares it", async () => {
    const res = await post(app("json", 100), '{"a":1}', { "content-type": "application/json" });
    expect(await res.json()).toEqual({ body: { a: 1 }, same: true });
  });

  it.each([
    ["no content type", "json", {}, "expected content-type application/json"],
    ["text/plain", "json", { "content-type": "text/plain" }, "expected content-type"],
    ["JSON to a form route", "form", { "content-type": "application/json" }, "expected a form"],
  ] as const)("refuses %s", async (_, type, headers, message) => {
    const res = await post(app(type, 100), '{"a":1}', headers);
    expect(await res.json()).toMatchObject({
      code: "unsupported_media_type",
      message: expect.stringContaining(message),
    });
  });

  it("refuses a body that is not JSON", async () => {
    const res = await post(app("json", 100), "{nope", { "content-type": "application/json" });
    expect(await res.json()).toMatchObject({
      code: "invalid_request",
      message: "the body is not JSON",
    });
  });

  it("refuses an oversized body by its declared length and while streaming", async () => {
    const json = { "content-type": "application/json" };
    const declared = await post(app("json", 10), `"${"x".repeat(20)}"`, json);
    expect(await declared.json()).toMatchObject({ code: "payload_too_large" });
    const streamed = await post(app("json", 1000), stream(64, 100), json);
    expect(await streamed.json()).toMatchObject({ code: "payload_too_large" });
    const within = await post(app("json", 1000), stream(4, 100), json);
    expect(await within.json()).toEqual({ body: 1, same: true });
  });

  it("reads an urlencoded form into strings, the last of repeated fields winning", async () => {
    const res = await post(app("form", 100), "csrf=t&note=a+b&note=c", {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(await res.json()).toEqual({ body: { csrf: "t", note: "c" }, same: true });
  });
});

describe("validate", () => {
  const message = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      expect(error).toBeInstanceOf(ControlPlaneError);
      return (error as ControlPlaneError).message;
    }
    throw new Error("no error");
  };
  const Tenant = z.object({ tenant: z.string().regex(/^[a-z]+$/) });

  it("names a bad path parameter only", () => {
    expect(message(() => validate(Tenant, { tenant: "A_B" }, "params"))).toBe("invalid tenant");
  });

  it("names a form field and its problem", () => {
    expect(message(() => validate(Tenant, {}, "form"))).toMatch(/^the tenant field: /);
  });

  it("prefixes a protocol message's name, or answers with a fixed message", () => {
    expect(message(() => validate(Tenant, {}, "body", "poll request"))).toMatch(
      /^poll request is invalid:\n.*tenant/s,
    );
    expect(message(() => validate(Tenant, {}, "body", "expected x", true))).toBe("expected x");
    expect(validate(Tenant, { tenant: "ok" }, "query")).toEqual({ tenant: "ok" });
  });
});
