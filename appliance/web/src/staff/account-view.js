// The member's own page: who is signed in; the account password; the second factor (TOTP:
// the QR code is made here in the browser from the secret the API hands out once, confirmed
// with a code; switched off with password and code); the account's sessions, each of which can
// be ended (a computer left signed in); and for the practice owner the vault password
// change. A change proves possession of the practice key (docs/crypto.md): the server seals a
// challenge to the practice key, the worker opens it with the unlocked vault and makes the new
// envelope around the same keys (and opens it once to compare), then both go back together.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { QrFigure } from "./deliver-view.js";
import { problemOf } from "./problems.js";
import { Alert, Button, Field } from "./ui.js";
import { UnlockView } from "./unlock-view.js";
import { StoredConfirmation, StrengthMeter, useStrength } from "./vault-password.js";

/** @param {{app: import("./app.js").App}} props */
export function AccountView({ app }) {
  const { t, session } = app;
  return h("div", {},
    h("h1", {}, t("account.title")),
    h("dl", { class: "facts" },
      h("dt", {}, t("login.name")), h("dd", {}, session.user?.name ?? ""),
      h("dt", {}, t("login.email")), h("dd", {}, session.user?.email ?? ""),
      h("dt", {}, t("account.role")), h("dd", {}, t(`role.${session.role}`))),
    h(PasswordChange, { app }),
    h(TwoFactor, { app }),
    h(OwnSessions, { app }),
    session.role === "ADMIN" ? h(VaultPasswordChange, { app }) : null);
}

/** The account's own words for refusals of these endpoints, else the app's. @param {unknown} error */
function accountProblem(error) {
  const code = /** @type {{code?: string}} */ (error ?? {}).code;
  if (code === "wrong_password") return { key: "account.wrongPassword" };
  if (code === "invalid_code") return { key: "problem.invalidCode" };
  return problemOf(error);
}

/** The API's password rule (NEW_PASSWORD): 10 to 256 characters, not the e-mail address.
 * @param {string} password @param {string} email @returns {string | null} a message key */
export function passwordProblem(password, email) {
  const length = [...password].length; // code points, as the server counts them
  if (length < 10 || length > 256) return "account.passwordLength";
  if (password.trim().toLowerCase() === email.trim().toLowerCase()) return "account.passwordIsEmail";
  return null;
}

/** The account password: the API ends every session of the account and answers a new token,
 * which this page keeps (the other devices are signed out). @param {{app: import("./app.js").App}} props */
function PasswordChange({ app }) {
  const { t, session } = app;
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [errors, setErrors] = useState(/** @type {Record<string, string>} */ ({}));
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    /** @type {Record<string, string>} */
    const found = {};
    if (!current) found.current = t("validation.required");
    const rule = passwordProblem(next, session.user?.email ?? "");
    if (rule) found.next = t(rule);
    if (repeat !== next) found.repeat = t("setup.passwordsDiffer");
    setErrors(found);
    setDone(false);
    if (Object.keys(found).length) return;
    setBusy(true);
    setProblem(null);
    try {
      const answer = await session.api("POST", "/api/auth/password", { body: { currentPassword: current, newPassword: next } });
      await session.begin(answer);
      setCurrent("");
      setNext("");
      setRepeat("");
      setDone(true);
    } catch (error) {
      setProblem(accountProblem(error));
    } finally {
      setBusy(false);
    }
  }

  return h("section", { class: "card", "aria-labelledby": "password-heading" },
    h("h2", { id: "password-heading" }, t("account.passwordHeading")),
    h("p", {}, t("account.passwordIntro")),
    done ? h(Alert, { kind: "success" }, t("account.passwordChanged")) : null,
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    h("form", { onSubmit: submit, noValidate: true },
      h(Field, { id: "account-current", label: t("account.currentPassword"), type: "password", value: current,
        onInput: setCurrent, error: errors.current, autocomplete: "current-password", required: true }),
      h(Field, { id: "account-new", label: t("account.newAccountPassword"), hint: t("login.passwordHint"), type: "password",
        value: next, onInput: setNext, error: errors.next, autocomplete: "new-password", required: true }),
      h(Field, { id: "account-repeat", label: t("account.repeatPassword"), type: "password", value: repeat, onInput: setRepeat,
        error: errors.repeat, autocomplete: "new-password", required: true }),
      h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("account.changePassword"), busyLabel: t("common.loading") }))));
}

