// Submitting, exactly once: the page makes one submission at most (a second click or Enter
// finds it running), checks the practice key against the link's fingerprint and the form
// against its hash, has the worker encrypt everything, and sends it. The server refuses a
// second submission of the same link (409, e.g. from another tab), which is shown as such.
// The page's submission has one Idempotency-Key, for every attempt: when an answer is lost
// after the server committed, the repeat (automatic once, or the patient's) is answered as
// the first was, not as someone else's second submission.
import { ApiError, apiRequest, newIdempotencyKey } from "../shared/api.js";
import { h } from "../shared/dom.js";
import { collectAnswers, collectIdentity } from "./form.js";
import { HEIGHT, WIDTH } from "./signature-pad.js";
import { typedText } from "./signature-view.js";
import { buildSubmission, keyMatches } from "./encryption.js";
import { alreadySubmittedScreen, doneScreen, problemScreen } from "./status-views.js";

/**
 * @typedef {import("./app.js").App} App
 * @typedef {"verify" | "encrypt" | "send"} Stage
 * @typedef {"pending" | "active" | "done"} StageState
 */

const STAGES = /** @type {Stage[]} */ (["verify", "encrypt", "send"]);
/** @type {WeakMap<App, string>} */
const submitKeys = new WeakMap();

/** A refusal that sending again cannot fix: shown as a problem page. */
class Refused extends Error {
  /** @param {string} kind key under consent.problems */
  constructor(kind) {
    super(kind);
    this.kind = kind;
  }
}

/**
 * The answers document's parts and the identity, for buildSubmission (consent-interfaces §2).
 * @param {App} app
 */
export function submissionInput(app) {
  const form = /** @type {import("./form.js").FormDocument} */ (app.form);
  const signature = app.signature;
  return {
    consent: /** @type {NonNullable<App["consent"]>} */ (app.consent),
    form,
    token: app.token,
    keyFingerprint: app.fingerprint,
    identity: collectIdentity(app.values),
    answers: collectAnswers(form, app.values),
    comprehension: form.comprehension.map((q) => app.comprehension[q.id]),
    declaration: form.declaration.statements.map((s) => s.id).filter((id) => app.declaration.has(id)),
    signature: signature.method === "typed"
      ? { format: "typed", text: typedText(signature.typedName) }
      : { format: "image/png", width: WIDTH, height: HEIGHT, data: /** @type {string} */ (signature.png) },
  };
}

/**
 * @param {App} app
 * @param {(stage: Stage) => void} enter
 * @returns {Promise<{signedAt: string}>}
 */
async function submit(app, enter) {
  const consent = /** @type {NonNullable<App["consent"]>} */ (app.consent);
  enter("verify");
  const problem = await app.verified;
  if (problem) throw new Refused(problem);
  // the key again, right before it is used: the one checked is the one encrypted to
  if (!app.fingerprint || !(await keyMatches(consent.publicKey, app.fingerprint))) throw new Refused("keyMismatch");
  enter("encrypt");
  const body = await buildSubmission(submissionInput(app));
  enter("send");
  const idempotencyKey = submitKeys.get(app) ?? newIdempotencyKey();
  submitKeys.set(app, idempotencyKey);
  return apiRequest("POST", `/api/consent/${app.token}/submit`, { body, timeoutMs: 60000, idempotencyKey });
}

/**
 * Starts the one submission of this page (or returns the one running) and shows its progress,
 * then the confirmation, or why it did not go through.
 * @param {App} app
 */
export function startSubmission(app) {
  if (app.submission) return app.submission;
  performance.mark("consent-submit"); // bench/patient_page.py measures from here
  /** @type {Record<Stage, StageState>} */
  const stages = { verify: "pending", encrypt: "pending", send: "pending" };
  const screen = submittingScreen(stages);
  app.show(screen);
  const enter = (/** @type {Stage} */ stage) => {
    for (const name of STAGES) {
      stages[name] = name === stage ? "active" : STAGES.indexOf(name) < STAGES.indexOf(stage) ? "done" : "pending";
    }
    if (app.screen === screen) app.show(screen, { focus: false });
    app.announce(app.t(`consent.submitting.${stage}`));
  };
  app.submission = submit(app, enter);
  app.submission.then((result) => {
    app.submitted = { signedAt: result.signedAt };
    app.show(doneScreen);
    performance.mark("consent-confirmed");
  }, (error) => {
    if (error instanceof Refused) return app.show(problemScreen(error.kind));
    if (error instanceof ApiError && error.status === 409) return app.show(alreadySubmittedScreen);
    if (error instanceof ApiError && (error.status === 410 || error.code === "unknown_form_hash")) {
      return app.showApiProblem(error);
    }
    // Not sent (no connection, server busy): the answers are still here, so the patient may
    // send again from the review page.
    app.submission = null;
    app.show(notSentScreen(error));
  });
  return app.submission;
}

/** @param {Record<Stage, StageState>} stages @returns {import("./app.js").Screen} */
function submittingScreen(stages) {
  return (app) => h("section", { class: "screen submitting", "aria-busy": "true" },
    h("h1", {}, app.t("consent.submitting.title")),
    h("div", { class: "spinner", "aria-hidden": "true" }),
    h("ol", { class: "stages" }, STAGES.map((stage) => h("li", { class: `stage stage--${stages[stage]}` },
      h("span", { class: "stage-name" }, app.t(`consent.submitting.${stage}`)),
      h("span", { class: "stage-state" }, app.t(`consent.submitting.${stages[stage]}`))))),
    h("p", {}, app.t("consent.submitting.wait")));
}

/** @param {unknown} error @returns {import("./app.js").Screen} */
function notSentScreen(error) {
  return (app) => {
    const screen = problemScreen(notSentKind(error), error instanceof ApiError ? error : null)(app);
    screen.querySelector("h1")?.after(h("p", { class: "status-message" }, app.t("consent.review.notSent")));
    screen.querySelector(".actions")?.replaceChildren(h("button", {
      type: "button", class: "button button--primary", onclick: () => startSubmission(app),
    }, app.t("consent.review.sendAgain")));
    return screen;
  };
}

/** @param {unknown} error */
function notSentKind(error) {
  if (!(error instanceof ApiError)) return "unexpected";
  if (error.status === 0) return "network";
  if (error.status === 429) return "rateLimited";
  if (error.status >= 500) return "unavailable";
  return "unexpected";
}
