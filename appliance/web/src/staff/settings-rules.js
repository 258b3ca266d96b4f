// The settings form's rules, pure (no DOM), so that the Node tests check them: the API's own
// validation (appliance/resources/settings.py, practice.py, gdt.py) repeated field by field,
// the brand colour's contrast with white text, the API's field errors by field, and what
// changed (three PATCH bodies).
import { contrastRatio, parseHex } from "../shared/contrast.js";

/** Control characters (line breaks included), which the API refuses in one-line text. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * @typedef {{name: string, timezone: string, locale: string, brandColor: string,
 *   defaultConsentExpiry: string, vaultIdleMinutes: string, publicBaseUrl: string,
 *   impressumUrl: string, privacyUrl: string, exchangeDirectory: string,
 *   enabledConsentTypes: string[], texts: Record<string, {title: string, paragraphs: string}>}} Form
 * @typedef {{key: string, params?: Record<string, string | number>}} FieldProblem
 */

/** The paragraphs of a text box: one per line, empty lines dropped. @param {string} text */
export function paragraphsOf(text) {
  return text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/** @param {string} value @param {number} low @param {number} high */
function inRange(value, low, high) {
  return /^\d+$/.test(value.trim()) && Number(value) >= low && Number(value) <= high;
}

/** An absolute http(s) URL without query or fragment (the API's public base URL rule). @param {string} value */
function baseUrlOk(value) {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && !url.search && !url.hash
      && !url.username && !url.password && !value.includes("?") && !value.includes("#");
  } catch {
    return false;
  }
}

