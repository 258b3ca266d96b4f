// The injection-point editor that plans and templates share: the drawing (diagram.js) where a
// click places a point, the points as a table (every field, for screen readers and for
// checking), a form that adds a point at typed coordinates (no mouse needed), and the fields of
// the selected point. A point on the drawing is a button: Enter selects it, the arrow keys move
// it (Shift: ten steps).
import { h } from "preact";
import { useState } from "preact/hooks";
import { DRAWINGS, MIRRORED, MIRROR_TRANSFORM, VIEW, clampPercent, nudged, percentOfClick, viewOfPercent } from "./diagram.js";
import { DEPTHS, DOSE_UNITS, TECHNIQUES, draftPoint, formatDecimal, parseDecimal } from "./treatment.js";
import { Button, Field, Select, TextArea } from "./ui.js";

/**
 * @typedef {import("./treatment.js").DraftPoint} DraftPoint
 * @typedef {import("./treatment.js").Problem} Problem
 */

/**
 * @param {{app: import("./app.js").App, diagramType: string, points: DraftPoint[], selected: number,
 *   onAdd: (place: {x: number, y: number}) => void, onSelect: (index: number) => void,
 *   onMove: (index: number, place: {x: number, y: number}) => void}} props
 */
export function Diagram({ app, diagramType, points, selected, onAdd, onSelect, onMove }) {
  const { t } = app;
  const strokes = DRAWINGS[diagramType] ?? [];
  const lines = strokes.flatMap((stroke, i) => {
    const cls = stroke.detail ? "diagram-detail" : "diagram-line";
    const path = h("path", { key: `s${i}`, d: stroke.d, class: cls });
    return stroke.mirror ? [path, h("path", { key: `m${i}`, d: stroke.d, class: cls, transform: MIRROR_TRANSFORM })] : [path];
  });
  /** The canvas covers exactly the view box (the SVG's border does not). @param {MouseEvent} e */
  function place(e) {
    const box = /** @type {SVGRectElement} */ (e.currentTarget).getBoundingClientRect();
    const at = box ? percentOfClick(e.clientX, e.clientY, box) : null;
    if (at) onAdd(at);
  }
  return h("figure", { class: "diagram" },
    h("svg", {
      viewBox: `0 0 ${VIEW.width} ${VIEW.height}`, role: "group", "aria-labelledby": "diagram-caption",
      class: "diagram-svg",
    },
    h("rect", { class: "diagram-canvas", x: 0, y: 0, width: VIEW.width, height: VIEW.height, onClick: place }),
    h("g", { class: "diagram-drawing", transform: MIRRORED.has(diagramType) ? MIRROR_TRANSFORM : undefined, "aria-hidden": "true" }, lines),
    points.map((point, index) => {
      const { cx, cy } = viewOfPercent(point);
      return h("g", {
        key: point.key, class: index === selected ? "diagram-point diagram-point-selected" : "diagram-point",
        role: "button", tabindex: 0, "aria-pressed": index === selected ? "true" : "false",
        "aria-label": t("treatment.pointButton", { number: index + 1, x: app.i18n.number(point.x), y: app.i18n.number(point.y) }),
        onClick: (/** @type {MouseEvent} */ e) => { e.stopPropagation(); onSelect(index); },
        onKeyDown: (/** @type {KeyboardEvent} */ e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            onSelect(index);
            return;
          }
          const moved = nudged(point, e.key, e.shiftKey);
          if (moved) {
            e.preventDefault();
            onMove(index, moved);
          }
        },
      },
      h("circle", { cx, cy, r: 6 }),
      h("text", { x: cx, y: cy, "aria-hidden": "true" }, String(index + 1)));
    })),
    h("figcaption", { id: "diagram-caption" }, `${t(`treatment.diagrams.${diagramType}`)}. ${t("treatment.diagramHint")}`));
}

