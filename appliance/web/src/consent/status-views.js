// Screens outside the steps: links that cannot be used (unknown, expired, revoked, and the
// security refusals), a consent already signed, the confirmation with the copy to keep, and
// the withdrawal (reason, confirmation, result). Each says what happened and what to do next.
import { ApiError, apiRequest } from "../shared/api.js";
import { focusOn, h, mount } from "../shared/dom.js";

/**
 * @typedef {import("./app.js").App} App
 * @typedef {import("./app.js").Screen} Screen
 */

/** Problems of the link itself; the others (no connection...) are the shared catalogue's. */
const CONSENT_PROBLEMS = new Set(["unknown", "expired", "revoked", "formChanged", "keyMismatch", "keyMissing",
  "unknownForm"]);
/** Problems that trying again may solve. */
const RETRYABLE = new Set(["network", "unavailable", "rateLimited", "unexpected", "formChanged", "unknownForm"]);

/**
 * @param {string} kind
 * @param {ApiError | null} [error]
 * @returns {Screen}
 */
export function problemScreen(kind, error = null) {
  return (app) => {
    const base = CONSENT_PROBLEMS.has(kind) ? `consent.problems.${kind}` : `problem.${kind}`;
    const params = {
      seconds: error?.retryAfter ?? 60,
      requestId: error?.requestId ?? "–",
    };
    return h("section", { class: `screen problem problem--${kind}`, "data-problem": kind },
      h("h1", {}, app.t(`${base}.title`)),
      h("p", { class: "lead" }, app.t(`${base}.text`, params)),
      CONSENT_PROBLEMS.has(kind) && kind !== "unknown" && kind !== "expired"
        ? h("p", {}, app.t("consent.problems.contact")) : null,
      h("div", { class: "actions" }, RETRYABLE.has(kind) ? h("button", {
        type: "button", class: "button button--primary", onclick: () => window.location.reload(),
      }, app.t(kind === "formChanged" || kind === "unknownForm" ? "consent.problems.reload" : "common.retry")) : null));
  };
}

/** A link opened again after signing. @type {Screen} */
export function signedScreen(app) {
  const consent = /** @type {NonNullable<App["consent"]>} */ (app.consent);
  return h("section", { class: "screen signed" },
    h("h1", {}, app.t("consent.signed.title")),
    h("p", { class: "lead" }, app.t("consent.signed.text", {
      date: consent.signedAt ? app.i18n.dateTime(consent.signedAt) : "–", practice: app.practiceName,
    })),
    h("p", {}, app.t("consent.signed.copyNote")),
    withdrawOffer(app, signedScreen));
}

/** The server already had a submission of this link (another tab, another device). @type {Screen} */
export function alreadySubmittedScreen(app) {
  return h("section", { class: "screen already-submitted" },
    h("h1", {}, app.t("consent.alreadySubmitted.title")),
    h("p", { class: "lead" }, app.t("consent.alreadySubmitted.text")),
    h("div", { class: "actions" }, h("button", {
      type: "button", class: "button button--primary", onclick: () => window.location.reload(),
    }, app.t("consent.alreadySubmitted.reload"))));
}

/** The confirmation, with the copy to keep. @type {Screen} */
export function doneScreen(app) {
  const submitted = /** @type {{signedAt: string}} */ (app.submitted);
  const status = h("p", { class: "status-message", role: "status" });
  const button = h("button", {
    type: "button", class: "button button--primary",
    onclick: async () => {
      button.disabled = true;
      status.textContent = app.t("consent.done.copyMaking");
      try {
        // pdf-lib is loaded only now, when the patient asks for the copy
        const { makeCopy } = await import("./copy-pdf.js");
        const { bytes, fileName } = await makeCopy(app);
        download(bytes, fileName);
        status.textContent = app.t("consent.done.copyMade", { file: fileName });
      } catch {
        status.textContent = app.t("consent.done.copyFailed");
      } finally {
        button.disabled = false;
      }
    },
  }, app.t("consent.done.copyButton"));
  return h("section", { class: "screen done" },
    h("h1", {}, app.t("consent.done.title")),
    h("p", { class: "lead" }, app.t("consent.done.text", {
      practice: app.practiceName, date: app.i18n.dateTime(submitted.signedAt),
    })),
    h("section", { class: "copy", "aria-labelledby": "copy-title" },
      h("h2", { id: "copy-title" }, app.t("consent.done.copyTitle")),
      h("p", {}, app.t("consent.done.copyText")),
      h("div", { class: "actions" }, button),
      status),
    withdrawOffer(app, doneScreen));
}

/**
 * Saves bytes as a file on the patient's device.
 * @param {Uint8Array} bytes
 * @param {string} fileName
 */
