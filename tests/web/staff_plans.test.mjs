// Treatment plans and templates without a browser: the drawings and where a click lands on
// them, typed numbers, the documents and bodies made from the form, and the template rules,
// checked against the cases the server is checked against (fixtures/treatment_templates.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  DRAWINGS, VIEW, clampPercent, nudged, percentOfClick, percentOfView, viewOfPercent,
} from "../../appliance/web/src/staff/diagram.js";
import {
  DIAGRAM_TYPES, draftPoint, formatDecimal, fromTemplate, localDateTime, performedInstant, parseDecimal, planDocument, planPoint, planProblems, templateBody,
  templatePoint, templateProblems, totals,
} from "../../appliance/web/src/staff/treatment.js";

const CASES = JSON.parse(readFileSync(new URL("./fixtures/treatment_templates.json", import.meta.url), "utf-8")).cases;

test("diagram: a click maps to percent of the drawing, clamped and rounded to a tenth", () => {
  const box = { left: 100, top: 50, width: 400, height: 500 };
  assert.deepEqual(percentOfClick(300, 300, box), { x: 50, y: 50 });
  assert.deepEqual(percentOfClick(100, 50, box), { x: 0, y: 0 });
  assert.deepEqual(percentOfClick(500, 550, box), { x: 100, y: 100 });
  assert.deepEqual(percentOfClick(90, 600, box), { x: 0, y: 100 }, "outside: the nearest edge");
  assert.deepEqual(percentOfClick(101.234, 50, box), { x: 0.3, y: 0 });
  assert.equal(percentOfClick(1, 1, { left: 0, top: 0, width: 0, height: 0 }), null);
  assert.equal(clampPercent(Number.NaN), 0);
});

test("diagram: percent and view-box units are each other's inverse", () => {
  for (const point of [{ x: 0, y: 0 }, { x: 50, y: 22.5 }, { x: 100, y: 100 }, { x: 12.3, y: 87.6 }]) {
    const { cx, cy } = viewOfPercent(point);
    assert.ok(cx >= 0 && cx <= VIEW.width && cy >= 0 && cy <= VIEW.height);
    assert.deepEqual(percentOfView(cx, cy), point);
  }
  assert.deepEqual(viewOfPercent({ x: 50, y: 50 }), { cx: VIEW.width / 2, cy: VIEW.height / 2 });
});

test("diagram: arrow keys move a point by 1 % (Shift: 10 %) and stop at the edges", () => {
  assert.deepEqual(nudged({ x: 50, y: 50 }, "ArrowLeft"), { x: 49, y: 50 });
  assert.deepEqual(nudged({ x: 50, y: 50 }, "ArrowDown", true), { x: 50, y: 60 });
  assert.deepEqual(nudged({ x: 0.5, y: 99.5 }, "ArrowLeft"), { x: 0, y: 99.5 });
  assert.deepEqual(nudged({ x: 95, y: 99.5 }, "ArrowRight", true), { x: 100, y: 99.5 });
  assert.equal(nudged({ x: 1, y: 1 }, "Enter"), null);
});

test("diagram: every drawing type of the API has strokes inside the view box", () => {
  assert.deepEqual(Object.keys(DRAWINGS).sort(), [...DIAGRAM_TYPES].sort());
  for (const [type, strokes] of Object.entries(DRAWINGS)) {
    assert.ok(strokes.length > 0, type);
    for (const stroke of strokes) {
      if (/A/.test(stroke.d)) continue;  // arcs carry radii and flags, not places
      const numbers = stroke.d.match(/-?\d+(\.\d+)?/g)?.map(Number) ?? [];
      assert.equal(numbers.length % 2, 0, `${type}: ${stroke.d}`);
      for (let i = 0; i < numbers.length; i += 2) {
        assert.ok(numbers[i] >= 0 && numbers[i] <= VIEW.width, `${type} x ${numbers[i]}`);
        assert.ok(numbers[i + 1] >= 0 && numbers[i + 1] <= VIEW.height, `${type} y ${numbers[i + 1]}`);
      }
    }
  }
});

test("numbers: decimal comma or point; anything else is no number", () => {
  assert.equal(parseDecimal("2,5"), 2.5);
  assert.equal(parseDecimal(" 2.5 "), 2.5);
  assert.equal(parseDecimal("20"), 20);
  assert.equal(parseDecimal(",5"), 0.5);
  for (const bad of ["", " ", "2,5,1", "1e3", "zwei", "2,", "0x10", "Infinity"]) {
    assert.ok(Number.isNaN(parseDecimal(bad)), bad);
  }
  assert.equal(formatDecimal(2.5, "de"), "2,5");
  assert.equal(formatDecimal(2.5, "en"), "2.5");
});

test("points: a template's point becomes a form point and back; plans add batch and depth", () => {
  const stored = { x: 41.5, y: 24, units: 2.5, unit: "U", product: "Bocouture", technique: "BOLUS", notes: "links" };
  const draft = draftPoint(stored, "de");
  assert.equal(draft.units, "2,5");
  assert.deepEqual(templatePoint(draft), stored);
  const plan = planPoint({ ...draft, batchNumber: " C-778812 ", depth: "INTRAMUSCULAR" });
  assert.deepEqual(plan, { ...stored, batchNumber: "C-778812", depth: "INTRAMUSCULAR" });
  assert.deepEqual(templatePoint(draftPoint({ x: 1, y: 2, units: 3, unit: "ml" })), { x: 1, y: 2, units: 3, unit: "ml" });
  assert.notEqual(draftPoint(stored).key, draftPoint(stored).key, "each point its own key");
});

