// The staff app's pure modules: routes and role rules, what errors say, the idle lock, the
// QR code, decrypting a page of names in batches, the countersignature document.
import assert from "node:assert/strict";
import { test } from "node:test";
import qrcode from "qrcode-generator";
import { countersignatureDocument } from "../../appliance/web/src/staff/countersign-view.js";
import { IdleTimer } from "../../appliance/web/src/staff/idle.js";
import { displayName, openPatients } from "../../appliance/web/src/staff/patient-names.js";
import { problemOf } from "../../appliance/web/src/staff/problems.js";
import { qrPath } from "../../appliance/web/src/staff/qr.js";
import { mayCountersign, matchRoute, roleMayOpen } from "../../appliance/web/src/staff/router.js";
import { ApiError } from "../../appliance/web/src/shared/api.js";
import { KeyMismatch, VaultLocked } from "../../appliance/web/src/crypto/errors.js";

test("routes: the server's staff paths, ids decoded, anything else not found", () => {
  assert.deepEqual(matchRoute("/"), { name: "home", params: {} });
  assert.deepEqual(matchRoute("/patients/"), { name: "patients", params: {} });
  assert.deepEqual(matchRoute("/patients/new"), { name: "patientNew", params: {} });
  assert.deepEqual(matchRoute("/consents/6f3b0c2e-4c1a-4f7e-9d2b-8a5e1c0f7d31"),
    { name: "consent", params: { id: "6f3b0c2e-4c1a-4f7e-9d2b-8a5e1c0f7d31" } });
  assert.deepEqual(matchRoute("/invite/a%2Db"), { name: "invite", params: { token: "a-b" } });
  assert.equal(matchRoute("/patients/1/2").name, "notFound");
  assert.equal(matchRoute("/api/patients").name, "notFound");
});

test("roles: EMPFANG is not offered what the API refuses it; ARZT and ADMIN countersign", () => {
  for (const view of ["patients", "patient", "consents", "consentNew", "consent"]) {
    assert.equal(roleMayOpen(view, "EMPFANG"), false, view);
    assert.equal(roleMayOpen(view, "ARZT"), true, view);
  }
  assert.equal(roleMayOpen("home", "EMPFANG"), true);
  assert.deepEqual(["ADMIN", "ARZT", "EMPFANG", null].map(mayCountersign), [true, true, false, false]);
});

test("problems: lockout with minutes to wait, rate limits, wrong vault password, network", () => {
  const locked = new ApiError(429, "account_locked", "locked", { retryAfterSeconds: 601 }, "r", 601);
  assert.deepEqual(problemOf(locked), { key: "problem.locked", params: { minutes: 11 } });
  assert.deepEqual(problemOf(new ApiError(429, "rate_limited", "slow", null, "r", 42)),
    { key: "problem.rateLimited", params: { seconds: 42 } });
  assert.deepEqual(problemOf(new ApiError(401, "invalid_credentials", "no")), { key: "problem.invalidCredentials" });
  assert.deepEqual(problemOf(new ApiError(0, "network_error", "down")), { key: "problem.network" });
  assert.deepEqual(problemOf(new ApiError(500, "internal", "x", null, "req-9")),
    { key: "problem.unexpected", params: { requestId: "req-9" } });
  assert.deepEqual(problemOf(new VaultLocked()), { key: "problem.wrongVaultPassword" });
  assert.deepEqual(problemOf(new KeyMismatch("x")), { key: "problem.keyMismatch" });
});

test("idle lock: fires once after the limit without input, input postpones it", () => {
  let now = 0;
  /** @type {{fn: (() => void) | null}} */
  const tick = { fn: null };
  let locks = 0;
  const timer = new IdleTimer(15, () => { locks += 1; }, {
    now: () => now, every: (fn) => { tick.fn = fn; return 1; }, stop: () => { tick.fn = null; },
  });
  timer.start();
  now = 14 * 60000;
  tick.fn?.();
  timer.touch();
  now = 28 * 60000;
  tick.fn?.();
  assert.equal(locks, 0);
  now = 29 * 60000 + 1;
  tick.fn?.();
  assert.equal(locks, 1);
  assert.equal(tick.fn, null, "stopped after locking");
});

test("QR code: one SVG path of exactly the library's dark modules, with a quiet zone", () => {
  const link = "https://consent.example.test/consent/q3X8nV0c7sJ2mRk5tLw9yPzA1bC4dE6fG8hI0jK2lMn#k=AAAAAAAAAAAAAAAAAAAAAA";
  const { size, path } = qrPath(link);
  const code = qrcode(0, "M");
  code.addData(link, "Byte");
  code.make();
  const count = code.getModuleCount();
  assert.equal(size, count + 8);
  let dark = 0;
  for (let r = 0; r < count; r += 1) for (let c = 0; c < count; c += 1) if (code.isDark(r, c)) dark += 1;
  assert.equal(path.split("M").length - 1, dark);
  assert.match(path, /^M4 4h1v1h-1z/, "the finder pattern's corner, inside the quiet zone");
});

test("names open one by one and reach the view in batches; a failed record says so", async () => {
  const patients = Array.from({ length: 23 }, (_, i) => ({ id: `p${i}`, signature: i === 5 ? null : "sig" }));
  /** @type {number[]} */
  const updates = [];
  const opened = await openPatients(async (_op, patient) => {
    if (/** @type {{id: string}} */ (patient).id === "p7") throw Object.assign(new Error("x"), { name: "SignatureInvalid" });
    return { lastName: `L${/** @type {{id: string}} */ (patient).id}`, firstName: "A" };
  }, patients, (map) => updates.push(map.size), { batch: 10 });
  assert.deepEqual(updates, [10, 20, 23]);
  assert.equal(opened.get("p7")?.problem, "SignatureInvalid");
  assert.equal(opened.get("p5")?.unconfirmed, true);
  assert.equal(displayName(opened.get("p1")?.identity), "Lp1, A");
});

test("the countersignature document is canonical JSON: keys in order, an empty note null", () => {
  assert.equal(JSON.stringify(countersignatureDocument("2026-11-28", "  Risiken besprochen. ")),
    '{"note":"Risiken besprochen.","talkDate":"2026-11-28","v":2}');
  assert.equal(JSON.stringify(countersignatureDocument("2026-11-28", " ")), '{"note":null,"talkDate":"2026-11-28","v":2}');
});
