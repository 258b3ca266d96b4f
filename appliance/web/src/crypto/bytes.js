// Encodings of the contract: strict canonical base64, lowercase hex, UTF-8, SHA-256.
import sodium from "libsodium-wrappers-sumo";
import { ContractError } from "./errors.js";

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Standard base64 with padding (RFC 4648 section 4). @param {Uint8Array} bytes */
export function toBase64(bytes) {
  return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
}

/**
 * Decode standard, padded, canonical base64: one spelling per byte string.
 * @param {unknown} value @param {string} field
 * @param {{exact?: number, min?: number, max?: number}} [length]
 * @returns {Uint8Array}
 */
export function fromBase64(value, field, length = {}) {
  if (typeof value !== "string") throw new ContractError("must be a base64 string", field);
  if (value.length % 4 !== 0 || !B64.test(value)) {
    throw new ContractError("must be standard base64 with padding", field);
  }
  /** @type {Uint8Array} */
  let raw;
  try {
    raw = value === "" ? new Uint8Array(0) : sodium.from_base64(value, sodium.base64_variants.ORIGINAL);
  } catch {
    throw new ContractError("must be standard base64 with padding", field);
  }
  if (toBase64(raw) !== value) throw new ContractError("must be canonical base64", field);
  if (length.exact !== undefined && raw.length !== length.exact) {
    throw new ContractError(`must be base64 of ${length.exact} bytes`, field);
  }
  if (length.min !== undefined && raw.length < length.min) {
    throw new ContractError(`must be base64 of at least ${length.min} bytes`, field);
  }
  if (length.max !== undefined && raw.length > length.max) {
    throw new ContractError(`must be base64 of at most ${length.max} bytes`, field);
  }
  return raw;
}

/** base64url without padding, as link tokens and fingerprints are written. @param {Uint8Array} bytes */
export function toBase64Url(bytes) {
  return sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
}

/** @param {Uint8Array} bytes */
export function toHex(bytes) {
  return sodium.to_hex(bytes);
}

/** @param {string} hex */
export function fromHex(hex) {
  return sodium.from_hex(hex);
}

/** @param {string} text */
export function utf8(text) {
  return encoder.encode(text);
}

/** @param {Uint8Array} bytes */
export function fromUtf8(bytes) {
  return decoder.decode(bytes);
}

/** @param {Uint8Array} bytes */
export function sha256(bytes) {
  return sodium.crypto_hash_sha256(bytes);
}

/** @param {Uint8Array[]} parts */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
