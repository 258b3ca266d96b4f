// Contract v2 (docs/crypto.md) with libsodium: practice keys and the vault, sealed values,
// payloads, staff signatures, link proofs and key fingerprints. Pure functions: secret keys
// are passed in and never kept here (the worker keeps the unlocked keys of a session).
import sodium from "libsodium-wrappers-sumo";
import { concat, fromBase64, fromUtf8, sha256, toBase64, toBase64Url, toHex, utf8 } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { x25519KeyProblem } from "./curve.js";
import {
  BindingMismatch, ContractError, DecryptionError, KeyMismatch, PayloadError, SignatureInvalid, VaultLocked,
} from "./errors.js";

export const CONTRACT_VERSION = 2;
export const SEAL_OVERHEAD = 48;
export const WRAPPED_KEY_BYTES = 80;
export const SIGNATURE_BYTES = 64;
export const SEALED_MAX_PLAIN = 2048;
export const CHUNK_BYTES = 64 * 1024;
export const HEADER_BYTES = 24;
export const CHUNK_OVERHEAD = 17;
export const VAULT_KDF = "argon2id13";
export const VAULT_OPSLIMIT_MIN = 2;
export const VAULT_OPSLIMIT_MAX = 4;
export const VAULT_MEMLIMIT_MIN = 64 * 1024 * 1024;
export const VAULT_MEMLIMIT_MAX = 256 * 1024 * 1024;
export const ANSWERS_MAX_PLAIN = 512 * 1024;
export const PURPOSES = Object.freeze([
  "consent.answers", "consent.countersignature", "consent.archive", "treatment.plan", "photo",
  "photo.thumbnail", "audit.export",
]);
/** @type {Record<string, readonly string[]>} kind -> fields of its statement besides v and kind. */
export const STATEMENT_FIELDS = Object.freeze({
  patient: ["id", "lookupHash", "encryptedFirstName", "encryptedLastName", "encryptedDateOfBirth",
    "encryptedEmail", "encryptedPhone"],
  consent: ["id", "type", "patientId", "linkCommitment"],
  "treatment.plan": ["id", "patientId", "consentType", "consentFormId", "performedAt", "version", "wrappedKey"],
  photo: ["id", "patientId", "consentFormId", "type", "bodyRegion", "takenAt", "photoConsentGranted",
    "wrappedKey", "encryptedMetadata"],
  "consent.countersignature": ["consentId", "answersSha256", "wrappedKey"],
  "consent.archive": ["consentId", "wrappedKey"],
  "photo.thumbnail": ["photoId", "wrappedKey"],
});
/** A photo's thumbnail: at most this many bytes of plaintext (docs/crypto.md). */
export const THUMBNAIL_MAX_PLAIN = 256 * 1024;
const VAULT_KEYS = ["v", "kdf", "opslimit", "memlimit", "salt", "nonce", "ciphertext"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LINK_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The unlocked vault: the practice's secret keys and their public halves (base64).
 * @typedef {{boxSecret: Uint8Array, signingSeed: Uint8Array, publicKey: string, signingKey: string}} PracticeKeys
 * @typedef {{v: number, kdf: string, opslimit: number, memlimit: number, salt: string, nonce: string,
 *   ciphertext: string}} VaultEnvelope
 */

/** Resolves once libsodium's WebAssembly is ready; await it before any other call. */
export async function ready() {
  await sodium.ready;
}

// --- keys ------------------------------------------------------------------------------------

/**
 * Check a practice public key the way the server does; returns its bytes.
 * @param {unknown} publicKey @param {string} [field]
 */
export function checkPublicKey(publicKey, field = "publicKey") {
  const raw = fromBase64(publicKey, field, { exact: 32 });
  const problem = x25519KeyProblem(raw);
  if (problem) throw new ContractError(problem, field);
  return raw;
}

/** @param {unknown} signingKey @param {string} [field] */
export function checkSigningKey(signingKey, field = "signingKey") {
  const raw = fromBase64(signingKey, field, { exact: 32 });
  if (!sodium.crypto_core_ed25519_is_valid_point(raw)) {
    throw new ContractError("must be an Ed25519 public key of the prime-order subgroup", field);
  }
  return raw;
}

/**
 * The practice keys of two secrets (the vault's plaintext), with their public halves.
 * @param {Uint8Array} boxSecret @param {Uint8Array} signingSeed @returns {PracticeKeys}
 */
export function practiceKeys(boxSecret, signingSeed) {
  return {
    boxSecret,
    signingSeed,
    publicKey: toBase64(sodium.crypto_scalarmult_base(boxSecret)),
    signingKey: toBase64(sodium.crypto_sign_seed_keypair(signingSeed).publicKey),
  };
}

/** The practice's two key pairs; only the public halves ever reach the server in clear. */
export function generatePracticeKeys() {
  return practiceKeys(sodium.crypto_box_keypair().privateKey, sodium.randombytes_buf(32));
}

/**
 * What a staff client writes into a link's fragment (`#k=`) and the patient page compares
 * with the key the server serves: 16 bytes of a domain-separated SHA-256, base64url.
 * @param {string} publicKey
 */
export function keyFingerprint(publicKey) {
  const raw = fromBase64(publicKey, "publicKey", { exact: 32 });
  return toBase64Url(sha256(concat(utf8("appliance/2/key-fingerprint\0"), raw)).subarray(0, 16));
}

// --- vault -----------------------------------------------------------------------------------

/** @param {unknown} value @param {string} field @param {number} low @param {number} high */
function limit(value, field, low, high) {
  if (typeof value !== "number" || !Number.isInteger(value)) throw new ContractError("must be an integer", field);
  if (value < low || value > high) throw new ContractError(`must be between ${low} and ${high}`, field);
  return value;
}

/**
 * Check a vault envelope as strictly as the server, before running its KDF.
 * @param {unknown} envelope @returns {VaultEnvelope}
 */
export function checkVaultEnvelope(envelope) {
  if (typeof envelope !== "object" || envelope === null || Array.isArray(envelope)) {
    throw new ContractError("must be a JSON object", "vault");
  }
  const object = /** @type {Record<string, unknown>} */ (envelope);
  const unknown = Object.keys(object).filter((key) => !VAULT_KEYS.includes(key)).sort();
  if (unknown.length) throw new ContractError("unknown key in vault envelope", unknown[0]);
  const missing = VAULT_KEYS.filter((key) => !(key in object)).sort();
  if (missing.length) throw new ContractError("is required", missing[0]);
  if (object.v !== CONTRACT_VERSION) throw new ContractError(`must be ${CONTRACT_VERSION}`, "v");
  if (object.kdf !== VAULT_KDF) throw new ContractError(`must be '${VAULT_KDF}'`, "kdf");
  limit(object.opslimit, "opslimit", VAULT_OPSLIMIT_MIN, VAULT_OPSLIMIT_MAX);
  limit(object.memlimit, "memlimit", VAULT_MEMLIMIT_MIN, VAULT_MEMLIMIT_MAX);
  fromBase64(object.salt, "salt", { exact: 16 });
  fromBase64(object.nonce, "nonce", { exact: 24 });
  fromBase64(object.ciphertext, "ciphertext", { exact: 80 });
  return /** @type {VaultEnvelope} */ (envelope);
}

/** @param {string} password @param {Uint8Array} salt @param {number} opslimit @param {number} memlimit */
function vaultKey(password, salt, opslimit, memlimit) {
  return sodium.crypto_pwhash(32, utf8(password), salt, opslimit, memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
}

/**
 * Wrap both secret keys with the vault password (check its strength first: password.js).
 * @param {PracticeKeys} keys @param {string} password
 * @param {{opslimit?: number, memlimit?: number}} [limits]
 * @returns {VaultEnvelope}
 */
export function makeVault(keys, password, limits = {}) {
  const opslimit = limit(limits.opslimit ?? VAULT_OPSLIMIT_MIN, "opslimit", VAULT_OPSLIMIT_MIN, VAULT_OPSLIMIT_MAX);
  const memlimit = limit(limits.memlimit ?? VAULT_MEMLIMIT_MIN, "memlimit", VAULT_MEMLIMIT_MIN, VAULT_MEMLIMIT_MAX);
  const salt = sodium.randombytes_buf(16);
  const nonce = sodium.randombytes_buf(24);
  const secrets = concat(keys.boxSecret, keys.signingSeed);
  const ciphertext = sodium.crypto_secretbox_easy(secrets, nonce, vaultKey(password, salt, opslimit, memlimit));
  return {
    v: CONTRACT_VERSION, kdf: VAULT_KDF, opslimit, memlimit,
    salt: toBase64(salt), nonce: toBase64(nonce), ciphertext: toBase64(ciphertext),
  };
}

/**
 * Recover the practice keys; with `served`, refuse keys the server serves that are not the
 * vault's (the client would encrypt to, and trust signatures of, someone else's keys).
 * @param {unknown} envelope @param {string} password
 * @param {{publicKey?: string, signingKey?: string}} [served]
 * @returns {PracticeKeys}
 */
export function unlockVault(envelope, password, served = {}) {
  const checked = checkVaultEnvelope(envelope);
  const key = vaultKey(password, fromBase64(checked.salt, "salt"), checked.opslimit, checked.memlimit);
  /** @type {Uint8Array} */
  let secrets;
  try {
    secrets = sodium.crypto_secretbox_open_easy(fromBase64(checked.ciphertext, "ciphertext"),
      fromBase64(checked.nonce, "nonce"), key);
  } catch {
    throw new VaultLocked();
  }
  const keys = practiceKeys(secrets.slice(0, 32), secrets.slice(32));
  if (served.publicKey !== undefined && served.publicKey !== keys.publicKey) {
    throw new KeyMismatch("the server serves a public key that is not the vault's");
  }
  if (served.signingKey !== undefined && served.signingKey !== keys.signingKey) {
    throw new KeyMismatch("the server serves a signing key that is not the vault's");
  }
  return keys;
}

/**
 * Open the server's vault password change challenge: proof of holding the secret key.
 * @param {PracticeKeys} keys @param {string} sealedChallenge
 */
export function openChallenge(keys, sealedChallenge) {
  const sealed = fromBase64(sealedChallenge, "challenge", { exact: SEAL_OVERHEAD + 32 });
  try {
    return toBase64(sodium.crypto_box_seal_open(sealed, fromBase64(keys.publicKey, "publicKey"), keys.boxSecret));
  } catch {
    throw new DecryptionError("the challenge was not sealed to this practice key");
  }
}

// --- bindings --------------------------------------------------------------------------------

/** @param {unknown} record @param {string} [field] */
export function checkRecordId(record, field = "record") {
  if (typeof record !== "string" || !UUID.test(record)) throw new ContractError("must be a lowercase UUID", field);
  return record;
}

/** The additional data of every chunk of a payload. @param {string} purpose @param {string} record */
export function payloadAd(purpose, record) {
  if (!PURPOSES.includes(purpose)) throw new ContractError(`unknown payload purpose '${purpose}'`);
  return utf8(`appliance/${CONTRACT_VERSION}/${purpose}/${checkRecordId(record)}`);
}

/** A new link token: 32 random bytes, base64url. */
export function newLinkToken() {
  return toBase64Url(sodium.randombytes_buf(32));
}

/**
 * What a submission carries inside its ciphertext to show it came through the link.
 * @param {string} token
 */
export function linkProof(token) {
  if (typeof token !== "string" || !LINK_TOKEN.test(token)) {
    throw new ContractError("must be 43 base64url characters (32 bytes)", "token");
  }
  return toHex(sha256(concat(utf8("appliance/2/link-proof\0"), utf8(token))));
}

/** The hash of a link proof, which staff sign when they issue the link. @param {string} proof */
export function commitmentOfProof(proof) {
  if (!HEX64.test(proof)) throw new ContractError("must be 64 lowercase hex characters", "linkProof");
  return toHex(sha256(sodium.from_hex(proof)));
}

/** @param {string} token */
export function linkCommitment(token) {
  return commitmentOfProof(linkProof(token));
}

// --- sealed values ---------------------------------------------------------------------------

/**
 * Seal a short value to the practice, bound to the field and record it is stored in.
 * @param {string} publicKey @param {string} field @param {string} record @param {unknown} value
 */
export function sealField(publicKey, field, record, value) {
  const key = checkPublicKey(publicKey);
  const document = utf8(JSON.stringify({ v: CONTRACT_VERSION, field, record: checkRecordId(record), value }));
  if (document.length > SEALED_MAX_PLAIN) throw new ContractError(`more than ${SEALED_MAX_PLAIN} bytes to seal`, field);
  return toBase64(sodium.crypto_box_seal(document, key));
}

/**
 * Open a sealed value and refuse it if it was sealed for another field or record.
 * @param {PracticeKeys} keys @param {string} field @param {string} record @param {unknown} sealed
 */
export function openField(keys, field, record, sealed) {
  const box = fromBase64(sealed, field, { min: SEAL_OVERHEAD });
  /** @type {unknown} */
  let document;
  try {
    const plain = sodium.crypto_box_seal_open(box, fromBase64(keys.publicKey, "publicKey"), keys.boxSecret);
    document = JSON.parse(fromUtf8(plain));
  } catch {
    throw new DecryptionError("does not open with this practice key", field);
  }
  const value = /** @type {Record<string, unknown>} */ (document);
  const keysOf = value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value).sort() : [];
  if (keysOf.join() !== "field,record,v,value" || value.v !== CONTRACT_VERSION
      || typeof value.field !== "string" || typeof value.record !== "string") {
    throw new DecryptionError(`not a version ${CONTRACT_VERSION} sealed value`, field);
  }
  if (value.field !== field) throw new BindingMismatch(`sealed value belongs to field '${value.field}'`, field);
  if (value.record !== record) throw new BindingMismatch("sealed value belongs to another record", field);
  return value.value;
}

// --- payloads --------------------------------------------------------------------------------

/**
 * The ciphertext pieces of a payload: header first, then one chunk per 64 KiB of `source`,
 * read as it comes (any cut), the last chunk TAG_FINAL. A chunk is held back until more
 * follows (it may be the last); chunks are views of the pieces, and only a chunk cut across
 * two pieces is copied (at most 64 KiB), so a big file passes without a copy of each piece.
 * @param {Uint8Array} key @param {Uint8Array} ad @param {AsyncIterable<Uint8Array> | Iterable<Uint8Array>} source
 * @returns {AsyncGenerator<Uint8Array>}
 */
async function* pushChunks(key, ad, source) {
  const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
  yield header;
  /** @param {Uint8Array} chunk @param {number} tag */
  const push = (chunk, tag) => sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, ad, tag);
  /** @type {Uint8Array} */
  let held = new Uint8Array(0);
  for await (const piece of source) {
    let at = 0;
    if (held.length < CHUNK_BYTES && piece.length) {
      at = Math.min(CHUNK_BYTES - held.length, piece.length);
      held = held.length ? concat(held, piece.subarray(0, at)) : piece.subarray(0, at);
    }
    while (at < piece.length) {  // more follows: the held chunk is full and not the last
      yield push(held, sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
      held = piece.subarray(at, at + CHUNK_BYTES);
      at += held.length;
    }
  }
  yield push(held, sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL);
}

/**
 * Encrypt a payload for one record as a stream: the wrapped key at once, the ciphertext as
 * it is read (photos never sit whole in memory).
 * @param {string} publicKey @param {AsyncIterable<Uint8Array> | Iterable<Uint8Array>} source
 * @param {string} purpose @param {string} record
 */
export function encryptPayloadStream(publicKey, source, purpose, record) {
  const ad = payloadAd(purpose, record);
  const practiceKey = checkPublicKey(publicKey);
  const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
  return { wrappedKey: toBase64(sodium.crypto_box_seal(key, practiceKey)), chunks: pushChunks(key, ad, source) };
}

/** @param {AsyncIterable<Uint8Array>} chunks */
async function collect(chunks) {
  /** @type {Uint8Array[]} */
  const parts = [];
  for await (const part of chunks) parts.push(part);
  return concat(...parts);
}

/**
 * Encrypt a payload in one go.
 * @param {string} publicKey @param {Uint8Array} plaintext @param {string} purpose @param {string} record
 */
export async function encryptPayload(publicKey, plaintext, purpose, record) {
  const { wrappedKey, chunks } = encryptPayloadStream(publicKey, [plaintext], purpose, record);
  return { wrappedKey, ciphertext: await collect(chunks) };
}

/** @param {PracticeKeys} keys @param {string} wrappedKey */
function unwrapKey(keys, wrappedKey) {
  const wrapped = fromBase64(wrappedKey, "wrappedKey", { exact: WRAPPED_KEY_BYTES });
  try {
    return sodium.crypto_box_seal_open(wrapped, fromBase64(keys.publicKey, "publicKey"), keys.boxSecret);
  } catch {
    throw new PayloadError("wrappedKey: does not open with this practice key");
  }
}

/**
 * @param {Uint8Array} key @param {Uint8Array} ad @param {AsyncIterable<Uint8Array> | Iterable<Uint8Array>} source
 * @returns {AsyncGenerator<Uint8Array>}
 */
async function* pullChunks(key, ad, source) {
  const frame = CHUNK_BYTES + CHUNK_OVERHEAD;
  let buffer = new Uint8Array(0);
  /** @type {import("libsodium-wrappers-sumo").StateAddress | null} */
  let state = null;
  let index = 0;
  /** @param {Uint8Array} cipher @param {boolean} last */
  const pull = (cipher, last) => {
    if (!cipher.length) throw new PayloadError("truncated: no chunk after the stream header");
    if (cipher.length < CHUNK_OVERHEAD) throw new PayloadError("truncated: incomplete last chunk");
    const result = sodium.crypto_secretstream_xchacha20poly1305_pull(
      /** @type {import("libsodium-wrappers-sumo").StateAddress} */ (state), cipher, ad);
    if (!result) {
      throw new PayloadError(`chunk ${index} failed authentication (tampered, cut, extended, wrong key, purpose or record)`);
    }
    const final = result.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (last && !final) throw new PayloadError("truncated: the stream ends without a final chunk");
    if (!last && final) throw new PayloadError("trailing data after the final chunk");
    if (!last && result.tag !== sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
      throw new PayloadError(`chunk ${index} has an unexpected tag ${result.tag}`);
    }
    index += 1;
    return result.message;
  };
  for await (const piece of source) {
    buffer = concat(buffer, piece);
    if (state === null) {
      if (buffer.length < HEADER_BYTES) continue;
      state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(buffer.slice(0, HEADER_BYTES), key);
      buffer = buffer.subarray(HEADER_BYTES);
    }
    // A frame is only pulled as not-last once more bytes follow it; frames are views.
    let at = 0;
    while (buffer.length - at > frame) {
      yield pull(buffer.subarray(at, at + frame), false);
      at += frame;
    }
    buffer = buffer.subarray(at);
  }
  if (state === null) throw new PayloadError("truncated: incomplete stream header");
  yield pull(buffer, true);
}

/**
 * Decrypt a payload piece by piece from input cut anywhere. Each piece is authenticated, but
 * only a generator that finishes proves the payload complete: discard what it gave when it
 * throws. The wrapped key is opened at the call, so a wrong key fails at once.
 * @param {PracticeKeys} keys @param {string} wrappedKey
 * @param {AsyncIterable<Uint8Array> | Iterable<Uint8Array>} source @param {string} purpose @param {string} record
 */
export function decryptPayloadStream(keys, wrappedKey, source, purpose, record) {
  const ad = payloadAd(purpose, record);
  return pullChunks(unwrapKey(keys, wrappedKey), ad, source);
}

/**
 * @param {PracticeKeys} keys @param {string} wrappedKey @param {Uint8Array} ciphertext
 * @param {string} purpose @param {string} record
 */
export async function decryptPayload(keys, wrappedKey, ciphertext, purpose, record) {
  return collect(decryptPayloadStream(keys, wrappedKey, [ciphertext], purpose, record));
}

// --- signatures ------------------------------------------------------------------------------

/**
 * The bytes a staff signature covers: the record's fields (absent ones as null) with the
 * contract version and the kind, as canonical JSON.
 * @param {string} kind @param {Record<string, unknown>} fields
 */
export function statement(kind, fields) {
  const names = STATEMENT_FIELDS[kind];
  if (!names) throw new ContractError(`no statement of kind '${kind}'`);
  const unknown = Object.keys(fields).filter((name) => !names.includes(name));
  if (unknown.length) throw new ContractError(`${kind} statements have no fields ${unknown.sort().join(", ")}`);
  /** @type {Record<string, unknown>} */
  const document = { v: CONTRACT_VERSION, kind };
  for (const name of names) document[name] = fields[name] ?? null;
  return utf8(canonicalJson(document));
}

/** @param {PracticeKeys} keys @param {string} kind @param {Record<string, unknown>} fields */
export function signStatement(keys, kind, fields) {
  const { privateKey } = sodium.crypto_sign_seed_keypair(keys.signingSeed);
  return toBase64(sodium.crypto_sign_detached(statement(kind, fields), privateKey));
}

/**
 * Check a staff record with the vault's own signing key, never with a key the server serves.
 * @param {PracticeKeys} keys @param {string} kind @param {Record<string, unknown>} fields @param {unknown} signature
 */
export function verifyStatement(keys, kind, fields, signature) {
  if (signature === null || signature === undefined) throw new SignatureInvalid(`the ${kind} carries no signature`);
  let valid = false;
  try {
    valid = sodium.crypto_sign_verify_detached(fromBase64(signature, "signature", { exact: SIGNATURE_BYTES }),
      statement(kind, fields), fromBase64(keys.signingKey, "signingKey"));
  } catch {
    valid = false;
  }
  if (!valid) throw new SignatureInvalid(`the ${kind} signature does not match the record`);
}