/**
 * The whole editor: drawing, selected point, typed placement and the table of points.
 * @param {{app: import("./app.js").App, kind: "plan" | "template", diagramType: string,
 *   points: DraftPoint[], onPoints: (points: DraftPoint[]) => void, problems: Problem[]}} props
 */
export function PointsEditor({ app, kind, diagramType, points, onPoints, problems }) {
  const { t, i18n } = app;
  const [selected, setSelected] = useState(points.length ? 0 : -1);
  const index = points.length === 0 ? -1 : Math.min(Math.max(selected, 0), points.length - 1);

  /** A new point takes the last point's product, unit, technique and batch: the usual case. @param {{x: number, y: number}} at */
  function add(at) {
    const last = points[points.length - 1];
    const fresh = draftPoint({ ...at, unit: last?.unit ?? "U", product: last?.product ?? "",
      technique: last?.technique ?? "", batchNumber: last?.batchNumber ?? "", depth: last?.depth ?? "" }, i18n.locale);
    onPoints([...points, fresh]);
    setSelected(points.length);
  }
  /** @param {number} at @param {Partial<DraftPoint>} change */
  function change(at, change) {
    onPoints(points.map((p, i) => (i === at ? { ...p, ...change } : p)));
  }
  /** @param {number} at */
  function remove(at) {
    onPoints(points.filter((_, i) => i !== at));
    setSelected(Math.min(at, points.length - 2));
  }
  const pointProblems = (/** @type {number} */ at) => problems.filter((p) => p.field.startsWith(`points.${at}.`) || p.field === `points.${at}`);
  const listProblem = problems.find((p) => p.field === "points");

  return h("section", { class: "points", "aria-labelledby": "points-heading" },
    h("h2", { id: "points-heading" }, t("treatment.pointsHeading")),
    listProblem ? h("p", { class: "error-text", id: "points-error" }, t(listProblem.key, listProblem.params)) : null,
    h("div", { class: "diagram-layout" },
      h("div", {},
        h(Diagram, { app, diagramType, points, selected: index, onAdd: add, onSelect: setSelected,
          onMove: (at, place) => change(at, place) }),
        h(AddPoint, { app, onAdd: add })),
      index >= 0 ? h(PointFields, { app, kind, number: index + 1, point: points[index], problems: pointProblems(index),
        onChange: (c) => change(index, c), onRemove: () => remove(index), key: points[index].key })
        : h("p", { class: "hint" }, t("treatment.noPointYet"))),
    h(PointTable, { app, kind, points, selected: index, onSelect: setSelected, problems }));
}

/** Placing a point by its coordinates: the keyboard's way to the drawing. @param {{app: import("./app.js").App, onAdd: (at: {x: number, y: number}) => void}} props */
function AddPoint({ app, onAdd }) {
  const { t } = app;
  const [x, setX] = useState("50");
  const [y, setY] = useState("50");
  const [wrong, setWrong] = useState({ x: false, y: false });
  function add() {
    const at = { x: parseDecimal(x), y: parseDecimal(y) };
    const bad = { x: !(at.x >= 0 && at.x <= 100), y: !(at.y >= 0 && at.y <= 100) };
    setWrong(bad);
    if (!bad.x && !bad.y) onAdd({ x: clampPercent(at.x), y: clampPercent(at.y) });
  }
  const error = (/** @type {boolean} */ flag) => (flag ? t("treatment.error.percent") : null);
  return h("fieldset", { class: "card add-point" },
    h("legend", {}, t("treatment.addHeading")),
    h("div", { class: "inline-form" },
      h(Field, { id: "add-x", label: t("treatment.addX"), value: x, onInput: setX, inputmode: "decimal", error: error(wrong.x) }),
      h(Field, { id: "add-y", label: t("treatment.addY"), value: y, onInput: setY, inputmode: "decimal", error: error(wrong.y) }),
      h("div", { class: "actions" }, h(Button, { kind: "secondary", label: t("treatment.addPoint"), onClick: add }))));
}

