// The crypto worker: contract.js off the page's thread. It keeps the unlocked practice keys
// of the session in its own memory, so views never hold them; `lock` forgets them.
import * as contract from "./contract.js";
import * as photos from "./photo-files.js";

/** @type {contract.PracticeKeys | null} */
let keys = null;

const unlocked = () => {
  if (keys === null) throw new contract.ContractError("the vault is locked");
  return keys;
};

/** @type {Record<string, (...args: any[]) => unknown>} Operations that need no keys. */
const PUBLIC = {
  buildSubmission: contract.buildSubmission,
  lookupHash: contract.lookupHash,
  formHash: contract.formHash,
  keyFingerprint: contract.keyFingerprint,
  parseLink: contract.parseLink,
  submissionDigest: contract.submissionDigest,
  checkPublicKey: (publicKey) => { contract.checkPublicKey(publicKey); return true; },
};

/** @type {Record<string, (...args: any[]) => unknown>} Operations of the unlocked vault. */
const STAFF = {
  linkWithFragment: (link) => contract.linkWithFragment(link, unlocked().publicKey),
  patientRecord: (lookupSalt, identity, id) => contract.patientRecord(unlocked(), lookupSalt, identity, id),
  openPatient: (patient, options) => contract.openPatient(unlocked(), patient, options),
  confirmPatient: (patient) => contract.confirmPatient(unlocked(), patient),
  consentRecord: (consent) => contract.consentRecord(unlocked(), consent),
  newLinkRecord: (consent, email) => contract.newLinkRecord(unlocked(), consent, email),
  patientLinkRecord: (consent, patientId) => contract.patientLinkRecord(unlocked(), consent, patientId),
  verifyConsent: (consent) => { contract.verifyConsent(unlocked(), consent); return true; },
  openConsent: (input) => contract.openConsent(unlocked(), input),
  planRecord: (id, fields, plan) => contract.planRecord(unlocked(), id, fields, plan),
  openPlan: (record) => contract.openPlan(unlocked(), record),
  openPhotoMetadata: (record) => contract.openPhotoMetadata(unlocked(), record),
  photoRecord: (fields, metadata) => photos.photoRecord(unlocked(), fields, metadata),
  photoConsentSignature: (record, granted) =>
    contract.signStatement(unlocked(), "photo", contract.photoStatement({ ...record, photoConsentGranted: granted })),
  openPhotoThumbnail: (record, ciphertext) => photos.openThumbnail(unlocked(), record, ciphertext),
  openPhoto: (record, ciphertext, type) => photos.openPhoto(unlocked(), record, ciphertext, type),
  sealField: (field, record, value) => contract.sealField(unlocked().publicKey, field, record, value),
  openField: (field, record, sealed) => contract.openField(unlocked(), field, record, sealed),
  signStatement: (kind, fields) => contract.signStatement(unlocked(), kind, fields),
  verifyStatement: (kind, fields, signature) => {
    contract.verifyStatement(unlocked(), kind, fields, signature);
    return true;
  },
  encryptPayload: (plaintext, purpose, record) => contract.encryptPayload(unlocked().publicKey, plaintext, purpose, record),
  decryptPayload: (wrappedKey, ciphertext, purpose, record) =>
    contract.decryptPayload(unlocked(), wrappedKey, ciphertext, purpose, record),
  countersignatureRecord: (consent, document) => contract.countersignatureRecord(unlocked(), consent, document),
  openCountersignature: (consent, record) => contract.openCountersignature(unlocked(), consent, record),
  openChallenge: (sealed) => contract.openChallenge(unlocked(), sealed),
  openAuditExport: (record, ciphertext) => contract.openAuditExport(unlocked(), record, ciphertext),
  changeVaultPassword: (password, served) => {
    const envelope = contract.makeVault(unlocked(), password);
    contract.unlockVault(envelope, password, served);  // the new envelope opens to the same keys
    return envelope;
  },
};

/** Jobs the page cancelled (photo encryptions), by the name the page gave them. */
const cancelledJobs = new Set();

/**
 * Operations that report progress: called with `report(progress)` first.
 * @type {Record<string, (report: (progress: unknown) => void, ...args: any[]) => unknown>}
 */
const REPORTING = {
  /**
   * A photo for upload: its thumbnail (encrypted, signed; null when the image does not decode)
   * and the photo encrypted while the file is read, as Blobs; reports {read, total} bytes.
   * @param {File | Blob} file @param {string} photoId @param {string} job a name for `cancelJob`
   */
  async encryptPhoto(report, file, photoId, job) {
    const keys = unlocked();
    try {
      const jpeg = await photos.makeThumbnail(file);
      const thumbnail = jpeg ? await photos.thumbnailRecord(keys, photoId, jpeg) : null;
      const total = file.size;
      report({ read: 0, total });
      const { wrappedKey, ciphertext } = await photos.encryptBlob(keys.publicKey, file, "photo", photoId, {
        onRead: (read) => report({ read, total }), cancelled: () => cancelledJobs.has(job),
      });
      return { wrappedKey, ciphertext, thumbnail };
    } finally {
      cancelledJobs.delete(job);
    }
  },
};

/** Operations that change the worker's state (the keys). */
const SESSION = {
  /** @param {unknown} envelope @param {string} password @param {{publicKey?: string, signingKey?: string}} served */
  unlockVault(envelope, password, served) {
    keys = contract.unlockVault(envelope, password, served);
    return { publicKey: keys.publicKey, signingKey: keys.signingKey };
  },
  /** New practice keys and their vault; the keys stay here, unlocked. @param {string} password */
  createVault(password) {
    keys = contract.generatePracticeKeys();
    return { publicKey: keys.publicKey, signingKey: keys.signingKey, envelope: contract.makeVault(keys, password) };
  },
  lock() {
    keys = null;
    return true;
  },
  /** @param {string} job */
  cancelJob(job) {
    cancelledJobs.add(job);
    return true;
  },
};

/** Argon2id runs here for seconds: the page shows a progress state while they last. */
const SLOW = new Set(["unlockVault", "createVault", "changeVaultPassword", "buildSubmission", "lookupHash",
  "patientRecord", "openConsent"]);

self.onmessage = async (/** @type {MessageEvent<{id: number, op: string, args: unknown[]}>} */ event) => {
  const { id, op, args } = event.data;
  try {
    await contract.ready();
    const reporting = REPORTING[op];
    const operation = reporting
      ? (/** @type {any[]} */ ...a) => reporting((progress) => self.postMessage({ id, progress }), ...a)
      : /** @type {Record<string, (...a: any[]) => unknown>} */ ({ ...PUBLIC, ...STAFF, ...SESSION })[op];
    if (!operation) throw new contract.ContractError(`unknown operation '${op}'`);
    if (SLOW.has(op)) self.postMessage({ id, progress: "working" });
    const result = await operation(...args);
    self.postMessage({ id, result });
  } catch (error) {
    const { name, message, field } = /** @type {contract.ContractError} */ (error);
    self.postMessage({ id, error: { name, message, field } });
  }
};
