// The staff app's audit, analytics and billing helpers: CSV as the exports write it, a nightly
// audit export opened (decrypted, bound to its id, gunzipped) and checked against its record,
// chart geometry, durations and period names, and who may open which view.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import * as contract from "../../appliance/web/src/crypto/contract.js";
import { I18n, mergeCatalogues } from "../../appliance/web/src/shared/i18n.js";
import { bucketLabel, duration } from "../../appliance/web/src/staff/analytics-view.js";
import { ACTIONS, actionLabel, checkExport } from "../../appliance/web/src/staff/audit-view.js";
import { livePlan } from "../../appliance/web/src/staff/billing-view.js";
import { barLayout, niceTicks } from "../../appliance/web/src/staff/chart-view.js";
import { problemOf } from "../../appliance/web/src/staff/problems.js";
import { ApiError } from "../../appliance/web/src/shared/api.js";
import { parseCsv } from "../../appliance/web/src/staff/csv.js";
import { matchRoute, roleMayOpen } from "../../appliance/web/src/staff/router.js";

/** The staff app's catalogues, merged as texts.js merges them (shared, then staff). */
const src = new URL("../../appliance/web/src/", import.meta.url);
const load = async (/** @type {string} */ path) => JSON.parse(await readFile(new URL(path, src), "utf8"));
const CATALOGUES = {
  de: mergeCatalogues(await load("shared/messages/de.json"), await load("staff/messages/de.json")),
  en: mergeCatalogues(await load("shared/messages/en.json"), await load("staff/messages/en.json")),
};

const HEAD = "a".repeat(64);
const CSV = "\uFEFFZeitpunkt;Aktion;Benutzer;E-Mail;Objekt;IP-Adresse;Kettenhash\r\n"
  + `2026-03-01 10:00:00;PRACTICE_CREATED;"Sonne; Anna";a@b.de;practice:1;127.0.0.1;${"b".repeat(64)}\r\n`
  + `2026-03-01 10:01:00;VAULT_UNLOCKED;"Dr. ""Jan"" Berg";;"line\r\nbreak";;${HEAD}\r\n`;

test("CSV: quotes, doubled quotes, delimiters and line breaks inside cells, a BOM ignored", () => {
  const rows = parseCsv(CSV, ";");
  assert.equal(rows.length, 3);
  assert.equal(rows[0][0], "Zeitpunkt");
  assert.deepEqual(rows[1].slice(1, 3), ["PRACTICE_CREATED", "Sonne; Anna"]);
  assert.deepEqual(rows[2].slice(2, 5), ['Dr. "Jan" Berg', "", "line\r\nbreak"]);
  assert.deepEqual(parseCsv("a,b\nc,", ","), [["a", "b"], ["c", ""]]);
  assert.deepEqual(parseCsv(""), []);
});

test("a nightly export opens with the practice key, only for its own id, and is checked against its record", async () => {
  await contract.ready();
  const keys = contract.generatePracticeKeys();
  const id = crypto.randomUUID();
  const { wrappedKey, ciphertext } = await contract.encryptPayload(keys.publicKey, new Uint8Array(gzipSync(Buffer.from(CSV))),
    "audit.export", id);
  const text = await contract.openAuditExport(keys, { id, wrappedKey }, ciphertext);
  assert.equal(text, CSV.slice(1));
  assert.deepEqual(checkExport(text, { rows: 2, headHash: HEAD }), { rows: 2, ok: true });
  assert.equal(checkExport(text, { rows: 3, headHash: HEAD }).ok, false);
  assert.equal(checkExport(text, { rows: 2, headHash: "c".repeat(64) }).ok, false);
  await assert.rejects(contract.openAuditExport(keys, { id: crypto.randomUUID(), wrappedKey }, ciphertext), contract.PayloadError);
  await assert.rejects(contract.openAuditExport(contract.generatePracticeKeys(), { id, wrappedKey }, ciphertext), contract.PayloadError);
});

