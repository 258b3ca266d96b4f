// Treatment templates and plans without the DOM: the API's choices, the form's points as they
// are typed, the bodies and plan documents made from them, and the rules they must keep.
//
// Templates are validated as the server validates them (appliance/resources/treatment.py: the
// JSON Schema of POST/PATCH /api/treatment-templates, and appliance/services/
// treatment_templates.py: finite numbers), with the server's field paths ("points.0.units"), so
// that the view shows the same problems before sending as the API would answer after.
// tests/web/fixtures/treatment_templates.json holds cases both sides check.
//
// A plan is encrypted, so the server cannot check its content: the client keeps the same rules
// for the points, plus the plan's own fields (batch number, depth), before it encrypts.

export const CONSENT_TYPES = ["BOTOX", "FILLER", "LASER", "CHEMICAL_PEEL", "MICRONEEDLING", "PRP"];
export const BODY_REGIONS = ["FOREHEAD", "GLABELLA", "PERIORBITAL", "CHEEKS", "NASOLABIAL", "LIPS", "CHIN",
  "JAWLINE", "NECK", "DECOLLETE", "HANDS", "SCALP", "OTHER"];
export const DIAGRAM_TYPES = ["FACE_FRONT", "FACE_LEFT", "FACE_RIGHT", "NECK_DECOLLETE", "HANDS", "SCALP"];
export const TECHNIQUES = ["BOLUS", "LINEAR_THREADING", "FANNING", "CROSS_HATCHING", "MICRODROPLET",
  "SERIAL_PUNCTURE", "DEPOT", "CANNULA"];
export const DOSE_UNITS = ["U", "ml"];
/** Injection depths a plan's point may record (the plan is encrypted: the client defines them). */
export const DEPTHS = ["INTRADERMAL", "SUBCUTANEOUS", "INTRAMUSCULAR", "SUPRAPERIOSTEAL"];

/** The API's bounds (appliance/resources/treatment.py). */
export const LIMITS = Object.freeze({
  points: 100, name: 120, product: 120, pointNotes: 500, notes: 2000, units: 1000, batchNumber: 60,
});

/** The drawing a body region starts with. */
export const REGION_DIAGRAM = Object.freeze(/** @type {Record<string, string>} */ ({
  FOREHEAD: "FACE_FRONT", GLABELLA: "FACE_FRONT", PERIORBITAL: "FACE_FRONT", CHEEKS: "FACE_FRONT",
  NASOLABIAL: "FACE_FRONT", LIPS: "FACE_FRONT", CHIN: "FACE_FRONT", JAWLINE: "FACE_LEFT",
  NECK: "NECK_DECOLLETE", DECOLLETE: "NECK_DECOLLETE", HANDS: "HANDS", SCALP: "SCALP", OTHER: "FACE_FRONT",
}));

/**
 * A point as the form holds it: numbers the drawing placed, text as typed.
 * @typedef {{key: number, x: number, y: number, units: string, unit: string, product: string,
 *   technique: string, batchNumber: string, depth: string, notes: string}} DraftPoint
 * @typedef {{field: string, key: string, params?: Record<string, string | number>}} Problem
 */

let nextKey = 0;

/**
 * A form point from a stored one (a template's, a plan's) or a fresh place on the drawing.
 * @param {Record<string, any>} point @param {string} [locale] "de" writes decimal commas
 * @returns {DraftPoint}
 */
export function draftPoint(point, locale = "de") {
  nextKey += 1;
  const text = (/** @type {unknown} */ value) => (typeof value === "string" ? value : "");
  return {
    key: nextKey, x: Number(point.x), y: Number(point.y),
    units: typeof point.units === "number" ? formatDecimal(point.units, locale) : text(point.units),
    unit: DOSE_UNITS.includes(point.unit) ? point.unit : "U",
    product: text(point.product), technique: text(point.technique), batchNumber: text(point.batchNumber),
    depth: text(point.depth), notes: text(point.notes),
  };
}

/** A decimal as the form shows it. @param {number} value @param {string} locale */
export function formatDecimal(value, locale) {
  const text = String(value);
  return locale === "de" ? text.replace(".", ",") : text;
}

/**
 * A typed decimal: "2,5", "2.5", "20"; NaN for anything else (empty, "2,5,1", "1e3", "zwei").
 * @param {string} text
 */
export function parseDecimal(text) {
  const trimmed = String(text).trim();
  if (!/^[+-]?(\d+([.,]\d+)?|[.,]\d+)$/.test(trimmed)) return Number.NaN;
  return Number(trimmed.replace(",", "."));
}

/** Drops empty optional texts. @param {Record<string, unknown>} object */
function withoutEmpty(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== ""));
}

/** A template's point as the API takes it. @param {DraftPoint} point */
export function templatePoint(point) {
  return withoutEmpty({
    x: point.x, y: point.y, units: parseDecimal(point.units), unit: point.unit,
    product: point.product.trim(), technique: point.technique, notes: point.notes.trim(),
  });
}

