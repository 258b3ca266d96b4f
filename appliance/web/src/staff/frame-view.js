// The frame around every signed-in view: skip link, the practice's name, navigation for the
// role, the vault's state with its lock button, the language switch and sign-out.
import { h } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { CATALOGUES } from "./texts.js";
import { languageName } from "../shared/i18n.js";
import { roleMayOpen } from "./router.js";

/**
 * An in-app link: the browser's own link (new tab, copy) and in-page navigation on click.
 * @param {{app: import("./app.js").App, href: string, children?: any, current?: boolean, class?: string}} props
 */
export function Link({ app, href, children, current = false, class: className }) {
  return h("a", {
    href, class: className, "aria-current": current ? "page" : undefined,
    onClick: (/** @type {MouseEvent} */ e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      app.go(href);
    },
  }, children);
}

/** @param {{app: import("./app.js").App, children?: any}} props */
export function Frame({ app, children }) {
  const { session, t, route } = app;
  const main = useRef(/** @type {HTMLElement | null} */ (null));
  // A new view: focus its heading, so screen readers announce it.
  useEffect(() => {
    const heading = main.current?.querySelector("h1");
    if (heading instanceof HTMLElement) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }, [route.name, route.params.id, session.vault === "unlocked"]);
  const nav = [
    ["/", "home", "nav.home"], ["/patients", "patients", "nav.patients"], ["/consents", "consents", "nav.consents"],
    ["/templates", "templates", "nav.templates"], ["/analytics", "analytics", "nav.analytics"],
    ["/audit", "audit", "nav.audit"], ["/billing", "billing", "nav.billing"], ["/team", "team", "nav.team"],
    ["/settings", "settings", "nav.settings"], ["/account", "account", "nav.account"],
  ].filter(([, view]) => roleMayOpen(view, session.role) && (view !== "billing" || session.billingEnabled));
  const section = route.name.startsWith("patient") || route.name.startsWith("plan") || route.name === "photos" ? "patients"
    : route.name.startsWith("consent") ? "consents" : route.name.startsWith("template") ? "templates" : route.name;
  return h("div", { class: "frame" },
    h("a", { class: "skip-link", href: "#main" }, t("nav.skip")),
    h("header", { class: "topbar" },
      h("div", { class: "brand" },
        h("span", { class: "brand-app" }, t("app.name")),
        h("span", { class: "brand-practice" }, session.practice?.name ?? "")),
      h("nav", { "aria-label": t("nav.label"), class: "nav" },
        h("ul", {}, nav.map(([href, view, key]) => h("li", { key: view },
          h(Link, { app, href, current: section === view }, t(key)))))),
      h("div", { class: "tools" },
        session.role === "EMPFANG" ? null : h(VaultBadge, { app }),
        h(LanguageSwitch, { app }),
        h("span", { class: "who" }, t("nav.signedInAs", { name: session.user?.name ?? "", role: t(`role.${session.role}`) })),
        h("button", { type: "button", class: "button button-secondary", onClick: () => session.signOut() },
          t("nav.signOut")))),
    h("main", { id: "main", class: "main", ref: main }, children));
}

/** @param {{app: import("./app.js").App}} props */
function VaultBadge({ app }) {
  const { session, t } = app;
  if (session.vault !== "unlocked") {
    return h("span", { class: "vault-badge vault-locked" }, t("vault.stateLocked"));
  }
  return h("span", { class: "vault-tools" },
    h("span", { class: "vault-badge vault-open" }, t("vault.stateUnlocked")),
    h("button", { type: "button", class: "button button-secondary", onClick: () => session.lock("manual") },
      t("vault.lock")));
}

/** @param {{app: import("./app.js").App}} props */
export function LanguageSwitch({ app }) {
  const { i18n, t } = app;
  return h("div", { class: "language" },
    h("label", { for: "language-select", class: "visually-hidden" }, t("common.language")),
    h("select", {
      id: "language-select", value: i18n.locale,
      onChange: (/** @type {Event} */ e) => app.setLocale(/** @type {HTMLSelectElement} */ (e.currentTarget).value),
    }, Object.keys(CATALOGUES).map((code) => h("option", { value: code, key: code, lang: code }, languageName(code)))));
}
