// The signed-in member's session: the bearer token, the user and practice, the vault and the
// idle lock. Everything here lives in this page's memory only: nothing goes to local or session
// storage or IndexedDB, so a reload signs out and a closed tab forgets the keys. The practice
// keys themselves never reach this thread: the crypto worker holds them (crypto/worker.js).
import { ApiError, apiRequest, uploadForm } from "../shared/api.js";
import { assetUrl } from "../shared/assets.js";
import { createCryptoClient } from "../crypto/client.js";
import { DEFAULT_IDLE_MINUTES, IdleTimer } from "./idle.js";

/**
 * @typedef {{id: string, email: string, name: string, practiceId: string | null, role: string | null}} User
 * @typedef {{id: string, name: string, contactEmail: string, publicKey: string, signingKey: string,
 *   encryptedPrivKey: object, lookupSalt: string, vaultIdleMinutes?: number, [key: string]: unknown}} Practice
 * @typedef {"locked" | "unlocking" | "unlocked"} VaultState
 * @typedef {ReturnType<typeof createCryptoClient>} CryptoClient
 */

/** Input that counts as the user being present (for the idle lock). */
const ACTIVITY = ["pointerdown", "keydown", "wheel", "touchstart"];

export class Session {
  /** @param {() => void} changed called whenever what the views show may change */
  constructor(changed) {
    this.changed = changed;
    /** @type {string | null} */
    this.token = null;
    /** @type {User | null} */
    this.user = null;
    /** @type {Practice | null} */
    this.practice = null;
    /** @type {VaultState} */
    this.vault = "locked";
    /** @type {CryptoClient | null} */
    this.crypto = null;
    /** Whether the appliance bills (the ADMIN's billing view); false for the other roles. */
    this.billingEnabled = false;
    /** @type {string | null} why the vault was locked last (a message key), shown on the unlock screen */
    this.lockReason = null;
    this.idle = new IdleTimer(DEFAULT_IDLE_MINUTES, () => this.lock("idle"));
    this.touch = () => this.idle.touch();
  }

  get role() {
    return this.user?.role ?? null;
  }

  /**
   * An API call with the session's token (see `ended` for a 401 or 403).
   * @param {string} method @param {string} path
   * @param {Parameters<typeof apiRequest>[2]} [options]
   */
  async api(method, path, options = {}) {
    return this.ended(() => apiRequest(method, path, { ...options, token: this.token }));
  }

  /**
   * A multipart upload with progress and cancel (shared/api.js uploadForm) with the session's token.
   * @param {string} path @param {FormData} body
   * @param {{onProgress?: (sent: number, total: number) => void, signal?: AbortSignal}} [options]
   */
  async upload(path, body, options = {}) {
    return this.ended(() => uploadForm(path, body, { ...options, token: this.token }));
  }

