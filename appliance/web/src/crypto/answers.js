// The answers document of a consent (docs/crypto.md): what the patient page encrypts, and what
// a staff reader checks after decrypting it, always against the form document it names.
import { fromBase64, sha256, toHex, utf8 } from "./bytes.js";
import { canonicalJson, formHash } from "./canonical.js";
import { AnswersInvalid, KeyMismatch } from "./errors.js";
import { normaliseIdentity } from "./lookup.js";
import { ANSWERS_MAX_PLAIN, CONTRACT_VERSION, checkPublicKey, keyFingerprint, linkProof } from "./primitives.js";

export const DOCUMENT_KEYS = Object.freeze(["answers", "comprehension", "declaration", "formHash", "formId",
  "identity", "linkProof", "locale", "signature", "v", "version"]);
export const IDENTITY_FIELDS = Object.freeze(["firstName", "lastName", "dateOfBirth", "email", "phone"]);
/** @type {Record<string, number>} */
const IDENTITY_MAX = { firstName: 200, lastName: 200, dateOfBirth: 10, email: 254, phone: 40 };
export const MAX_ATTEMPTS = 20;
export const SIGNATURE_MAX_BYTES = 256 * 1024;
export const SIGNATURE_MAX_SIDE = 2048;
export const TYPED_SIGNATURE_MAX = 200;
const DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * @typedef {{id: string, kind: string, required: boolean, maxLength?: number, maxItems?: number,
 *   options?: {value: string}[], exclusive?: string, other?: {id: string, maxLength: number},
 *   visibleWhen?: {field: string, equals: unknown}}} Field
 * @typedef {{formId: string, version: number, locale: string, formHash: string,
 *   fieldGroups: {fields: Field[]}[], comprehension: {id: string, choices: {id: string}[], correct: string}[],
 *   declaration: {statements: {id: string}[]}, signature: {typedAlternative?: boolean}}} FormDocument
 * @typedef {Record<string, any>} Json
 */

/** The sealed-value field name of an identity part a patient submits. @param {string} name */
export function identityField(name) {
  return `consent.${name}`;
}

/** The API name of the sealed copy of an identity part. @param {string} name */
export function sealedIdentityName(name) {
  return `encrypted${name[0].toUpperCase()}${name.slice(1)}`;
}

/** @param {string} where @param {string} problem */
const fail = (where, problem) => new AnswersInvalid(problem, where);

/** @param {unknown} value @param {string} where @param {number} maxLength @param {boolean} [required] */
function text(value, where, maxLength, required = false) {
  if (typeof value !== "string") throw fail(where, "must be a string");
  if ([...value].length > maxLength) throw fail(where, `must be at most ${maxLength} characters`);
  if (required && !value.trim()) throw fail(where, "must not be empty");
}

/** @param {unknown} value @param {string} where */
function date(value, where) {
  if (typeof value !== "string" || !DATE.test(value)) throw fail(where, "must be a date YYYY-MM-DD");
  const [year, month, day] = value.split("-").map(Number);
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()
      || year < 1) {
    throw fail(where, "is not a real date");
  }
}