function download(bytes, fileName) {
  const url = URL.createObjectURL(new Blob([/** @type {BlobPart} */ (bytes)], { type: "application/pdf" }));
  const link = h("a", { href: url, download: fileName, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/**
 * @param {App} app
 * @param {Screen} back the screen "cancel" returns to
 */
function withdrawOffer(app, back) {
  return h("section", { class: "withdraw-offer", "aria-labelledby": "withdraw-offer-title" },
    h("h2", { id: "withdraw-offer-title" }, app.t("consent.done.withdrawTitle")),
    h("p", {}, app.t("consent.done.withdrawText")),
    h("button", {
      type: "button", class: "button button--secondary",
      onclick: () => app.show(withdrawScreen({ reason: "" }, back)),
    }, app.t("consent.done.withdrawButton")));
}

const MAX_REASON = 500;

/**
 * First step of withdrawing: what it means, and an optional reason.
 * @param {{reason: string}} draft
 * @param {Screen} back
 * @returns {Screen}
 */
function withdrawScreen(draft, back) {
  return (app) => {
    const error = h("p", { class: "error-message", id: "reason-error", hidden: true });
    const reason = h("textarea", {
      id: "withdraw-reason", rows: 4, "aria-describedby": "reason-help reason-error",
      oninput: (/** @type {Event} */ event) => { draft.reason = /** @type {HTMLTextAreaElement} */ (event.target).value; },
    }, draft.reason);
    return h("section", { class: "screen withdraw" },
      h("h1", {}, app.t("consent.withdraw.title")),
      h("p", { class: "lead" }, app.t("consent.withdraw.text")),
      h("form", {
        novalidate: true,
        onsubmit: (/** @type {Event} */ event) => {
          event.preventDefault();
          if (draft.reason.trim().length > MAX_REASON) {
            error.hidden = false;
            error.textContent = app.t("validation.tooLong", { max: MAX_REASON });
            reason.setAttribute("aria-invalid", "true");
            reason.focus();
            return;
          }
          app.show(confirmWithdrawScreen(draft, back));
        },
      },
      h("div", { class: "field" },
        h("label", { for: "withdraw-reason" }, app.t("consent.withdraw.reasonLabel"),
          h("span", { class: "optional" }, ` (${app.t("common.optional")})`)),
        h("p", { class: "hint", id: "reason-help" }, app.t("consent.withdraw.reasonHelp")),
        error, reason),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "button button--primary" }, app.t("consent.withdraw.continue")),
        h("button", { type: "button", class: "button button--secondary", onclick: () => app.show(back) },
          app.t("common.cancel")))));
  };
}

/**
 * The confirmation step: withdrawing cannot be undone.
 * @param {{reason: string}} draft
 * @param {Screen} back
 * @returns {Screen}
 */
function confirmWithdrawScreen(draft, back) {
  return (app) => {
    const status = h("p", { class: "error-message", role: "alert", hidden: true });
    const confirm = h("button", {
      type: "button", class: "button button--danger",
      onclick: async () => {
        confirm.disabled = true;
        try {
          const reason = draft.reason.trim();
          const result = await apiRequest("POST", `/api/consent/${app.token}/withdraw`,
            { body: reason ? { reason } : {} });
          app.show(withdrawnScreen(result.revokedAt));
        } catch (error) {
          if (error instanceof ApiError && error.status === 409 && error.code === "already_revoked") {
            return app.show(problemScreen("revoked"));
          }
          if (error instanceof ApiError && (error.status === 404 || error.status === 410)) {
            return app.showApiProblem(error);
          }
          confirm.disabled = false;
          status.hidden = false;
          const kind = error instanceof ApiError && error.status === 0 ? "network" : "unexpected";
          mount(status, app.t(`problem.${kind}.text`, {
            requestId: error instanceof ApiError ? error.requestId || "–" : "–",
          }));
          focusOn(status);
        }
      },
    }, app.t("consent.withdraw.confirm"));
    return h("section", { class: "screen withdraw-confirm" },
      h("h1", {}, app.t("consent.withdraw.confirmTitle")),
      h("p", { class: "lead" }, app.t("consent.withdraw.confirmText")),
      status,
      h("div", { class: "actions" }, confirm,
        h("button", { type: "button", class: "button button--secondary", onclick: () => app.show(back) },
          app.t("common.cancel"))));
  };
}

/** @param {string} revokedAt @returns {Screen} */
function withdrawnScreen(revokedAt) {
  return (app) => h("section", { class: "screen withdrawn" },
    h("h1", {}, app.t("consent.withdraw.doneTitle")),
    h("p", { class: "lead" }, app.t("consent.withdraw.doneText", {
      date: app.i18n.dateTime(revokedAt), practice: app.practiceName,
    })));
}
