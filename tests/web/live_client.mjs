// The JavaScript module as a client of a live appliance, for tests/test_crypto_interop.py: one
// JSON command on stdin, one JSON answer on stdout. It writes what the Python reference client
// then reads (a patient's submission, a staff member's patient, plan and consent link), and
// reads what the Python client wrote.
import * as c from "../../appliance/web/src/crypto/contract.js";

/** @typedef {Record<string, any>} Json */

/** @param {string} base @param {string} method @param {string} path @param {{token?: string, body?: Json}} [options] */
async function api(base, method, path, options = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
      ...(options.body ? { "Content-Type": "application/json" } : {}),
    },
    body: options.body ? JSON.stringify(options.body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The patient page: open the link, check the key against its fingerprint, submit. @param {Json} command */
async function submit({ baseUrl, link, identity, filled, signature, form }) {
  const { token, keyFingerprint } = c.parseLink(link);
  const consent = await api(baseUrl, "GET", `/api/consent/${token}`);
  const shown = consent.form ?? form;
  const body = await c.buildSubmission({ consent, form: shown, token, keyFingerprint, identity, ...filled, signature });
  const answer = await api(baseUrl, "POST", `/api/consent/${token}/submit`, { body });
  return { answer, submissionDigest: c.submissionDigest(body.encryptedAnswers) };
}

/** @param {string} baseUrl @param {string} token @param {string} password */
async function unlock(baseUrl, token, password) {
  const practice = await api(baseUrl, "GET", "/api/practice", { token });
  const keys = c.unlockVault(practice.encryptedPrivKey, password,
    { publicKey: practice.publicKey, signingKey: practice.signingKey });
  return { practice, keys };
}

/** Staff in the browser: a patient, a plan and a consent link for them. @param {Json} command */
async function staffWrites({ baseUrl, token, password, identity, plan, performedAt }) {
  const { practice, keys } = await unlock(baseUrl, token, password);
  const patient = await api(baseUrl, "POST", "/api/patients",
    { token, body: c.patientRecord(keys, practice.lookupSalt, identity) });
  const planId = c.newRecordId();
  const fields = { patientId: patient.id, consentType: "BOTOX", consentFormId: null, performedAt, version: 1 };
  const created = await api(baseUrl, "POST", "/api/treatment-plans", { token, body: {
    id: planId, patientId: patient.id, consentType: "BOTOX", performedAt, ...(await c.planRecord(keys, planId, fields, plan)),
  } });
  const consent = await api(baseUrl, "POST", "/api/consent",
    { token, body: c.consentRecord(keys, { type: "BOTOX", patientId: patient.id }) });
  return { patientId: patient.id, planId: created.id, consentId: consent.id,
    link: c.linkWithFragment(consent.link, keys.publicKey) };
}

/** Staff in the browser read what Python wrote. @param {Json} command */
async function staffReads({ baseUrl, token, password, patientId, planId, consentId, form }) {
  const { practice, keys } = await unlock(baseUrl, token, password);
  const patient = await api(baseUrl, "GET", `/api/patients/${patientId}`, { token });
  const plan = await api(baseUrl, "GET", `/api/treatment-plans/${planId}`, { token });
  const consent = await api(baseUrl, "GET", `/api/consent/practice/${consentId}`, { token });
  const read = await c.openConsent(keys, { consent, form, lookupSalt: practice.lookupSalt, patient });
  return {
    identity: c.openPatient(keys, patient), plan: await c.openPlan(keys, plan),
    document: read.document, identityMismatch: read.identityMismatch,
  };
}

/** @type {Record<string, (command: Json) => Promise<Json>>} */
const OPERATIONS = { submit, staffWrites, staffReads };

let input = "";
for await (const chunk of process.stdin) input += chunk;
const command = JSON.parse(input);
await c.ready();
try {
  process.stdout.write(JSON.stringify({ ok: await OPERATIONS[command.op](command) }));
} catch (error) {
  const { name, message } = /** @type {Error} */ (error);
  process.stdout.write(JSON.stringify({ error: { name, message } }));
}