test("audit and billing are the ADMIN's; analytics is for ADMIN and ARZT", () => {
  assert.equal(matchRoute("/audit").name, "audit");
  assert.equal(matchRoute("/analytics").name, "analytics");
  assert.equal(matchRoute("/billing").name, "billing");
  assert.deepEqual(["ADMIN", "ARZT", "EMPFANG"].map((role) => roleMayOpen("audit", role)), [true, false, false]);
  assert.deepEqual(["ADMIN", "ARZT", "EMPFANG"].map((role) => roleMayOpen("billing", role)), [true, false, false]);
  assert.deepEqual(["ADMIN", "ARZT", "EMPFANG"].map((role) => roleMayOpen("analytics", role)), [true, true, false]);
});

test("chart axes: round steps of 1, 2 or 5 from zero past the largest value, whole numbers", () => {
  assert.deepEqual(niceTicks(0), [0, 1]);
  assert.deepEqual(niceTicks(1), [0, 1]);
  assert.deepEqual(niceTicks(6), [0, 2, 4, 6]);
  assert.deepEqual(niceTicks(7), [0, 2, 4, 6, 8]);
  assert.deepEqual(niceTicks(95), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(1234), [0, 500, 1000, 1500]);
});

test("bars: grouped per category, heights proportional to the axis top, lying bars from the left", () => {
  const categories = [{ label: "a", values: [4, 2] }, { label: "b", values: [0, 8] }];
  const upright = barLayout(categories, 2, 8, { width: 400, height: 200 });
  assert.equal(upright.length, 4);
  assert.deepEqual(upright.map((b) => b.height), [100, 50, 0, 200]);
  assert.deepEqual(upright.map((b) => b.y + b.height), [200, 200, 200, 200]);  // on the axis
  assert.ok(upright[1].x > upright[0].x && upright[2].x > upright[1].x + upright[1].width);  // in order, groups apart
  const lying = barLayout(categories, 2, 8, { width: 400, height: 200, horizontal: true });
  assert.deepEqual(lying.map((b) => [b.x, b.width]), [[0, 200], [0, 100], [0, 0], [0, 400]]);
});

test("durations in the largest readable unit; buckets named per day, ISO week and month", () => {
  const de = new I18n("de", CATALOGUES, "de", ["de-DE"]);
  const en = new I18n("en", CATALOGUES, "de", ["en-GB"]);
  assert.equal(duration(de, 42), "42 Sekunden");
  assert.equal(duration(de, 90), "1,5 Minuten");
  assert.equal(duration(en, 7200), "2 hours");
  assert.equal(duration(en, 3 * 86400), "3 days");
  const t = (/** @type {string} */ key, /** @type {any} */ params) => de.t(key, params);
  assert.equal(bucketLabel(de, t, "day", { period: "2026-03-29", from: "2026-03-29", to: "2026-03-29" }).label, "29. März 2026");
  assert.equal(bucketLabel(de, t, "week", { period: "2026-W13", from: "2026-03-23", to: "2026-03-29" }).short, "KW 13");
  assert.equal(bucketLabel(de, t, "month", { period: "2026-03", from: "2026-03-01", to: "2026-03-31" }).label, "März 2026");
});

test("billing: a paid plan in a working status is live (checkout changes it); Stripe's failures said apart", () => {
  assert.equal(livePlan({ plan: "FREE_TRIAL", status: "TRIALING" }), false);
  assert.equal(livePlan({ plan: "STARTER", status: "ACTIVE" }), true);
  assert.equal(livePlan({ plan: "STARTER", status: "PAST_DUE" }), true);
  assert.equal(livePlan({ plan: "PROFESSIONAL", status: "CANCELLED" }), false);
  assert.deepEqual(problemOf(new ApiError(503, "payment_provider_unavailable", "x")), { key: "problem.paymentUnavailable" });
  assert.deepEqual(problemOf(new ApiError(502, "payment_provider_error", "x")), { key: "problem.paymentRefused" });
  assert.deepEqual(problemOf(new ApiError(409, "already_on_plan", "x")), { key: "problem.alreadyOnPlan" });
});

test("every audit action has its words in German and English", () => {
  for (const locale of /** @type {const} */ (["de", "en"])) {
    const i18n = new I18n(locale, { [locale]: CATALOGUES[locale] }, locale);
    const t = (/** @type {string} */ key) => i18n.t(key);
    for (const action of ACTIONS) assert.notEqual(actionLabel(t, action), action, `${locale} ${action}`);
    assert.equal(actionLabel(t, "SOMETHING_NEW"), "SOMETHING_NEW");
  }
});
