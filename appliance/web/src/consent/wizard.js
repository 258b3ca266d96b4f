// The steps of a pending consent: start, information, identity, the form's field groups, the
// comprehension check, signature, review. Each step is a <form>, so Enter moves on; moving on
// checks the step's fields first. Steps are counted and named in a progress line.
import { h } from "../shared/dom.js";
import { comprehensionStep } from "./comprehension-view.js";
import { fieldGroup } from "./fields-view.js";
import { IDENTITY_FIELDS, withPractice } from "./form.js";
import { reviewStep } from "./review-view.js";
import { signatureStep } from "./signature-view.js";

/**
 * @typedef {import("./app.js").App} App
 * @typedef {import("./form.js").FormDocument} FormDocument
 * @typedef {import("./form.js").Block} Block
 * @typedef {{id: string, title: string, render: (app: App, step: StepContext) => HTMLElement[]}} Step
 * @typedef {{index: number, total: number, title: string, next: () => void, steps: Step[],
 *   form: HTMLFormElement, setNext: (check: () => boolean | Promise<boolean>) => void,
 *   edit: (stepId: string) => void}} StepContext
 */

/**
 * The steps of this form, in order.
 * @param {App} app
 * @returns {Step[]}
 */
export function stepsOf(app) {
  const form = /** @type {FormDocument} */ (app.form);
  /** @type {Step[]} */
  const steps = [
    { id: "info", title: app.t("consent.steps.info"), render: infoStep },
    { id: "identity", title: app.t("consent.steps.identity"), render: identityStep },
    ...form.fieldGroups.map((group) => ({
      id: `group-${group.id}`, title: group.title,
      /** @param {App} a @param {StepContext} step */
      render: (a, step) => fieldsStep(a, step, group.fields, null),
    })),
  ];
  if (form.comprehension.length > 0) {
    steps.push({ id: "comprehension", title: app.t("consent.steps.comprehension"), render: comprehensionStep });
  }
  steps.push({ id: "signature", title: app.t("consent.steps.signature"), render: signatureStep });
  steps.push({ id: "review", title: app.t("consent.steps.review"), render: reviewStep });
  return steps;
}

/**
 * Blocks of plain text (paragraphs and lists), with the practice's name filled in.
 * @param {Block[]} blocks
 * @param {string} practice
 */
export function blocksView(blocks, practice) {
  return blocks.map((block) => block.kind === "list"
    ? h("ul", {}, block.items.map((item) => h("li", {}, withPractice(item, practice))))
    : h("p", {}, withPractice(block.text, practice)));
}

/**
 * The first screen: who asks, for what, until when, and what the steps are.
 * @param {App} app
 * @param {{push?: boolean}} [options]
 */
export function showStart(app, { push = true } = {}) {
  if (push) app.remember(-1, true);
  app.show((a) => {
    const form = /** @type {FormDocument} */ (a.form);
    const consent = /** @type {NonNullable<App["consent"]>} */ (a.consent);
    const begin = h("button", { type: "submit", class: "button button--primary" }, a.t("consent.start.begin"));
    return h("section", { class: "screen start", "data-title": form.title },
      h("h1", {}, form.title),
      h("p", { class: "lead" }, a.t("consent.start.intro", { practice: a.practiceName })),
      h("p", { class: "deadline" }, a.t("consent.start.deadline", { date: a.i18n.dateTime(consent.expiresAt) })),
      h("h2", {}, a.t("consent.start.stepsTitle")),
      h("ol", { class: "steps-overview" },
        ["read", "answer", "check", "sign"].map((key) => h("li", {}, a.t(`consent.start.steps.${key}`)))),
      h("p", {}, a.t("consent.start.duration")),
      h("p", { class: "note" }, a.t("consent.start.privacy")),
      h("form", {
        class: "actions", novalidate: true,
        onsubmit: (/** @type {Event} */ event) => {
          event.preventDefault();
          showStep(a, 0);
        },
      }, begin));
  });
}

