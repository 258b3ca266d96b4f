// Photos as files, in the crypto worker: a File (or any Blob) encrypted while it is read, into
// a Blob of ciphertext, and back; and the photo's thumbnail (docs/crypto.md, "Photo
// thumbnails"). Nothing here holds a whole photo in the JS heap: slices of the file go in,
// ciphertext leaves in batches to the browser's blob store (which may keep it on disk), and
// the upload sends that Blob. (A streamed request body would avoid even the Blob, but the
// API needs a Content-Length and Chromium streams request bodies over HTTP/2 only.)
import { photoStatement } from "./contract.js";
import { Cancelled, ContractError } from "./errors.js";
import {
  THUMBNAIL_MAX_PLAIN, decryptPayload, decryptPayloadStream, encryptPayload, encryptPayloadStream,
  sealField, signStatement, verifyStatement,
} from "./primitives.js";

/** Bytes read from the file at a time. */
export const READ_BYTES = 1024 * 1024;
/** Ciphertext collected before it goes to the blob store. */
const BATCH_BYTES = 1024 * 1024;
/** The thumbnail's longer side in pixels. */
export const THUMBNAIL_SIDE = 320;

/**
 * The bytes of `blob`, a slice at a time.
 * @param {Blob} blob @param {(read: number) => void} onRead @param {() => boolean} cancelled
 */
async function* slices(blob, onRead, cancelled) {
  for (let at = 0; at < blob.size; at += READ_BYTES) {
    if (cancelled()) throw new Cancelled();
    yield new Uint8Array(await blob.slice(at, at + READ_BYTES).arrayBuffer());
    onRead(Math.min(blob.size, at + READ_BYTES));
  }
  if (cancelled()) throw new Cancelled();
}

/**
 * Pieces into one Blob, handed to the blob store a batch at a time.
 * @param {AsyncIterable<Uint8Array>} pieces @param {string} type
 */
async function toBlob(pieces, type) {
  /** @type {Blob[]} */
  const parts = [];
  /** @type {BlobPart[]} */
  let batch = [];
  let size = 0;
  for await (const piece of pieces) {
    batch.push(/** @type {BlobPart} */ (piece));
    size += piece.length;
    if (size >= BATCH_BYTES) {
      parts.push(new Blob(batch));
      batch = [];
      size = 0;
    }
  }
  if (batch.length) parts.push(new Blob(batch));
  return new Blob(parts, { type });
}

/**
 * Encrypt a file as a payload while it is read.
 * @param {string} publicKey @param {Blob} file @param {string} purpose @param {string} record
 * @param {{onRead?: (read: number) => void, cancelled?: () => boolean}} [options]
 * @returns {Promise<{wrappedKey: string, ciphertext: Blob}>}
 */
export async function encryptBlob(publicKey, file, purpose, record, { onRead = () => undefined, cancelled = () => false } = {}) {
  const { wrappedKey, chunks } = encryptPayloadStream(publicKey, slices(file, onRead, cancelled), purpose, record);
  return { wrappedKey, ciphertext: await toBlob(chunks, "application/octet-stream") };
}

/**
 * The photo itself as a Blob of `type`, after its signature; throws (and gives nothing) unless
 * the whole stream is authentic and complete.
 * @param {import("./primitives.js").PracticeKeys} keys @param {any} record @param {Blob} ciphertext @param {string} type
 */
export function openPhoto(keys, record, ciphertext, type) {
  verifyStatement(keys, "photo", photoStatement(record), record.signature);
  return decryptBlob(keys, record.wrappedKey, ciphertext, "photo", record.id, type);
}

/**
 * A photo's upload fields besides the file: the optional metadata sealed to the photo and the
 * signature of its statement.
 * @param {import("./primitives.js").PracticeKeys} keys @param {any} fields id, patientId, type,
 *   bodyRegion, takenAt, photoConsentGranted, wrappedKey, consentFormId?
 * @param {unknown} metadata any JSON value or null
 */
export function photoRecord(keys, fields, metadata) {
  const encryptedMetadata = metadata == null ? null : sealField(keys.publicKey, "photo.metadata", fields.id, metadata);
  const record = { ...fields, encryptedMetadata };
  return { encryptedMetadata, signature: signStatement(keys, "photo", photoStatement(record)) };
}

/**
 * Decrypt a payload held in a Blob into a Blob of `type`; throws (and gives nothing) unless
 * the whole stream is authentic and complete.
 * @param {import("./primitives.js").PracticeKeys} keys @param {string} wrappedKey @param {Blob} ciphertext
 * @param {string} purpose @param {string} record @param {string} type
 */
export function decryptBlob(keys, wrappedKey, ciphertext, purpose, record, type) {
  return toBlob(decryptPayloadStream(keys, wrappedKey, slices(ciphertext, () => undefined, () => false), purpose, record), type);
}

/**
 * A JPEG of the image, its longer side at most THUMBNAIL_SIDE pixels and its bytes at most
 * THUMBNAIL_MAX_PLAIN; null when the browser cannot decode the image.
 * @param {Blob} image
 * @returns {Promise<Uint8Array | null>}
 */
export async function makeThumbnail(image) {
  /** @type {ImageBitmap} */
  let bitmap;
  try {
    bitmap = await createImageBitmap(image);
  } catch {
    return null;
  }
  const scale = Math.min(1, THUMBNAIL_SIDE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = new OffscreenCanvas(width, height);
  const context = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext("2d"));
  context.imageSmoothingQuality = "high";
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  for (const quality of [0.8, 0.6, 0.4, 0.2]) {
    const jpeg = await canvas.convertToBlob({ type: "image/jpeg", quality });
    if (jpeg.size <= THUMBNAIL_MAX_PLAIN) return new Uint8Array(await jpeg.arrayBuffer());
  }
  return null;
}

/**
 * The thumbnail's upload fields: encrypted with purpose photo.thumbnail bound to the photo,
 * and signed.
 * @param {import("./primitives.js").PracticeKeys} keys @param {string} photoId @param {Uint8Array} jpeg
 */
export async function thumbnailRecord(keys, photoId, jpeg) {
  const { wrappedKey, ciphertext } = await encryptPayload(keys.publicKey, jpeg, "photo.thumbnail", photoId);
  return {
    wrappedKey, signature: signStatement(keys, "photo.thumbnail", { photoId, wrappedKey }),
    ciphertext: new Blob([/** @type {BlobPart} */ (ciphertext)], { type: "application/octet-stream" }),
  };
}

/**
 * The thumbnail of a photo record (GET /api/photos/...) as a JPEG Blob, after both signatures.
 * @param {import("./primitives.js").PracticeKeys} keys @param {any} record @param {Blob} ciphertext
 */
export async function openThumbnail(keys, record, ciphertext) {
  verifyStatement(keys, "photo", photoStatement(record), record.signature);
  const thumbnail = record.thumbnail;
  if (!thumbnail) throw new ContractError("the photo has no thumbnail");
  verifyStatement(keys, "photo.thumbnail", { photoId: record.id, wrappedKey: thumbnail.wrappedKey }, thumbnail.signature);
  const plain = await decryptPayload(keys, thumbnail.wrappedKey, new Uint8Array(await ciphertext.arrayBuffer()),
    "photo.thumbnail", record.id);
  return new Blob([/** @type {BlobPart} */ (plain)], { type: "image/jpeg" });
}
