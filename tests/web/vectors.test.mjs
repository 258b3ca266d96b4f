// Every test vector of docs/crypto.md, positive and negative, with the JavaScript module (the
// Python reference client checks the same blocks in tests/test_crypto_vectors.py).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import * as c from "../../appliance/web/src/crypto/contract.js";

const DOC = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../docs/crypto.md");
const BLOCK = /^```json test-vector\n([\s\S]*?)^```$/gm;
const KINDS = ["lookup_hash", "lookup_refused", "vault_unlock", "vault_refused", "sealed_field", "payload",
  "payload_refused", "base64_refused", "public_key", "public_key_refused", "signature", "link", "answers",
  "answers_refused"];

await c.ready();
const text = await readFile(DOC, "utf8");
/** @type {Record<string, any>[]} */
const VECTORS = [...text.matchAll(BLOCK)].map((match) => JSON.parse(match[1]));
const ANSWERS = /** @type {Record<string, any>} */ (VECTORS.find((vector) => vector.kind === "answers"));
const SIGNING_SEED = Uint8Array.from({ length: 32 }, (_, i) => i + 32);

/** The practice keys of the vectors, from the vector's box secret key. @param {Record<string, any>} vector */
function keysOf(vector) {
  return c.practiceKeys(c.fromBase64(vector.secretKey, "secretKey"), SIGNING_SEED);
}

/** @param {string} a @param {number} size */
const pieces = (a, size) => {
  const bytes = c.fromBase64(a, "ciphertext");
  /** @type {Uint8Array[]} */
  const out = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
};

/** @param {AsyncIterable<Uint8Array>} stream */
async function drain(stream) {
  /** @type {Uint8Array[]} */
  const parts = [];
  for await (const part of stream) parts.push(part);
  return c.concat(...parts);
}

