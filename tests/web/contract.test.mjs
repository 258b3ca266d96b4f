// The JavaScript contract module beyond the vectors: what it writes opens, what is moved,
// altered or malformed is refused, and the patient page's one call builds a valid submission.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import * as c from "../../appliance/web/src/crypto/contract.js";
import { checkVaultPassword, vaultPasswordStrength } from "../../appliance/web/src/crypto/password.js";

await c.ready();
const here = path.dirname(fileURLToPath(import.meta.url));
const vectors = [...(await readFile(path.join(here, "../../docs/crypto.md"), "utf8"))
  .matchAll(/^```json test-vector\n([\s\S]*?)^```$/gm)].map((m) => JSON.parse(m[1]));
const ANSWERS = vectors.find((v) => v.kind === "answers");
const FORM = ANSWERS.form;
const SALT = "AAECAwQFBgcICQoLDA0ODw==";
const KEYS = c.generatePracticeKeys();
const RECORD = c.newRecordId();
const OTHER = c.newRecordId();
const IDENTITY = { firstName: "Jürgen", lastName: "Müller-Lüdenscheidt", dateOfBirth: "1980-02-29" };

/** @param {number} size */
const pattern = (size) => Uint8Array.from({ length: size }, (_, i) => i % 251);

test("the vault opens with its password to the same keys, refuses a wrong one and foreign served keys", () => {
  const envelope = c.makeVault(KEYS, "Tresor im Keller, 2026!");
  assert.deepEqual(Object.keys(envelope), ["v", "kdf", "opslimit", "memlimit", "salt", "nonce", "ciphertext"]);
  assert.equal(c.fromBase64(envelope.ciphertext, "ciphertext").length, 80);
  const keys = c.unlockVault(envelope, "Tresor im Keller, 2026!", { publicKey: KEYS.publicKey, signingKey: KEYS.signingKey });
  assert.deepEqual(keys, KEYS);
  assert.throws(() => c.unlockVault(envelope, "Tresor im Keller, 2026"), c.VaultLocked);
  const stranger = c.generatePracticeKeys();
  assert.throws(() => c.unlockVault(envelope, "Tresor im Keller, 2026!", { signingKey: stranger.signingKey }),
    c.KeyMismatch);
  assert.throws(() => c.makeVault(KEYS, "x", { memlimit: 2 ** 30 }), c.ContractError);
  assert.notEqual(c.makeVault(KEYS, "x").salt, envelope.salt);
});

test("sealed values open only as their field of their record", () => {
  for (const value of ["Weiß-Müller", "", { street: "Königsallee 1" }, null, 42]) {
    const sealed = c.sealField(KEYS.publicKey, "patient.lastName", RECORD, value);
    assert.deepEqual(c.openField(KEYS, "patient.lastName", RECORD, sealed), value);
  }
  const sealed = c.sealField(KEYS.publicKey, "patient.firstName", RECORD, "Anna");
  assert.throws(() => c.openField(KEYS, "patient.lastName", RECORD, sealed), c.BindingMismatch);
  assert.throws(() => c.openField(KEYS, "patient.firstName", OTHER, sealed), c.BindingMismatch);
  assert.throws(() => c.openField(c.generatePracticeKeys(), "patient.firstName", RECORD, sealed),
    (error) => error instanceof c.DecryptionError && !(error instanceof c.BindingMismatch));
  assert.throws(() => c.sealField(KEYS.publicKey, "patient.lastName", RECORD.toUpperCase(), "x"), c.ContractError);
  assert.throws(() => c.sealField(c.toBase64(new Uint8Array(32)), "patient.lastName", RECORD, "x"), c.ContractError);
  assert.throws(() => c.sealField(KEYS.publicKey, "photo.metadata", RECORD, "x".repeat(2100)), c.ContractError);
});

