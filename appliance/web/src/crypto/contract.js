// The crypto contract v2 (docs/crypto.md) for the browser pages: one module for the patient
// page and the staff app. Pure functions over libsodium-wrappers-sumo; `await ready()` first.
// The pages call them through the worker (client.js), which keeps the unlocked keys.
import { fromBase64, fromUtf8, sha256, toBase64, toHex, utf8 } from "./bytes.js";
import {
  answersDocument, checkAnswersDocument, identityField, IDENTITY_FIELDS, sealedIdentityName, serialiseAnswers,
} from "./answers.js";
import { canonicalJson } from "./canonical.js";
import { AnswersInvalid, CountersignatureInvalid } from "./errors.js";
import { lookupHash } from "./lookup.js";
import {
  commitmentOfProof, decryptPayload, encryptPayload, keyFingerprint, linkCommitment, newLinkToken, openField,
  sealField, signStatement, verifyStatement,
} from "./primitives.js";

export * from "./answers.js";
export * from "./bytes.js";
export * from "./canonical.js";
export * from "./errors.js";
export * from "./lookup.js";
export * from "./primitives.js";
export { x25519KeyProblem } from "./curve.js";

/**
 * @typedef {import("./primitives.js").PracticeKeys} PracticeKeys
 * @typedef {import("./answers.js").FormDocument} FormDocument
 * @typedef {Record<string, any>} Json
 */

const PATIENT_FIELDS = Object.freeze({
  firstName: "encryptedFirstName", lastName: "encryptedLastName", dateOfBirth: "encryptedDateOfBirth",
  email: "encryptedEmail", phone: "encryptedPhone",
});

/** A random record id, as the client chooses it for what it creates. */
export function newRecordId() {
  return crypto.randomUUID();
}

/** An instant as the API renders it, which is how statements name it. @param {string | Date} value */
export function instant(value) {
  const moment = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(moment.getTime())) throw new AnswersInvalid("is not an instant", "instant");
  return moment.toISOString();
}

// --- the patient's side ------------------------------------------------------------------------

/**
 * Everything the patient page sends, in one call: the answers document encrypted to the
 * practice key and bound to the consent, the identity sealed to the consent, its lookupHash.
 * Refuses to encrypt when the served key does not match the link's fingerprint (`#k=`).
 * @param {{consent: {id: string, publicKey: string, lookupSalt: string}, form: FormDocument, token: string,
 *   keyFingerprint?: string | null, identity: Json, answers: Json, comprehension: Json[], declaration: string[],
 *   signature: Json}} input
 */
export async function buildSubmission(input) {
  const { consent, form, identity } = input;
  const document = answersDocument(input);
  const { wrappedKey, ciphertext } = await encryptPayload(consent.publicKey, serialiseAnswers(document),
    "consent.answers", consent.id);
  /** @type {Record<string, string>} */
  const sealed = {};
  for (const name of IDENTITY_FIELDS) {
    if (identity[name] !== undefined) {
      sealed[sealedIdentityName(name)] = sealField(consent.publicKey, identityField(name), consent.id, identity[name]);
    }
  }
  return {
    encryptedAnswers: toBase64(ciphertext), wrappedKey,
    formId: form.formId, version: form.version, formHash: form.formHash, locale: form.locale,
    identity: sealed,
    lookupHash: lookupHash(consent.lookupSalt, identity.lastName, identity.firstName, identity.dateOfBirth),
  };
}