/**
 * @param {{app: import("./app.js").App, kind: "plan" | "template", number: number, point: DraftPoint,
 *   problems: Problem[], onChange: (change: Partial<DraftPoint>) => void, onRemove: () => void}} props
 */
function PointFields({ app, kind, number, point, problems, onChange, onRemove }) {
  const { t, i18n } = app;
  const error = (/** @type {string} */ name) => {
    const found = problems.find((p) => p.field.endsWith(`.${name}`));
    return found ? t(found.key, found.params) : null;
  };
  const choices = (/** @type {string[]} */ values, /** @type {string} */ prefix, /** @type {boolean} */ optional) => [
    ...(optional ? [{ value: "", label: t("treatment.none") }] : []),
    ...values.map((value) => ({ value, label: t(`${prefix}.${value}`) })),
  ];
  const coordinate = (/** @type {"x" | "y"} */ axis) => h(Field, {
    id: `point-${axis}`, label: t(`treatment.field.${axis}`), value: formatDecimal(point[axis], i18n.locale), inputmode: "decimal",
    error: error(axis),
    onInput: (value) => {
      const parsed = parseDecimal(value);
      if (parsed >= 0 && parsed <= 100) onChange({ [axis]: clampPercent(parsed) });
    },
  });
  return h("fieldset", { class: "card point-fields" },
    h("legend", {}, t("treatment.pointHeading", { number })),
    h(Field, { id: "point-product", label: t("treatment.field.product"), value: point.product, error: error("product"),
      onInput: (product) => onChange({ product }) }),
    h("div", { class: "field-pair" },
      h(Field, { id: "point-units", label: t("treatment.field.units"), value: point.units, inputmode: "decimal", error: error("units"),
        onInput: (units) => onChange({ units }) }),
      h(Select, { id: "point-unit", label: t("treatment.field.unit"), value: point.unit, options: choices(DOSE_UNITS, "treatment.units", false),
        error: error("unit"), onChange: (unit) => onChange({ unit }) })),
    kind === "plan" ? h(Field, { id: "point-batch", label: t("treatment.field.batchNumber"), value: point.batchNumber,
      error: error("batchNumber"), onInput: (batchNumber) => onChange({ batchNumber }) }) : null,
    h(Select, { id: "point-technique", label: t("treatment.field.technique"), value: point.technique,
      options: choices(TECHNIQUES, "treatment.techniques", true), error: error("technique"), onChange: (technique) => onChange({ technique }) }),
    kind === "plan" ? h(Select, { id: "point-depth", label: t("treatment.field.depth"), value: point.depth,
      options: choices(DEPTHS, "treatment.depths", true), error: error("depth"), onChange: (depth) => onChange({ depth }) }) : null,
    h(TextArea, { id: "point-notes", label: t("treatment.field.pointNotes"), value: point.notes, rows: 2, error: error("notes"),
      onInput: (notes) => onChange({ notes }) }),
    h("div", { class: "field-pair" }, coordinate("x"), coordinate("y")),
    h("div", { class: "actions" }, h(Button, { kind: "danger", label: t("treatment.removePoint", { number }), onClick: onRemove })));
}

/**
 * Every point with its fields: what the drawing shows, as text.
 * @param {{app: import("./app.js").App, kind: "plan" | "template", points: DraftPoint[], selected: number,
 *   onSelect: (index: number) => void, problems: Problem[]}} props
 */
