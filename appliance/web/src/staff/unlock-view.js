// Unlocking the vault for this browser session: the password goes to the crypto worker, which
// runs Argon2id there (seconds), so the page keeps answering and says it is working; a wrong
// password is refused with a message and the field keeps focus for another try.
import { h } from "preact";
import { useRef, useState } from "preact/hooks";
import { problemOf } from "./problems.js";
import { Alert, Button, Field } from "./ui.js";

/** @param {{app: import("./app.js").App, level?: number}} props `level`: of its heading, when inside a section of a view */
export function UnlockView({ app, level = 1 }) {
  const { t, session } = app;
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const form = useRef(/** @type {HTMLFormElement | null} */ (null));
  const busy = session.vault === "unlocking";

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    if (busy || !password) return;
    setProblem(null);
    try {
      await session.unlock(password);
    } catch (error) {
      setProblem(problemOf(error));
      setPassword("");
      form.current?.querySelector("input")?.focus();
    }
  }

  return h("div", { class: "card card-narrow" },
    h(`h${level}`, {}, t("vault.unlockTitle")),
    session.lockReason ? h(Alert, { kind: "info" }, t(session.lockReason)) : null,
    h("p", {}, t("vault.unlockIntro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    h("form", { ref: form, onSubmit: submit, noValidate: true },
      h(Field, { id: "vault-password", label: t("vault.password"), type: "password", value: password,
        onInput: setPassword, autocomplete: "current-password", required: true }),
      h("div", { class: "actions" },
        h(Button, { type: "submit", busy, label: t("vault.unlock"), busyLabel: t("vault.unlocking") })),
      busy ? h("p", { class: "hint", role: "status" }, t("vault.unlockingHint")) : null));
}