/** @type {Record<string, (vector: Record<string, any>) => void | Promise<void>>} */
const CHECKS = {
  lookup_hash(v) {
    assert.equal(c.normaliseIdentity(v.lastName, v.firstName, v.dateOfBirth), v.normalised);
    assert.equal(c.lookupHash(v.lookupSalt, v.lastName, v.firstName, v.dateOfBirth), v.lookupHash);
  },
  lookup_refused(v) {
    assert.throws(() => c.normaliseIdentity(v.lastName, v.firstName, v.dateOfBirth), c.ContractError);
  },
  vault_unlock(v) {
    const keys = c.unlockVault(v.envelope, v.password, { publicKey: v.publicKey, signingKey: v.signingKey });
    assert.deepEqual([keys.publicKey, keys.signingKey], [v.publicKey, v.signingKey]);
    assert.throws(() => c.unlockVault(v.envelope, `${v.password} `), c.VaultLocked);
    const other = c.generatePracticeKeys().publicKey;
    assert.throws(() => c.unlockVault(v.envelope, v.password, { publicKey: other }), c.KeyMismatch);
  },
  vault_refused(v) {
    assert.throws(() => c.checkVaultEnvelope(v.envelope), c.ContractError);
    assert.throws(() => c.unlockVault(v.envelope, "egal"), (error) => !(error instanceof c.VaultLocked));
  },
  sealed_field(v) {
    const keys = keysOf(v);
    assert.equal(c.openField(keys, v.field, v.record, v.sealed), v.value);
    assert.throws(() => c.openField(keys, v.otherField, v.record, v.sealed), c.BindingMismatch);
    assert.throws(() => c.openField(keys, v.field, v.otherRecord, v.sealed), c.BindingMismatch);
  },
  async payload(v) {
    const keys = keysOf(v);
    const ciphertext = c.fromBase64(v.ciphertext, "ciphertext");
    const plain = await c.decryptPayload(keys, v.wrappedKey, ciphertext, v.purpose, v.record);
    assert.equal(plain.length, v.plaintextLength);
    assert.equal(c.toHex(c.sha256(plain)), v.plaintextSha256);
    const streamed = await drain(c.decryptPayloadStream(keys, v.wrappedKey, pieces(v.ciphertext, 1000), v.purpose,
      v.record));
    assert.deepEqual(streamed, plain);
    await assert.rejects(c.decryptPayload(keys, v.wrappedKey, ciphertext, v.purpose, v.otherRecord), c.PayloadError);
    await assert.rejects(c.decryptPayload(keys, v.wrappedKey, ciphertext, "treatment.plan", v.record), c.PayloadError);
    if (v.otherPurpose) {
      await assert.rejects(c.decryptPayload(keys, v.wrappedKey, ciphertext, v.otherPurpose, v.record), c.PayloadError);
    }
  },
  async payload_refused(v) {
    await assert.rejects(c.decryptPayload(keysOf(v), v.wrappedKey, c.fromBase64(v.ciphertext, "ciphertext"),
      v.purpose, v.record), c.PayloadError);
  },
  base64_refused(v) {
    assert.throws(() => c.fromBase64(v.value, "field"), c.ContractError);
  },
  public_key(v) {
    c.checkPublicKey(v.publicKey);
    assert.equal(c.keyFingerprint(v.publicKey), v.fingerprint);
  },
  public_key_refused(v) {
    assert.throws(() => c.checkPublicKey(v.publicKey), c.ContractError);
  },
  signature(v) {
    assert.equal(new TextDecoder().decode(c.statement(v.statementKind, v.fields)), v.statement);
    const keys = { ...c.generatePracticeKeys(), signingKey: v.signingKey };
    c.verifyStatement(keys, v.statementKind, v.fields, v.signature);
    for (const name of Object.keys(v.fields)) {
      const changed = { ...v.fields, [name]: v.fields[name] === null ? "0" : null };
      assert.throws(() => c.verifyStatement(keys, v.statementKind, changed, v.signature), c.SignatureInvalid);
    }
  },
  link(v) {
    assert.equal(c.linkProof(v.token), v.linkProof);
    assert.equal(c.linkCommitment(v.token), v.linkCommitment);
    assert.equal(c.commitmentOfProof(v.linkProof), v.linkCommitment);
  },
  async answers(v) {
    const keys = keysOf(v);
    const submit = v.submit;
    const ciphertext = c.fromBase64(submit.encryptedAnswers, "encryptedAnswers");
    const plain = await c.decryptPayload(keys, submit.wrappedKey, ciphertext, "consent.answers", v.record);
    const document = JSON.parse(new TextDecoder().decode(plain));
    assert.deepEqual(document, v.document);
    assert.deepEqual(c.serialiseAnswers(document), plain);
    c.checkAnswersDocument(document, v.form);
    assert.equal(c.formHash(v.form), v.form.formHash);
    assert.equal(document.linkProof, c.linkProof(v.token));
    for (const [name, value] of Object.entries(document.identity)) {
      assert.equal(c.openField(keys, c.identityField(name), v.record, submit.identity[c.sealedIdentityName(name)]), value);
    }
    const { lastName, firstName, dateOfBirth } = document.identity;
    assert.equal(submit.lookupHash, c.lookupHash("AAECAwQFBgcICQoLDA0ODw==", lastName, firstName, dateOfBirth));
    await assert.rejects(c.decryptPayload(keys, submit.wrappedKey, ciphertext, "consent.answers", v.otherRecord),
      c.PayloadError);
  },
  answers_refused(v) {
    const document = { ...structuredClone(ANSWERS.document), ...v.change };
    assert.throws(() => c.checkAnswersDocument(document, ANSWERS.form), c.AnswersInvalid);
  },
};

test("the document holds vectors of every kind", () => {
  assert.deepEqual([...new Set(VECTORS.map((v) => v.kind))].sort(), [...KINDS].sort());
});

VECTORS.forEach((vector, index) => {
  test(`vector ${index}: ${vector.kind}`, async () => {
    const check = CHECKS[vector.kind];
    assert.ok(check, `unknown vector kind ${vector.kind}`);
    await check(vector);
  });
});
