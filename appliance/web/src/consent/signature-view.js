// The signature step: the pad with clear and undo, and either the typed-name alternative (only
// where the form allows it) or an explanation of why a drawn signature is needed and what to do
// when one cannot draw.
import { focusOn, h, mount } from "../shared/dom.js";
import { collectIdentity } from "./form.js";
import { signaturePad, signatureProblem, strokesToPng, typedToPng } from "./signature-pad.js";

/**
 * @typedef {import("./app.js").App} App
 * @typedef {import("./wizard.js").StepContext} StepContext
 */

/** The name the patient entered, as a typed signature must read. @param {App} app */
export function fullName(app) {
  const identity = collectIdentity(app.values);
  return [identity.firstName, identity.lastName].filter(Boolean).join(" ");
}

/** A typed name as it signs: single spaces, nothing around. @param {string} text */
export function typedText(text) {
  return text.normalize("NFC").trim().replace(/\s+/g, " ");
}

/** @param {string} text */
function normalised(text) {
  return typedText(text).toLocaleLowerCase();
}

/**
 * @param {App} app
 * @param {StepContext} step
 * @returns {HTMLElement[]}
 */
export function signatureStep(app, step) {
  const form = /** @type {import("./form.js").FormDocument} */ (app.form);
  const signature = app.signature;
  const typedAllowed = Boolean(form.signature?.typedAlternative);
  if (!typedAllowed) signature.method = "drawn";
  const error = h("p", { class: "error-message", id: "signature-error", hidden: true });
  const status = h("p", { class: "visually-hidden", role: "status" });

  /** @param {string | null} text */
  const showError = (text) => {
    error.hidden = !text;
    mount(error, text ? [h("span", { class: "visually-hidden" }, `${app.t("common.errorPrefix")} `), text] : []);
  };

  const pad = signaturePad({
    label: app.t("consent.signature.padLabel"),
    description: app.t("consent.signature.padDescription"),
    line: app.t("consent.signature.line"),
    strokes: signature.strokes,
    onChange: () => {
      signature.png = null;
      if (!error.hidden && !signatureProblem(signature.strokes)) showError(null);
      status.textContent = signature.strokes.length
        ? app.t("consent.signature.drawnStatus") : app.t("consent.signature.clearedStatus");
    },
  });
  const drawn = h("div", { class: "signature-drawn" },
    h("p", { class: "lead", id: "signature-intro" }, app.t("consent.signature.intro")),
    error,
    pad.element,
    h("div", { class: "signature-tools" },
      h("button", { type: "button", class: "button button--secondary", onclick: () => pad.undo(),
        "aria-describedby": "signature-intro" }, app.t("consent.signature.undo")),
      h("button", { type: "button", class: "button button--secondary", onclick: () => pad.clear() },
        app.t("consent.signature.clear"))),
    status);

  const name = fullName(app);
  const typedInput = h("input", {
    id: "typed-signature", type: "text", autocomplete: "off", value: signature.typedName,
    "aria-describedby": "typed-help signature-error",
    oninput: (/** @type {Event} */ event) => {
      signature.typedName = /** @type {HTMLInputElement} */ (event.target).value;
      signature.png = null;
    },
  });
  const typed = h("div", { class: "signature-typed" },
    h("p", { class: "lead" }, app.t("consent.signature.typedIntro")),
    h("div", { class: "field" },
      h("label", { for: "typed-signature" }, app.t("consent.signature.typedLabel")),
      h("p", { class: "hint", id: "typed-help" }, app.t("consent.signature.typedHelp", { name })),
      typedInput));

  /** @param {"drawn" | "typed"} method */
  const switchTo = (method) => {
    signature.method = method;
    signature.png = null;
    showError(null);
    drawn.hidden = method !== "drawn";
    typed.hidden = method !== "typed";
    toggle.textContent = method === "drawn" ? app.t("consent.signature.typedChoice") : app.t("consent.signature.drawInstead");
    if (method === "typed") typedInput.before(error);
    else drawn.insertBefore(error, pad.element);
  };
  const toggle = h("button", {
    type: "button", class: "button button--link",
    onclick: () => {
      switchTo(signature.method === "drawn" ? "typed" : "drawn");
      (signature.method === "typed" ? typedInput : toggle).focus();
    },
  });

  step.setNext(() => {
    if (signature.method === "typed") {
      if (!name || normalised(signature.typedName) !== normalised(name)) {
        showError(app.t("consent.signature.typedMismatch", { name }));
        typedInput.setAttribute("aria-invalid", "true");
        typedInput.focus();
        return false;
      }
      signature.png = typedToPng(typedText(signature.typedName));
      return true;
    }
    const problem = signatureProblem(signature.strokes);
    if (problem) {
      showError(app.t(problem === "empty" ? "consent.signature.empty" : "consent.signature.tooShort"));
      focusOn(error);
      return false;
    }
    signature.png = strokesToPng(signature.strokes);
    return true;
  });

  if (typedAllowed) {
    switchTo(signature.method);
    return [drawn, typed, h("p", {}, toggle)];
  }
  return [drawn, h("section", { class: "note", "aria-labelledby": "why-drawn" },
    h("h2", { id: "why-drawn" }, app.t("consent.signature.whyDrawnTitle")),
    h("p", {}, app.t("consent.signature.whyDrawn")))];
}
