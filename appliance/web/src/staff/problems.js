// What the staff app says when a request or a crypto step fails: an error becomes a message
// key of the catalogues and its parameters. Pure (no DOM), so that the Node tests check it.

/**
 * @typedef {{key: string, params?: Record<string, string | number>}} Problem
 */

/** API codes with their own text; anything else is a generic problem with its request id. */
const API_CODES = {
  invalid_credentials: "problem.invalidCredentials",
  invalid_code: "problem.invalidCode",
  email_taken: "problem.emailTaken",
  already_member: "problem.alreadyMember",
  invite_closed: "problem.inviteClosed",
  consent_type_disabled: "problem.typeDisabled",
  forbidden: "problem.forbidden",
  already_on_plan: "problem.alreadyOnPlan",
  payment_provider_unavailable: "problem.paymentUnavailable",
  payment_provider_error: "problem.paymentRefused",
  billing_disabled: "problem.billingDisabled",
};

/** Contract errors (docs/crypto.md) as the worker names them. */
const CRYPTO_NAMES = {
  VaultLocked: "problem.wrongVaultPassword",
  KeyMismatch: "problem.keyMismatch",
  SignatureInvalid: "problem.signatureInvalid",
  BindingMismatch: "problem.bindingMismatch",
  AnswersInvalid: "problem.answersInvalid",
  WeakVaultPassword: "problem.weakVaultPassword",
  PayloadError: "problem.answersInvalid",
};

/**
 * @param {unknown} error an ApiError of shared/api.js, a contract error, anything else
 * @returns {Problem}
 */
export function problemOf(error) {
  const e = /** @type {{name?: string, status?: number, code?: string, details?: any,
    retryAfter?: number | null, requestId?: string | null, message?: string}} */ (error ?? {});
  if (e.name === "ApiError") {
    if (e.status === 0) return { key: "problem.network" };
    if (e.code === "account_locked") {
      const seconds = Number(e.details?.retryAfterSeconds ?? e.retryAfter ?? 900);
      return { key: "problem.locked", params: { minutes: Math.max(1, Math.ceil(seconds / 60)) } };
    }
    if (e.status === 429) return { key: "problem.rateLimited", params: { seconds: e.retryAfter ?? 60 } };
    const known = /** @type {Record<string, string>} */ (API_CODES)[e.code ?? ""];
    if (known) return { key: known };
    if (e.status === 403) return { key: "problem.forbidden" };
    if (e.status === 404) return { key: "problem.notFound" };
    if (e.status === 410) return { key: "problem.gone" };
    if (e.status === 503) return { key: "problem.unavailable" };
    if (e.status === 400 && e.code === "validation_failed") return { key: "problem.invalid" };
    return { key: "problem.unexpected", params: { requestId: e.requestId ?? "-" } };
  }
  const crypto = /** @type {Record<string, string>} */ (CRYPTO_NAMES)[e.name ?? ""];
  if (crypto) return { key: crypto };
  // Names and dates the lookupHash rules refuse (docs/crypto.md) come as ContractErrors with a field.
  if (e.name === "ContractError" && /** @type {{field?: string}} */ (e).field) return { key: "problem.identityRefused" };
  return { key: "problem.unexpected", params: { requestId: "-" } };
}