test("templates: the rules find exactly the fields the server refuses", () => {
  assert.ok(CASES.length >= 20);
  for (const { case: name, body, fields } of CASES) {
    const found = new Set(templateProblems(body).map((p) => p.field));
    assert.deepEqual([...found].sort(), [...fields].sort(), name);
  }
});

test("templates: the body from the form is what the rules check, typed amounts included", () => {
  const points = [draftPoint({ x: 50, y: 20, units: 4, unit: "U" }, "de"), { ...draftPoint({ x: 1, y: 1, unit: "U" }), units: "vier" }];
  const body = templateBody({ name: "Glabella", type: "BOTOX", bodyRegion: "GLABELLA", diagramType: "FACE_FRONT", points, notes: "" });
  assert.deepEqual(body.points[0], { x: 50, y: 20, units: 4, unit: "U" });
  assert.deepEqual(templateProblems(body).map((p) => [p.field, p.key]), [["points.1.units", "treatment.error.units"]]);
  const empty = templateBody({ name: " ", type: "BOTOX", bodyRegion: "GLABELLA", diagramType: "FACE_FRONT", points: [], notes: "" });
  assert.deepEqual(templateProblems(empty).map((p) => [p.field, p.key]),
    [["name", "validation.required"], ["points", "treatment.error.noPoints"]]);
});

test("plans: totals per unit without binary fractions; the document as the reference client stores it", () => {
  assert.deepEqual(totals([{ units: 0.1, unit: "ml" }, { units: 0.2, unit: "ml" }, { units: 4, unit: "U" }, { units: 4.5, unit: "U" }]),
    { totalUnits: 8.5, totalMl: 0.3 });
  const points = [draftPoint({ x: 50, y: 22.5, units: 4, unit: "U", product: "Bocouture", batchNumber: "C-1", depth: "INTRAMUSCULAR" })];
  const document = planDocument({ diagramType: "FACE_FRONT", bodyRegion: "GLABELLA", points, notes: " Kontrolle in 14 Tagen " });
  assert.deepEqual(document, {
    diagramType: "FACE_FRONT", bodyRegion: "GLABELLA",
    points: [{ x: 50, y: 22.5, units: 4, unit: "U", product: "Bocouture", batchNumber: "C-1", depth: "INTRAMUSCULAR" }],
    totalUnits: 4, totalMl: 0, notes: "Kontrolle in 14 Tagen",
  });
  assert.deepEqual(planProblems(document, { consentType: "BOTOX", performedAt: "2026-11-28T14:30" }), []);
});

test("plans: the client refuses what it cannot store or read back", () => {
  const point = draftPoint({ x: 50, y: 50, units: 1, unit: "ml" });
  const document = planDocument({ diagramType: "FACE_FRONT", bodyRegion: "LIPS", notes: "",
    points: [{ ...point, batchNumber: "b".repeat(61), depth: "DEEP" }, { ...point, units: "0" }] });
  const fields = planProblems(document, { consentType: "", performedAt: "" }).map((p) => p.field);
  assert.deepEqual(fields.sort(), ["consentType", "performedAt", "points.0.batchNumber", "points.0.depth", "points.1.units"].sort());
  const none = planDocument({ diagramType: "HANDS", bodyRegion: "HANDS", points: [], notes: "" });
  assert.deepEqual(planProblems(none, { consentType: "PRP", performedAt: "2026-11-28T14:30" }), [], "a plan may record no points");
});

test("plans: a template gives type, region, drawing and points; a consent of another type is unlinked", () => {
  const template = { id: "t1", type: "FILLER", bodyRegion: "LIPS", diagramType: "FACE_FRONT", notes: "1 ml gesamt",
    points: [{ x: 50, y: 64, units: 0.5, unit: "ml", product: "Volbella", technique: "LINEAR_THREADING" }] };
  const botox = { consentType: "BOTOX", consentFormId: "c1", notes: "" };
  const taken = fromTemplate(botox, template, "de");
  assert.deepEqual({ ...taken, points: taken.points.map(planPoint) }, {
    templateId: "t1", consentType: "FILLER", bodyRegion: "LIPS", diagramType: "FACE_FRONT", consentFormId: "",
    notes: "1 ml gesamt", points: [{ x: 50, y: 64, units: 0.5, unit: "ml", product: "Volbella", technique: "LINEAR_THREADING" }],
  });
  assert.equal(taken.points[0].units, "0,5");
  const filler = fromTemplate({ consentType: "FILLER", consentFormId: "c2", notes: "eigene Notiz" }, template, "en");
  assert.equal(filler.consentFormId, "c2", "a consent of the template's type stays linked");
  assert.equal(filler.notes, "eigene Notiz", "the plan's own notes are kept");
  assert.equal(filler.points[0].units, "0.5");
});

test("plans: an untouched treatment time is sent as stored (seconds kept); a changed one as typed", () => {
  const stored = "2026-11-28T13:30:15.250Z";
  const shown = localDateTime(new Date(stored));
  assert.match(shown, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
  assert.equal(performedInstant(shown, stored), stored);
  const later = localDateTime(new Date(Date.parse(stored) + 3600_000));
  assert.equal(performedInstant(later, stored), new Date(later).toISOString());
  assert.equal(new Date(performedInstant(later, stored)).getUTCSeconds(), 0);
  assert.equal(performedInstant(shown, null), new Date(shown).toISOString(), "a new plan: as typed");
});
