// A patient's consents for the views that list or offer them (the patient's page, a plan, a
// photo upload), and how one is named there.

/**
 * A patient's consents (of the practice's newest 200: the API has no patient filter).
 * @param {import("./session.js").Session} session @param {string} patientId
 * @returns {Promise<any[]>}
 */
export async function patientConsents(session, patientId) {
  const list = await session.api("GET", "/api/consent/practice", { query: { limit: "200" } });
  return list.items.filter((/** @type {any} */ c) => c.patientId === patientId);
}

/**
 * How a consent is named in lists and choices: type, status, created.
 * @param {import("./app.js").App} app @param {{type: string, status: string, createdAt: string}} consent
 */
export function consentLabel(app, consent) {
  return `${app.t(`type.${consent.type}`)} · ${app.t(`status.${consent.status}`)} · ${app.i18n.dateTime(consent.createdAt)}`;
}
