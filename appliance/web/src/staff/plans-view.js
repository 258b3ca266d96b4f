// Treatment plans (ADMIN, ARZT): what was injected where, on the drawing of a body region,
// started from a template or from nothing. The plan document is encrypted and signed in the
// crypto worker (docs/crypto.md, `treatment.plan`, as appliance/client/api.py does) and read
// back only after its signature and binding check out. Saving names the version it was read
// at (If-Match): when someone else saved in between, the server refuses (412), the view says
// so and keeps what was typed on screen until the member reloads.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { PointsEditor, ProblemSummary, useEditor } from "./diagram-view.js";
import { Link } from "./frame-view.js";
import { displayName } from "./patient-names.js";
import { consentLabel, patientConsents } from "./patient-consents.js";
import { problemOf } from "./problems.js";
import { allTemplates, options } from "./templates-view.js";
import {
  BODY_REGIONS, CONSENT_TYPES, DIAGRAM_TYPES, REGION_DIAGRAM, draftPoint, fromTemplate, localDateTime, performedInstant,
  planDocument, planProblems,
} from "./treatment.js";
import { Alert, Button, DeleteCard, Field, Select, TextArea, useLatest } from "./ui.js";

/**
 * @typedef {{patient: any, identity: Record<string, string>, templates: any[], consents: any[]}} PlanContext
 * @typedef {{consentType: string, performedAt: string, consentFormId: string, templateId: string,
 *   bodyRegion: string, diagramType: string, points: import("./treatment.js").DraftPoint[], notes: string}} PlanDraft
 */

