// The staff app's routes: real paths (the server answers the same shell for each, see
// appliance/resources/pages.py STAFF_APP_PATHS), matched here without a library. Pure, so that
// the Node tests check it.

/** @typedef {{name: string, params: Record<string, string>}} Route */

/** Patterns in order; `:name` matches one path segment. */
const ROUTES = /** @type {const} */ ([
  ["/", "home"],
  ["/login", "login"],
  ["/setup", "setup"],
  ["/account", "account"],
  ["/patients", "patients"],
  ["/patients/new", "patientNew"],
  ["/patients/:id", "patient"],
  ["/patients/:id/photos", "photos"],
  ["/consents", "consents"],
  ["/consents/new", "consentNew"],
  ["/consents/:id", "consent"],
  ["/audit", "audit"],
  ["/analytics", "analytics"],
  ["/billing", "billing"],
  ["/plans/new", "planNew"],
  ["/plans/:id", "plan"],
  ["/templates", "templates"],
  ["/templates/new", "templateNew"],
  ["/templates/:id", "template"],
  ["/team", "team"],
  ["/settings", "settings"],
  ["/invite/:token", "invite"],
]);

/**
 * The route of a path; unknown paths are `notFound`.
 * @param {string} pathname
 * @returns {Route}
 */
export function matchRoute(pathname) {
  const parts = pathname.replace(/\/+$/, "").split("/").filter(Boolean);
  for (const [pattern, name] of ROUTES) {
    const want = pattern.split("/").filter(Boolean);
    if (want.length !== parts.length) continue;
    /** @type {Record<string, string>} */
    const params = {};
    const ok = want.every((segment, i) => {
      if (segment.startsWith(":")) {
        params[segment.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return segment === parts[i];
    });
    if (ok) return { name, params };
  }
  return { name: "notFound", params: {} };
}

/** Views that need the unlocked vault (ADMIN and ARZT only: the API refuses EMPFANG there). */
export const VAULT_VIEWS = new Set(["patients", "patientNew", "patient", "photos", "consents", "consentNew", "consent", "planNew", "plan"]);

/** Views every signed-in member sees; the others are for ADMIN and ARZT. */
const ANY_ROLE = new Set(["home", "account", "login", "setup", "invite", "notFound"]);

/** Views of the practice's administration: the API answers them to ADMIN only (audit, billing,
 * team, settings). */
const ADMIN_ONLY = new Set(["audit", "billing", "team", "settings"]);

/**
 * Whether `role` may open the view: EMPFANG has no access to patients and consents in the API
 * (docs spec: those endpoints are ADMIN, ARZT), so the app does not offer them; team and
 * settings are ADMIN's.
 * @param {string} view @param {string | null} role
 */
export function roleMayOpen(view, role) {
  if (ADMIN_ONLY.has(view)) return role === "ADMIN";
  return ANY_ROLE.has(view) || role === "ADMIN" || role === "ARZT";
}

/** Whether `role` may countersign (ARZT confirms the information talk; ADMIN may too). @param {string | null} role */
export function mayCountersign(role) {
  return role === "ARZT" || role === "ADMIN";
}
