// The review step: everything the patient entered on one page, each part with a way back to
// change it, then the declaration to confirm statement by statement and the one submit button.
import { focusOn, h, mount } from "../shared/dom.js";
import { IDENTITY_FIELDS, answerOf, answerText, isVisible } from "./form.js";
import { typedText } from "./signature-view.js";
import { startSubmission } from "./submit.js";

/**
 * @typedef {import("./app.js").App} App
 * @typedef {import("./wizard.js").StepContext} StepContext
 * @typedef {import("./form.js").Field} Field
 */

/** @param {App} app */
export function answerWords(app) {
  return {
    yes: app.t("common.yes"),
    no: app.t("common.no"),
    none: app.t("common.none"),
    date: (/** @type {string} */ iso) => app.i18n.calendarDate(iso),
  };
}

/**
 * @param {App} app
 * @param {Field[]} fields
 */
function answerList(app, fields) {
  const words = answerWords(app);
  return h("dl", { class: "answers" }, fields.filter((field) => isVisible(field, app.values)).map((field) => {
    const answer = answerOf(field, app.values);
    const other = field.other ? String(app.values[field.other.id] ?? "").trim() : "";
    return [
      h("dt", {}, field.label),
      h("dd", {}, answerText(field, answer, words), other ? h("span", { class: "other-answer" },
        `${field.other?.label}: ${other}`) : null),
    ];
  }));
}

/**
 * @param {App} app
 * @param {StepContext} step
 * @param {string} stepId
 * @param {string} title
 * @param {...(HTMLElement | null)} content
 */
function part(app, step, stepId, title, ...content) {
  const id = `review-${stepId}`;
  return h("section", { class: "review-part", "aria-labelledby": id },
    h("div", { class: "review-head" },
      h("h2", { id }, title),
      h("button", {
        type: "button", class: "button button--link", "aria-label": app.t("consent.review.changeSection", { section: title }),
        onclick: () => step.edit(stepId),
      }, app.t("consent.review.change"))),
    content);
}

/**
 * @param {App} app
 * @param {StepContext} step
 * @returns {HTMLElement[]}
 */
export function reviewStep(app, step) {
  const form = /** @type {import("./form.js").FormDocument} */ (app.form);
  const identityFields = IDENTITY_FIELDS.map((field) => ({ ...field, label: app.t(`consent.identity.${field.id}`) }));
  const signature = app.signature;
  const error = h("p", { class: "error-message", id: "declaration-error", hidden: true });
  const boxes = form.declaration.statements.map((statement) => h("input", {
    type: "checkbox", id: `declare-${statement.id}`, value: statement.id,
    checked: app.declaration.has(statement.id), "aria-describedby": "declaration-error",
    onchange: (/** @type {Event} */ event) => {
      if (/** @type {HTMLInputElement} */ (event.target).checked) app.declaration.add(statement.id);
      else app.declaration.delete(statement.id);
      if (form.declaration.statements.every((s) => app.declaration.has(s.id))) error.hidden = true;
    },
  }));
  const submit = h("button", { type: "submit", class: "button button--primary button--submit" },
    app.t("consent.review.submit"));

  step.setNext(() => {
    const missing = form.declaration.statements.filter((s) => !app.declaration.has(s.id));
    if (missing.length > 0) {
      error.hidden = false;
      mount(error, h("span", { class: "visually-hidden" }, `${app.t("common.errorPrefix")} `),
        app.t("consent.review.declarationMissing"));
      for (const box of boxes) box.setAttribute("aria-invalid", String(!app.declaration.has(box.value)));
      focusOn(error);
      return false;
    }
    submit.disabled = true; // a second click, or Enter twice, sends nothing more
    startSubmission(app);
    return false;
  });

  const comprehension = form.comprehension.length > 0 ? part(app, step, "comprehension",
    app.t("consent.steps.comprehension"),
    h("p", {}, app.t("consent.review.comprehensionSummary", { count: form.comprehension.length }))) : null;

  return [
    h("p", { class: "lead" }, app.t("consent.review.intro")),
    part(app, step, "identity", app.t("consent.steps.identity"), answerList(app, identityFields)),
    ...form.fieldGroups.map((group) => part(app, step, `group-${group.id}`, group.title,
      answerList(app, group.fields))),
    comprehension,
    part(app, step, "signature", app.t("consent.steps.signature"),
      signature.png ? h("img", {
        class: "signature-preview", src: `data:image/png;base64,${signature.png}`,
        alt: signature.method === "typed" ? app.t("consent.review.typedSignature", { name: typedText(signature.typedName) })
          : app.t("consent.review.signatureAlt"),
      }) : null),
    h("section", { class: "declaration", "aria-labelledby": "declaration-title" },
      h("h2", { id: "declaration-title" }, form.declaration.title),
      h("fieldset", { "aria-describedby": "declaration-error" },
        h("legend", {}, app.t("consent.review.declarationIntro")),
        error,
        h("div", { class: "choices choices--checkbox" }, form.declaration.statements.map((statement, index) =>
          h("div", { class: "choice" }, boxes[index],
            h("label", { for: boxes[index].id }, statement.text)))))),
    h("p", { class: "note", id: "submit-note" }, app.t("consent.review.submitNote")),
    h("div", { class: "actions" }, submit,
      h("button", { type: "button", class: "button button--secondary", onclick: () => window.history.back() },
        app.t("common.back"))),
  ].filter((node) => node !== null);
}
