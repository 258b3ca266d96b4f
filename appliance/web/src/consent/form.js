// The form document (docs/forms, consent-interfaces §1) as the page uses it: which fields are
// visible, what a valid answer is, and the answers document the patient signs. Pure functions
// (no DOM), so Node's test runner checks them directly.

/**
 * @typedef {{kind: "paragraph", text: string} | {kind: "list", items: string[]}} Block
 * @typedef {{id: string, title: string, blocks: Block[]}} Section
 * @typedef {{value: string, label: string}} Option
 * @typedef {{field: string, equals: unknown}} Condition
 * @typedef {{
 *   id: string, kind: "text" | "single" | "multi" | "boolean" | "date" | "list" | "email" | "tel",
 *   label: string, help?: string, required?: boolean, maxLength?: number, multiline?: boolean,
 *   options?: Option[], exclusive?: string, other?: {id: string, label: string, maxLength?: number},
 *   maxItems?: number, visibleWhen?: Condition, autocomplete?: string, past?: boolean, name?: boolean
 * }} Field
 * @typedef {{id: string, title: string, fields: Field[]}} FieldGroup
 * @typedef {{id: string, label: string}} Choice
 * @typedef {{id: string, question: string, choices: Choice[], correct: string, explanation: string}} Question
 * @typedef {{
 *   formId: string, version: number, locale: string, type: string, title: string,
 *   sections: Section[], fieldGroups: FieldGroup[], comprehension: Question[],
 *   declaration: {title: string, statements: {id: string, text: string}[]},
 *   privacy: {title: string, blocks: Block[]}, practiceText: {title: string, blocks: Block[]} | null,
 *   signature: {typedAlternative: boolean}, formHash: string
 * }} FormDocument
 * @typedef {{day: string, month: string, year: string}} DateParts
 * @typedef {string | string[] | boolean | null | DateParts} Value
 * @typedef {Record<string, Value>} Values
 * @typedef {{key: string, params?: Record<string, string | number>}} Problem
 * @typedef {{id: string, attempts: string[], passed: boolean}} ComprehensionResult
 */

/** The identity fields, asked before the form's own groups; labels come from the catalogue. */
/** @type {Field[]} */
export const IDENTITY_FIELDS = [
  { id: "firstName", kind: "text", label: "", required: true, maxLength: 100, autocomplete: "given-name", name: true },
  { id: "lastName", kind: "text", label: "", required: true, maxLength: 100, autocomplete: "family-name", name: true },
  { id: "dateOfBirth", kind: "date", label: "", required: true, past: true, autocomplete: "bday" },
  { id: "email", kind: "email", label: "", required: false, maxLength: 254, autocomplete: "email" },
  { id: "phone", kind: "tel", label: "", required: false, maxLength: 30, autocomplete: "tel" },
];

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9][0-9 ()/.-]{3,28}[0-9]$/;
const OLDEST_YEAR = 1900;

/**
 * @param {Field} field
 * @param {Values} values
 */
export function isVisible(field, values) {
  if (!field.visibleWhen) return true;
  const { field: other, equals } = field.visibleWhen;
  const value = values[other];
  return Array.isArray(value) ? value.includes(/** @type {string} */ (equals)) : value === equals;
}

/** @param {Field} field @returns {Value} */
export function emptyValue(field) {
  switch (field.kind) {
    case "multi":
    case "list":
      return [];
    case "single":
    case "boolean":
      return null;
    case "date":
      return { day: "", month: "", year: "" };
    default:
      return "";
  }
}

/**
 * A YYYY-MM-DD string for a real calendar date, or null.
 * @param {DateParts} parts
 */
export function isoDate(parts) {
  const day = Number(parts.day), month = Number(parts.month), year = Number(parts.year);
  if (![parts.day, parts.month, parts.year].every((p) => /^\d+$/.test(String(p).trim()))) return null;
  if (String(parts.year).trim().length !== 4) return null;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return null;
  }
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** @param {DateParts} parts */
function dateIsBlank(parts) {
  return ![parts.day, parts.month, parts.year].some((p) => String(p).trim());
}

/**
 * The problem with a field's value, or null. Hidden fields have none.
 * @param {Field} field
 * @param {Values} values
 * @param {Date} [today] for dates that must lie in the past
 * @returns {Problem | null}
 */
