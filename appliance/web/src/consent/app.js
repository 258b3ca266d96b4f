// The patient page's controller: loads the consent link's data, keeps what the patient enters
// (in memory only: nothing is written to storage), and shows one screen at a time. Screens are
// functions that build their content; this module moves focus to each new screen's heading,
// keeps the browser's back button inside the steps, and re-renders on a language switch.
import { ApiError, apiRequest } from "../shared/api.js";
import { focusOn, h, mount } from "../shared/dom.js";
import { I18n, mergeCatalogues } from "../shared/i18n.js";
import sharedDe from "../shared/messages/de.json";
import sharedEn from "../shared/messages/en.json";
import { applyBrand, renderFooter, renderHeader, renderLanguageSwitch } from "./chrome.js";
import { formHashMatches, keyMatches, warmUp } from "./encryption.js";
import consentDe from "./messages/de.json";
import consentEn from "./messages/en.json";
import { problemScreen, signedScreen } from "./status-views.js";
import { showStart, showStep } from "./wizard.js";

/**
 * @typedef {import("./form.js").FormDocument} FormDocument
 * @typedef {import("./form.js").Values} Values
 * @typedef {import("./form.js").ComprehensionResult} ComprehensionResult
 * @typedef {import("./signature-pad.js").Stroke} Stroke
 * @typedef {import("./chrome.js").Practice} Practice
 * @typedef {{type: string, status: string, expiresAt: string, signedAt: string | null,
 *   locale: string, locales?: string[], practice: Practice, publicKey: string,
 *   lookupSalt: string, form?: FormDocument, [key: string]: unknown}} Consent
 * @typedef {{method: "drawn" | "typed", strokes: Stroke[], typedName: string,
 *   png: string | null}} Signature
 * @typedef {(app: App) => HTMLElement} Screen
 */

/** @type {Record<string, import("../shared/i18n.js").Catalogue>} */
export const CATALOGUES = {
  de: mergeCatalogues(sharedDe, consentDe),
  en: mergeCatalogues(sharedEn, consentEn),
};
const TOKEN = /^\/consent\/([A-Za-z0-9_-]{16,128})\/?$/;

/** The page's texts in `locale`, dates and numbers as the browser's languages write them. @param {string} locale */
function newI18n(locale) {
  return new I18n(locale, CATALOGUES, "de", navigator.languages || []);
}

/** The locale of the catalogues the browser prefers, German if none. */
function browserLocale() {
  for (const language of navigator.languages || []) {
    const code = language.split("-")[0].toLowerCase();
    if (code in CATALOGUES) return code;
  }
  return "de";
}

export class App {
  /** @param {HTMLElement} root */
  constructor(root) {
    const match = TOKEN.exec(window.location.pathname);
    this.token = match ? match[1] : "";
    // The fragment never reaches the server: it carries the practice key's fingerprint.
    this.fingerprint = fragmentFingerprint(window.location.hash);
    /** @type {Consent | null} */
    this.consent = null;
    /** @type {FormDocument | null} */
    this.form = null;
    this.i18n = newI18n(browserLocale());
    /** @type {Values} */
    this.values = {};
    /** @type {Record<string, ComprehensionResult>} */
    this.comprehension = {};
    /** @type {Signature} */
    this.signature = { method: "drawn", strokes: [], typedName: "", png: null };
    /** @type {Set<string>} */
    this.declaration = new Set();
    /** @type {{signedAt: string} | null} */
    this.submitted = null;
    /** @type {Promise<{signedAt: string}> | null} the one submission this page makes */
    this.submission = null;
    /** @type {Promise<string | null> | null} what the security checks found (a problem's key) */
    this.verified = null;
    this.returnToReview = false;
    /** @type {Screen | null} */
    this.screen = null;
    this.title = "";

    this.header = h("header", { class: "band" });
    this.languages = h("nav", { class: "toolbar" });
    this.live = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    this.main = h("main", { id: "main", class: "main" });
    this.footer = h("footer", { class: "site-footer" });
    mount(root, this.header, this.languages, this.main, this.footer, this.live);
    this.renderChrome();
    window.addEventListener("popstate", (event) => this.onHistory(event.state));
    // Answers live only in this page's memory: warn before closing it with unsent answers.
    this.touched = false;
    this.main.addEventListener("input", () => { this.touched = true; });
    window.addEventListener("beforeunload", (event) => {
      if (this.touched && !this.submitted && this.consent?.status === "PENDING") event.preventDefault();
    });
  }

  /** @param {string} key @param {Record<string, string | number>} [params] */
  t(key, params) {
    return this.i18n.t(key, params);
  }

  get practiceName() {
    return this.consent ? this.consent.practice.name : "";
  }

  /** The locales the language switch offers: the form catalogue's, else the page's own. */
  get locales() {
    return this.consent?.locales?.length ? this.consent.locales : Object.keys(CATALOGUES);
  }

  /**
   * Loads the link's data (in `locale`, or the link's own) and shows what fits its state.
   * @param {string} [locale]
   */
  async load(locale) {
    if (!this.token) return this.showProblem("unknown");
    let consent;
    try {
      consent = await apiRequest("GET", `/api/consent/${this.token}`, { query: { locale } });
    } catch (error) {
      return this.showApiProblem(error);
    }
    this.setConsent(consent);
    if (consent.status === "PENDING" && !this.form) {
      this.showProblem("unexpected"); // a server without the form catalogue
    } else if (consent.status === "PENDING") {
      warmUp();
      showStart(this);
    } else {
      this.show(signedScreen);
    }
    performance.mark("consent-interactive"); // the first screen answers input from here on
  }