test("payloads frame in 64 KiB chunks and open only for their purpose and record", async () => {
  for (const size of [0, 1, 65535, 65536, 65537, 131072, 131172]) {
    const plaintext = pattern(size);
    const { wrappedKey, ciphertext } = await c.encryptPayload(KEYS.publicKey, plaintext, "photo", RECORD);
    const chunks = Math.max(1, Math.ceil(size / 65536));
    assert.equal(ciphertext.length, 24 + size + 17 * chunks, `size ${size}`);
    assert.deepEqual(await c.decryptPayload(KEYS, wrappedKey, ciphertext, "photo", RECORD), plaintext);
    await assert.rejects(c.decryptPayload(KEYS, wrappedKey, ciphertext, "photo", OTHER), c.PayloadError);
    await assert.rejects(c.decryptPayload(KEYS, wrappedKey, ciphertext, "treatment.plan", RECORD), c.PayloadError);
  }
  await assert.rejects(c.encryptPayload(KEYS.publicKey, pattern(1), "logo", RECORD), c.ContractError);
});

test("a streamed payload is read as it comes and a cut, extended or altered one is refused", async () => {
  const plaintext = pattern(3 * 65536 + 4321);
  const source = (async function* () {
    for (let i = 0; i < plaintext.length; i += 7777) yield plaintext.subarray(i, i + 7777);
  })();
  const { wrappedKey, chunks } = c.encryptPayloadStream(KEYS.publicKey, source, "audit.export", RECORD);
  /** @type {Uint8Array[]} */
  const parts = [];
  for await (const part of chunks) parts.push(part);
  assert.deepEqual(parts.map((p) => p.length), [24, 65553, 65553, 65553, 4338]);
  const ciphertext = c.concat(...parts);
  const read = [];
  for await (const piece of c.decryptPayloadStream(KEYS, wrappedKey, [ciphertext.subarray(0, 5), ciphertext.subarray(5)],
    "audit.export", RECORD)) read.push(piece);
  assert.deepEqual(c.concat(...read), plaintext);
  for (const spoiled of [ciphertext.subarray(0, 24 + 65553), ciphertext.subarray(0, 20), c.concat(ciphertext, new Uint8Array(1))]) {
    await assert.rejects(c.decryptPayload(KEYS, wrappedKey, spoiled, "audit.export", RECORD), c.PayloadError);
  }
  const flipped = ciphertext.slice();
  flipped[100] ^= 1;
  await assert.rejects(c.decryptPayload(KEYS, wrappedKey, flipped, "audit.export", RECORD), c.PayloadError);
});

test("staff statements verify with the vault's key only, and not once a field changed", () => {
  const fields = { id: RECORD, type: "BOTOX", patientId: null, linkCommitment: c.linkCommitment(c.newLinkToken()) };
  const signature = c.signStatement(KEYS, "consent", fields);
  c.verifyStatement(KEYS, "consent", fields, signature);
  assert.throws(() => c.verifyStatement(KEYS, "consent", { ...fields, type: "FILLER" }, signature), c.SignatureInvalid);
  assert.throws(() => c.verifyStatement(c.generatePracticeKeys(), "consent", fields, signature), c.SignatureInvalid);
  assert.throws(() => c.verifyStatement(KEYS, "consent", fields, null), c.SignatureInvalid);
  assert.throws(() => c.statement("consent", { ...fields, extra: 1 }), c.ContractError);
});

