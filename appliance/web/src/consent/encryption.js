// The patient page's door to the crypto module (appliance/web/src/crypto, contract v2 in
// docs/crypto.md): every operation runs in its Web Worker, so hashing the form, checking the
// key and encrypting never block the page. The worker starts when the page opens, so
// libsodium is ready by the time the patient signs.
import { assetUrl } from "../shared/assets.js";
import { createCryptoClient } from "../crypto/client.js";

/** @type {ReturnType<typeof createCryptoClient> | null} */
let client = null;

function worker() {
  if (!client) client = createCryptoClient(assetUrl("crypto-worker"));
  return client;
}

/** Starts the worker (and libsodium in it) ahead of need. */
export function warmUp() {
  worker();
}

/**
 * True when the form document's own `formHash` is the hash of its content.
 * @param {import("./form.js").FormDocument} form
 */
export async function formHashMatches(form) {
  return (await worker().call("formHash", form)) === form.formHash;
}

/**
 * True when the practice key the server sent is the one the link's fragment names.
 * @param {string} publicKey
 * @param {string} expected fingerprint from the URL fragment
 */
export async function keyMatches(publicKey, expected) {
  return (await worker().call("keyFingerprint", publicKey)) === expected;
}

/**
 * The submit body: the answers document encrypted and bound to the consent, the identity
 * sealed, its lookupHash (contract v2). The worker refuses a key that does not match the
 * link's fingerprint, and answers that break the contract's rules.
 * @param {{consent: object, form: object, token: string, keyFingerprint: string | null,
 *   identity: Record<string, string>, answers: object, comprehension: object[], declaration: string[],
 *   signature: object}} input
 * @returns {Promise<Record<string, unknown>>}
 */
export function buildSubmission(input) {
  return worker().call("buildSubmission", input);
}