  /**
   * A request's answer; a 401 ends the session (it expired or was ended elsewhere); a 403 for
   * the role re-reads the member (an ADMIN may have changed the role since sign-in: the API
   * reads it on every request, the navigation follows).
   * @template T @param {() => Promise<T>} request @returns {Promise<T>}
   */
  async ended(request) {
    try {
      return await request();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && this.token) {
        this.forget("session.expired");
      } else if (error instanceof ApiError && error.status === 403 && error.code === "forbidden" && this.token) {
        await this.roleMayHaveChanged();
      }
      throw error;
    }
  }

  /** Takes the member's current role; reception has no vault, so it locks. */
  async roleMayHaveChanged() {
    const before = this.role;
    try {
      await this.refresh();
    } catch {
      return; // signed out meanwhile (401), or unreachable: the next request tells
    }
    if (this.role !== before && this.role === "EMPFANG") await this.lock("signOut");
  }

  /** After login or registration: the token answer of the API. @param {{token: string, user: User}} answer */
  async begin(answer) {
    this.token = answer.token;
    this.user = answer.user;
    await this.refresh();
  }

  /** Reloads the user and the practice (after founding one, or a role change). */
  async refresh() {
    this.user = { ...this.user, ...(await this.api("GET", "/api/auth/me")) };
    this.practice = this.user?.practiceId ? await this.api("GET", "/api/practice") : null;
    this.billingEnabled = this.practice && this.role === "ADMIN" ? await this.billingConfigured() : false;
    this.changed();
  }

  /** Whether this appliance bills (Stripe configured): the subscription answers, or says
   * billing_disabled. Only the ADMIN may ask; a failure counts as not known (no billing view). */
  async billingConfigured() {
    try {
      await this.api("GET", "/api/billing/subscription");
      return true;
    } catch {
      return false;
    }
  }

  /** Minutes of inactivity before the vault locks: the practice's setting, else 15. */
  idleMinutes() {
    const minutes = Number(this.practice?.vaultIdleMinutes);
    return Number.isInteger(minutes) && minutes > 0 ? minutes : DEFAULT_IDLE_MINUTES;
  }

  /** A worker of its own for each unlocked period: terminating it forgets the keys. */
  newCrypto() {
    this.crypto?.terminate();
    this.crypto = createCryptoClient(assetUrl("crypto-worker"));
    return this.crypto;
  }

  /**
   * Unlocks with the vault password (Argon2id in the worker; the page stays responsive) and
   * checks the served keys against the vault's (KeyMismatch otherwise).
   * @param {string} password
   */
  async unlock(password) {
    const practice = /** @type {Practice} */ (this.practice);
    this.vault = "unlocking";
    this.changed();
    const crypto = this.newCrypto();
    try {
      await crypto.call("unlockVault", practice.encryptedPrivKey, password,
        { publicKey: practice.publicKey, signingKey: practice.signingKey });
    } catch (error) {
      crypto.terminate();
      this.crypto = null;
      this.vault = "locked";
      this.changed();
      throw error;
    }
    this.opened();
    await this.audit("VAULT_UNLOCKED");
  }

  /** The vault is open in the worker (unlocked, or just created): start the idle lock. */
  opened() {
    this.vault = "unlocked";
    this.lockReason = null;
    this.idle = new IdleTimer(this.idleMinutes(), () => this.lock("idle"));
    this.idle.start();
    for (const name of ACTIVITY) window.addEventListener(name, this.touch, { passive: true });
    this.changed();
  }

  /** Forgets the keys (the worker ends). @param {"idle" | "manual" | "signOut"} why */
  async lock(why) {
    if (this.vault !== "unlocked") return;
    this.idle.stop();
    for (const name of ACTIVITY) window.removeEventListener(name, this.touch);
    this.crypto?.terminate();
    this.crypto = null;
    this.vault = "locked";
    this.lockReason = why === "idle" ? "vault.lockedIdle" : null;
    this.changed();
    await this.audit("VAULT_LOCKED");
  }

  /** Vault events go to the practice's audit log; a failure there does not keep the vault open. @param {string} event */
  async audit(event) {
    try {
      await this.api("POST", "/api/audit/vault-event", { body: { event } });
    } catch {
      // the session may have ended meanwhile; the lock itself happened
    }
  }

  /**
   * A crypto operation of the unlocked vault (crypto/worker.js).
   * @param {string} op @param {...unknown} args
   * @returns {Promise<any>}
   */
  call(op, ...args) {
    if (!this.crypto || this.vault !== "unlocked") return Promise.reject(new Error("the vault is locked"));
    return this.crypto.call(op, ...args);
  }

  /** Signs out: locks the vault, ends the session on the server, forgets everything. */
  async signOut() {
    await this.lock("signOut");
    try {
      await this.api("POST", "/api/auth/logout");
    } catch {
      // an expired session is signed out already
    }
    this.forget(null);
  }

  /** Ends every session of this account (other browsers, lost devices), then this one. */
  async signOutEverywhere() {
    await this.lock("signOut");
    await this.api("POST", "/api/auth/logout-everywhere");
    this.forget("session.signedOutEverywhere");
  }

  /** @param {string | null} reason a message key shown on the sign-in screen */
  forget(reason) {
    this.idle.stop();
    for (const name of ACTIVITY) window.removeEventListener(name, this.touch);
    this.crypto?.terminate();
    this.crypto = null;
    this.vault = "locked";
    this.token = null;
    this.user = null;
    this.practice = null;
    this.billingEnabled = false;
    this.signedOutReason = reason;
    this.changed();
  }
}