test("a patient record, a consent link, a plan and a countersignature as staff write and read them", async () => {
  const patient = c.patientRecord(KEYS, SALT, IDENTITY);
  assert.equal(patient.lookupHash, c.lookupHash(SALT, IDENTITY.lastName, IDENTITY.firstName, IDENTITY.dateOfBirth));
  assert.deepEqual(c.openPatient(KEYS, patient), IDENTITY);
  const forged = { ...patient, encryptedLastName: c.sealField(KEYS.publicKey, "patient.lastName", patient.id, "Fälscher") };
  assert.throws(() => c.openPatient(KEYS, forged), c.SignatureInvalid);
  const imported = { ...patient, signature: null };
  assert.throws(() => c.openPatient(KEYS, imported), c.SignatureInvalid);
  assert.deepEqual(c.openPatient(KEYS, imported, { allowUnconfirmed: true }), IDENTITY);
  c.openPatient(KEYS, { ...patient, ...c.confirmPatient(KEYS, imported) });

  const body = c.consentRecord(KEYS, { type: "BOTOX", patientId: patient.id, patientEmail: "a@example.org" });
  assert.equal(body.keyFingerprint, c.keyFingerprint(KEYS.publicKey));
  const stored = { ...body, linkCommitment: c.linkCommitment(body.token) };
  c.verifyConsent(KEYS, stored);
  const linked = c.linkWithFragment(`https://praxis.example/consent/${body.token}`, KEYS.publicKey);
  assert.deepEqual(c.parseLink(linked), { token: body.token, keyFingerprint: c.keyFingerprint(KEYS.publicKey) });
  const fresh = c.newLinkRecord(KEYS, { id: body.id, type: "BOTOX", patientId: patient.id });
  assert.throws(() => c.verifyConsent(KEYS, { ...stored, signature: fresh.signature }), c.SignatureInvalid);

  const plan = { points: [{ x: 22.5, y: 40, units: 4 }], notes: "Kontrolle in 14 Tagen" };
  const fields = { patientId: patient.id, consentType: "BOTOX", consentFormId: null,
    performedAt: "2026-11-28T14:30:00+01:00", version: 1 };
  const record = { id: RECORD, ...fields, ...(await c.planRecord(KEYS, RECORD, fields, plan)) };
  assert.deepEqual(await c.openPlan(KEYS, { ...record, performedAt: "2026-11-28T13:30:00.000Z" }), plan);
  await assert.rejects(c.openPlan(KEYS, { ...record, patientId: OTHER }), c.SignatureInvalid);
  await assert.rejects(c.openPlan(KEYS, { ...record, id: OTHER }), c.SignatureInvalid);

  const consent = { id: RECORD, encryptedAnswers: c.toBase64(pattern(100)) };
  const talk = { v: 2, talkDate: "2026-11-27", note: "ok" };
  const countersigned = await c.countersignatureRecord(KEYS, consent, talk);
  assert.deepEqual(await c.openCountersignature(KEYS, consent, countersigned), talk);
  for (const broken of [{ ...talk, talkDate: "2026-02-30" }, { ...talk, note: "" }, { ...talk, note: "x".repeat(2001) },
    { talkDate: "2026-11-27", note: null }, { ...talk, v: "2" }, { ...talk, by: "x" }]) {
    await assert.rejects(c.countersignatureRecord(KEYS, consent, broken), c.CountersignatureInvalid);
  }
  // The same document as the reference client writes it (canonical JSON) opens here.
  const plain = c.utf8('{"note":"ok","talkDate":"2026-11-27","v":2}');
  const { wrappedKey, ciphertext } = await c.encryptPayload(KEYS.publicKey, plain, "consent.countersignature", RECORD);
  const written = { encryptedCountersignature: c.toBase64(ciphertext), wrappedKey,
    signature: c.signStatement(KEYS, "consent.countersignature",
      { consentId: RECORD, answersSha256: c.toHex(c.sha256(pattern(100))), wrappedKey }) };
  assert.deepEqual(await c.openCountersignature(KEYS, consent, written), talk);
  await assert.rejects(c.openCountersignature(KEYS, { ...consent, encryptedAnswers: c.toBase64(pattern(101)) },
    countersigned), c.SignatureInvalid);
});

test("buildSubmission encrypts the checked answers document and refuses a key the link does not name", async () => {
  const token = c.newLinkToken();
  const consent = { id: RECORD, publicKey: KEYS.publicKey, lookupSalt: SALT };
  const filled = { answers: ANSWERS.document.answers, comprehension: ANSWERS.document.comprehension,
    declaration: ANSWERS.document.declaration, signature: ANSWERS.document.signature };
  const input = { consent, form: FORM, token, keyFingerprint: c.keyFingerprint(KEYS.publicKey), identity: IDENTITY, ...filled };
  const body = await c.buildSubmission(input);
  assert.deepEqual(Object.keys(body).sort(),
    ["encryptedAnswers", "formHash", "formId", "identity", "locale", "lookupHash", "version", "wrappedKey"]);
  assert.deepEqual([body.formId, body.version, body.formHash, body.locale], [FORM.formId, FORM.version, FORM.formHash, FORM.locale]);
  const plain = await c.decryptPayload(KEYS, body.wrappedKey, c.fromBase64(body.encryptedAnswers, "a"), "consent.answers", RECORD);
  const document = JSON.parse(new TextDecoder().decode(plain));
  assert.equal(document.linkProof, c.linkProof(token));
  assert.deepEqual(document.identity, IDENTITY);
  assert.equal(c.submissionDigest(body.encryptedAnswers), c.toHex(c.sha256(c.fromBase64(body.encryptedAnswers, "a"))));

  const stranger = c.generatePracticeKeys().publicKey;
  await assert.rejects(c.buildSubmission({ ...input, consent: { ...consent, publicKey: stranger } }), c.KeyMismatch);
  await assert.rejects(c.buildSubmission({ ...input, consent: { ...consent, publicKey: c.toBase64(Uint8Array.of(1, ...new Uint8Array(31))) },
    keyFingerprint: null }), c.ContractError);
  await assert.rejects(c.buildSubmission({ ...input, form: { ...FORM, title: "anders" } }), c.AnswersInvalid);
  await assert.rejects(c.buildSubmission({ ...input, answers: { ...filled.answers, pregnant: "nein" } }), c.AnswersInvalid);
  await assert.rejects(c.buildSubmission({ ...input, identity: { ...IDENTITY, dateOfBirth: "1880-01-01" } }), c.AnswersInvalid);
});