/** A plan's point as its document records it. @param {DraftPoint} point */
export function planPoint(point) {
  return withoutEmpty({
    ...templatePoint(point), batchNumber: point.batchNumber.trim(), depth: point.depth,
  });
}

/**
 * The body of POST (and PATCH: every field) /api/treatment-templates.
 * @param {{name: string, type: string, bodyRegion: string, diagramType: string, points: DraftPoint[], notes: string}} draft
 */
export function templateBody(draft) {
  return {
    name: draft.name, type: draft.type, bodyRegion: draft.bodyRegion, diagramType: draft.diagramType,
    points: draft.points.map(templatePoint), notes: draft.notes,
  };
}

/**
 * Sums per unit (U for botulinum, ml for fillers), rounded to a thousandth against binary
 * fractions (0.1 + 0.2).
 * @param {{units: number, unit: string}[]} points
 */
export function totals(points) {
  const sum = (/** @type {string} */ unit) => Math.round(points
    .filter((p) => p.unit === unit && Number.isFinite(p.units))
    .reduce((total, p) => total + p.units, 0) * 1000) / 1000;
  return { totalUnits: sum("U"), totalMl: sum("ml") };
}

/**
 * The plan document the staff client encrypts (docs/domain.md: diagram type, points with x and
 * y in percent, product, units or ml, batch number, technique, notes; total units; notes).
 * @param {{diagramType: string, bodyRegion: string, points: DraftPoint[], notes: string}} draft
 */
export function planDocument(draft) {
  const points = draft.points.map(planPoint);
  return {
    diagramType: draft.diagramType, bodyRegion: draft.bodyRegion, points,
    ...totals(/** @type {{units: number, unit: string}[]} */ (points)), notes: draft.notes.trim(),
  };
}

/** Code points, as JSON Schema (and the server) count a string's length. @param {string} text */
export function length(text) {
  return [...text].length;
}