/** Width and height of a PNG, from its IHDR chunk. @param {Uint8Array} data */
export function pngSize(data) {
  const magic = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const ihdr = String.fromCharCode(...data.subarray(12, 16));
  if (data.length < 24 || magic.some((byte, i) => data[i] !== byte) || ihdr !== "IHDR") {
    throw new AnswersInvalid("not a PNG image", "signature.data");
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** @param {Field} field @param {Json} answers */
function visible(field, answers) {
  return !field.visibleWhen || answers[field.visibleWhen.field] === field.visibleWhen.equals;
}

/** @param {Field} field @param {unknown} value @param {string} where */
function checkField(field, value, where) {
  const options = (field.options ?? []).map((option) => option.value);
  switch (field.kind) {
    case "text":
      return text(value, where, /** @type {number} */ (field.maxLength), field.required);
    case "boolean":
      if (typeof value !== "boolean") throw fail(where, "must be true or false");
      return;
    case "date":
      return date(value, where);
    case "single":
      if (typeof value !== "string" || !options.includes(value)) throw fail(where, "is not one of the options");
      return;
    case "multi": {
      if (!Array.isArray(value) || value.some((item) => !options.includes(item))) {
        throw fail(where, "must be a list of the options");
      }
      if (new Set(value).size !== value.length) throw fail(where, "names an option twice");
      if (field.required && !value.length) throw fail(where, "must name at least one option");
      if (field.exclusive && value.includes(field.exclusive) && value.length > 1) {
        throw fail(where, `${field.exclusive} excludes every other option`);
      }
      return;
    }
    case "list": {
      const maxItems = /** @type {number} */ (field.maxItems);
      if (!Array.isArray(value) || value.length > maxItems) throw fail(where, `must be a list of at most ${maxItems} entries`);
      value.forEach((item, index) => text(item, `${where}[${index}]`, /** @type {number} */ (field.maxLength), true));
      if (field.required && !value.length) throw fail(where, "must hold at least one entry");
      return;
    }
    default:
      throw fail(where, `has an unknown kind '${field.kind}' in the form`);
  }
}

/** The answers name only the form's fields, each answered as its kind allows.
 * @param {FormDocument} form @param {unknown} answers */
export function checkAnswers(form, answers) {
  if (typeof answers !== "object" || answers === null || Array.isArray(answers)) throw fail("answers", "must be an object");
  const given = /** @type {Json} */ (answers);
  const known = new Set();
  for (const field of form.fieldGroups.flatMap((group) => group.fields)) {
    known.add(field.id);
    const where = `answers.${field.id}`;
    const shown = visible(field, given);
    if (field.id in given) {
      if (!shown) throw fail(where, "answers a field the form hides");
      checkField(field, given[field.id], where);
    } else if (shown && field.required) {
      throw fail(where, "is required");
    }
    if (field.other) {
      known.add(field.other.id);
      if (field.other.id in given) {
        if (!(field.id in given)) throw fail(`answers.${field.other.id}`, "belongs to an unanswered field");
        text(given[field.other.id], `answers.${field.other.id}`, field.other.maxLength);
      }
    }
  }
  const unknown = Object.keys(given).filter((key) => !known.has(key)).sort();
  if (unknown.length) throw fail(`answers.${unknown[0]}`, "is not a field of the form");
}

/** @param {FormDocument} form @param {unknown} comprehension */
export function checkComprehension(form, comprehension) {
  const questions = form.comprehension;
  if (!Array.isArray(comprehension) || comprehension.length !== questions.length) {
    throw fail("comprehension", "must hold one entry per question of the form");
  }
  questions.forEach((question, index) => {
    const where = `comprehension[${index}]`;
    const entry = comprehension[index];
    if (typeof entry !== "object" || entry === null || Object.keys(entry).sort().join() !== "attempts,id,passed") {
      throw fail(where, "must hold exactly id, attempts and passed");
    }
    if (entry.id !== question.id) throw fail(where, `must answer question '${question.id}'`);
    const choices = question.choices.map((choice) => choice.id);
    const attempts = entry.attempts;
    if (!Array.isArray(attempts) || attempts.length < 1 || attempts.length > MAX_ATTEMPTS
        || attempts.some((attempt) => !choices.includes(attempt))) {
      throw fail(where, `attempts must be 1..${MAX_ATTEMPTS} of the question's choices`);
    }
    if (entry.passed !== (attempts[attempts.length - 1] === question.correct)) {
      throw fail(where, "passed must say whether the last attempt is the correct choice");
    }
  });
}

/** @param {FormDocument} form @param {unknown} declaration */
export function checkDeclaration(form, declaration) {
  const statements = form.declaration.statements.map((statement) => statement.id);
  if (!Array.isArray(declaration) || declaration.join("\u0000") !== statements.join("\u0000")
      || declaration.length !== statements.length) {
    throw fail("declaration", "must confirm every statement of the form, in its order");
  }
}

/** @param {FormDocument} form @param {unknown} signature */
export function checkSignature(form, signature) {
  if (typeof signature !== "object" || signature === null) throw fail("signature", "must be an object");
  const given = /** @type {Json} */ (signature);
  const keys = Object.keys(given).sort().join();
  if (given.format === "typed") {
    if (!form.signature.typedAlternative) throw fail("signature", "this form needs a drawn signature");
    if (keys !== "format,text") throw fail("signature", "a typed signature holds exactly format and text");
    return text(given.text, "signature.text", TYPED_SIGNATURE_MAX, true);
  }
  if (given.format !== "image/png" || keys !== "data,format,height,width") {
    throw fail("signature", "must be an image/png with width, height and data (or typed)");
  }
  const side = /** @param {unknown} n */ (n) => Number.isInteger(n) && /** @type {number} */ (n) >= 1
    && /** @type {number} */ (n) <= SIGNATURE_MAX_SIDE;
  if (!side(given.width) || !side(given.height)) {
    throw fail("signature", `width and height must be integers 1..${SIGNATURE_MAX_SIDE}`);
  }
  /** @type {{width: number, height: number}} */
  let size;
  try {
    size = pngSize(fromBase64(given.data, "data", { min: 1, max: SIGNATURE_MAX_BYTES }));
  } catch {
    throw fail("signature.data", `must be a base64 PNG of at most ${SIGNATURE_MAX_BYTES} bytes`);
  }
  if (size.width !== given.width || size.height !== given.height) throw fail("signature", "width and height must be the PNG's");
}

/** @param {unknown} identity */
export function checkIdentity(identity) {
  const given = /** @type {Json} */ (identity);
  const names = typeof identity === "object" && identity !== null ? Object.keys(given) : [];
  if (!["firstName", "lastName", "dateOfBirth"].every((name) => names.includes(name))
      || names.some((name) => !IDENTITY_FIELDS.includes(name))) {
    throw fail("identity", "must hold firstName, lastName, dateOfBirth and optionally email, phone");
  }
  for (const name of names) text(given[name], `identity.${name}`, IDENTITY_MAX[name], true);
  try {
    normaliseIdentity(given.lastName, given.firstName, given.dateOfBirth);
  } catch (error) {
    throw fail("identity", /** @type {Error} */ (error).message);
  }
}

/**
 * Every rule of the answers document, against the form document it names.
 * @param {unknown} document @param {FormDocument} form @returns {Json}
 */
export function checkAnswersDocument(document, form) {
  if (typeof document !== "object" || document === null || Array.isArray(document)
      || Object.keys(document).sort().join() !== DOCUMENT_KEYS.join()) {
    throw fail("document", `must hold exactly the keys ${DOCUMENT_KEYS.join(", ")}`);
  }
  const given = /** @type {Json} */ (document);
  if (given.v !== CONTRACT_VERSION) throw fail("v", `must be ${CONTRACT_VERSION}`);
  if (formHash(/** @type {Json} */ (form)) !== form.formHash) throw fail("form", "the form document does not hash to its formHash");
  for (const key of /** @type {const} */ (["formId", "version", "formHash", "locale"])) {
    if (given[key] !== form[key]) throw fail(key, "does not name the form document");
  }
  if (typeof given.linkProof !== "string" || !HEX64.test(given.linkProof)) {
    throw fail("linkProof", "must be 64 lowercase hex characters");
  }
  checkAnswers(form, given.answers);
  checkComprehension(form, given.comprehension);
  checkDeclaration(form, given.declaration);
  checkSignature(form, given.signature);
  checkIdentity(given.identity);
  return given;
}

/** Canonical JSON of the document, within the size the contract allows. @param {Json} document */
export function serialiseAnswers(document) {
  const bytes = utf8(canonicalJson(document));
  if (bytes.length > ANSWERS_MAX_PLAIN) throw fail("document", `exceeds ${ANSWERS_MAX_PLAIN} bytes`);
  return bytes;
}

/**
 * The answers document for `form`, checked; refuses a served key that does not match the
 * link's fingerprint, or a form that does not hash to its formHash.
 * @param {{consent: {publicKey: string}, form: FormDocument, token: string, keyFingerprint?: string | null,
 *   identity: Json, answers: Json, comprehension: Json[], declaration: string[], signature: Json}} input
 */
export function answersDocument({ consent, form, token, keyFingerprint: fingerprint, identity, answers,
  comprehension, declaration, signature }) {
  checkPublicKey(consent.publicKey);
  if (fingerprint !== undefined && fingerprint !== null && keyFingerprint(consent.publicKey) !== fingerprint) {
    throw new KeyMismatch("the served public key does not match the link's fingerprint: do not send");
  }
  const document = {
    v: CONTRACT_VERSION, formId: form.formId, version: form.version, formHash: form.formHash,
    locale: form.locale, answers, comprehension, declaration, signature, identity, linkProof: linkProof(token),
  };
  return checkAnswersDocument(document, form);
}

/** SHA-256 of the answers ciphertext: on the patient's copy, in a countersignature. @param {string} encryptedAnswers */
export function submissionDigest(encryptedAnswers) {
  return toHex(sha256(fromBase64(encryptedAnswers, "encryptedAnswers")));
}