test("openConsent checks statement, binding, form, link proof and identity of a submission", async () => {
  const token = c.newLinkToken();
  const body = await c.buildSubmission({ consent: { id: RECORD, publicKey: KEYS.publicKey, lookupSalt: SALT }, form: FORM,
    token, identity: IDENTITY, answers: ANSWERS.document.answers, comprehension: ANSWERS.document.comprehension,
    declaration: ANSWERS.document.declaration, signature: ANSWERS.document.signature });
  const linkCommitment = c.linkCommitment(token);
  const consent = { id: RECORD, type: "BOTOX", patientId: null, linkCommitment,
    signature: c.signStatement(KEYS, "consent", { id: RECORD, type: "BOTOX", patientId: null, linkCommitment }),
    encryptedAnswers: body.encryptedAnswers, wrappedKey: body.wrappedKey, identity: body.identity,
    lookupHash: body.lookupHash, formId: FORM.formId, formVersion: FORM.version, formLocale: FORM.locale, formHash: FORM.formHash };
  const read = await c.openConsent(KEYS, { consent, form: FORM, lookupSalt: SALT });
  assert.equal(read.identityMismatch, false);
  assert.deepEqual(read.document.identity, IDENTITY);
  const other = await c.openConsent(KEYS, { consent, form: FORM, lookupSalt: SALT, patient: { lookupHash: "0".repeat(64) } });
  assert.equal(other.identityMismatch, true);

  const otherLink = c.linkCommitment(c.newLinkToken());
  const relinked = { ...consent, linkCommitment: otherLink,
    signature: c.signStatement(KEYS, "consent", { id: RECORD, type: "BOTOX", patientId: null, linkCommitment: otherLink }) };
  await assert.rejects(c.openConsent(KEYS, { consent: relinked, form: FORM, lookupSalt: SALT }), c.AnswersInvalid);
  await assert.rejects(c.openConsent(KEYS, { consent: { ...consent, type: "FILLER" }, form: FORM, lookupSalt: SALT }),
    c.SignatureInvalid);
  await assert.rejects(c.openConsent(KEYS, { consent: { ...consent, formHash: "0".repeat(64) }, form: FORM, lookupSalt: SALT }),
    c.AnswersInvalid);
  const swapped = { ...consent.identity, encryptedLastName: c.sealField(KEYS.publicKey, "consent.lastName", RECORD, "Anders") };
  await assert.rejects(c.openConsent(KEYS, { consent: { ...consent, identity: swapped }, form: FORM, lookupSalt: SALT }),
    c.AnswersInvalid);
});

test("the vault password check wants the estimator's top score", () => {
  assert.equal(vaultPasswordStrength("Tresor im Keller, 2026!").ok, true);
  assert.equal(vaultPasswordStrength("Praxis2026!").ok, false);
  assert.equal(vaultPasswordStrength("praxisberger!köln", []).ok, true);
  assert.equal(vaultPasswordStrength("praxisberger!köln", ["Praxis Berger", "köln"]).ok, false);
  assert.throws(() => checkVaultPassword("passwort123"), c.WeakVaultPassword);
  checkVaultPassword("Korrekt Pferd Batterie Heftklammer ÄÖÜß");
});
