// The staff app's root: one Session (session.js), the route from the path, and which view
// shows: sign in, first run, the vault's unlock screen, or the route's view inside the frame.
// Views get `app` ({session, t, i18n, go, ...}) and call the API and the crypto worker through it.
import { h, render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Frame } from "./frame-view.js";
import { InviteView } from "./invite-view.js";
import { LoginView } from "./login-view.js";
import { matchRoute, roleMayOpen, VAULT_VIEWS } from "./router.js";
import { Session } from "./session.js";
import { SetupView } from "./setup-view.js";
import { newI18n, preferredLocale } from "./texts.js";
import { UnlockView } from "./unlock-view.js";
import { VIEWS } from "./views.js";

/**
 * @typedef {{session: Session, i18n: import("../shared/i18n.js").I18n,
 *   t: (key: string, params?: Record<string, string | number>) => string,
 *   go: (path: string) => void, route: import("./router.js").Route,
 *   setLocale: (locale: string) => void}} App
 */

/** @param {HTMLElement} root */
export function startApp(root) {
  root.replaceChildren();
  render(h(StaffApp, {}), root);
}

function StaffApp() {
  const [, setTick] = useState(0);
  const [session] = useState(() => new Session(() => setTick((n) => n + 1)));
  const [path, setPath] = useState(window.location.pathname);
  const [locale, setLocaleState] = useState(() => preferredLocale(navigator.languages || []));
  const i18n = newI18n(locale);

  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  useEffect(() => i18n.applyToDocument(), [locale]);

  const route = matchRoute(path);
  /** @type {App} */
  const app = {
    session, i18n, route,
    t: (key, params) => i18n.t(key, params),
    go: (to) => {
      if (to !== window.location.pathname + window.location.search) window.history.pushState(null, "", to);
      setPath(window.location.pathname);
      window.scrollTo(0, 0);
    },
    setLocale: (next) => setLocaleState(next),
  };
  useEffect(() => {
    document.title = `${i18n.t(`title.${route.name}`)} · ${i18n.t("app.name")}`;
  }, [route.name, locale]);

  if (route.name === "invite") return h(InviteView, { app, token: route.params.token });
  if (!session.token) return h(LoginView, { app });
  if (!session.user?.practiceId) return h(SetupView, { app });
  if (!roleMayOpen(route.name, session.role)) {
    return h(Frame, { app }, h("h1", { tabindex: "-1" }, app.t("title.forbidden")),
      h("p", {}, app.t("home.notForRole")));
  }
  if (VAULT_VIEWS.has(route.name) && session.vault !== "unlocked") {
    return h(Frame, { app }, h(UnlockView, { app }));
  }
  const View = VIEWS[route.name] ?? VIEWS.notFound;
  return h(Frame, { app }, h(View, { app, key: path }));
}