/**
 * Shows step `index`, recording it in the history unless `push` is false.
 * @param {App} app
 * @param {number} index
 * @param {{push?: boolean}} [options]
 */
export function showStep(app, index, { push = true } = {}) {
  if (push) app.remember(index);
  app.show((a) => {
    const steps = stepsOf(a);
    const current = Math.min(index, steps.length - 1);
    const step = steps[current];
    const isReview = step.id === "review";
    /** @type {() => boolean | Promise<boolean>} */
    let check = () => true;
    const goOn = async () => {
      if (!(await check())) return;
      if (a.returnToReview && !isReview) {
        a.returnToReview = false;
        showStep(a, steps.length - 1);
      } else {
        showStep(a, current + 1);
      }
    };
    const form = h("form", {
      class: "step-form", novalidate: true,
      onsubmit: (/** @type {Event} */ event) => {
        event.preventDefault();
        goOn();
      },
    });
    /** @type {StepContext} */
    const context = {
      index: current, total: steps.length, title: step.title, form, next: goOn, steps,
      setNext: (fn) => { check = fn; },
      edit: (stepId) => {
        a.returnToReview = true;
        showStep(a, steps.findIndex((s) => s.id === stepId));
      },
    };
    const progressId = "step-progress";
    const body = step.render(a, context);
    const nextLabel = a.returnToReview && !isReview ? a.t("consent.review.backToReview")
      : step.id === "info" ? a.t("consent.info.continue") : a.t("common.next");
    form.append(...body);
    if (!isReview) {
      form.append(h("div", { class: "actions" },
        h("button", { type: "submit", class: "button button--primary" }, nextLabel),
        h("button", {
          type: "button", class: "button button--secondary",
          onclick: () => window.history.back(),
        }, a.t("common.back"))));
    }
    return h("section", { class: `screen step step-${step.id}`, "data-title": step.title },
      h("p", { class: "progress-text", id: progressId },
        a.t("consent.progress", { current: current + 1, total: steps.length, step: step.title })),
      h("progress", { max: steps.length, value: current + 1, "aria-labelledby": progressId }),
      h("h1", {}, step.title),
      form);
  });
}

/**
 * The form's information sections, the practice's own text and the privacy notice.
 * @param {App} app
 * @returns {HTMLElement[]}
 */
function infoStep(app) {
  const form = /** @type {FormDocument} */ (app.form);
  const practice = app.practiceName;
  const sections = [...form.sections];
  if (form.practiceText) sections.push({ id: "practice", ...form.practiceText });
  sections.push({ id: "privacy", ...form.privacy });
  return [
    h("p", { class: "lead" }, app.t("consent.info.intro")),
    ...sections.map((section) => h("section", { class: "info-section", "aria-labelledby": `section-${section.id}` },
      h("h2", { id: `section-${section.id}` }, withPractice(section.title, practice)),
      blocksView(section.blocks, practice))),
  ];
}

/**
 * Name, date of birth and the optional contact fields.
 * @param {App} app
 * @param {StepContext} step
 */
function identityStep(app, step) {
  const fields = IDENTITY_FIELDS.map((field) => ({
    ...field,
    label: app.t(`consent.identity.${field.id}`),
    help: field.id === "email" || field.id === "phone" ? app.t(`consent.identity.${field.id}Help`) : undefined,
  }));
  return fieldsStep(app, step, fields, app.t("consent.identity.intro"));
}

/**
 * @param {App} app
 * @param {StepContext} step
 * @param {import("./form.js").Field[]} fields
 * @param {string | null} intro
 */
function fieldsStep(app, step, fields, intro) {
  const group = fieldGroup(fields, app.values, app.i18n);
  step.setNext(() => group.check());
  return [group.summary, intro ? h("p", { class: "lead" }, intro) : null, ...group.elements]
    .filter((node) => node !== null);
}