/** @param {string} value */
function httpsOk(value) {
  try {
    return new URL(value).protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * What the API would refuse in `form`, per field (message keys): the same rules as
 * appliance/resources/settings.py, practice.py and gdt.py.
 * @param {Form} form @param {readonly string[]} zones the time zones the browser knows
 * @param {readonly string[]} types the consent types
 * @returns {Record<string, FieldProblem>}
 */
export function settingsProblems(form, zones, types) {
  /** @type {Record<string, FieldProblem>} */
  const found = {};
  const name = form.name.trim();
  if (!name) found.name = { key: "validation.required" };
  else if (name.length > 200) found.name = { key: "validation.tooLong", params: { max: 200 } };
  else if (CONTROL.test(form.name)) found.name = { key: "settings.oneLine" };
  if (zones.length && !zones.includes(form.timezone)) found.timezone = { key: "settings.zoneUnknown" };
  if (!parseHex(form.brandColor)) found.brandColor = { key: "settings.colorInvalid" };
  if (!inRange(form.defaultConsentExpiry, 1, 90)) found.defaultConsentExpiry = { key: "settings.range", params: { low: 1, high: 90 } };
  if (!inRange(form.vaultIdleMinutes, 1, 240)) found.vaultIdleMinutes = { key: "settings.range", params: { low: 1, high: 240 } };
  const base = form.publicBaseUrl.trim();
  if (base && (base.length > 200 || !baseUrlOk(base))) found.publicBaseUrl = { key: "settings.baseUrlInvalid" };
  for (const field of /** @type {const} */ (["impressumUrl", "privacyUrl"])) {
    const value = form[field].trim();
    if (value && (value.length > 500 || !httpsOk(value))) found[field] = { key: "settings.httpsInvalid" };
  }
  const directory = form.exchangeDirectory.trim();
  if (directory && (!directory.startsWith("/") || directory.length > 1024)) found.exchangeDirectory = { key: "settings.pathInvalid" };
  if (form.enabledConsentTypes.length === 0) found.enabledConsentTypes = { key: "settings.typesRequired" };
  for (const type of types) {
    const text = form.texts[type] ?? { title: "", paragraphs: "" };
    const paragraphs = paragraphsOf(text.paragraphs);
    if (!text.title.trim() && paragraphs.length === 0) continue; // no block for this type
    if (!text.title.trim()) found[`texts.${type}.title`] = { key: "validation.required" };
    else if (text.title.trim().length > 120) found[`texts.${type}.title`] = { key: "validation.tooLong", params: { max: 120 } };
    else if (CONTROL.test(text.title)) found[`texts.${type}.title`] = { key: "settings.oneLine" };
    if (paragraphs.length === 0) found[`texts.${type}.paragraphs`] = { key: "validation.required" };
    else if (paragraphs.length > 10) found[`texts.${type}.paragraphs`] = { key: "validation.tooManyItems", params: { max: 10 } };
    else if (paragraphs.some((p) => p.length > 2000)) found[`texts.${type}.paragraphs`] = { key: "validation.itemTooLong", params: { max: 2000 } };
    else if (text.title.trim().length + paragraphs.reduce((n, p) => n + p.length, 0) > 6000) {
      found[`texts.${type}.paragraphs`] = { key: "validation.tooLong", params: { max: 6000 } };
    }
  }
  return found;
}

/**
 * The brand colour's contrast with white text (WCAG 2.1), rounded down to two places so that
 * "4.5" never shows for a colour that misses AA.
 * @param {string} hex @returns {{ratio: number, aa: boolean, aaLarge: boolean} | null}
 */
export function whiteTextContrast(hex) {
  const rgb = parseHex(hex);
  if (!rgb) return null;
  const exact = contrastRatio(rgb, [255, 255, 255]);
  return { ratio: Math.floor(exact * 100) / 100, aa: exact >= 4.5, aaLarge: exact >= 3 };
}

/**
 * The API's field errors ({field, problem} details of a 400), keyed by the form's field names.
 * @param {unknown} error @returns {Record<string, string>}
 */
export function apiFieldErrors(error) {
  const details = /** @type {{details?: unknown}} */ (error ?? {}).details;
  /** @type {Record<string, string>} */
  const found = {};
  if (!Array.isArray(details)) return found;
  for (const item of details) {
    if (!item || typeof item.field !== "string") continue;
    const match = /^practiceTexts\.([A-Z_]+)/.exec(item.field);
    const field = match ? `texts.${match[1]}.paragraphs` : item.field.split(/[.[]/)[0];
    found[field] = found[field] ? `${found[field]}; ${item.problem}` : String(item.problem);
  }
  return found;
}

/** The form of what the API answered. @param {any} settings @param {any} practice @param {any} gdt
 * @param {readonly string[]} types @returns {Form} */
export function formOf(settings, practice, gdt, types) {
  /** @type {Form["texts"]} */
  const texts = {};
  for (const type of types) {
    const stored = settings.practiceTexts?.[type];
    texts[type] = { title: stored?.title ?? "", paragraphs: (stored?.paragraphs ?? []).join("\n") };
  }
  return {
    name: practice.name ?? "", timezone: settings.timezone, locale: settings.locale,
    brandColor: settings.brandColor ?? "#0b5394", defaultConsentExpiry: String(settings.defaultConsentExpiry),
    vaultIdleMinutes: String(settings.vaultIdleMinutes), publicBaseUrl: settings.publicBaseUrl ?? "",
    impressumUrl: settings.impressumUrl ?? "", privacyUrl: settings.privacyUrl ?? "",
    exchangeDirectory: gdt?.exchangeDirectory ?? "", enabledConsentTypes: [...settings.enabledConsentTypes], texts,
  };
}

/**
 * The three PATCH bodies of what changed between `before` and `after` (null: nothing to send).
 * @param {Form} before @param {Form} after @param {readonly string[]} types
 */
export function changesOf(before, after, types) {
  const nullable = (/** @type {string} */ v) => (v.trim() ? v.trim() : null);
  /** @type {Record<string, unknown>} */
  const settings = {};
  if (after.timezone !== before.timezone) settings.timezone = after.timezone;
  if (after.locale !== before.locale) settings.locale = after.locale;
  if (after.brandColor.toLowerCase() !== before.brandColor.toLowerCase()) settings.brandColor = after.brandColor;
  if (after.defaultConsentExpiry !== before.defaultConsentExpiry) settings.defaultConsentExpiry = Number(after.defaultConsentExpiry);
  if (after.vaultIdleMinutes !== before.vaultIdleMinutes) settings.vaultIdleMinutes = Number(after.vaultIdleMinutes);
  for (const field of /** @type {const} */ (["publicBaseUrl", "impressumUrl", "privacyUrl"])) {
    if (after[field].trim() !== before[field].trim()) settings[field] = nullable(after[field]);
  }
  if ([...after.enabledConsentTypes].sort().join() !== [...before.enabledConsentTypes].sort().join()) {
    settings.enabledConsentTypes = [...after.enabledConsentTypes].sort();
  }
  /** @type {Record<string, unknown>} */
  const texts = {};
  for (const type of types) {
    const a = after.texts[type];
    const b = before.texts[type];
    const same = a.title.trim() === b.title.trim() && paragraphsOf(a.paragraphs).join("\n") === paragraphsOf(b.paragraphs).join("\n");
    if (same) continue;
    texts[type] = a.title.trim() ? { title: a.title.trim(), paragraphs: paragraphsOf(a.paragraphs) } : null;
  }
  if (Object.keys(texts).length) settings.practiceTexts = texts;
  return {
    practice: after.name.trim() !== before.name.trim() ? { name: after.name.trim() } : null,
    settings: Object.keys(settings).length ? settings : null,
    gdt: after.exchangeDirectory.trim() !== before.exchangeDirectory.trim()
      ? { exchangeDirectory: nullable(after.exchangeDirectory) } : null,
  };
}