/** The secret in groups of four, for typing it into an app by hand. @param {string} secret */
export function groupedSecret(secret) {
  return (secret.match(/.{1,4}/g) ?? []).join(" ");
}

/** The second factor. @param {{app: import("./app.js").App}} props */
function TwoFactor({ app }) {
  const { t, session } = app;
  const enabled = Boolean(/** @type {{twoFactorEnabled?: boolean}} */ (session.user ?? {}).twoFactorEnabled);
  const [setup, setSetup] = useState(/** @type {{secret: string, otpauthUri: string} | null} */ (null));
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState(/** @type {Record<string, string>} */ ({}));
  const [busy, setBusy] = useState(false);
  const [news, setNews] = useState(/** @type {string | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  /** @param {() => Promise<void>} run */
  async function attempt(run) {
    setBusy(true);
    setProblem(null);
    setNews(null);
    try {
      await run();
    } catch (error) {
      setProblem(accountProblem(error));
    } finally {
      setBusy(false);
    }
  }
  const start = () => attempt(async () => setSetup(await session.api("POST", "/api/auth/2fa/setup")));
  /** @param {Event} e */
  function confirm(e) {
    e.preventDefault();
    /** @type {Record<string, string>} */
    const found = {};
    if (!/^\d{6}$/.test(code.trim())) found.code = t("account.codeFormat");
    if (enabled && !password) found.password = t("validation.required");
    setErrors(found);
    if (Object.keys(found).length) return;
    attempt(async () => {
      if (enabled) await session.api("POST", "/api/auth/2fa/disable", { body: { code: code.trim(), password } });
      else await session.api("POST", "/api/auth/2fa/enable", { body: { code: code.trim() } });
      setSetup(null);
      setCode("");
      setPassword("");
      await session.refresh();
      setNews(t(enabled ? "account.twoFactorOff" : "account.twoFactorOn"));
    });
  }

  return h("section", { class: "card", "aria-labelledby": "totp-heading" },
    h("h2", { id: "totp-heading" }, t("account.twoFactorHeading")),
    h("p", {}, enabled ? t("account.twoFactorIsOn") : t("account.twoFactorIsOff")),
    news ? h(Alert, { kind: "success" }, news) : null,
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    !enabled && !setup ? h("div", { class: "actions" },
      h(Button, { busy, label: t("account.twoFactorStart"), busyLabel: t("common.loading"), onClick: start })) : null,
    !enabled && setup ? h("div", {},
      h("p", {}, t("account.twoFactorScan")),
      h(QrFigure, { text: setup.otpauthUri, label: t("account.twoFactorQr"), caption: t("account.twoFactorQrCaption") }),
      h("p", {}, t("account.twoFactorManual"), " ", h("code", { class: "secret" }, groupedSecret(setup.secret)))) : null,
    enabled || setup ? h("form", { onSubmit: confirm, noValidate: true, class: "inline-form" },
      enabled ? h(Field, { id: "totp-password", label: t("login.password"), type: "password", value: password,
        onInput: setPassword, error: errors.password, autocomplete: "current-password", required: true }) : null,
      h(Field, { id: "totp-code", label: t("login.code"), hint: t("login.codeHint"), value: code, onInput: setCode,
        error: errors.code, autocomplete: "one-time-code", inputmode: "numeric", required: true }),
      h("div", { class: "actions" }, h(Button, { type: "submit", busy, kind: enabled ? "danger" : "primary",
        label: enabled ? t("account.twoFactorDisable") : t("account.twoFactorEnable"), busyLabel: t("common.loading") }))) : null);
}

/** The account's live sessions; any but this one can be ended here. @param {{app: import("./app.js").App}} props */
function OwnSessions({ app }) {
  const { t, session, i18n } = app;
  const [items, setItems] = useState(/** @type {any[] | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const [news, setNews] = useState(/** @type {string | null} */ (null));
  async function load() {
    try {
      setItems((await session.api("GET", "/api/auth/sessions")).items);
    } catch (error) {
      setProblem(problemOf(error));
    }
  }
  useEffect(() => { load(); }, [session.token]);
  /** @param {string} id */
  async function end(id) {
    setProblem(null);
    setNews(null);
    try {
      await session.api("DELETE", `/api/auth/sessions/${encodeURIComponent(id)}`);
      setNews(t("account.sessionEnded"));
    } catch (error) {
      setProblem(problemOf(error));
    }
    await load();
  }
  return h("section", { class: "card", "aria-labelledby": "sessions-heading" },
    h("h2", { id: "sessions-heading" }, t("account.sessionsHeading")),
    h("p", {}, t("account.sessionsIntro")),
    news ? h(Alert, { kind: "success" }, news) : null,
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    items === null ? h("p", { role: "status" }, t("common.loading")) : h("table", { class: "table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("account.sessionStarted")), h("th", { scope: "col" }, t("account.sessionExpires")),
        h("th", { scope: "col" }, t("team.actions")))),
      h("tbody", {}, items.map((item) => h("tr", { key: item.id },
        h("td", {}, h("span", {}, i18n.dateTime(item.createdAt)), item.current ? h("span", { class: "tag" }, t("account.thisSession")) : null),
        h("td", {}, i18n.dateTime(item.expiresAt)),
        h("td", {}, item.current ? null : h(Button, { kind: "secondary", label: t("account.endSession", { started: i18n.dateTime(item.createdAt) }),
          onClick: () => end(item.id) })))))));
}

