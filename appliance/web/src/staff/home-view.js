// The start page after sign-in: what the member's role can do here, and a page for paths the
// app does not know.
import { h } from "preact";
import { useState } from "preact/hooks";
import { Link } from "./frame-view.js";
import { problemOf } from "./problems.js";
import { Alert, Button } from "./ui.js";

/** @param {{app: import("./app.js").App}} props */
export function HomeView({ app }) {
  const { t, session } = app;
  if (session.role === "EMPFANG") {
    return h("div", {}, h("h1", {}, t("home.title")), h("p", {}, t("home.reception")), h(Everywhere, { app }));
  }
  return h("div", {},
    h("h1", {}, t("home.title")),
    h("p", {}, t("home.intro")),
    h("ul", { class: "tiles" },
      h("li", {}, h(Link, { app, href: "/consents/new", class: "tile" }, t("home.newConsent"))),
      h("li", {}, h(Link, { app, href: "/consents?status=SIGNED", class: "tile" }, t("home.signed"))),
      h("li", {}, h(Link, { app, href: "/patients", class: "tile" }, t("home.patients")))),
    h(Everywhere, { app }));
}

/** Sign-out everywhere: for a lost phone or a shared computer left signed in. @param {{app: import("./app.js").App}} props */
function Everywhere({ app }) {
  const { t, session } = app;
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  async function run() {
    setBusy(true);
    try {
      await session.signOutEverywhere();
    } catch (error) {
      setProblem(problemOf(error));
      setBusy(false);
    }
  }
  return h("section", { class: "card", "aria-labelledby": "everywhere-heading" },
    h("h2", { id: "everywhere-heading" }, t("home.everywhereHeading")),
    h("p", {}, t("home.everywhereText")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    h("div", { class: "actions" }, h(Button, { kind: "secondary", busy, label: t("home.everywhere"), onClick: run })));
}

/** @param {{app: import("./app.js").App}} props */
export function NotFoundView({ app }) {
  const { t } = app;
  return h("div", {}, h("h1", {}, t("title.notFound")), h("p", {}, h(Link, { app, href: "/" }, t("home.back"))));
}