export function validateField(field, values, today = new Date()) {
  if (!isVisible(field, values)) return null;
  const value = values[field.id] ?? emptyValue(field);
  switch (field.kind) {
    case "text":
    case "email":
    case "tel": {
      const text = String(value).trim();
      if (!text) return field.required ? { key: "required" } : null;
      if (field.maxLength && text.length > field.maxLength) return { key: "tooLong", params: { max: field.maxLength } };
      if (field.kind === "email" && !EMAIL.test(text)) return { key: "email" };
      if (field.name && text.includes("|")) return { key: "nameCharacter", params: { character: "|" } };
      if (field.kind === "tel" && !PHONE.test(text)) return { key: "phone" };
      return null;
    }
    case "single":
      if (value === null || value === "") return field.required ? { key: "chooseOne" } : null;
      return (field.options || []).some((o) => o.value === value) ? null : { key: "chooseOne" };
    case "boolean":
      return typeof value === "boolean" || !field.required ? null : { key: "chooseYesNo" };
    case "multi": {
      const chosen = /** @type {string[]} */ (value);
      const otherText = field.other ? String(values[field.other.id] ?? "").trim() : "";
      if (field.other?.maxLength && otherText.length > field.other.maxLength) {
        return { key: "otherTooLong", params: { max: field.other.maxLength } };
      }
      if (chosen.length === 0 && !otherText) return field.required ? { key: "chooseAtLeastOne" } : null;
      if (field.exclusive && chosen.includes(field.exclusive) && (chosen.length > 1 || otherText)) {
        const option = (field.options || []).find((o) => o.value === field.exclusive);
        return { key: "exclusive", params: { option: option ? option.label : field.exclusive } };
      }
      return null;
    }
    case "date": {
      const parts = /** @type {DateParts} */ (value);
      if (dateIsBlank(parts)) return field.required ? { key: "dateRequired" } : null;
      const iso = isoDate(parts);
      if (!iso) return { key: "dateInvalid" };
      if (Number(iso.slice(0, 4)) < OLDEST_YEAR) return { key: "dateTooEarly", params: { year: OLDEST_YEAR } };
      if (field.past && iso > today.toISOString().slice(0, 10)) return { key: "dateInFuture" };
      return null;
    }
    case "list": {
      const items = /** @type {string[]} */ (value).map((item) => item.trim()).filter(Boolean);
      if (items.length === 0) return field.required ? { key: "listRequired" } : null;
      if (field.maxItems && items.length > field.maxItems) return { key: "tooManyItems", params: { max: field.maxItems } };
      const max = field.maxLength;
      if (max && items.some((item) => item.length > max)) {
        return { key: "itemTooLong", params: { max } };
      }
      return null;
    }
    default:
      return null;
  }
}

/**
 * Problems of every field in `fields`, by field id.
 * @param {Field[]} fields
 * @param {Values} values
 * @param {Date} [today]
 * @returns {Record<string, Problem>}
 */
export function validateFields(fields, values, today) {
  /** @type {Record<string, Problem>} */
  const problems = {};
  for (const field of fields) {
    const problem = validateField(field, values, today);
    if (problem) problems[field.id] = problem;
  }
  return problems;
}

/**
 * The answer a field contributes to the answers document: trimmed text, lists as lists,
 * dates as YYYY-MM-DD, unanswered optional fields as "" (text), [] (lists) or null.
 * @param {Field} field
 * @param {Values} values
 * @returns {string | string[] | boolean | null}
 */
export function answerOf(field, values) {
  const value = values[field.id] ?? emptyValue(field);
  switch (field.kind) {
    case "multi":
      return [.../** @type {string[]} */ (value)];
    case "list":
      return /** @type {string[]} */ (value).map((item) => item.trim()).filter(Boolean);
    case "date":
      return isoDate(/** @type {DateParts} */ (value));
    case "single":
    case "boolean":
      return /** @type {string | boolean | null} */ (value);
    default:
      return String(value).trim();
  }
}

/**
 * The `answers` object of the answers document (docs/crypto.md): every visible field of the
 * form's groups, with the free-text companion of a multiple choice under its own id. Hidden
 * fields are left out (they were not asked), and so are optional choices and dates left open
 * (they have no value of their kind); open optional texts and lists are "" and [].
 * @param {FormDocument} form
 * @param {Values} values
 * @returns {Record<string, string | string[] | boolean | null>}
 */
export function collectAnswers(form, values) {
  /** @type {Record<string, string | string[] | boolean | null>} */
  const answers = {};
  for (const group of form.fieldGroups) {
    for (const field of group.fields) {
      if (!isVisible(field, values)) continue;
      const answer = answerOf(field, values);
      if (answer === null) continue;
      answers[field.id] = answer;
      if (field.other) answers[field.other.id] = String(values[field.other.id] ?? "").trim();
    }
  }
  return answers;
}

/**
 * The identity the patient entered; optional fields left empty are left out.
 * @param {Values} values
 * @returns {Record<string, string>}
 */
export function collectIdentity(values) {
  /** @type {Record<string, string>} */
  const identity = {};
  for (const field of IDENTITY_FIELDS) {
    const answer = answerOf(field, values);
    if (typeof answer === "string" && answer) identity[field.id] = answer;
  }
  return identity;
}

/**
 * How an answer reads on the review page and in the copy: option labels instead of values.
 * @param {Field} field
 * @param {string | string[] | boolean | null} answer
 * @param {{yes: string, no: string, none: string, date: (iso: string) => string}} words
 */
export function answerText(field, answer, words) {
  const label = (/** @type {string} */ value) =>
    (field.options || []).find((o) => o.value === value)?.label ?? value;
  if (answer === null || answer === "" || (Array.isArray(answer) && answer.length === 0)) return words.none;
  if (typeof answer === "boolean") return answer ? words.yes : words.no;
  if (field.kind === "date" && typeof answer === "string") return words.date(answer);
  if (Array.isArray(answer)) return answer.map(field.kind === "multi" ? label : (v) => v).join(", ");
  return field.kind === "single" ? label(answer) : answer;
}

/**
 * A form text with its one placeholder filled (the hash covers the text with the placeholder).
 * @param {string} text
 * @param {string} practiceName
 */
export function withPractice(text, practiceName) {
  return text.split("{practiceName}").join(practiceName);
}

/** The contract keeps at most this many attempts per question (docs/crypto.md). */
export const MAX_ATTEMPTS = 20;

/**
 * Records one check of a comprehension answer (the most recent MAX_ATTEMPTS are kept).
 * @param {ComprehensionResult} result
 * @param {Question} question
 * @param {string} choice
 * @returns {ComprehensionResult}
 */
export function recordAttempt(result, question, choice) {
  const attempts = [...result.attempts, choice].slice(-MAX_ATTEMPTS);
  return { id: result.id, attempts, passed: choice === question.correct };
}
