// The page's promise client and the crypto worker's protocol, in one thread: the worker keeps
// the unlocked keys (views get public keys and results, never key bytes), slow calls report
// progress, and errors arrive as the contract's error classes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createCryptoClient } from "../../appliance/web/src/crypto/client.js";
import { ContractError, KeyMismatch, VaultLocked } from "../../appliance/web/src/crypto/errors.js";

/** @type {((event: {data: unknown}) => void)[]} */
const toPage = [];
/** @type {any} */ (globalThis).self = { postMessage: (/** @type {unknown} */ data) => toPage.forEach((fn) => fn({ data })) };
await import("../../appliance/web/src/crypto/worker.js");
const worker = /** @type {Worker} */ (/** @type {unknown} */ ({
  postMessage: (/** @type {unknown} */ data) => setTimeout(() => /** @type {any} */ (globalThis).self.onmessage({ data })),
  addEventListener: (/** @type {string} */ _type, /** @type {(event: {data: unknown}) => void} */ listener) => toPage.push(listener),
  terminate: () => undefined,
}));
const crypto = createCryptoClient("unused", { worker });

test("the vault is created and unlocked in the worker; the page sees public keys only", async () => {
  /** @type {string[]} */
  const progress = [];
  const created = await crypto.call("createVault", "Tresor im Keller, 2026!", { onProgress: (/** @type {string} */ state) => progress.push(state) });
  assert.deepEqual(progress, ["working"]);
  assert.deepEqual(Object.keys(created).sort(), ["envelope", "publicKey", "signingKey"]);
  await crypto.call("lock");
  await assert.rejects(crypto.call("sealField", "patient.lastName", crypto_uuid(), "x"), ContractError);
  await assert.rejects(crypto.call("unlockVault", created.envelope, "falsch"), VaultLocked);
  const served = { publicKey: created.publicKey, signingKey: "A".repeat(43) + "=" };
  await assert.rejects(crypto.call("unlockVault", created.envelope, "Tresor im Keller, 2026!", served), KeyMismatch);
  const keys = await crypto.call("unlockVault", created.envelope, "Tresor im Keller, 2026!",
    { publicKey: created.publicKey, signingKey: created.signingKey });
  assert.deepEqual(keys, { publicKey: created.publicKey, signingKey: created.signingKey });

  const id = crypto_uuid();
  const sealed = await crypto.call("sealField", "patient.lastName", id, "Weiß");
  assert.equal(await crypto.call("openField", "patient.lastName", id, sealed), "Weiß");
  const patient = await crypto.call("patientRecord", "AAECAwQFBgcICQoLDA0ODw==",
    { firstName: "Anna", lastName: "Weiß", dateOfBirth: "1984-02-29" });
  assert.deepEqual(await crypto.call("openPatient", patient), { firstName: "Anna", lastName: "Weiß", dateOfBirth: "1984-02-29" });
  await assert.rejects(crypto.call("nothing"), ContractError);
});

function crypto_uuid() {
  return globalThis.crypto.randomUUID();
}
