// Treatment templates (ADMIN, ARZT): named presets of injection points per consent type and
// body region, e.g. "Glabella 20 U in 5 Punkten". Practice knowledge in clear, not patient
// data: no vault needed. Created and changed with the plans' point editor, checked by the
// server's rules before sending (treatment.js), and the server's answer shown at the fields.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { PointsEditor, ProblemSummary, useEditor } from "./diagram-view.js";
import { Link } from "./frame-view.js";
import { problemOf } from "./problems.js";
import {
  BODY_REGIONS, CONSENT_TYPES, DIAGRAM_TYPES, REGION_DIAGRAM, draftPoint, serverProblems, templateBody,
  templateProblems,
} from "./treatment.js";
import { Alert, Button, DeleteCard, Field, Select, TextArea } from "./ui.js";

/**
 * Every template of the practice, page after page (a practice keeps a few dozen).
 * @param {import("./session.js").Session} session
 * @returns {Promise<any[]>}
 */
export async function allTemplates(session) {
  /** @type {any[]} */
  const items = [];
  for (let page = 1; ; page += 1) {
    const answer = await session.api("GET", "/api/treatment-templates", { query: { page: String(page), limit: "200" } });
    items.push(...answer.items);
    if (answer.items.length === 0 || items.length >= answer.total) return items;
  }
}

/** Options of an enum, labelled from `prefix`. @param {(key: string) => string} t @param {string[]} values @param {string} prefix */
export function options(t, values, prefix) {
  return values.map((value) => ({ value, label: t(`${prefix}.${value}`) }));
}

