// The comprehension check: every question must be answered correctly to go on. A wrong answer
// shows the question's explanation and asks again; every answer checked is recorded (in order)
// and goes into the encrypted answers document, so the practice sees how the check went.
import { focusOn, h, mount } from "../shared/dom.js";
import { recordAttempt } from "./form.js";

/**
 * @typedef {import("./app.js").App} App
 * @typedef {import("./wizard.js").StepContext} StepContext
 * @typedef {import("./form.js").Question} Question
 */

/**
 * @param {App} app
 * @param {StepContext} step
 * @returns {HTMLElement[]}
 */
export function comprehensionStep(app, step) {
  const questions = /** @type {import("./form.js").FormDocument} */ (app.form).comprehension;
  for (const question of questions) {
    app.comprehension[question.id] ??= { id: question.id, attempts: [], passed: false };
  }
  /** @type {Record<string, string | null>} the choice on screen, not yet checked */
  const chosen = {};
  const status = h("p", { class: "status-message", role: "status", hidden: true });
  const views = questions.map((question, number) => questionView(app, question, number, chosen));

  step.setNext(() => {
    /** @type {HTMLElement | null} */
    let first = null;
    for (const [index, question] of questions.entries()) {
      const result = app.comprehension[question.id];
      if (result.passed) continue;
      const choice = chosen[question.id];
      if (choice) {
        app.comprehension[question.id] = recordAttempt(result, question, choice);
        chosen[question.id] = null;
      }
      views[index].update(choice ? (app.comprehension[question.id].passed ? "correct" : "wrong") : "unanswered");
      if (!app.comprehension[question.id].passed) first ??= views[index].feedback;
    }
    const passed = questions.every((q) => app.comprehension[q.id].passed);
    status.hidden = passed;
    status.textContent = passed ? "" : app.t("consent.comprehension.notAllPassed");
    if (first) focusOn(first);
    return passed;
  });

  return [
    h("p", { class: "lead" }, app.t("consent.comprehension.intro")),
    ...views.map((view) => view.element),
    status,
  ];
}

/**
 * @param {App} app
 * @param {Question} question
 * @param {number} number
 * @param {Record<string, string | null>} chosen
 */
function questionView(app, question, number, chosen) {
  const id = `q-${question.id}`;
  const feedback = h("div", { class: "feedback", id: `${id}-feedback` });
  const radios = question.choices.map((choice, index) => h("input", {
    type: "radio", name: id, id: `${id}-${index}`, value: choice.id,
    onchange: () => { chosen[question.id] = choice.id; },
  }));
  const fieldset = h("fieldset", { class: "question", "aria-describedby": `${id}-feedback` },
    h("legend", {}, h("span", { class: "question-number" }, `${number + 1}. `), question.question),
    feedback,
    h("div", { class: "choices choices--radio" }, question.choices.map((choice, index) =>
      h("div", { class: "choice" }, radios[index], h("label", { for: radios[index].id }, choice.label)))));
  const element = h("div", { class: "field" }, fieldset);

  /** @param {"correct" | "wrong" | "unanswered" | "initial"} outcome */
  function update(outcome) {
    const result = app.comprehension[question.id];
    const passed = result.passed;
    element.classList.toggle("question--passed", passed);
    element.classList.toggle("field--error", outcome === "wrong" || outcome === "unanswered");
    for (const radio of radios) {
      radio.disabled = passed;
      radio.checked = passed && radio.value === question.correct;
    }
    if (passed) {
      mount(feedback, h("p", { class: "feedback-correct" }, app.t("consent.comprehension.correct")));
    } else if (outcome === "wrong" || (outcome === "initial" && result.attempts.length > 0)) {
      mount(feedback,
        h("p", { class: "error-message" }, app.t("consent.comprehension.wrong")),
        h("p", { class: "explanation" }, question.explanation),
        h("p", {}, app.t("consent.comprehension.askAgain")));
    } else if (outcome === "unanswered") {
      mount(feedback, h("p", { class: "error-message" }, app.t("consent.comprehension.unanswered")));
    } else {
      mount(feedback);
    }
  }
  update("initial");
  return { element, feedback, update };
}
