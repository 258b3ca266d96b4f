// Names of a page of patients, decrypted in the crypto worker one record after the other and
// handed to the view in small batches: the page stays responsive at 200 rows, and rows fill in
// as they open. A record whose signature or binding fails shows as such, never its contents.

/**
 * @typedef {{firstName?: string, lastName?: string, dateOfBirth?: string, email?: string, phone?: string}} Identity
 * @typedef {{identity: Identity | null, problem: string | null, unconfirmed: boolean}} Opened
 */

/**
 * @param {(op: string, ...args: unknown[]) => Promise<any>} call the session's worker call
 * @param {{id: string, signature?: string | null}[]} patients
 * @param {(opened: Map<string, Opened>) => void} update called with everything opened so far
 * @param {{batch?: number, cancelled?: () => boolean}} [options]
 */
export async function openPatients(call, patients, update, { batch = 10, cancelled = () => false } = {}) {
  /** @type {Map<string, Opened>} */
  const opened = new Map();
  let since = 0;
  for (const patient of patients) {
    if (cancelled()) return opened;
    const unconfirmed = patient.signature == null;
    try {
      const identity = await call("openPatient", patient, { allowUnconfirmed: true });
      opened.set(patient.id, { identity, problem: null, unconfirmed });
    } catch (error) {
      opened.set(patient.id, { identity: null, problem: /** @type {Error} */ (error).name || "Error", unconfirmed });
    }
    since += 1;
    if (since >= batch) {
      since = 0;
      update(new Map(opened));
    }
  }
  if (!cancelled()) update(new Map(opened));
  return opened;
}

/** "Müller, Anna" for lists. @param {Identity | null | undefined} identity */
export function displayName(identity) {
  if (!identity) return "";
  return [identity.lastName, identity.firstName].filter(Boolean).join(", ");
}