/** @param {{app: import("./app.js").App}} props */
export function TemplatesView({ app }) {
  const { t } = app;
  const [items, setItems] = useState(/** @type {any[] | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  useEffect(() => {
    allTemplates(app.session).then(setItems, (error) => setProblem(problemOf(error)));
  }, []);
  return h("div", {},
    h("div", { class: "heading-row" },
      h("h1", {}, t("treatment.templates.title")),
      h(Link, { app, href: "/templates/new", class: "button button-primary" }, t("treatment.templates.new"))),
    h("p", {}, t("treatment.templates.intro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    items === null ? (problem ? null : h("p", { role: "status" }, t("common.loading")))
      : items.length === 0 ? h("p", {}, t("treatment.templates.empty"))
        : h("table", { class: "table" },
          h("caption", { class: "visually-hidden" }, t("treatment.templates.title")),
          h("thead", {}, h("tr", {}, ["field.name", "field.type", "field.bodyRegion", "field.diagramType", "templates.points"]
            .map((key) => h("th", { scope: "col", key }, t(`treatment.${key}`))))),
          h("tbody", {}, items.map((template) => h("tr", { key: template.id },
            h("td", {}, h(Link, { app, href: `/templates/${template.id}` }, template.name)),
            h("td", {}, t(`type.${template.type}`)),
            h("td", {}, t(`treatment.regions.${template.bodyRegion}`)),
            h("td", {}, t(`treatment.diagrams.${template.diagramType}`)),
            h("td", {}, String(template.points.length)))))));
}

/**
 * @typedef {{name: string, type: string, bodyRegion: string, diagramType: string,
 *   points: import("./treatment.js").DraftPoint[], notes: string}} TemplateDraft
 */

/** A template as the form holds it. @param {any} template @param {string} locale @returns {TemplateDraft} */
function templateDraft(template, locale) {
  return {
    name: template.name, type: template.type, bodyRegion: template.bodyRegion, diagramType: template.diagramType,
    points: template.points.map((/** @type {any} */ p) => draftPoint(p, locale)), notes: template.notes ?? "",
  };
}

/** A new template (/templates/new) or one to change (/templates/:id). @param {{app: import("./app.js").App}} props */
export function TemplateView({ app }) {
  const { t, route } = app;
  const id = route.name === "template" ? route.params.id : null;
  const [draft, setDraft] = useState(/** @type {TemplateDraft | null} */ (id ? null : {
    name: "", type: "BOTOX", bodyRegion: "GLABELLA", diagramType: "FACE_FRONT", points: [], notes: "",
  }));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  useEffect(() => {
    if (!id) return;
    allTemplates(app.session).then((items) => {
      const found = items.find((item) => item.id === id);
      if (found) setDraft(templateDraft(found, app.i18n.locale));
      else setProblem({ key: "problem.notFound" });
    }, (error) => setProblem(problemOf(error)));
  }, [id]);
  const title = id ? t("treatment.templates.editTitle") : t("treatment.templates.newTitle");
  if (!draft) {
    return h("div", {}, h("h1", {}, title),
      problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : h("p", { role: "status" }, t("common.loading")));
  }
  return h(TemplateForm, { app, id, title, initial: draft, key: id ?? "new" });
}

/** @param {{app: import("./app.js").App, id: string | null, title: string, initial: TemplateDraft}} props */
function TemplateForm({ app, id, title, initial }) {
  const { t, session } = app;
  const { draft, setDraft, set, error, problems, show, failure, setFailure, saved, setSaved, busy, setBusy } = useEditor(app, initial);

  /** @param {Event} e */
  async function save(e) {
    e.preventDefault();
    setFailure(null);
    setSaved(false);
    const body = templateBody(draft);
    const found = templateProblems(body);
    if (found.length) {
      show(found);
      return;
    }
    show([]);
    setBusy(true);
    try {
      const answer = id
        ? await session.api("PATCH", `/api/treatment-templates/${id}`, { body })
        : await session.api("POST", "/api/treatment-templates", { body });
      if (!id) {
        app.go(`/templates/${answer.id}?saved=1`);
        return;
      }
      setDraft(templateDraft(answer, app.i18n.locale));
      setSaved(true);
    } catch (error) {
      const code = /** @type {{code?: string, details?: unknown}} */ (error);
      if (code.code === "duplicate_template") show([{ field: "name", key: "treatment.templates.duplicate" }]);
      else if (code.code === "validation_failed") show(serverProblems(code.details));
      else setFailure(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  return h("div", {},
    h("div", { class: "heading-row" },
      h("h1", {}, title),
      h(Link, { app, href: "/templates", class: "button button-secondary" }, t("treatment.templates.back"))),
    h("p", { class: "hint" }, t("treatment.templates.noPatientData")),
    h(ProblemSummary, { app, problems }),
    failure ? h(Alert, { kind: "error" }, t(failure.key, failure.params)) : null,
    saved ? h(Alert, { kind: "success" }, t("treatment.templates.saved")) : null,
    h("form", { onSubmit: save, noValidate: true },
      h("div", { class: "card" },
        h(Field, { id: "template-name", label: t("treatment.field.name"), value: draft.name, error: error("name"),
          onInput: (name) => set({ name }), required: true }),
        h("div", { class: "filters" },
          h(Select, { id: "template-type", label: t("treatment.field.type"), value: draft.type, error: error("type"),
            options: CONSENT_TYPES.map((value) => ({ value, label: t(`type.${value}`) })), onChange: (type) => set({ type }) }),
          h(Select, { id: "template-region", label: t("treatment.field.bodyRegion"), value: draft.bodyRegion,
            error: error("bodyRegion"), options: options(t, BODY_REGIONS, "treatment.regions"),
            onChange: (bodyRegion) => set(draft.points.length ? { bodyRegion }
              : { bodyRegion, diagramType: REGION_DIAGRAM[bodyRegion] ?? draft.diagramType }) }),
          h(Select, { id: "template-diagram", label: t("treatment.field.diagramType"), value: draft.diagramType,
            error: error("diagramType"), options: options(t, DIAGRAM_TYPES, "treatment.diagrams"),
            onChange: (diagramType) => set({ diagramType }) }))),
      h(PointsEditor, { app, kind: "template", diagramType: draft.diagramType, points: draft.points,
        onPoints: (points) => set({ points }), problems }),
      h(TextArea, { id: "template-notes", label: t("treatment.field.notes"), value: draft.notes, error: error("notes"),
        onInput: (notes) => set({ notes }) }),
      h("div", { class: "actions" },
        h(Button, { type: "submit", busy, label: t("treatment.templates.save"), busyLabel: t("treatment.saving") }))),
    id ? h(DeleteCard, { app, path: `/api/treatment-templates/${id}`, then: "/templates", texts: "treatment.templates" }) : null);
}
