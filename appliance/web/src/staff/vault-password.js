// The vault password's strength as staff type it (creation and change): zxcvbn-ts with the
// German and English dictionaries (crypto/password.js), loaded only when a view asks, because
// its dictionaries are large; the practice's own words count as guessable. Score 4 of 4 is
// required (docs/crypto.md): the server cannot judge the password, and a stolen envelope is
// attacked offline.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";

/** @typedef {{score: number, ok: boolean, feedback: {warning: string | null, suggestions: string[]}}} Strength */

/**
 * The estimate for `password`, null while empty or loading.
 * @param {string} password @param {string[]} guessable the practice's name, contact address
 * @returns {Strength | null}
 */
export function useStrength(password, guessable) {
  const [strength, setStrength] = useState(/** @type {Strength | null} */ (null));
  useEffect(() => {
    let current = true;
    if (!password) {
      setStrength(null);
      return undefined;
    }
    import("../crypto/password.js").then(({ vaultPasswordStrength }) => {
      if (current) setStrength(vaultPasswordStrength(password, guessable));
    });
    return () => { current = false; };
  }, [password, ...guessable]);
  return strength;
}

/** @param {{app: import("./app.js").App, strength: Strength | null}} props */
export function StrengthMeter({ app, strength }) {
  const { t } = app;
  const score = strength?.score ?? 0;
  return h("div", { class: "strength", "aria-live": "polite" },
    h("meter", { min: 0, max: 4, value: score, low: 2, high: 3, optimum: 4, "aria-label": t("setup.strengthLabel"),
      class: `strength-meter strength-${score}` }),
    h("p", { class: strength?.ok ? "strength-text strength-ok" : "strength-text" },
      strength === null ? t("setup.strengthEmpty")
        : strength.ok ? t("setup.strengthOk") : t("setup.strengthWeak", { score })),
    strength && !strength.ok && strength.feedback.warning ? h("p", { class: "hint" }, strength.feedback.warning) : null);
}

/**
 * The confirmation that the vault password is stored safely (docs/crypto.md: a lost one means
 * lost data), required at creation and at change.
 * @param {{app: import("./app.js").App, id: string, checked: boolean, onChange: (checked: boolean) => void,
 *   error?: string}} props
 */
export function StoredConfirmation({ app, id, checked, onChange, error }) {
  return h("div", { class: error ? "check field-invalid" : "check" },
    h("input", { id, type: "checkbox", checked, "aria-describedby": error ? `${id}-error` : undefined,
      onChange: (/** @type {Event} */ e) => onChange(/** @type {HTMLInputElement} */ (e.currentTarget).checked) }),
    h("label", { for: id }, app.t("setup.stored")),
    error ? h("p", { class: "error-text", id: `${id}-error` }, error) : null);
}