/** @param {{app: import("./app.js").App}} props */
function VaultPasswordChange({ app }) {
  const { t, session } = app;
  const practice = session.practice;
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [stored, setStored] = useState(false);
  const [errors, setErrors] = useState(/** @type {Record<string, string>} */ ({}));
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const strength = useStrength(password, [practice?.name ?? "", practice?.contactEmail ?? ""]);

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    /** @type {Record<string, string>} */
    const found = {};
    if (!strength?.ok) found.password = t("setup.passwordWeak");
    if (repeat !== password) found.repeat = t("setup.passwordsDiffer");
    if (!stored) found.stored = t("setup.confirmStored");
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    setProblem(null);
    try {
      const challenge = await session.api("POST", "/api/practice/vault/challenge");
      const challengeResponse = await session.call("openChallenge", challenge.sealedChallenge);
      const envelope = await session.call("changeVaultPassword", password,
        { publicKey: practice?.publicKey, signingKey: practice?.signingKey });
      session.practice = await session.api("PUT", "/api/practice/vault",
        { body: { challengeId: challenge.challengeId, challengeResponse, encryptedPrivKey: envelope } });
      setDone(true);
      setPassword("");
      setRepeat("");
      setStored(false);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  return h("section", { class: "card", "aria-labelledby": "vault-change-heading" },
    h("h2", { id: "vault-change-heading" }, t("account.vaultHeading")),
    session.vault !== "unlocked" ? [h("p", { key: "p" }, t("account.unlockFirst")), h(UnlockView, { app, key: "u", level: 3 })] : [
      h(Alert, { kind: "warning", key: "w" }, h("strong", {}, t("setup.warningTitle")), " ", t("setup.warning")),
      done ? h(Alert, { kind: "success", key: "d" }, t("account.vaultChanged")) : null,
      problem ? h(Alert, { kind: "error", key: "e" }, t(problem.key, problem.params)) : null,
      h("form", { onSubmit: submit, noValidate: true, key: "f" },
        h(Field, { id: "vault-new", label: t("account.newPassword"), type: "password", value: password, onInput: setPassword,
          error: errors.password, autocomplete: "new-password", required: true }),
        h(StrengthMeter, { app, strength }),
        h(Field, { id: "vault-new-repeat", label: t("setup.repeat"), type: "password", value: repeat, onInput: setRepeat,
          error: errors.repeat, autocomplete: "new-password", required: true }),
        h(StoredConfirmation, { app, id: "vault-new-stored", checked: stored, onChange: setStored, error: errors.stored }),
        h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("account.changeVault"), busyLabel: t("account.changing") }))),
    ]);
}