  /** @param {Consent} consent */
  setConsent(consent) {
    this.consent = consent;
    this.form = consent.form || null;
    this.i18n = newI18n(this.form?.locale || consent.locale);
    this.verified = this.form && consent.status === "PENDING" ? this.verify(consent, this.form) : null;
    applyBrand(consent.practice.brandColor);
    this.renderChrome();
  }

  /**
   * The security checks, run in the worker as soon as the link is open (so a patient does not
   * fill in a form that cannot be sent): the practice key must be the one the link's fragment
   * names, and the form's content must hash to its formHash. A failure replaces the screen.
   * @param {Consent} consent
   * @param {FormDocument} form
   * @returns {Promise<string | null>} null, or the key of the problem under consent.problems
   */
  async verify(consent, form) {
    await Promise.resolve(); // a failure shows after the screen the caller is about to show
    let problem = null;
    if (!this.fingerprint) problem = "keyMissing";
    else if (!(await keyMatches(consent.publicKey, this.fingerprint).catch(() => false))) problem = "keyMismatch";
    else if (!(await formHashMatches(form).catch(() => false))) problem = "formChanged";
    if (problem && this.form === form && !this.submission) this.showProblem(problem);
    return problem;
  }

  renderChrome() {
    this.i18n.applyToDocument();
    renderHeader(this.header, this.consent?.practice || null, this.t("consent.pageTitle"),
      (practice) => this.t("consent.logoAlt", { practice }));
    renderLanguageSwitch(this.languages, this.locales, this.i18n.locale, this.t("common.language"),
      (locale) => this.switchLocale(locale));
    renderFooter(this.footer, this.consent?.practice || null, (key) => this.t(key));
  }

  /**
   * Shows the page in another language: the form document is fetched in it (answers, being
   * option values, stay as they are), the chrome and the current screen are rendered again.
   * @param {string} locale
   */
  async switchLocale(locale) {
    if (this.consent && this.consent.status === "PENDING" && !this.submitted) {
      try {
        this.setConsent(await apiRequest("GET", `/api/consent/${this.token}`, { query: { locale } }));
      } catch (error) {
        return this.showApiProblem(error);
      }
    } else {
      this.i18n = newI18n(locale);
      this.renderChrome();
    }
    if (this.screen) this.show(this.screen, { focus: false });
    /** @type {HTMLElement | null} */ (this.languages.querySelector(`[data-locale="${locale}"]`))?.focus();
    this.announce(this.t("common.languageSwitched", { language: this.languages.querySelector(
      `[data-locale="${locale}"]`)?.textContent || locale }));
  }

  /** @param {string} text */
  announce(text) {
    this.live.textContent = "";
    window.setTimeout(() => { this.live.textContent = text; }, 50);
  }

  /**
   * Shows a screen; focus goes to its heading, so screen readers announce the change.
   * @param {Screen} screen
   * @param {{focus?: boolean, title?: string}} [options]
   */
  show(screen, { focus = true } = {}) {
    this.screen = screen;
    const content = screen(this);
    mount(this.main, content);
    const heading = /** @type {HTMLElement | null} */ (this.main.querySelector("h1"));
    const practice = this.practiceName || this.t("consent.pageTitle");
    const step = content.dataset.title || heading?.textContent || "";
    document.title = step ? this.t("consent.documentTitleStep", { step, practice })
      : this.t("consent.documentTitle", { practice });
    if (focus) focusOn(heading);
  }

  /** @param {string} kind a key under consent.problems */
  showProblem(kind) {
    this.show(problemScreen(kind));
  }

  /** @param {unknown} error */
  showApiProblem(error) {
    this.show(problemScreen(problemKind(error), error instanceof ApiError ? error : null));
  }

  /**
   * Records a wizard step in the history, so the back button goes one step back.
   * @param {number} step
   * @param {boolean} replace
   */
  remember(step, replace = false) {
    const state = { consentStep: step };
    if (replace) window.history.replaceState(state, "");
    else window.history.pushState(state, "");
  }

  /** @param {unknown} state */
  onHistory(state) {
    if (!this.consent || this.consent.status !== "PENDING" || this.submitted || this.submission) return;
    const step = state && typeof state === "object" && "consentStep" in state ? Number(state.consentStep) : -1;
    if (step >= 0) showStep(this, step, { push: false });
    else showStart(this, { push: false });
  }
}

/**
 * What a failed request means for the patient: a key under consent.problems or problem.*.
 * @param {unknown} error
 */
export function problemKind(error) {
  if (!(error instanceof ApiError)) return "unexpected";
  if (error.status === 404) return "unknown";
  if (error.code === "consent_expired") return "expired";
  if (error.code === "consent_revoked") return "revoked";
  if (error.code === "unknown_form_hash") return "unknownForm";
  if (error.status === 429) return "rateLimited";
  if (error.status === 0) return "network";
  if (error.status === 502 || error.status === 503 || error.status === 504) return "unavailable";
  return "unexpected";
}

/**
 * The key fingerprint a consent link carries after "#" (`#k=<fingerprint>`, or the bare value).
 * @param {string} hash
 */
export function fragmentFingerprint(hash) {
  const text = hash.replace(/^#/, "");
  if (!text) return null;
  const named = new URLSearchParams(text).get("k");
  return named || (text.includes("=") ? null : decodeURIComponent(text));
}
