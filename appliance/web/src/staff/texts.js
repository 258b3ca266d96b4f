// The staff app's message catalogues: shared texts, then the app's own; German first,
// English second (a text missing in one falls back to the other).
import { I18n, mergeCatalogues } from "../shared/i18n.js";
import sharedDe from "../shared/messages/de.json";
import sharedEn from "../shared/messages/en.json";
import staffDe from "./messages/de.json";
import staffEn from "./messages/en.json";

/** @type {Record<string, import("../shared/i18n.js").Catalogue>} */
export const CATALOGUES = {
  de: mergeCatalogues(sharedDe, staffDe),
  en: mergeCatalogues(sharedEn, staffEn),
};

/** The catalogue locale the browser prefers, German if none. @param {readonly string[]} languages */
export function preferredLocale(languages) {
  for (const language of languages) {
    const code = language.split("-")[0].toLowerCase();
    if (code in CATALOGUES) return code;
  }
  return "de";
}

/** @param {string} locale */
export function newI18n(locale) {
  return new I18n(locale, CATALOGUES, "de", typeof navigator === "undefined" ? [] : navigator.languages || []);
}
