// First run: the founder creates the practice (name, contact address, time zone) and its vault.
// The keys are generated in the crypto worker; the vault password must reach zxcvbn's top score
// (docs/crypto.md: the server cannot judge it, and a stolen database backup is attacked offline
// at the speed of Argon2id, so only the password's own unguessability protects the keys); the
// warning of docs/crypto.md is shown, storing the password safely is confirmed, and an emergency
// sheet can be printed (print CSS: only the sheet goes to paper).
import { h } from "preact";
import { useState } from "preact/hooks";
import { problemOf } from "./problems.js";
import { Alert, Button, Field, Select } from "./ui.js";
import { StoredConfirmation, StrengthMeter, useStrength } from "./vault-password.js";

/** The time zones the browser knows, the practice's likely one first. */
export function timeZones() {
  const intl = /** @type {{supportedValuesOf?: (key: string) => string[]}} */ (Intl);
  const all = intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
  return ["Europe/Berlin", ...all.filter((zone) => zone !== "Europe/Berlin")];
}

/** @param {{app: import("./app.js").App}} props */
export function SetupView({ app }) {
  const { t, session, i18n } = app;
  const [name, setName] = useState("");
  const [email, setEmail] = useState(session.user?.email ?? "");
  const [zone, setZone] = useState("Europe/Berlin");
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [stored, setStored] = useState(false);
  const strength = useStrength(password, [name, email]);
  const [errors, setErrors] = useState(/** @type {Record<string, string>} */ ({}));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));


  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    /** @type {Record<string, string>} */
    const found = {};
    if (!name.trim()) found.name = t("validation.required");
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) found.email = t("validation.email");
    if (!strength?.ok) found.password = t("setup.passwordWeak");
    if (repeat !== password) found.repeat = t("setup.passwordsDiffer");
    if (!stored) found.stored = t("setup.confirmStored");
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    setProblem(null);
    try {
      const crypto = session.newCrypto();
      const vault = await crypto.call("createVault", password);
      await session.api("POST", "/api/practice", {
        body: { name: name.trim(), contactEmail: email, publicKey: vault.publicKey, signingKey: vault.signingKey,
          encryptedPrivKey: vault.envelope },
      });
      await session.api("PATCH", "/api/settings", { body: { timezone: zone } });
      await session.refresh();
      session.opened();
      app.go("/");
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  const today = i18n.dateTime(new Date(), { dateStyle: "long" });
  return h("div", { class: "frame frame-narrow" },
    h("main", { id: "main", class: "main" },
      h("div", { class: "card no-print" },
        h("h1", {}, t("setup.title")),
        h("p", {}, t("setup.intro")),
        problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
        h("form", { onSubmit: submit, noValidate: true },
          h("h2", {}, t("setup.practiceHeading")),
          h(Field, { id: "setup-name", label: t("setup.name"), value: name, onInput: setName, error: errors.name,
            autocomplete: "organization", required: true }),
          h(Field, { id: "setup-email", label: t("setup.email"), type: "email", value: email, onInput: setEmail,
            error: errors.email, autocomplete: "email", required: true }),
          h(Select, { id: "setup-zone", label: t("setup.timeZone"), value: zone, onChange: setZone,
            options: timeZones().map((z) => ({ value: z, label: z })) }),
          h("h2", {}, t("setup.vaultHeading")),
          h("p", {}, t("setup.vaultIntro")),
          h(Alert, { kind: "warning" }, h("strong", {}, t("setup.warningTitle")), " ", t("setup.warning")),
          h("p", { class: "hint" }, t("setup.whyStrong")),
          h(Field, { id: "setup-password", label: t("setup.password"), type: "password", value: password,
            onInput: setPassword, error: errors.password, autocomplete: "new-password", required: true }),
          h(StrengthMeter, { app, strength }),
          h(Field, { id: "setup-repeat", label: t("setup.repeat"), type: "password", value: repeat, onInput: setRepeat,
            error: errors.repeat, autocomplete: "new-password", required: true }),
          h(StoredConfirmation, { app, id: "setup-stored", checked: stored, onChange: setStored, error: errors.stored }),
          h("div", { class: "actions" },
            h("button", { type: "button", class: "button button-secondary", onClick: () => window.print() },
              t("setup.printSheet")),
            h(Button, { type: "submit", busy, label: t("setup.submit"), busyLabel: t("setup.creating") })))),
      h("section", { class: "print-only emergency-sheet", "aria-label": t("sheet.title") },
        h("h1", {}, t("sheet.title")),
        h("p", {}, h("strong", {}, t("sheet.practice")), " ", name || "______________________"),
        h("p", {}, h("strong", {}, t("sheet.date")), " ", today),
        h("p", { class: "sheet-blank" }, h("strong", {}, t("sheet.password"))),
        h("p", { class: "sheet-blank" }, h("strong", {}, t("sheet.storedBy"))),
        h("h2", {}, t("sheet.instructionsHeading")),
        h("ol", {}, ["sheet.step1", "sheet.step2", "sheet.step3", "sheet.step4"].map((key) => h("li", { key }, t(key)))),
        h("p", {}, h("strong", {}, t("setup.warningTitle")), " ", t("setup.warning")))));
}
