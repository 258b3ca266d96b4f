// Message catalogues and locale-aware formatting. Every text a page shows comes from a
// catalogue (JSON, one per locale and area); German is the first language, English the second,
// and a text missing in one falls back to the other before it would show its key. Placeholders
// are `{name}`; a message with `one`/`other` (any CLDR plural category) is chosen by `count`.

/** @typedef {{[key: string]: string | Catalogue}} Catalogue */

/** Languages written right to left: the page sets `dir` from this. */
const RTL = new Set(["ar", "arc", "ckb", "dv", "fa", "he", "ku", "ps", "sd", "ug", "ur", "yi"]);

/** @param {string} locale */
export function textDirection(locale) {
  return RTL.has(locale.split("-")[0].toLowerCase()) ? "rtl" : "ltr";
}

/**
 * The language's own name ("Deutsch", "English"), for language switches.
 * @param {string} locale
 */
export function languageName(locale) {
  let name = locale;
  try {
    name = new Intl.DisplayNames([locale], { type: "language" }).of(locale) || locale;
  } catch {
    // an engine without this locale's data shows the code
  }
  return name.charAt(0).toLocaleUpperCase(locale) + name.slice(1);
}

/**
 * Deep merge: later catalogues win key by key.
 * @param {...Catalogue} catalogues
 * @returns {Catalogue}
 */
export function mergeCatalogues(...catalogues) {
  /** @type {Catalogue} */
  const merged = {};
  for (const catalogue of catalogues) {
    for (const [key, value] of Object.entries(catalogue)) {
      const existing = merged[key];
      merged[key] = typeof value === "object" && typeof existing === "object"
        ? mergeCatalogues(existing, value) : value;
    }
  }
  return merged;
}

/**
 * @param {Catalogue} catalogue
 * @param {string} key dotted path
 * @returns {string | Catalogue | undefined}
 */
function lookup(catalogue, key) {
  /** @type {string | Catalogue | undefined} */
  let node = catalogue;
  for (const part of key.split(".")) {
    if (node === undefined || typeof node === "string") return undefined;
    node = node[part];
  }
  return node;
}

export class I18n {
  /**
   * @param {string} locale the page's language (BCP 47)
   * @param {Record<string, Catalogue>} catalogues by locale; must hold `fallback`
   * @param {string} fallback the locale whose texts fill gaps (German first, then English)
   * @param {readonly string[]} [preferred] the browser's languages: dates and numbers follow the
   *   first of the same language (en-GB writes "2 December", en-US "December 2")
   */
  constructor(locale, catalogues, fallback, preferred = []) {
    this.locale = locale;
    this.formats = preferred.find((tag) => tag.split("-")[0].toLowerCase() === locale.split("-")[0]) || locale;
    this.dir = textDirection(locale);
    /** @type {Catalogue[]} */
    this.chain = [catalogues[locale], catalogues[fallback], catalogues.de, catalogues.en]
      .filter((c) => c !== undefined);
    this.plurals = new Intl.PluralRules(this.formats);
  }

  /**
   * @param {string} key
   * @param {Record<string, string | number>} [params]
   */
  t(key, params = {}) {
    for (const catalogue of this.chain) {
      let found = lookup(catalogue, key);
      if (found !== undefined && typeof found === "object" && typeof params.count === "number") {
        found = found[this.plurals.select(params.count)] ?? found.other;
      }
      if (typeof found === "string") return fill(found, params, this);
    }
    return key;
  }

  /** @param {string | Date} value @param {Intl.DateTimeFormatOptions} [options] */
  dateTime(value, options = { dateStyle: "long", timeStyle: "short" }) {
    return new Intl.DateTimeFormat(this.formats, options).format(new Date(value));
  }

  /** A calendar date (YYYY-MM-DD) in the locale's words, without time-zone shifts.
   * @param {string} isoDate */
  calendarDate(isoDate) {
    const [year, month, day] = isoDate.split("-").map(Number);
    return new Intl.DateTimeFormat(this.formats, { dateStyle: "long", timeZone: "UTC" })
      .format(new Date(Date.UTC(year, month - 1, day)));
  }

  /** @param {number} value @param {Intl.NumberFormatOptions} [options] */
  number(value, options) {
    return new Intl.NumberFormat(this.formats, options).format(value);
  }

  /**
   * The order of day, month and year in this locale's dates, e.g. ["day","month","year"].
   * @returns {("day" | "month" | "year")[]}
   */
  dateFieldOrder() {
    const parts = new Intl.DateTimeFormat(this.formats, { year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(new Date(Date.UTC(2001, 10, 22)));
    return /** @type {("day" | "month" | "year")[]} */ (
      parts.map((p) => p.type).filter((type) => type === "day" || type === "month" || type === "year"));
  }

  /** Sets the document's language and direction (a page calls this when the locale changes). */
  applyToDocument() {
    document.documentElement.lang = this.locale;
    document.documentElement.dir = this.dir;
  }
}

/**
 * @param {string} text
 * @param {Record<string, string | number>} params
 * @param {I18n} i18n
 */
function fill(text, params, i18n) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = params[name];
    if (value === undefined) return whole;
    return typeof value === "number" ? i18n.number(value) : value;
  });
}
