// The errors of the crypto contract (docs/crypto.md). Every failed check is an error: callers
// show nothing of data that did not check out, never a partial or unchecked result.

/** Something breaks the contract; `field` names where, when known. */
export class ContractError extends Error {
  /** @param {string} message @param {string} [field] */
  constructor(message, field) {
    super(field ? `${field}: ${message}` : message);
    this.name = "ContractError";
    this.field = field;
  }
}

/** Data did not open or did not check out. */
export class DecryptionError extends ContractError {
  /** @param {string} message @param {string} [field] */
  constructor(message, field) {
    super(message, field);
    this.name = "DecryptionError";
  }
}

/** The vault password is wrong (or the vault envelope was altered). */
export class VaultLocked extends DecryptionError {
  constructor() {
    super("wrong vault password (or the vault envelope was altered)");
    this.name = "VaultLocked";
  }
}

/** The server serves practice keys that are not the vault's, or not the link's. */
export class KeyMismatch extends DecryptionError {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "KeyMismatch";
  }
}

/** A sealed value names another field or record: it was copied from elsewhere. */
export class BindingMismatch extends DecryptionError {
  /** @param {string} message @param {string} field */
  constructor(message, field) {
    super(message, field);
    this.name = "BindingMismatch";
  }
}

/** A payload is truncated, extended, tampered with, or for another key, purpose or record. */
export class PayloadError extends DecryptionError {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "PayloadError";
  }
}

/** A staff record's signature is missing or does not sign what it says. */
export class SignatureInvalid extends DecryptionError {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "SignatureInvalid";
  }
}

/** The answers document breaks the contract or does not fit the form it names. */
export class AnswersInvalid extends DecryptionError {
  /** @param {string} message @param {string} [field] */
  constructor(message, field) {
    super(message, field);
    this.name = "AnswersInvalid";
  }
}

/** A countersignature document breaks the contract (docs/crypto.md, the countersignature). */
export class CountersignatureInvalid extends DecryptionError {
  /** @param {string} message */
  constructor(message) {
    super(message, "countersignature");
    this.name = "CountersignatureInvalid";
  }
}

/** The vault password is too easy to guess for a key that protects every patient. */
export class WeakVaultPassword extends ContractError {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "WeakVaultPassword";
  }
}

/** The caller cancelled a long operation (a photo's encryption) before it finished. */
export class Cancelled extends ContractError {
  constructor() {
    super("cancelled");
    this.name = "Cancelled";
  }
}

export const ERRORS = {
  ContractError, DecryptionError, VaultLocked, KeyMismatch, BindingMismatch, PayloadError,
  SignatureInvalid, AnswersInvalid, WeakVaultPassword, Cancelled,
};
