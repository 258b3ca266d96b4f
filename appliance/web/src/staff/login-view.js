// Sign in (e-mail and password, then the TOTP code when the account has it on) and, for the
// founder of a practice, creating an account. Wrong credentials, the lockout after repeated
// failures (with the time to wait) and rate limits each get their own words.
import { h } from "preact";
import { useState } from "preact/hooks";
import { apiRequest } from "../shared/api.js";
import { LanguageSwitch } from "./frame-view.js";
import { problemOf } from "./problems.js";
import { Alert, Button, Field } from "./ui.js";

/** @param {{app: import("./app.js").App}} props */
export function LoginView({ app }) {
  const { t, session } = app;
  const [mode, setMode] = useState(/** @type {"login" | "code" | "register"} */ ("login"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [code, setCode] = useState("");
  const [pending, setPending] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  /** @param {() => Promise<any>} request */
  async function attempt(request) {
    setBusy(true);
    setProblem(null);
    try {
      const answer = await request();
      if (answer && answer.twoFactorRequired) {
        setPending(answer.pendingToken);
        setMode("code");
      } else {
        if (window.location.pathname === "/login") app.go("/");
        await session.begin(answer);
      }
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  /** @param {Event} e */
  function submit(e) {
    e.preventDefault();
    if (mode === "login") {
      attempt(() => apiRequest("POST", "/api/auth/login", { body: { email, password } }));
    } else if (mode === "register") {
      attempt(() => apiRequest("POST", "/api/auth/register", { body: { email, password, name } }));
    } else {
      attempt(() => apiRequest("POST", "/api/auth/2fa/verify", { body: { code }, token: pending }));
    }
  }

  const title = mode === "register" ? t("login.registerTitle") : mode === "code" ? t("login.codeTitle") : t("login.title");
  return h("div", { class: "frame frame-narrow" },
    h("header", { class: "topbar" }, h("div", { class: "brand" }, h("span", { class: "brand-app" }, t("app.name"))),
      h("div", { class: "tools" }, h(LanguageSwitch, { app }))),
    h("main", { id: "main", class: "main" },
      h("div", { class: "card" },
        h("h1", {}, title),
        session.signedOutReason ? h(Alert, { kind: "info" }, t(session.signedOutReason)) : null,
        problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
        h("form", { onSubmit: submit, noValidate: true },
          mode === "code"
            ? h(Field, { id: "login-code", label: t("login.code"), hint: t("login.codeHint"), value: code,
              onInput: setCode, autocomplete: "one-time-code", inputmode: "numeric", required: true })
            : [
              mode === "register" ? h(Field, { id: "login-name", label: t("login.name"), value: name, onInput: setName,
                autocomplete: "name", required: true }) : null,
              h(Field, { id: "login-email", label: t("login.email"), type: "email", value: email, onInput: setEmail,
                autocomplete: "username", required: true }),
              h(Field, { id: "login-password", label: t("login.password"), type: "password", value: password,
                onInput: setPassword, autocomplete: mode === "register" ? "new-password" : "current-password",
                hint: mode === "register" ? t("login.passwordHint") : null, required: true }),
            ],
          h("div", { class: "actions" },
            h(Button, { type: "submit", busy, label: mode === "register" ? t("login.register") : t("login.submit"),
              busyLabel: t("common.loading") }))),
        mode === "code" ? null : h("p", { class: "switch-mode" },
          h("button", { type: "button", class: "link-button", onClick: () => { setProblem(null); setMode(mode === "login" ? "register" : "login"); } },
            mode === "login" ? t("login.toRegister") : t("login.toLogin"))))));
}