/** NUL or a lone surrogate: no database of the server can store it (appliance/http/text.py). @param {string} text */
export function unstorable(text) {
  return text.includes("\u0000") || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/**
 * @param {Problem[]} problems @param {string} field @param {unknown} value
 * @param {{required?: boolean, min?: number, max: number}} rule
 */
function checkText(problems, field, value, { required = false, min = 0, max }) {
  if (value === undefined) {
    if (required) problems.push({ field, key: "validation.required" });
    return;
  }
  if (typeof value !== "string") {
    problems.push({ field, key: "validation.required" });
  } else if (unstorable(value)) {
    problems.push({ field, key: "treatment.error.unstorable" });
  } else if (length(value) < min) {
    problems.push({ field, key: "validation.required" });
  } else if (length(value) > max) {
    problems.push({ field, key: "validation.tooLong", params: { max } });
  }
}

/** @param {Problem[]} problems @param {string} field @param {unknown} value @param {string[]} choices @param {boolean} required */
function checkChoice(problems, field, value, choices, required) {
  if (value === undefined) {
    if (required) problems.push({ field, key: "treatment.error.choose" });
  } else if (typeof value !== "string" || !choices.includes(value)) {
    problems.push({ field, key: "treatment.error.choose" });
  }
}

/** A JSON number (not a boolean, not NaN or infinite) within the bounds. @param {unknown} value
 * @param {number} low @param {number} high @param {boolean} lowOpen */
function inRange(value, low, high, lowOpen) {
  return typeof value === "number" && Number.isFinite(value) && (lowOpen ? value > low : value >= low) && value <= high;
}

const TEMPLATE_POINT_KEYS = ["x", "y", "units", "unit", "product", "technique", "notes"];
const PLAN_POINT_KEYS = [...TEMPLATE_POINT_KEYS, "batchNumber", "depth"];

/**
 * @param {Problem[]} problems @param {unknown} points @param {"template" | "plan"} kind
 */
function checkPoints(problems, points, kind) {
  if (points === undefined) {
    problems.push({ field: "points", key: kind === "template" ? "treatment.error.noPoints" : "validation.required" });
    return;
  }
  if (!Array.isArray(points)) {
    problems.push({ field: "points", key: "treatment.error.noPoints" });
    return;
  }
  if (kind === "template" && points.length < 1) problems.push({ field: "points", key: "treatment.error.noPoints" });
  if (points.length > LIMITS.points) {
    problems.push({ field: "points", key: "treatment.error.tooManyPoints", params: { max: LIMITS.points } });
  }
  const allowed = kind === "template" ? TEMPLATE_POINT_KEYS : PLAN_POINT_KEYS;
  points.forEach((point, index) => {
    const at = `points.${index}`;
    if (point === null || typeof point !== "object" || Array.isArray(point)) {
      problems.push({ field: at, key: "treatment.error.choose" });
      return;
    }
    const p = /** @type {Record<string, unknown>} */ (point);
    const unknown = Object.keys(p).filter((name) => !allowed.includes(name));
    if (unknown.length) problems.push({ field: at, key: "treatment.error.unknown", params: { names: unknown.join(", ") } });
    for (const axis of ["x", "y"]) {
      if (!inRange(p[axis], 0, 100, false)) problems.push({ field: `${at}.${axis}`, key: "treatment.error.percent" });
    }
    if (!inRange(p.units, 0, LIMITS.units, true)) {
      problems.push({ field: `${at}.units`, key: "treatment.error.units", params: { max: LIMITS.units } });
    }
    checkChoice(problems, `${at}.unit`, p.unit, DOSE_UNITS, true);
    checkText(problems, `${at}.product`, p.product, { min: 1, max: LIMITS.product });
    checkChoice(problems, `${at}.technique`, p.technique, TECHNIQUES, false);
    checkText(problems, `${at}.notes`, p.notes, { max: LIMITS.pointNotes });
    if (kind === "plan") {
      checkText(problems, `${at}.batchNumber`, p.batchNumber, { min: 1, max: LIMITS.batchNumber });
      checkChoice(problems, `${at}.depth`, p.depth, DEPTHS, false);
    }
  });
}

/**
 * What the API would refuse in a template body (POST: every field required), by field path.
 * @param {Record<string, unknown>} body
 * @returns {Problem[]}
 */
export function templateProblems(body) {
  /** @type {Problem[]} */
  const problems = [];
  const { name } = body;
  if (typeof name === "string" && !unstorable(name) && length(name) >= 1 && !/\S/u.test(name)) {
    problems.push({ field: "name", key: "validation.required" });
  } else {
    checkText(problems, "name", name, { required: true, min: 1, max: LIMITS.name });
  }
  checkChoice(problems, "type", body.type, CONSENT_TYPES, true);
  checkChoice(problems, "bodyRegion", body.bodyRegion, BODY_REGIONS, true);
  checkChoice(problems, "diagramType", body.diagramType, DIAGRAM_TYPES, true);
  checkPoints(problems, body.points, "template");
  checkText(problems, "notes", body.notes, { max: LIMITS.notes });
  return problems;
}

/**
 * What the client refuses to encrypt as a plan: the template's point rules, the plan's own
 * fields, and the form's consent type and treatment time.
 * @param {Record<string, any>} document a planDocument
 * @param {{consentType: string, performedAt: string}} record
 * @returns {Problem[]}
 */
export function planProblems(document, record) {
  /** @type {Problem[]} */
  const problems = [];
  checkChoice(problems, "consentType", record.consentType, CONSENT_TYPES, true);
  if (!record.performedAt || Number.isNaN(new Date(record.performedAt).getTime())) {
    problems.push({ field: "performedAt", key: "treatment.error.date" });
  }
  checkChoice(problems, "bodyRegion", document.bodyRegion, BODY_REGIONS, true);
  checkChoice(problems, "diagramType", document.diagramType, DIAGRAM_TYPES, true);
  checkPoints(problems, document.points, "plan");
  checkText(problems, "notes", document.notes, { max: LIMITS.notes });
  return problems;
}

/**
 * The server's field problems of a 400 (`details` of validation_failed) as form problems;
 * fields the form does not show are reported under "" (the form's summary).
 * @param {unknown} details
 * @returns {Problem[]}
 */
export function serverProblems(details) {
  if (!Array.isArray(details)) return [];
  return details.filter((d) => d && typeof d.field === "string")
    .map((d) => ({ field: d.field, key: "treatment.error.server", params: { problem: String(d.problem ?? "") } }));
}

/**
 * What a plan's form takes over from a template: its type, region, drawing and points (batch
 * numbers and depths are the treatment's, entered afterwards), the link to it, and its notes
 * when the plan has none yet. A consent of another type no longer fits and is unlinked.
 * @param {{consentType: string, consentFormId: string, notes: string}} draft
 * @param {{id: string, type: string, bodyRegion: string, diagramType: string, points: Record<string, any>[], notes?: string}} template
 * @param {string} locale
 */
export function fromTemplate(draft, template, locale) {
  return {
    templateId: template.id, consentType: template.type, bodyRegion: template.bodyRegion,
    diagramType: template.diagramType, points: template.points.map((point) => draftPoint(point, locale)),
    consentFormId: template.type === draft.consentType ? draft.consentFormId : "",
    notes: draft.notes || template.notes || "",
  };
}

/**
 * A datetime-local value ("2026-11-28T14:30") of an instant, in this browser's time zone.
 * @param {Date} moment
 */
export function localDateTime(moment) {
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}`
    + `T${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
}

/**
 * The instant a plan's form sends for its treatment time. The field shows minutes in this
 * browser's zone, so a stored instant with seconds, or one in the hour that occurs twice when
 * the clocks go back, would come back changed: while the field still shows the stored instant,
 * that instant is sent unchanged.
 * @param {string} local the field's datetime-local value
 * @param {string | null} stored the plan's performedAt as read (null for a new plan)
 */
export function performedInstant(local, stored) {
  if (stored && localDateTime(new Date(stored)) === local) return stored;
  return new Date(local).toISOString();
}
