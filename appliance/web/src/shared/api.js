// The pages' HTTP client: JSON in and out, and every failure as an ApiError in the API's one
// error shape ({"error": {code, message, details}, "requestId"}). A proxy's HTML error page,
// a timeout and a lost connection become ApiErrors too, so views handle one kind of failure.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status; 0 when no answer arrived
   * @param {string} code the API's stable code, or network_error / timeout / http_error
   * @param {string} message
   * @param {unknown} [details]
   * @param {string | null} [requestId]
   * @param {number | null} [retryAfter] seconds, from Retry-After
   */
  constructor(status, code, message, details = null, requestId = null, retryAfter = null) {
    super(`${status} ${code}: ${message}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/**
 * @typedef {{body?: unknown, query?: Record<string, string | undefined>, timeoutMs?: number,
 *   token?: string | null, raw?: FormData, binary?: boolean, blob?: boolean,
 *   idempotencyKey?: string, ifMatch?: string}} RequestOptions
 *   `token`: the staff session's bearer token (kept in memory); `raw`: a multipart body instead
 *   of JSON (an encrypted upload; the browser sets its type and length); `binary`: the answer is a file, returned as
 *   {data: Uint8Array, filename, headers} (errors still arrive in the JSON error shape); `blob`
 *   with `binary`: `data` is a Blob (a big file stays in the browser's blob store); `ifMatch`: the ETag
 *   of the record as read, for an update that must not overwrite someone else's (412 otherwise)
 */

/**
 * One request. With `idempotencyKey` it carries that Idempotency-Key and, when no answer
 * arrives (lost connection or timeout: the server may have done it), is sent once more with
 * the same key, which the server recognises as the same request.
 * @param {string} method
 * @param {string} path same-origin path, e.g. /api/consent/abc
 * @param {RequestOptions} [options]
 * @returns {Promise<any>} the parsed JSON answer (null for an empty body)
 */
export async function apiRequest(method, path, options = {}) {
  if (!options.idempotencyKey) return send(method, path, options);
  try {
    return await send(method, path, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 0) throw error;
    return send(method, path, options);
  }
}

/** A random Idempotency-Key: 18 bytes, base64url. */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/**
 * @param {string} method
 * @param {string} path
 * @param {RequestOptions} options
 */
async function send(method, path, { body, query, timeoutMs = 30000, token = null, raw, binary = false,
  blob = false, idempotencyKey, ifMatch }) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  /** @type {Response} */
  let response;
  try {
    /** @type {Record<string, string>} */
    const headers = { Accept: binary ? "application/octet-stream, application/json" : "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    if (ifMatch) headers["If-Match"] = ifMatch;
    response = await fetch(url, {
      method,
      headers,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      credentials: "omit",
      cache: "no-store",
      signal: controller.signal,
    });
  } catch (error) {
    const timedOut = controller.signal.aborted;
    throw new ApiError(0, timedOut ? "timeout" : "network_error",
      timedOut ? "no answer in time" : String(error));
  } finally {
    clearTimeout(timer);
  }
  if (binary && response.ok) {
    const disposition = response.headers.get("Content-Disposition") || "";
    const named = /filename="?([^";]+)"?/.exec(disposition);
    const data = blob ? await response.blob() : new Uint8Array(await response.arrayBuffer());
    return { data, filename: named ? named[1] : null, headers: response.headers };
  }
  return answerOf(response.ok, response.status, response.statusText, await response.text(),
    (name) => response.headers.get(name));
}

/**
 * The parsed JSON of an answer, or its ApiError.
 * @param {boolean} ok @param {number} status @param {string} statusText @param {string} text
 * @param {(name: string) => string | null} header
 */
function answerOf(ok, status, statusText, text, header) {
  /** @type {any} */
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = undefined;
  }
  if (ok && data !== undefined) return data;
  const error = data && typeof data === "object" && data.error && typeof data.error === "object"
    ? data.error : null;
  const retry = Number(header("Retry-After"));
  throw new ApiError(
    status,
    error && typeof error.code === "string" ? error.code : "http_error",
    error && typeof error.message === "string" ? error.message : statusText || "error",
    error ? error.details ?? null : null,
    data && typeof data.requestId === "string" ? data.requestId : header("X-Request-Id"),
    Number.isFinite(retry) && retry > 0 ? retry : null,
  );
}

/**
 * A multipart upload that reports its progress and can be cancelled (fetch reports no upload
 * progress). The browser sends the FormData's Blobs from its blob store with a Content-Length,
 * so a big encrypted file is not copied into the page. A cancelled upload rejects with an
 * ApiError of status 0 and code `cancelled`.
 * @param {string} path same-origin path
 * @param {FormData} body
 * @param {{token?: string | null, onProgress?: (sent: number, total: number) => void, signal?: AbortSignal}} [options]
 * @returns {Promise<any>} the parsed JSON answer
 */
export function uploadForm(path, body, { token = null, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ApiError(0, "cancelled", "the upload was cancelled"));
      return;
    }
    const request = new XMLHttpRequest();
    request.open("POST", new URL(path, window.location.origin));
    request.setRequestHeader("Accept", "application/json");
    if (token) request.setRequestHeader("Authorization", `Bearer ${token}`);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded, event.total);
    });
    request.addEventListener("load", () => {
      try {
        resolve(answerOf(request.status >= 200 && request.status < 300, request.status, request.statusText,
          request.responseText, (name) => request.getResponseHeader(name)));
      } catch (error) {
        reject(error);
      }
    });
    request.addEventListener("error", () => reject(new ApiError(0, "network_error", "the upload failed")));
    request.addEventListener("timeout", () => reject(new ApiError(0, "timeout", "no answer in time")));
    request.addEventListener("abort", () => reject(new ApiError(0, "cancelled", "the upload was cancelled")));
    signal?.addEventListener("abort", () => request.abort(), { once: true });
    request.send(body);
  });
}
