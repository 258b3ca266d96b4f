// Accepting an invitation (/invite/{token}, also reachable from the public entry): the token
// from the mail is the credential. A new account sets its name and password here; an address
// that has an account proves it with that account's password. Used, withdrawn and expired
// invitations are explained.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { apiRequest } from "../shared/api.js";
import { LanguageSwitch } from "./frame-view.js";
import { problemOf } from "./problems.js";
import { Alert, Button, Field } from "./ui.js";

const GONE = { invite_used: "invite.used", invite_revoked: "invite.revoked", invite_expired: "invite.expired" };

/** @param {{app: import("./app.js").App, token: string}} props */
export function InviteView({ app, token }) {
  const { t, session, i18n } = app;
  const [invite, setInvite] = useState(/** @type {any} */ (null));
  const [closed, setClosed] = useState(/** @type {string | null} */ (null));
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  useEffect(() => {
    apiRequest("GET", `/api/team/invite/${encodeURIComponent(token)}`).then(setInvite, (error) => {
      const code = /** @type {{code?: string, status?: number}} */ (error).code ?? "";
      if (code in GONE) setClosed(/** @type {Record<string, string>} */ (GONE)[code]);
      else if (/** @type {{status?: number}} */ (error).status === 404) setClosed("invite.unknown");
      else setProblem(problemOf(error));
    });
  }, [token]);

  /** @param {Event} e */
  async function accept(e) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const body = invite.accountExists ? { password } : { name, password };
      const answer = await apiRequest("POST", `/api/team/invite/${encodeURIComponent(token)}/accept`, { body });
      window.history.replaceState(null, "", "/");
      app.go("/");
      await session.begin(answer);
    } catch (error) {
      setProblem(problemOf(error));
      setBusy(false);
    }
  }

  return h("div", { class: "frame frame-narrow" },
    h("header", { class: "topbar" }, h("div", { class: "brand" }, h("span", { class: "brand-app" }, t("app.name"))),
      h("div", { class: "tools" }, h(LanguageSwitch, { app }))),
    h("main", { id: "main", class: "main" },
      h("div", { class: "card" },
        h("h1", {}, t("invite.title")),
        closed ? h(Alert, { kind: "warning" }, t(closed)) : null,
        problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
        !invite && !closed && !problem ? h("p", { role: "status" }, t("common.loading")) : null,
        invite ? [
          h("p", { key: "i" }, t("invite.intro", { practice: invite.practice.name, role: t(`role.${invite.role}`), email: invite.email })),
          h("p", { key: "e", class: "hint" }, t("invite.expires", { date: i18n.dateTime(invite.expiresAt) })),
          h("form", { key: "f", onSubmit: accept, noValidate: true },
            invite.accountExists ? h("p", {}, t("invite.existingAccount")) : null,
            invite.accountExists ? null : h(Field, { id: "invite-name", label: t("login.name"), value: name, onInput: setName,
              autocomplete: "name", required: true }),
            h(Field, { id: "invite-password", label: t("login.password"), type: "password", value: password,
              onInput: setPassword, autocomplete: invite.accountExists ? "current-password" : "new-password",
              hint: invite.accountExists ? null : t("login.passwordHint"), required: true }),
            h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("invite.accept"), busyLabel: t("common.loading") }))),
        ] : null)));
}
