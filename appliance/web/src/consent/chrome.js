// The frame around every screen: the practice's band (name, logo, brand colour where it keeps
// AA contrast), the language switch over the catalogue's locales, and the footer's links to the
// Impressum and the privacy notice.
import { brandUsage } from "../shared/contrast.js";
import { h, mount } from "../shared/dom.js";
import { languageName } from "../shared/i18n.js";

/** @typedef {{name: string, logoUrl?: string | null, brandColor?: string | null,
 *   impressumUrl?: string | null, privacyUrl?: string | null}} Practice */

/**
 * Sets the brand colour as CSS custom properties (CSSOM, which the CSP allows; style
 * attributes it does not).
 * @param {string | null | undefined} color
 */
export function applyBrand(color) {
  const root = document.documentElement.style;
  const usage = brandUsage(color || "");
  for (const [name, value] of [["--band", usage.band], ["--on-band", usage.onBand],
    ["--action", usage.action || ""], ["--on-action", usage.action ? usage.onAction : ""]]) {
    if (value) root.setProperty(name, value);
    else root.removeProperty(name);
  }
}

/**
 * The logo's path on this appliance: the page loads it from its own origin (the CSP allows
 * no other), whatever host the API named in logoUrl.
 * @param {string | null | undefined} logoUrl
 */
export function logoPath(logoUrl) {
  if (!logoUrl) return null;
  try {
    const path = new URL(logoUrl, window.location.origin).pathname;
    return /^\/api\/public\/logo\/[0-9a-f-]{36}$/i.test(path) ? path : null;
  } catch {
    return null;
  }
}

/**
 * @param {HTMLElement} header
 * @param {Practice | null} practice
 * @param {string} fallbackTitle shown when no practice is known (unknown or expired links)
 * @param {(practice: string) => string} logoAlt
 */
export function renderHeader(header, practice, fallbackTitle, logoAlt) {
  const logo = logoPath(practice?.logoUrl);
  mount(header, h("div", { class: "band-inner" },
    logo ? h("span", { class: "logo-chip" },
      h("img", { src: logo, alt: logoAlt(practice?.name || ""), class: "logo", decoding: "async" })) : null,
    h("p", { class: "practice-name" }, practice ? practice.name : fallbackTitle)));
}

/**
 * Buttons for each locale, labelled in their own language; the current one is pressed.
 * @param {HTMLElement} nav
 * @param {string[]} locales
 * @param {string} current
 * @param {string} label
 * @param {(locale: string) => void} choose
 */
export function renderLanguageSwitch(nav, locales, current, label, choose) {
  nav.setAttribute("aria-label", label);
  mount(nav, locales.length < 2 ? [] : h("ul", { class: "languages" },
    locales.map((locale) => h("li", {},
      h("button", {
        type: "button", class: "language", lang: locale, "aria-pressed": String(locale === current),
        "data-locale": locale,
        onclick: () => { if (locale !== current) choose(locale); },
      }, languageName(locale))))));
}

/**
 * The footer's links to the Impressum and the privacy notice (the practice's, else the
 * operator's, as the API names them; German law wants both reachable from the page). Only
 * https addresses become links; they open in a new tab so unsent answers stay on this one.
 * @param {HTMLElement} footer
 * @param {Practice | null} practice
 * @param {(key: string) => string} t
 */
export function renderFooter(footer, practice, t) {
  const links = [["impressum", practice?.impressumUrl], ["privacy", practice?.privacyUrl]]
    .filter(([, url]) => typeof url === "string" && url.startsWith("https://"));
  mount(footer, links.length === 0 ? [] : h("ul", { class: "legal-links" },
    links.map(([key, url]) => h("li", {},
      h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, t(`consent.footer.${key}`))))));
}
