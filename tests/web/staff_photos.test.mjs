// The staff app's photos, the parts that need no browser: a file encrypted a slice at a time
// into a Blob that opens to the same bytes (and stops when cancelled), the thumbnail's record
// (its own purpose, signed for its photo), the photo's signed record and consent change, the
// route and the small helpers of the view.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as c from "../../appliance/web/src/crypto/contract.js";
import {
  READ_BYTES, decryptBlob, encryptBlob, openPhoto, openThumbnail, photoRecord, thumbnailRecord,
} from "../../appliance/web/src/crypto/photo-files.js";
import { matchRoute, roleMayOpen, VAULT_VIEWS } from "../../appliance/web/src/staff/router.js";
import { PHOTO_TYPES, originalName, percent } from "../../appliance/web/src/staff/photo-facts.js";

await c.ready();
const KEYS = c.generatePracticeKeys();
const PATIENT = "0b9d7a52-1e3f-4c8a-b6d0-2f4e8c9a1b75";

/** @param {number} size */
function bytes(size) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) out[i] = (i * 7 + (i >> 11)) % 251;
  return out;
}

/** @param {string} id @param {string} wrappedKey */
function signedPhoto(id, wrappedKey) {
  const fields = { id, patientId: PATIENT, consentFormId: null, type: "AFTER", bodyRegion: "LIPS",
    takenAt: "2026-12-03T05:30:00.000Z", photoConsentGranted: false, wrappedKey };
  const { encryptedMetadata, signature } = photoRecord(KEYS, fields, { mimeType: "image/png", caption: "zwei Wochen danach" });
  return { ...fields, encryptedMetadata, signature };
}

test("a file is encrypted slice by slice into a Blob that opens to the same bytes, bound to its photo", async () => {
  const plain = bytes(2 * READ_BYTES + 12345);  // more than one slice, not a multiple of a chunk
  /** @type {number[]} */
  const read = [];
  const id = globalThis.crypto.randomUUID();
  const { wrappedKey, ciphertext } = await encryptBlob(KEYS.publicKey, new Blob([plain]), "photo", id,
    { onRead: (n) => read.push(n) });
  assert.deepEqual(read, [READ_BYTES, 2 * READ_BYTES, plain.length]);
  const chunks = Math.ceil(plain.length / c.CHUNK_BYTES);
  assert.equal(ciphertext.size, c.HEADER_BYTES + plain.length + chunks * c.CHUNK_OVERHEAD);
  const cipherBytes = new Uint8Array(await ciphertext.arrayBuffer());
  assert.deepEqual(await c.decryptPayload(KEYS, wrappedKey, cipherBytes, "photo", id), plain);

  const record = signedPhoto(id, wrappedKey);
  const opened = await openPhoto(KEYS, record, ciphertext, "image/png");
  assert.equal(opened.type, "image/png");
  assert.deepEqual(new Uint8Array(await opened.arrayBuffer()), plain);
  assert.deepEqual(c.openPhotoMetadata(KEYS, record), { mimeType: "image/png", caption: "zwei Wochen danach" });
  // another photo's record, or a changed one, opens nothing
  await assert.rejects(decryptBlob(KEYS, wrappedKey, ciphertext, "photo", globalThis.crypto.randomUUID(), "image/png"),
    c.PayloadError);
  assert.throws(() => openPhoto(KEYS, { ...record, bodyRegion: "CHIN" }, ciphertext, "image/png"), c.SignatureInvalid);
});

test("chunks are framed the same whatever the pieces: whole chunks, empty pieces, a byte more", async () => {
  const plain = bytes(2 * c.CHUNK_BYTES + 1);
  const id = globalThis.crypto.randomUUID();
  const pieces = [plain.subarray(0, c.CHUNK_BYTES), new Uint8Array(0), plain.subarray(c.CHUNK_BYTES, 2 * c.CHUNK_BYTES),
    plain.subarray(2 * c.CHUNK_BYTES)];
  const { wrappedKey, chunks } = c.encryptPayloadStream(KEYS.publicKey, pieces, "photo", id);
  /** @type {Uint8Array[]} */
  const parts = [];
  for await (const part of chunks) parts.push(part);
  assert.deepEqual(parts.map((p) => p.length), [24, 65553, 65553, 18]);
  assert.deepEqual(await c.decryptPayload(KEYS, wrappedKey, c.concat(...parts), "photo", id), plain);
  const whole = [];
  for await (const part of c.encryptPayloadStream(KEYS.publicKey, [plain.subarray(0, 2 * c.CHUNK_BYTES)], "photo", id).chunks) {
    whole.push(part.length);
  }
  assert.deepEqual(whole, [24, 65553, 65553]);  // the last bytes go into the final chunk
});

