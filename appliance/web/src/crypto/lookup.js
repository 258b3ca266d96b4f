// The lookupHash of a patient identity (docs/crypto.md, "lookupHash"): every client spells an
// identity one way before hashing it. The tables (which code points a name may hold, which
// are removed, how they fold) are the ones the Python client uses, pinned to Unicode 14.0;
// NFKC comes from the engine, stable for every code point the tables allow.
import sodium from "libsodium-wrappers-sumo";
import tables from "../../../data/lookup_unicode.json" with { type: "json" };
import { fromBase64, toHex, utf8 } from "./bytes.js";
import { ContractError } from "./errors.js";

export const LOOKUP_OPSLIMIT = 3;
export const LOOKUP_MEMLIMIT = 64 * 1024 * 1024;
export const YEAR_MIN = 1900;
export const YEAR_MAX = 2099;
export const UNICODE_VERSION = tables.unicodeVersion;
const WHITESPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/gu;
const ISO_DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

/** Inclusive [first, last] runs of code points, searched by bisection. */
class Ranges {
  /** @param {number[][]} runs */
  constructor(runs) {
    this.firsts = runs.map((run) => run[0]);
    this.lasts = runs.map((run) => run[1]);
  }

  /** @param {number} codePoint */
  has(codePoint) {
    let low = 0;
    let high = this.firsts.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (this.firsts[middle] > codePoint) high = middle - 1;
      else if (this.lasts[middle] < codePoint) low = middle + 1;
      else return true;
    }
    return false;
  }
}

const ALLOWED = new Ranges(tables.allowed);
const IGNORABLE = new Ranges(tables.ignorable);
/** @type {Map<number, string>} */
const FOLDING = new Map(tables.caseFolding.map(([codePoint, mapped]) => [
  /** @type {number} */ (codePoint), String.fromCodePoint(.../** @type {number[]} */ (mapped)),
]));

/**
 * One name, spelled the one way of the contract.
 * @param {unknown} value @param {string} [field]
 */
export function normaliseName(value, field = "name") {
  if (typeof value !== "string") throw new ContractError("must be a string", field);
  let kept = "";
  for (const char of value) {
    const codePoint = /** @type {number} */ (char.codePointAt(0));
    if (!ALLOWED.has(codePoint)) {
      const hex = codePoint.toString(16).toUpperCase().padStart(4, "0");
      throw new ContractError(`holds U+${hex}, which names may not contain`, field);
    }
    if (!IGNORABLE.has(codePoint)) kept += char;
  }
  let folded = "";
  for (const char of kept.normalize("NFKC")) {
    folded += FOLDING.get(/** @type {number} */ (char.codePointAt(0))) ?? char;
  }
  const name = folded.normalize("NFKC").replace(WHITESPACE, " ").replace(/^ +| +$/g, "");
  if (!name) throw new ContractError("must not be empty", field);
  if (name.includes("|")) throw new ContractError("must not contain '|' (it separates the parts)", field);
  return name;
}

/** @param {unknown} value */
export function checkDateOfBirth(value) {
  const match = typeof value === "string" ? ISO_DATE.exec(value) : null;
  if (!match) throw new ContractError("must be written YYYY-MM-DD", "dateOfBirth");
  const [year, month, day] = match.slice(1).map(Number);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > days) {
    throw new ContractError("is not a real date", "dateOfBirth");
  }
  if (year < YEAR_MIN || year > YEAR_MAX) {
    throw new ContractError(`must lie in the years ${YEAR_MIN}..${YEAR_MAX}`, "dateOfBirth");
  }
  return /** @type {string} */ (value);
}

/**
 * `lastname|firstname|YYYY-MM-DD`, normalised.
 * @param {unknown} lastName @param {unknown} firstName @param {unknown} dateOfBirth
 */
export function normaliseIdentity(lastName, firstName, dateOfBirth) {
  const date = checkDateOfBirth(dateOfBirth);
  return `${normaliseName(lastName, "lastName")}|${normaliseName(firstName, "firstName")}|${date}`;
}

/**
 * The practice's salted, slow hash of an identity (Argon2id, fixed parameters).
 * @param {string} lookupSalt base64 of 16 bytes
 * @param {unknown} lastName @param {unknown} firstName @param {unknown} dateOfBirth
 */
export function lookupHash(lookupSalt, lastName, firstName, dateOfBirth) {
  const salt = fromBase64(lookupSalt, "lookupSalt", { exact: 16 });
  const identity = normaliseIdentity(lastName, firstName, dateOfBirth);
  return toHex(sodium.crypto_pwhash(32, utf8(identity), salt, LOOKUP_OPSLIMIT, LOOKUP_MEMLIMIT,
    sodium.crypto_pwhash_ALG_ARGON2ID13));
}
