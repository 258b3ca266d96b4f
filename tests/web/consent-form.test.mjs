// The patient page's form rules on a form document of every field kind (fixtures/): what is
// visible, what counts as an answer, and the answers document it makes.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import {
  IDENTITY_FIELDS, MAX_ATTEMPTS, answerText, collectAnswers, collectIdentity, emptyValue, isoDate, recordAttempt,
  validateField, validateFields, withPractice,
} from "../../appliance/web/src/consent/form.js";

/** @type {import("../../appliance/web/src/consent/form.js").FormDocument} */
const form = JSON.parse(await readFile(new URL("./fixtures/form-de.json", import.meta.url), "utf8"));
const fields = form.fieldGroups[0].fields;
const field = (/** @type {string} */ id) => /** @type {import("../../appliance/web/src/consent/form.js").Field} */ (
  fields.find((f) => f.id === id));
const today = new Date("2026-06-15T12:00:00Z");

/** @returns {import("../../appliance/web/src/consent/form.js").Values} */
function blank() {
  return Object.fromEntries(fields.map((f) => [f.id, emptyValue(f)]));
}

test("an empty form names every required visible field, and no hidden one", () => {
  const problems = validateFields(fields, blank(), today);
  assert.deepEqual(Object.keys(problems).sort(), ["allergies", "fitzpatrick", "pregnant", "previousTreatment"]);
  assert.equal(problems.allergies.key, "chooseAtLeastOne");
  assert.equal(problems.pregnant.key, "chooseYesNo");
});

test("a field shown by another answer is required only while shown", () => {
  const values = { ...blank(), previousTreatment: true };
  assert.equal(validateField(field("previousTreatmentDate"), values, today)?.key, "dateRequired");
  values.previousTreatment = false;
  assert.equal(validateField(field("previousTreatmentDate"), values, today), null);
});

test("dates: real calendar days, four-digit years, not before 1900, and in the past where asked", () => {
  assert.equal(isoDate({ day: "29", month: "2", year: "1980" }), "1980-02-29");
  assert.equal(isoDate({ day: "29", month: "2", year: "1981" }), null);
  assert.equal(isoDate({ day: "1", month: "13", year: "1980" }), null);
  assert.equal(isoDate({ day: "1", month: "1", year: "80" }), null);
  assert.equal(isoDate({ day: "x", month: "1", year: "1980" }), null);
  const birth = /** @type {any} */ (IDENTITY_FIELDS.find((f) => f.id === "dateOfBirth"));
  const at = (/** @type {string} */ day, /** @type {string} */ month, /** @type {string} */ year) =>
    validateField(birth, { dateOfBirth: { day, month, year } }, today)?.key ?? null;
  assert.equal(at("15", "6", "2026"), null);
  assert.equal(at("16", "6", "2026"), "dateInFuture");
  assert.equal(at("1", "1", "1899"), "dateTooEarly");
  assert.equal(at("", "", ""), "dateRequired");
});

test("multiple choice: the exclusive option stands alone; free text counts as an answer", () => {
  const allergies = field("allergies");
  assert.equal(validateField(allergies, { allergies: ["NONE", "LATEX"] }, today)?.key, "exclusive");
  assert.equal(validateField(allergies, { allergies: ["NONE"], allergiesOther: "Pflaster" }, today)?.key, "exclusive");
  assert.equal(validateField(allergies, { allergies: [], allergiesOther: "Pflaster" }, today), null);
  assert.equal(validateField(allergies, { allergies: [], allergiesOther: "x".repeat(501) }, today)?.key, "otherTooLong");
});

test("texts, lists, e-mail and phone are checked against their limits", () => {
  assert.equal(validateField(field("notes"), { notes: "x".repeat(1001) }, today)?.params?.max, 1000);
  assert.equal(validateField(field("medications"), { medications: ["x".repeat(201)] }, today)?.key, "itemTooLong");
  assert.equal(validateField(field("medications"), { medications: Array(31).fill("a") }, today)?.key, "tooManyItems");
  const email = /** @type {any} */ (IDENTITY_FIELDS.find((f) => f.id === "email"));
  const phone = /** @type {any} */ (IDENTITY_FIELDS.find((f) => f.id === "phone"));
  assert.equal(validateField(email, { email: "name@praxis" }, today)?.key, "email");
  assert.equal(validateField(email, { email: "" }, today), null);
  assert.equal(validateField(phone, { phone: "+49 (221) 123-4567" }, today), null);
  assert.equal(validateField(phone, { phone: "call me" }, today)?.key, "phone");
});

