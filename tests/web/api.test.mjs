// The pages' API client: the API's one error shape, a proxy's HTML page and a lost connection
// all arrive as ApiError with a status and a code the views can act on.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, apiRequest, newIdempotencyKey } from "../../appliance/web/src/shared/api.js";

/** @type {any} */ (globalThis).window = { location: { origin: "https://einwilligung.example" } };

/** @param {() => Promise<Response>} answer */
function serve(answer) {
  /** @type {{url: string, init: RequestInit}[]} */
  const seen = [];
  globalThis.fetch = /** @type {any} */ (async (/** @type {URL} */ url, /** @type {RequestInit} */ init) => {
    seen.push({ url: String(url), init });
    return answer();
  });
  return seen;
}

test("JSON in and out, same origin, no credentials, no cache", async () => {
  const seen = serve(async () => new Response(JSON.stringify({ status: "SIGNED" }), { status: 200 }));
  const answer = await apiRequest("POST", "/api/consent/abc/submit", { body: { a: 1 }, query: { locale: "en", no: undefined } });
  assert.deepEqual(answer, { status: "SIGNED" });
  assert.equal(seen[0].url, "https://einwilligung.example/api/consent/abc/submit?locale=en");
  assert.equal(seen[0].init.body, '{"a":1}');
  assert.equal(seen[0].init.credentials, "omit");
  assert.equal(seen[0].init.cache, "no-store");
});

test("the API's error shape becomes an ApiError with its code, details and request id", async () => {
  serve(async () => new Response(JSON.stringify({
    error: { code: "consent_expired", message: "this consent link has expired", details: [{ field: "x" }] },
    requestId: "req-1",
  }), { status: 410 }));
  const error = await apiRequest("GET", "/api/consent/abc").catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.deepEqual([error.status, error.code, error.requestId], [410, "consent_expired", "req-1"]);
  assert.deepEqual(error.details, [{ field: "x" }]);
});

test("a proxy's HTML error page and a rate limit keep their status", async () => {
  serve(async () => new Response("<html>Bad Gateway</html>", { status: 502, statusText: "Bad Gateway" }));
  const gateway = await apiRequest("GET", "/api/consent/abc").catch((e) => e);
  assert.deepEqual([gateway.status, gateway.code], [502, "http_error"]);
  serve(async () => new Response(JSON.stringify({ error: { code: "rate_limited", message: "slow down" } }),
    { status: 429, headers: { "Retry-After": "17" } }));
  const limited = await apiRequest("GET", "/api/consent/abc").catch((e) => e);
  assert.deepEqual([limited.status, limited.code, limited.retryAfter], [429, "rate_limited", 17]);
});

test("no answer at all is status 0", async () => {
  serve(async () => { throw new TypeError("Failed to fetch"); });
  const lost = await apiRequest("GET", "/api/consent/abc").catch((e) => e);
  assert.deepEqual([lost.status, lost.code], [0, "network_error"]);
});

test("with an idempotency key, a request whose answer was lost goes once more with the same key", async () => {
  let calls = 0;
  const seen = serve(async () => {
    calls += 1;
    if (calls === 1) throw new TypeError("Failed to fetch");
    return new Response(JSON.stringify({ status: "SIGNED" }), { status: 200 });
  });
  const key = newIdempotencyKey();
  assert.match(key, /^[A-Za-z0-9_-]{24}$/);
  assert.notEqual(newIdempotencyKey(), key);
  const answer = await apiRequest("POST", "/api/consent/abc/submit", { body: {}, idempotencyKey: key });
  assert.deepEqual(answer, { status: "SIGNED" });
  assert.deepEqual(seen.map((s) => /** @type {any} */ (s.init.headers)["Idempotency-Key"]), [key, key]);
});

test("without a key, or after a real answer, nothing is sent twice", async () => {
  const lost = serve(async () => { throw new TypeError("Failed to fetch"); });
  await apiRequest("POST", "/api/consent/abc/submit", { body: {} }).catch((e) => e);
  assert.equal(lost.length, 1);
  const refused = serve(async () => new Response(JSON.stringify({ error: { code: "already_submitted", message: "" } }),
    { status: 409 }));
  const error = await apiRequest("POST", "/api/consent/abc/submit", { body: {}, idempotencyKey: newIdempotencyKey() })
    .catch((e) => e);
  assert.deepEqual([error.status, refused.length], [409, 1]);
  const gone = serve(async () => { throw new TypeError("Failed to fetch"); });
  const twice = await apiRequest("POST", "/x", { body: {}, idempotencyKey: newIdempotencyKey() }).catch((e) => e);
  assert.deepEqual([twice.status, gone.length], [0, 2]);
});