/** The token and key fingerprint of a consent link `.../consent/<token>#k=<fingerprint>`. @param {string} link */
export function parseLink(link) {
  const url = new URL(link);
  const token = url.pathname.split("/").pop() ?? "";
  const fragment = new URLSearchParams(url.hash.replace(/^#/, ""));
  return { token, keyFingerprint: fragment.get("k") };
}

// --- the staff side: records signed by the practice --------------------------------------------

/**
 * A POST /api/patients body: each value sealed to its field and the patient's id, the
 * lookupHash, the practice's signature.
 * @param {PracticeKeys} keys @param {string} lookupSalt @param {Json} identity @param {string} [id]
 * @returns {Json}
 */
export function patientRecord(keys, lookupSalt, identity, id = newRecordId()) {
  /** @type {Json} */
  const body = {};
  for (const [name, api] of Object.entries(PATIENT_FIELDS)) {
    if (identity[name] !== undefined) body[api] = sealField(keys.publicKey, `patient.${name}`, id, identity[name]);
  }
  body.lookupHash = lookupHash(lookupSalt, identity.lastName, identity.firstName, identity.dateOfBirth);
  body.signature = signStatement(keys, "patient", patientStatement(id, body));
  return { id, ...body };
}

/** @param {string} id @param {Json} record */
function patientStatement(id, record) {
  return { id, lookupHash: record.lookupHash, ...Object.fromEntries(Object.values(PATIENT_FIELDS).map(
    (api) => [api, record[api] ?? null])) };
}

/**
 * The clear identity of a patient record, after checking the practice's signature. A patient
 * the GDT import made has none until staff confirm it (`allowUnconfirmed` to check it first).
 * @param {PracticeKeys} keys @param {Json} patient @param {{allowUnconfirmed?: boolean}} [options]
 */
export function openPatient(keys, patient, options = {}) {
  if (patient.signature != null || !options.allowUnconfirmed) {
    verifyStatement(keys, "patient", patientStatement(patient.id, patient), patient.signature);
  }
  /** @type {Json} */
  const identity = {};
  for (const [name, api] of Object.entries(PATIENT_FIELDS)) {
    if (patient[api]) identity[name] = openField(keys, `patient.${name}`, patient.id, patient[api]);
  }
  return identity;
}

/** The signature that confirms a patient the GDT import made. @param {PracticeKeys} keys @param {Json} patient */
export function confirmPatient(keys, patient) {
  openPatient(keys, patient, { allowUnconfirmed: true });
  return { signature: signStatement(keys, "patient", patientStatement(patient.id, patient)) };
}

/**
 * A link drawn and signed here: the token, the consent statement's signature and, for an
 * e-mail the server sends, the key fingerprint for the fragment.
 * @param {PracticeKeys} keys @param {{id: string, type: string, patientId?: string | null}} consent
 */
function link(keys, consent) {
  const token = newLinkToken();
  const signature = signStatement(keys, "consent", {
    id: consent.id, type: consent.type, patientId: consent.patientId ?? null, linkCommitment: linkCommitment(token),
  });
  return { token, signature, keyFingerprint: keyFingerprint(keys.publicKey) };
}

/**
 * A POST /api/consent body (send it, then hand out `linkWithFragment(answer.link, ...)`).
 * @param {PracticeKeys} keys
 * @param {{type: string, patientId?: string | null, locale?: string, patientEmail?: string}} consent
 */
export function consentRecord(keys, consent) {
  const id = newRecordId();
  const { token, signature, keyFingerprint: fingerprint } = link(keys, { id, ...consent });
  /** @type {Json} */
  const body = { id, type: consent.type, token, signature };
  if (consent.patientId) body.patientId = consent.patientId;
  if (consent.locale) body.locale = consent.locale;
  if (consent.patientEmail) Object.assign(body, { patientEmail: consent.patientEmail, keyFingerprint: fingerprint });
  return body;
}

/**
 * A POST /api/consent/practice/{id}/link body for a consent as the staff API answered it.
 * @param {PracticeKeys} keys @param {{id: string, type: string, patientId: string | null}} consent
 * @param {string} [patientEmail]
 */
export function newLinkRecord(keys, consent, patientEmail) {
  const { token, signature, keyFingerprint: fingerprint } = link(keys, consent);
  return patientEmail ? { token, signature, patientEmail, keyFingerprint: fingerprint } : { token, signature };
}

/** The link as staff hand it out. @param {string} serverLink @param {string} publicKey */
export function linkWithFragment(serverLink, publicKey) {
  return `${serverLink}#k=${keyFingerprint(publicKey)}`;
}

/**
 * A PUT /api/consent/practice/{id}/patient body: the staff decision after reading a consent.
 * @param {PracticeKeys} keys @param {Json} consent @param {string} patientId
 */
export function patientLinkRecord(keys, consent, patientId) {
  const signature = signStatement(keys, "consent", {
    id: consent.id, type: consent.type, patientId, linkCommitment: consent.linkCommitment,
  });
  return { patientId, signature };
}

/** @param {PracticeKeys} keys @param {Json} consent */
export function verifyConsent(keys, consent) {
  verifyStatement(keys, "consent", {
    id: consent.id, type: consent.type, patientId: consent.patientId ?? null, linkCommitment: consent.linkCommitment ?? null,
  }, consent.signature);
}

/**
 * Decrypt and check a submitted consent (staff view of GET /api/consent/practice/{id}) with
 * the form document it names: the consent statement, the answers' binding, the form, the
 * link proof, the sealed identity. `identityMismatch` says whether the identity the patient
 * gave differs from the lookupHash stored with it or from the linked `patient`.
 * @param {PracticeKeys} keys
 * @param {{consent: Json, form: FormDocument, lookupSalt: string, patient?: Json | null}} input
 */
export async function openConsent(keys, { consent, form, lookupSalt, patient = null }) {
  if (!consent.encryptedAnswers) throw new AnswersInvalid("the consent has no answers yet", "encryptedAnswers");
  verifyConsent(keys, consent);
  const plain = await decryptPayload(keys, consent.wrappedKey, fromBase64(consent.encryptedAnswers, "encryptedAnswers"),
    "consent.answers", consent.id);
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(fromUtf8(plain));
  } catch {
    throw new AnswersInvalid("the answers are not JSON", "document");
  }
  const document = checkAnswersDocument(parsed, form);
  const named = { formId: "formId", formVersion: "version", formLocale: "locale", formHash: "formHash" };
  for (const [stored, key] of Object.entries(named)) {
    if (consent[stored] !== document[key]) throw new AnswersInvalid("the stored form is not the one the answers name", key);
  }
  if (commitmentOfProof(document.linkProof) !== consent.linkCommitment) {
    throw new AnswersInvalid("the answers did not come through the signed link", "linkProof");
  }
  const identity = document.identity;
  /** @type {Json} */
  const sealed = {};
  for (const name of IDENTITY_FIELDS) {
    const value = consent.identity?.[sealedIdentityName(name)];
    if (value) sealed[name] = openField(keys, identityField(name), consent.id, value);
  }
  if (JSON.stringify(Object.entries(sealed).sort()) !== JSON.stringify(Object.entries(identity).sort())) {
    throw new AnswersInvalid("the sealed copy differs from the answers", "identity");
  }
  const digest = lookupHash(lookupSalt, identity.lastName, identity.firstName, identity.dateOfBirth);
  const identityMismatch = digest !== consent.lookupHash || (patient !== null && digest !== patient.lookupHash);
  return { document, identityMismatch };
}

// --- treatment plans ---------------------------------------------------------------------------

/** @param {string} id @param {Json} record */
function planStatement(id, record) {
  return {
    id, patientId: record.patientId, consentType: record.consentType, consentFormId: record.consentFormId ?? null,
    performedAt: instant(record.performedAt), version: record.version, wrappedKey: record.wrappedKey,
  };
}

/**
 * encryptedPlan, wrappedKey and signature of a plan: the plan (a JSON object) encrypted and
 * bound to the plan's id, signed with the fields it will have (`version` after the request).
 * @param {PracticeKeys} keys @param {string} id
 * @param {{patientId: string, consentType: string, consentFormId?: string | null, performedAt: string,
 *   version: number}} fields @param {Json} plan
 */
export async function planRecord(keys, id, fields, plan) {
  const { wrappedKey, ciphertext } = await encryptPayload(keys.publicKey, utf8(JSON.stringify(plan)), "treatment.plan", id);
  return {
    encryptedPlan: toBase64(ciphertext), wrappedKey,
    signature: signStatement(keys, "treatment.plan", planStatement(id, { ...fields, wrappedKey })),
  };
}

/** The clear plan of a record from GET /api/treatment-plans/{id}. @param {PracticeKeys} keys @param {Json} record */
export async function openPlan(keys, record) {
  verifyStatement(keys, "treatment.plan", planStatement(record.id, record), record.signature);
  const plain = await decryptPayload(keys, record.wrappedKey, fromBase64(record.encryptedPlan, "encryptedPlan"),
    "treatment.plan", record.id);
  return JSON.parse(fromUtf8(plain));
}

// --- photos ------------------------------------------------------------------------------------

/** @param {Json} record */
export function photoStatement(record) {
  return {
    id: record.id, patientId: record.patientId, consentFormId: record.consentFormId ?? null, type: record.type,
    bodyRegion: record.bodyRegion, takenAt: instant(record.takenAt),
    photoConsentGranted: record.photoConsentGranted === true || record.photoConsentGranted === "true",
    wrappedKey: record.wrappedKey, encryptedMetadata: record.encryptedMetadata ?? null,
  };
}

/** The clear metadata of a photo record, after its signature. @param {PracticeKeys} keys @param {Json} record */
export function openPhotoMetadata(keys, record) {
  verifyStatement(keys, "photo", photoStatement(record), record.signature);
  return record.encryptedMetadata ? openField(keys, "photo.metadata", record.id, record.encryptedMetadata) : null;
}

// --- countersignature --------------------------------------------------------------------------

export const COUNTERSIGNATURE_NOTE_MAX = 2000;
const CALENDAR_DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

/**
 * Refuses a countersignature document that is not exactly {v: 2, talkDate: a real YYYY-MM-DD
 * date, note: 1..2000 characters or null} (docs/crypto.md, the countersignature).
 * @param {unknown} document
 */
export function checkCountersignature(document) {
  if (document === null || typeof document !== "object" || Array.isArray(document)) {
    throw new CountersignatureInvalid("must be an object");
  }
  const value = /** @type {Record<string, unknown>} */ (document);
  if (Object.keys(value).sort().join(",") !== "note,talkDate,v") {
    throw new CountersignatureInvalid("must have exactly the keys v, talkDate and note");
  }
  if (value.v !== 2) throw new CountersignatureInvalid("v must be the integer 2");
  const talkDate = value.talkDate;
  if (typeof talkDate !== "string" || !CALENDAR_DATE.test(talkDate)
      || Number.isNaN(Date.parse(`${talkDate}T00:00:00Z`))
      || new Date(`${talkDate}T00:00:00Z`).toISOString().slice(0, 10) !== talkDate) {
    throw new CountersignatureInvalid("talkDate must be a real YYYY-MM-DD date");
  }
  const note = value.note;
  if (note !== null && (typeof note !== "string" || [...note].length < 1
      || [...note].length > COUNTERSIGNATURE_NOTE_MAX)) {
    throw new CountersignatureInvalid(`note must be null or 1..${COUNTERSIGNATURE_NOTE_MAX} characters`);
  }
}

/**
 * A physician's countersignature of a submitted consent: the document ({v: 2, talkDate, note})
 * checked, as canonical JSON encrypted and bound to the consent, signed together with the
 * digest of the answers it confirms.
 * @param {PracticeKeys} keys @param {Json} consent @param {Json} countersignature
 */
export async function countersignatureRecord(keys, consent, countersignature) {
  checkCountersignature(countersignature);
  const { wrappedKey, ciphertext } = await encryptPayload(keys.publicKey, utf8(canonicalJson(countersignature)),
    "consent.countersignature", consent.id);
  const answersSha256 = toHex(sha256(fromBase64(consent.encryptedAnswers, "encryptedAnswers")));
  return {
    encryptedCountersignature: toBase64(ciphertext), wrappedKey,
    signature: signStatement(keys, "consent.countersignature", { consentId: consent.id, answersSha256, wrappedKey }),
  };
}

/**
 * @param {PracticeKeys} keys @param {Json} consent
 * @param {{encryptedCountersignature: string, wrappedKey: string, signature: string}} record
 */
export async function openCountersignature(keys, consent, record) {
  const answersSha256 = toHex(sha256(fromBase64(consent.encryptedAnswers, "encryptedAnswers")));
  verifyStatement(keys, "consent.countersignature",
    { consentId: consent.id, answersSha256, wrappedKey: record.wrappedKey }, record.signature);
  const plain = await decryptPayload(keys, record.wrappedKey,
    fromBase64(record.encryptedCountersignature, "encryptedCountersignature"), "consent.countersignature", consent.id);
  let document;
  try {
    document = JSON.parse(fromUtf8(plain));
  } catch {
    throw new CountersignatureInvalid("not UTF-8 JSON");
  }
  checkCountersignature(document);
  return document;
}

// --- nightly audit exports -------------------------------------------------------------------

/**
 * Opens a nightly audit export (docs/crypto.md, purpose `audit.export`, bound to the export's
 * id): decrypted with the practice key, then gunzipped. Returns the CSV text (the German
 * dialect the server writes, its byte-order mark removed).
 * @param {PracticeKeys} keys @param {{id: string, wrappedKey: string}} record @param {Uint8Array} ciphertext
 */
export async function openAuditExport(keys, record, ciphertext) {
  const packed = await decryptPayload(keys, record.wrappedKey, ciphertext, "audit.export", record.id);
  const stream = new Blob([/** @type {BlobPart} */ (packed)]).stream().pipeThrough(new DecompressionStream("gzip"));
  const plain = new Uint8Array(await new Response(stream).arrayBuffer());
  return fromUtf8(plain).replace(/^\uFEFF/, "");
}
