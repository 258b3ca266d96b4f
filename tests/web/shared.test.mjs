// The pages' shared pieces: catalogues (German and English hold the same keys and
// placeholders), message lookup with plurals and fallback, locale-aware formats and text
// direction, brand colours only where they keep WCAG contrast, and the signature rules.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { brandUsage, contrastRatio, parseHex } from "../../appliance/web/src/shared/contrast.js";
import { I18n, mergeCatalogues, textDirection } from "../../appliance/web/src/shared/i18n.js";
import { inkLength, signatureProblem } from "../../appliance/web/src/consent/signature-pad.js";

const src = new URL("../../appliance/web/src/", import.meta.url);
/** @param {string} area @param {string} locale */
const load = async (area, locale) => JSON.parse(await readFile(new URL(`${area}/messages/${locale}.json`, src), "utf8"));

/** @param {any} catalogue @param {string} [prefix] @returns {Map<string, string[]>} */
function entries(catalogue, prefix = "") {
  const found = new Map();
  for (const [key, value] of Object.entries(catalogue)) {
    if (typeof value === "string") found.set(prefix + key, [...value.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort());
    else for (const [k, v] of entries(value, `${prefix}${key}.`)) found.set(k, v);
  }
  return found;
}

test("German and English catalogues have the same keys and placeholders", async () => {
  for (const area of ["shared", "consent"]) {
    const de = entries(await load(area, "de"));
    const en = entries(await load(area, "en"));
    assert.deepEqual([...de.keys()].sort(), [...en.keys()].sort(), `${area}: keys differ`);
    for (const [key, names] of de) assert.deepEqual(en.get(key), names, `${area}: ${key} placeholders differ`);
  }
});

test("messages: placeholders, plurals, and a gap filled from the other language", () => {
  const catalogues = {
    de: mergeCatalogues({ a: { b: "Hallo {name}" } }, { n: { one: "1 Angabe", other: "{count} Angaben" } }),
    en: { a: { b: "Hello {name}" }, only: "only English", n: { one: "1 answer", other: "{count} answers" } },
  };
  const de = new I18n("de", catalogues, "de", ["de-DE"]);
  assert.equal(de.t("a.b", { name: "Anna" }), "Hallo Anna");
  assert.equal(de.t("n", { count: 1 }), "1 Angabe");
  assert.equal(de.t("n", { count: 1200 }), "1.200 Angaben");
  assert.equal(de.t("only"), "only English");
  assert.equal(de.t("missing.key"), "missing.key");
  const en = new I18n("en", catalogues, "de", ["en-US"]);
  assert.equal(en.t("n", { count: 1200 }), "1,200 answers");
});

test("dates and numbers follow the browser's variant of the page's language", () => {
  const when = "2026-12-02T17:48:11Z";
  const gb = new I18n("en", {}, "de", ["en-GB", "de-DE"]);
  const us = new I18n("en", {}, "de", ["en-US"]);
  const de = new I18n("de", {}, "de", ["en-GB"]);
  assert.match(gb.dateTime(when, { dateStyle: "long", timeZone: "UTC" }), /^2 December 2026$/);
  assert.match(us.dateTime(when, { dateStyle: "long", timeZone: "UTC" }), /^December 2, 2026$/);
  assert.match(de.dateTime(when, { dateStyle: "long", timeZone: "UTC" }), /^2\. Dezember 2026$/);
  assert.equal(de.calendarDate("1980-02-29"), "29. Februar 1980");
  assert.deepEqual(de.dateFieldOrder(), ["day", "month", "year"]);
  assert.deepEqual(us.dateFieldOrder(), ["month", "day", "year"]);
  assert.equal(de.number(1234.5), "1.234,5");
});

test("right-to-left languages get dir=rtl", () => {
  assert.equal(textDirection("ar"), "rtl");
  assert.equal(textDirection("he-IL"), "rtl");
  assert.equal(textDirection("fa"), "rtl");
  assert.equal(textDirection("de"), "ltr");
  assert.equal(new I18n("ar", {}, "de").dir, "rtl");
});

test("WCAG contrast ratios", () => {
  const white = /** @type {[number, number, number]} */ ([255, 255, 255]);
  assert.equal(contrastRatio(white, [0, 0, 0]), 21);
  assert.ok(Math.abs(contrastRatio(white, /** @type {any} */ (parseHex("#767676"))) - 4.54) < 0.01);
  assert.equal(parseHex("teal"), null);
});

test("a brand colour goes on buttons only with AA contrast; the band always gets readable text", () => {
  assert.deepEqual(brandUsage("#0F766E"), { band: "#0f766e", onBand: "#ffffff", action: "#0f766e", onAction: "#ffffff" });
  const yellow = brandUsage("#ffd700");
  assert.equal(yellow.action, null);
  assert.equal(yellow.onBand, "#000000");
  for (let grey = 0; grey < 256; grey += 5) {
    const hex = `#${grey.toString(16).padStart(2, "0").repeat(3)}`;
    const usage = brandUsage(hex);
    const band = /** @type {[number, number, number]} */ (parseHex(usage.band));
    assert.ok(contrastRatio(band, /** @type {any} */ (parseHex(usage.onBand))) >= 4.5, hex);
    if (usage.action) assert.ok(contrastRatio(band, [255, 255, 255]) >= 4.5, hex);
  }
  assert.equal(brandUsage("not a colour").action, null);
});

test("a signature needs ink and extent: an empty pad, a dot or a dash is refused", () => {
  assert.equal(signatureProblem([]), "empty");
  assert.equal(signatureProblem([[{ x: 10, y: 10 }]]), "empty");
  assert.equal(signatureProblem([[{ x: 10, y: 10 }, { x: 12, y: 11 }]]), "short");
  assert.equal(signatureProblem([[{ x: 100, y: 100 }, { x: 150, y: 100 }]]), "short");
  const name = [[{ x: 50, y: 120 }, { x: 90, y: 60 }, { x: 130, y: 140 }, { x: 170, y: 70 }, { x: 220, y: 120 }]];
  assert.ok(inkLength(name) > 150);
  assert.equal(signatureProblem(name), null);
});
