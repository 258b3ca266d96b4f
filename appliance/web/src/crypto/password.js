// The vault password check of the staff app (docs/crypto.md, vault password): the server never
// sees the password, so only the client can refuse a weak one, at creation and at change. The
// estimator is zxcvbn-ts with its German and English dictionaries; the practice's name and
// contact address count as guessable words.
import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import * as common from "@zxcvbn-ts/language-common";
import * as de from "@zxcvbn-ts/language-de";
import * as en from "@zxcvbn-ts/language-en";
import { WeakVaultPassword } from "./errors.js";

/** zxcvbn's top score: at least 10^10 estimated guesses. */
export const VAULT_PASSWORD_MIN_SCORE = 4;

const zxcvbn = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...de.dictionary, ...en.dictionary },
  graphs: common.adjacencyGraphs,
  translations: de.translations,
});

/**
 * The estimate and whether the password may wrap the practice keys.
 * @param {string} password @param {string[]} [userInputs]
 */
export function vaultPasswordStrength(password, userInputs = []) {
  const words = userInputs.flatMap((text) => text.toLowerCase().split(/[^\p{L}\p{N}]+/u)).filter(Boolean);
  const result = zxcvbn.check(password, [...userInputs, ...words]);
  return { score: result.score, ok: result.score >= VAULT_PASSWORD_MIN_SCORE, feedback: result.feedback };
}

/** @param {string} password @param {string[]} [userInputs] */
export function checkVaultPassword(password, userInputs = []) {
  const strength = vaultPasswordStrength(password, userInputs);
  if (!strength.ok) {
    const hint = [strength.feedback.warning, ...strength.feedback.suggestions].filter(Boolean).join(" ");
    throw new WeakVaultPassword(`the vault password is too weak. ${hint}`.trim());
  }
}