test("the answers document: lists as lists, dates as ISO, hidden fields left out, text trimmed", () => {
  const values = {
    ...blank(), allergies: ["PENICILLIN"], allergiesOther: "  Pflaster ", medications: [" Ibuprofen ", " "],
    pregnant: false, fitzpatrick: "II", previousTreatment: false,
    previousTreatmentDate: { day: "1", month: "2", year: "2024" }, notes: " keine ",
  };
  assert.deepEqual(collectAnswers(form, values), {
    allergies: ["PENICILLIN"], allergiesOther: "Pflaster", medications: ["Ibuprofen"], pregnant: false,
    fitzpatrick: "II", previousTreatment: false, notes: "keine",
  });
  values.previousTreatment = true;
  assert.equal(collectAnswers(form, values).previousTreatmentDate, "2024-02-01");
});

test("optional choices and dates left open are absent; open texts and lists are empty", () => {
  const relaxed = structuredClone(form);
  for (const f of relaxed.fieldGroups[0].fields) f.required = false;
  const answers = collectAnswers(relaxed, Object.fromEntries(relaxed.fieldGroups[0].fields.map((f) => [f.id, emptyValue(f)])));
  assert.deepEqual(answers, { allergies: [], allergiesOther: "", medications: [], notes: "" });
});

test("names may not hold the character that separates them in the lookupHash", () => {
  const last = /** @type {any} */ (IDENTITY_FIELDS.find((f) => f.id === "lastName"));
  assert.equal(validateField(last, { lastName: "Weiß|Müller" }, today)?.key, "nameCharacter");
  assert.equal(validateField(last, { lastName: "Weiß-Müller" }, today), null);
});

test("the identity leaves out empty optional fields", () => {
  assert.deepEqual(collectIdentity({
    firstName: " Anna ", lastName: "Weiß", dateOfBirth: { day: "3", month: "4", year: "1990" }, email: "", phone: " ",
  }), { firstName: "Anna", lastName: "Weiß", dateOfBirth: "1990-04-03" });
});

test("answers read as the form's labels; the practice's name fills its placeholder", () => {
  const words = { yes: "Ja", no: "Nein", none: "–", date: (/** @type {string} */ iso) => `am ${iso}` };
  assert.equal(answerText(field("allergies"), ["PENICILLIN", "LATEX"], words), "Penicillin, Latex");
  assert.equal(answerText(field("pregnant"), false, words), "Nein");
  assert.equal(answerText(field("medications"), [], words), "–");
  assert.equal(answerText(field("previousTreatmentDate"), "2024-02-01", words), "am 2024-02-01");
  assert.equal(withPractice(form.privacy.blocks[0].kind === "paragraph" ? form.privacy.blocks[0].text : "",
    "Praxis Dr. Weiß"), "Verantwortlich ist Praxis Dr. Weiß.");
});

test("comprehension attempts are recorded in order until the right one", () => {
  const question = form.comprehension[0];
  let result = { id: question.id, attempts: /** @type {string[]} */ ([]), passed: false };
  result = recordAttempt(result, question, "a");
  assert.deepEqual(result, { id: "duration", attempts: ["a"], passed: false });
  result = recordAttempt(result, question, "b");
  assert.deepEqual(result, { id: "duration", attempts: ["a", "b"], passed: true });
  let stubborn = { id: question.id, attempts: /** @type {string[]} */ ([]), passed: false };
  for (let i = 0; i < MAX_ATTEMPTS + 5; i += 1) stubborn = recordAttempt(stubborn, question, "a");
  stubborn = recordAttempt(stubborn, question, "b");
  assert.equal(stubborn.attempts.length, MAX_ATTEMPTS);
  assert.equal(stubborn.attempts.at(-1), "b");
});
