// Canonical JSON (RFC 8785, JCS) of the documents the contract hashes and signs, and formHash.
// The documents hold objects, arrays, strings, integers, booleans and null; a fraction, an
// integer past 2^53 - 1 or a lone surrogate is refused (docs/forms.md, docs/crypto.md).
import { sha256, toHex, utf8 } from "./bytes.js";
import { ContractError } from "./errors.js";

const LONE_SURROGATE = /\p{Surrogate}/u;

/** @param {string} text */
function string(text) {
  if (LONE_SURROGATE.test(text)) throw new ContractError("a string holds a lone surrogate");
  return JSON.stringify(text);
}

/** @param {unknown} value @returns {string} */
export function canonicalJson(value) {
  if (value === null || value === true || value === false) return String(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new ContractError("only integers JavaScript holds exactly");
    return String(value);
  }
  if (typeof value === "string") return string(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const object = /** @type {Record<string, unknown>} */ (value);
    // JCS sorts keys by UTF-16 code units: JavaScript's default string order.
    const keys = Object.keys(object).filter((key) => object[key] !== undefined).sort();
    return `{${keys.map((key) => `${string(key)}:${canonicalJson(object[key])}`).join(",")}}`;
  }
  throw new ContractError(`${typeof value} values are not part of these documents`);
}

/**
 * Lowercase hex SHA-256 of the canonical form document without its `formHash` key.
 * @param {Record<string, unknown>} document
 */
export function formHash(document) {
  const { formHash: _ignored, ...content } = document;
  return toHex(sha256(utf8(canonicalJson(content))));
}