test("a cancelled encryption stops with Cancelled before the next slice", async () => {
  let cancelled = false;
  await assert.rejects(encryptBlob(KEYS.publicKey, new Blob([bytes(3 * READ_BYTES)]), "photo", globalThis.crypto.randomUUID(),
    { onRead: () => { cancelled = true; }, cancelled: () => cancelled }), c.Cancelled);
});

test("a thumbnail is its own payload (purpose photo.thumbnail), signed for its photo", async () => {
  const id = globalThis.crypto.randomUUID();
  const jpeg = bytes(30000);
  const thumbnail = await thumbnailRecord(KEYS, id, jpeg);
  const record = { ...signedPhoto(id, "A".repeat(106) + "=="),
    thumbnail: { wrappedKey: thumbnail.wrappedKey, signature: thumbnail.signature, sizeBytes: thumbnail.ciphertext.size } };
  const opened = await openThumbnail(KEYS, record, thumbnail.ciphertext);
  assert.equal(opened.type, "image/jpeg");
  assert.deepEqual(new Uint8Array(await opened.arrayBuffer()), jpeg);
  // as the photo itself it does not open; nor does a thumbnail signed for another photo
  const cipherBytes = new Uint8Array(await thumbnail.ciphertext.arrayBuffer());
  await assert.rejects(c.decryptPayload(KEYS, thumbnail.wrappedKey, cipherBytes, "photo", id), c.PayloadError);
  const other = await thumbnailRecord(KEYS, globalThis.crypto.randomUUID(), jpeg);
  await assert.rejects(openThumbnail(KEYS, { ...record, thumbnail: { ...record.thumbnail, signature: other.signature } },
    thumbnail.ciphertext), c.SignatureInvalid);
  await assert.rejects(openThumbnail(KEYS, { ...record, thumbnail: null }, thumbnail.ciphertext), c.ContractError);
});

test("the consent flag is part of the photo's signed statement", () => {
  const record = signedPhoto(globalThis.crypto.randomUUID(), "A".repeat(106) + "==");
  const granted = { ...record, photoConsentGranted: true };
  assert.throws(() => c.openPhotoMetadata(KEYS, granted), c.SignatureInvalid);
  const signature = c.signStatement(KEYS, "photo", c.photoStatement(granted));
  assert.deepEqual(c.openPhotoMetadata(KEYS, { ...granted, signature }), { mimeType: "image/png", caption: "zwei Wochen danach" });
});

test("photos: a patient's page, for ADMIN and ARZT with the vault open", () => {
  assert.deepEqual(matchRoute("/patients/6f3b0c2e-4c1a-4f7e-9d2b-8a5e1c0f7d31/photos"),
    { name: "photos", params: { id: "6f3b0c2e-4c1a-4f7e-9d2b-8a5e1c0f7d31" } });
  assert.equal(roleMayOpen("photos", "EMPFANG"), false);
  assert.equal(roleMayOpen("photos", "ARZT"), true);
  assert.ok(VAULT_VIEWS.has("photos"));
});

test("the view's helpers: shares, file names, the API's types", () => {
  assert.equal(percent(0, 0), 0);
  assert.equal(percent(1, 3), 33);
  assert.equal(percent(5, 4), 100);
  const photo = /** @type {any} */ ({ id: "6f3b0c2e-4c1a-4f7e-9d2b-8a5e1c0f7d31", bodyRegion: "LIPS", type: "AFTER" });
  assert.equal(originalName(photo, "image/jpeg"), "foto-lips-after-6f3b0c2e.jpg");
  assert.equal(originalName(photo, undefined), "foto-lips-after-6f3b0c2e.bin");
  assert.deepEqual(PHOTO_TYPES, ["BEFORE", "AFTER"]);
});
