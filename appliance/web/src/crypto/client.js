// The page's side of the crypto worker: `const crypto = createCryptoClient(workerUrl)`, then
// `await crypto.call("unlockVault", envelope, password, served, {onProgress})`: each call a
// promise, errors arrive as the contract's error classes (by name), slow steps report progress.
import { ERRORS } from "./errors.js";

/**
 * @typedef {{onProgress?: (state: any) => void}} CallOptions
 * @typedef {{resolve: (value: any) => void, reject: (error: Error) => void, onProgress?: (state: any) => void}} Pending
 */

/** @param {{name: string, message: string, field?: string}} error */
function revive(error) {
  const Kind = /** @type {Record<string, new (...args: any[]) => Error>} */ (ERRORS)[error.name] ?? Error;
  const revived = Object.create(Kind.prototype);
  Object.assign(revived, { name: error.name, message: error.message, field: error.field });
  return /** @type {Error} */ (revived);
}

/**
 * A promise-based proxy to the crypto worker.
 * @param {string | URL} workerUrl the bundled worker (manifest entry `crypto-worker`)
 * @param {{worker?: Worker}} [options] an existing worker (tests)
 */
export function createCryptoClient(workerUrl, options = {}) {
  const worker = options.worker ?? new Worker(workerUrl, { type: "module" });
  /** @type {Map<number, Pending>} */
  const pending = new Map();
  let next = 1;
  worker.addEventListener("message", (/** @type {MessageEvent} */ event) => {
    const { id, progress, result, error } = event.data;
    const call = pending.get(id);
    if (!call) return;
    if (progress !== undefined) {
      call.onProgress?.(progress);
      return;
    }
    pending.delete(id);
    if (error) call.reject(revive(error));
    else call.resolve(result);
  });
  return {
    /**
     * @param {string} op an operation of worker.js
     * @param {...unknown} args its arguments; a last argument {onProgress} is taken as options
     * @returns {Promise<any>}
     */
    call(op, ...args) {
      const last = args[args.length - 1];
      /** @type {CallOptions} */
      let options = {};
      if (last && typeof last === "object" && "onProgress" in last) options = /** @type {CallOptions} */ (args.pop());
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject, onProgress: options.onProgress });
        worker.postMessage({ id, op, args });
      });
    },
    /** Forget the keys and stop the worker. */
    terminate() {
      worker.terminate();
      for (const call of pending.values()) call.reject(new Error("the crypto worker was stopped"));
      pending.clear();
    },
  };
}