/** A patient's plans, newest treatment first, in the patient's page. @param {{app: import("./app.js").App, patientId: string}} props */
export function PatientPlans({ app, patientId }) {
  const { t, session, i18n } = app;
  const [plans, setPlans] = useState(/** @type {any[] | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  useLatest(() => session.api("GET", `/api/treatment-plans/patient/${patientId}`, { query: { limit: "200" } }),
    (answer) => setPlans(answer.items), (error) => setProblem(problemOf(error)), [patientId]);
  return h("section", { "aria-labelledby": "plans-heading" },
    h("div", { class: "heading-row" },
      h("h2", { id: "plans-heading" }, t("treatment.plans.listHeading")),
      h(Link, { app, href: `/plans/new?patient=${patientId}`, class: "button button-secondary" }, t("treatment.plans.new"))),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    plans === null ? (problem ? null : h("p", { role: "status" }, t("common.loading")))
      : plans.length === 0 ? h("p", {}, t("treatment.plans.empty"))
        : h("ul", { class: "plain-list" }, plans.map((plan) => h("li", { key: plan.id },
          h(Link, { app, href: `/plans/${plan.id}` },
            t("treatment.plans.entry", { type: t(`type.${plan.consentType}`), when: i18n.dateTime(plan.performedAt), version: plan.version }))))));
}

/**
 * The patient (opened in the worker), the practice's templates and the patient's consents.
 * @param {import("./session.js").Session} session @param {string} patientId
 * @returns {Promise<PlanContext>}
 */
async function loadContext(session, patientId) {
  const patient = await session.api("GET", `/api/patients/${patientId}`);
  const identity = await session.call("openPatient", patient, { allowUnconfirmed: true });
  const templates = await allTemplates(session);
  return { patient, identity, templates, consents: await patientConsents(session, patientId) };
}

/** /plans/new?patient=… @param {{app: import("./app.js").App}} props */
export function PlanNewView({ app }) {
  const { t, session } = app;
  const query = new URLSearchParams(window.location.search);
  const patientId = query.get("patient") ?? "";
  const [context, setContext] = useState(/** @type {PlanContext | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  useEffect(() => {
    if (!patientId) {
      setProblem({ key: "treatment.plans.noPatient" });
      return;
    }
    loadContext(session, patientId).then(setContext, (error) => setProblem(problemOf(error)));
  }, [patientId]);
  if (!context) return loading(app, t("treatment.plans.newTitle"), problem);
  /** @type {PlanDraft} */
  const draft = {
    consentType: "BOTOX", performedAt: localDateTime(new Date()), consentFormId: "", templateId: "",
    bodyRegion: "GLABELLA", diagramType: "FACE_FRONT", points: [], notes: "",
  };
  return h(PlanEditor, { app, context, record: null, initial: draft, onReload: () => {} });
}

/** @param {import("./app.js").App} app @param {string} title @param {import("./problems.js").Problem | null} problem */
function loading(app, title, problem) {
  const { t } = app;
  return h("div", {}, h("h1", {}, title),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : h("p", { role: "status" }, t("common.loading")));
}

/** /plans/:id: read (audited), verified and decrypted, then edited. @param {{app: import("./app.js").App}} props */
export function PlanView({ app }) {
  const { t, session, route, i18n } = app;
  const id = route.params.id;
  const [state, setState] = useState(/** @type {{record: any, draft: PlanDraft, context: PlanContext} | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const [reads, setReads] = useState(0);
  useEffect(() => {
    let current = true;
    (async () => {
      try {
        const record = await session.api("GET", `/api/treatment-plans/${id}`);
        const document = await session.call("openPlan", record);
        const context = await loadContext(session, record.patientId);
        if (current) setState({ record, draft: planDraft(record, document, i18n.locale), context });
      } catch (error) {
        if (current) setProblem(problemOf(error));
      }
    })();
    return () => { current = false; };
  }, [id, reads]);
  if (!state) return loading(app, t("treatment.plans.title"), problem);
  return h(PlanEditor, { app, context: state.context, record: state.record, initial: state.draft,
    onReload: () => { setState(null); setReads(reads + 1); }, key: `${state.record.id}-${state.record.version}-${reads}` });
}

/** A stored plan as the form holds it. @param {any} record @param {any} document @param {string} locale @returns {PlanDraft} */
function planDraft(record, document, locale) {
  return {
    consentType: record.consentType, performedAt: localDateTime(new Date(record.performedAt)),
    consentFormId: record.consentFormId ?? "", templateId: record.templateId ?? "",
    bodyRegion: BODY_REGIONS.includes(document.bodyRegion) ? document.bodyRegion : "OTHER",
    diagramType: DIAGRAM_TYPES.includes(document.diagramType) ? document.diagramType : "FACE_FRONT",
    points: (Array.isArray(document.points) ? document.points : []).map((/** @type {any} */ p) => draftPoint(p, locale)),
    notes: typeof document.notes === "string" ? document.notes : "",
  };
}

/**
 * @param {{app: import("./app.js").App, context: PlanContext, record: any, initial: PlanDraft, onReload: () => void}} props
 */
function PlanEditor({ app, context, record: stored, initial, onReload }) {
  const { t, session, i18n } = app;
  const [record, setRecord] = useState(stored);
  const { draft, set, error, problems, show, failure, setFailure, saved, setSaved, busy, setBusy } = useEditor(app, initial);
  const [template, setTemplate] = useState(initial.templateId || (context.templates[0]?.id ?? ""));
  const [conflict, setConflict] = useState(/** @type {number | null} */ (null));
  const patientId = context.patient.id;

  function applyTemplate() {
    const chosen = context.templates.find((item) => item.id === template);
    if (chosen) set(fromTemplate(draft, chosen, i18n.locale));
  }

  /** @param {Event} e */
  async function save(e) {
    e.preventDefault();
    setFailure(null);
    setSaved(false);
    const document = planDocument(draft);
    const found = planProblems(document, draft);
    show(found);
    if (found.length) return;
    setBusy(true);
    try {
      const performedAt = performedInstant(draft.performedAt, record?.performedAt ?? null);
      const consentFormId = draft.consentFormId || null;
      const id = record?.id ?? crypto.randomUUID();
      const sealed = await session.call("planRecord", id,
        { patientId, consentType: draft.consentType, consentFormId, performedAt, version: record ? record.version + 1 : 1 },
        document);
      if (!record) {
        const body = { id, patientId, consentType: draft.consentType, performedAt, ...sealed,
          ...(consentFormId ? { consentFormId } : {}), ...(draft.templateId ? { templateId: draft.templateId } : {}) };
        await session.api("POST", "/api/treatment-plans", { body });
        app.go(`/plans/${id}?saved=1`);
        return;
      }
      const answer = await session.api("PATCH", `/api/treatment-plans/${id}`, {
        body: { consentType: draft.consentType, performedAt, consentFormId, templateId: draft.templateId || null, ...sealed },
        ifMatch: `"${record.version}"`,
      });
      setRecord(answer);
      setConflict(null);
      setSaved(true);
    } catch (caught) {
      const code = /** @type {{status?: number, code?: string, details?: any}} */ (caught);
      if (code.status === 412) {
        setConflict(Number(code.details?.currentVersion) || record.version + 1);
        requestAnimationFrame(() => window.document.getElementById("plan-conflict")?.focus());
      }
      else setFailure(problemOf(caught));
    } finally {
      setBusy(false);
    }
  }

  const consents = context.consents.filter((c) => c.type === draft.consentType);
  const title = record ? t("treatment.plans.title") : t("treatment.plans.newTitle");
  return h("div", {},
    h("div", { class: "heading-row" },
      h("h1", {}, title),
      h(Link, { app, href: `/patients/${patientId}`, class: "button button-secondary" },
        t("treatment.plans.backTo", { name: displayName(context.identity) }))),
    h("dl", { class: "facts" },
      h("dt", {}, t("treatment.plans.patient")), h("dd", {}, displayName(context.identity)),
      record ? [h("dt", { key: "vt" }, t("treatment.plans.version")), h("dd", { key: "vd" }, String(record.version)),
        h("dt", { key: "ut" }, t("treatment.plans.updatedAt")), h("dd", { key: "ud" }, i18n.dateTime(record.updatedAt))] : null),
    conflict !== null ? h("div", { class: "alert alert-error", role: "alert", tabindex: -1, id: "plan-conflict" },
      h("p", {}, t("treatment.plans.conflict", { version: conflict })),
      h("div", { class: "actions" }, h(Button, { kind: "secondary", label: t("treatment.plans.reload"), onClick: onReload }))) : null,
    h(ProblemSummary, { app, problems }),
    failure ? h(Alert, { kind: "error" }, t(failure.key, failure.params)) : null,
    saved ? h(Alert, { kind: "success" }, t("treatment.plans.saved", { version: record?.version ?? 1 })) : null,
    context.templates.length ? h("section", { class: "card", "aria-labelledby": "from-template-heading" },
      h("h2", { id: "from-template-heading" }, t("treatment.plans.fromTemplate")),
      h("div", { class: "inline-form" },
        h(Select, { id: "plan-template", label: t("treatment.field.template"), value: template, onChange: setTemplate,
          options: context.templates.map((item) => ({ value: item.id,
            label: `${item.name} · ${t(`type.${item.type}`)} · ${t(`treatment.regions.${item.bodyRegion}`)}` })) }),
        h("div", { class: "actions" }, h(Button, { kind: "secondary", label: t("treatment.plans.applyTemplate"), onClick: applyTemplate }))),
      h("p", { class: "hint" }, t("treatment.plans.templateHint"))) : null,
    h("form", { onSubmit: save, noValidate: true },
      h("div", { class: "card" },
        h("div", { class: "filters" },
          h(Select, { id: "plan-type", label: t("treatment.field.consentType"), value: draft.consentType, error: error("consentType"),
            options: CONSENT_TYPES.map((value) => ({ value, label: t(`type.${value}`) })),
            onChange: (consentType) => set({ consentType, consentFormId: "" }) }),
          h(Field, { id: "plan-performed", label: t("treatment.field.performedAt"), type: "datetime-local", value: draft.performedAt,
            error: error("performedAt"), onInput: (performedAt) => set({ performedAt }) }),
          h(Select, { id: "plan-region", label: t("treatment.field.bodyRegion"), value: draft.bodyRegion, error: error("bodyRegion"),
            options: options(t, BODY_REGIONS, "treatment.regions"),
            onChange: (bodyRegion) => set(draft.points.length ? { bodyRegion }
              : { bodyRegion, diagramType: REGION_DIAGRAM[bodyRegion] ?? draft.diagramType }) }),
          h(Select, { id: "plan-diagram", label: t("treatment.field.diagramType"), value: draft.diagramType, error: error("diagramType"),
            options: options(t, DIAGRAM_TYPES, "treatment.diagrams"), onChange: (diagramType) => set({ diagramType }) }),
          h(Select, { id: "plan-consent", label: t("treatment.field.consentFormId"), value: draft.consentFormId,
            options: [{ value: "", label: t("treatment.plans.noConsent") }, ...consents.map((c) => ({ value: c.id,
              label: consentLabel(app, c) }))],
            onChange: (consentFormId) => set({ consentFormId }) })),
        draft.consentFormId ? h("p", {}, h(Link, { app, href: `/consents/${draft.consentFormId}` }, t("treatment.plans.openConsent"))) : null),
      h(PointsEditor, { app, kind: "plan", diagramType: draft.diagramType, points: draft.points,
        onPoints: (points) => set({ points }), problems }),
      h(Totals, { app, draft }),
      h(TextArea, { id: "plan-notes", label: t("treatment.field.notes"), value: draft.notes, error: error("notes"),
        onInput: (notes) => set({ notes }) }),
      h("div", { class: "actions" },
        h(Button, { type: "submit", busy, label: t("treatment.plans.save"), busyLabel: t("treatment.saving") }))),
    record ? h(LinkedPhotos, { app, ids: record.photoIds ?? [], add: `/patients/${patientId}/photos?plan=${record.id}` }) : null,
    record ? h(DeleteCard, { app, path: `/api/treatment-plans/${record.id}`, then: `/patients/${patientId}`, texts: "treatment.plans" }) : null);
}

/** @param {{app: import("./app.js").App, draft: PlanDraft}} props */
function Totals({ app, draft }) {
  const { t } = app;
  const { totalUnits, totalMl } = planDocument(draft);
  return h("p", { class: "totals", "aria-live": "polite" }, t("treatment.plans.totals", { units: totalUnits, ml: totalMl }));
}

/**
 * The photos linked to the plan (a photo names its plan when it is uploaded; `add` is the
 * photos page with this plan chosen).
 * @param {{app: import("./app.js").App, ids: string[], add: string}} props
 */
function LinkedPhotos({ app, ids, add }) {
  const { t, session, i18n } = app;
  const [photos, setPhotos] = useState(/** @type {any[] | null} */ (null));
  useEffect(() => {
    Promise.all(ids.map((id) => session.api("GET", `/api/photos/${id}`))).then(setPhotos, () => setPhotos([]));
  }, [ids.join(",")]);
  return h("section", { class: "card", "aria-labelledby": "plan-photos-heading" },
    h("h2", { id: "plan-photos-heading" }, t("treatment.plans.photosHeading")),
    ids.length === 0 ? h("p", {}, t("treatment.plans.noPhotos"))
      : photos === null ? h("p", { role: "status" }, t("common.loading"))
        : h("ul", { class: "plain-list" }, photos.map((photo) => h("li", { key: photo.id },
          t("treatment.plans.photoEntry", { type: t(`treatment.photoTypes.${photo.type}`),
            region: t(`treatment.regions.${photo.bodyRegion}`), when: i18n.dateTime(photo.takenAt) })))),
    h("p", { class: "hint" }, t("treatment.plans.photosHint")),
    h("p", {}, h(Link, { app, href: add }, t("photos.forPlan"))));
}