function PointTable({ app, kind, points, selected, onSelect, problems }) {
  const { t, i18n } = app;
  if (points.length === 0) return null;
  const columns = ["treatment.number", "treatment.position", "treatment.field.product", "treatment.dose",
    ...(kind === "plan" ? ["treatment.field.batchNumber"] : []), "treatment.field.technique",
    ...(kind === "plan" ? ["treatment.field.depth"] : []), "treatment.field.pointNotes", "treatment.actions"];
  const caption = t("treatment.tableCaption", { count: points.length });
  // Wide on a tablet: the table scrolls sideways in its own focusable region, the page does not.
  return h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": caption }, h("table", { class: "table points-table" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((key) => h("th", { scope: "col", key }, t(key))))),
    h("tbody", {}, points.map((point, index) => {
      const flawed = problems.some((p) => p.field === `points.${index}` || p.field.startsWith(`points.${index}.`));
      return h("tr", { key: point.key, class: index === selected ? "row-selected" : undefined },
        h("th", { scope: "row" }, String(index + 1), flawed ? h("span", { class: "tag tag-warning" }, t("treatment.check")) : null),
        h("td", {}, t("treatment.at", { x: i18n.number(point.x), y: i18n.number(point.y) })),
        h("td", {}, point.product),
        h("td", {}, point.units ? `${point.units} ${t(`treatment.units.${point.unit}`)}` : ""),
        kind === "plan" ? h("td", {}, point.batchNumber) : null,
        h("td", {}, point.technique ? t(`treatment.techniques.${point.technique}`) : ""),
        kind === "plan" ? h("td", {}, point.depth ? t(`treatment.depths.${point.depth}`) : "") : null,
        h("td", {}, point.notes),
        h("td", {}, h("button", { type: "button", class: "link-button", onClick: () => onSelect(index),
          "aria-pressed": index === selected ? "true" : "false" }, t("treatment.editPoint", { number: index + 1 }))));
    }))));
}

/** The label of a problem's field: "Name", "Punkt 3 · Menge". @param {(key: string, params?: Record<string, string | number>) => string} t @param {string} field */
export function fieldLabel(t, field) {
  const point = /^points\.(\d+)(?:\.(\w+))?$/.exec(field);
  if (point) {
    const name = point[2] === "notes" ? "pointNotes" : point[2];
    const label = t("treatment.pointHeading", { number: Number(point[1]) + 1 });
    return name ? `${label} · ${t(`treatment.field.${name}`)}` : label;
  }
  return field ? t(`treatment.field.${field}`) : "";
}

/**
 * Every problem of the form in one list at its top, announced, each with its field's label.
 * @param {{app: import("./app.js").App, problems: Problem[]}} props
 */
export function ProblemSummary({ app, problems }) {
  const { t } = app;
  if (problems.length === 0) return null;
  return h("div", { class: "alert alert-error", role: "alert", tabindex: -1, id: "problem-summary" },
    h("p", {}, t("validation.summary", { count: problems.length })),
    h("ul", {}, problems.map((p, i) => h("li", { key: `${p.field}-${i}` },
      [fieldLabel(t, p.field), t(p.key, p.params)].filter(Boolean).join(": ")))));
}

/**
 * The state a plan or template form keeps: the draft, its problems (shown at the fields and in
 * the summary, which takes the focus), a failure of the request, "saved" (also after a new
 * record's page opened with ?saved=1) and the busy flag.
 * @template T
 * @param {import("./app.js").App} app @param {T} initial
 */
export function useEditor(app, initial) {
  const [draft, setDraft] = useState(initial);
  const [problems, setProblems] = useState(/** @type {Problem[]} */ ([]));
  const [failure, setFailure] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const [saved, setSaved] = useState(() => new URLSearchParams(window.location.search).has("saved"));
  const [busy, setBusy] = useState(false);
  return {
    draft, setDraft, failure, setFailure, saved, setSaved, busy, setBusy, problems,
    /** @param {Partial<T>} change */
    set(change) {
      setDraft({ ...draft, ...change });
      setSaved(false);
    },
    /** @param {string} field */
    error(field) {
      const found = problems.find((p) => p.field === field);
      return found ? app.t(found.key, found.params) : null;
    },
    /** @param {Problem[]} found */
    show(found) {
      setProblems(found);
      if (found.length) requestAnimationFrame(() => document.getElementById("problem-summary")?.focus());
    },
  };
}
