// What the photos view needs to know besides the DOM: the API's photo types, shares of
// progress, the file name of a decrypted original. Pure, so that the Node tests check it.

/** The API's photo types (appliance/models PHOTO_TYPES); the regions are treatment.js BODY_REGIONS. */
export const PHOTO_TYPES = ["BEFORE", "AFTER"];

/**
 * Share of `done` in `total` as a whole percent (0 while the total is unknown).
 * @param {number} done @param {number} total
 */
export function percent(done, total) {
  return total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
}

/**
 * The file name of a decrypted original.
 * @param {{id: string, bodyRegion: string, type: string}} photo @param {string | undefined} mimeType
 */
export function originalName(photo, mimeType) {
  const extension = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic" }[mimeType ?? ""] ?? "bin";
  return `foto-${photo.bodyRegion.toLowerCase()}-${photo.type.toLowerCase()}-${photo.id.slice(0, 8)}.${extension}`;
}
