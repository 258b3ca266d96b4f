// Patients: the list (a page at a time, names decrypted in the worker), finding one by last
// name, first name and date of birth (the lookupHash is computed here, the server compares
// hashes), creating one (identity sealed and signed in the worker), and a patient's page.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Link } from "./frame-view.js";
import { consentLabel, patientConsents } from "./patient-consents.js";
import { displayName, openPatients } from "./patient-names.js";
import { PatientPlans } from "./plans-view.js";
import { problemOf } from "./problems.js";
import { Alert, Button, Field, Pager, Select } from "./ui.js";

/** Rows per page the list offers (the API's maximum is 200). */
const PAGE_SIZES = ["50", "100", "200"];

/** @param {{app: import("./app.js").App}} props */
export function PatientsView({ app }) {
  const { t, session } = app;
  const [page, setPage] = useState(1);
  const [size, setSize] = useState(PAGE_SIZES[0]);
  const [data, setData] = useState(/** @type {{items: any[], total: number} | null} */ (null));
  const [names, setNames] = useState(/** @type {Map<string, import("./patient-names.js").Opened>} */ (new Map()));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  useEffect(() => {
    let cancelled = false;
    setData(null);
    setNames(new Map());
    session.api("GET", "/api/patients", { query: { page: String(page), limit: size } })
      .then(async (answer) => {
        if (cancelled) return;
        setData(answer);
        // Marks for bench/staff_patients.py: the page arrived, and all its names are open.
        performance.mark("staff-patients-listed");
        await openPatients((op, ...args) => session.call(op, ...args), answer.items, setNames, { cancelled: () => cancelled });
        if (!cancelled) performance.mark("staff-patients-opened");
      })
      .catch((error) => setProblem(problemOf(error)));
    return () => { cancelled = true; };
  }, [page, size]);

  const pages = data ? Math.max(1, Math.ceil(data.total / Number(size))) : 1;
  return h("div", {},
    h("div", { class: "heading-row" },
      h("h1", {}, t("patients.title")),
      h(Link, { app, href: "/patients/new", class: "button button-primary" }, t("patients.new"))),
    h(FindPatient, { app }),
    h("div", { class: "heading-row" },
      h("h2", {}, t("patients.listHeading")),
      h(Select, { id: "patients-size", label: t("common.rowsPerPage"), value: size,
        onChange: (value) => { setSize(value); setPage(1); }, options: PAGE_SIZES.map((n) => ({ value: n, label: n })) })),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    data === null ? h("p", { role: "status" }, t("common.loading")) : data.items.length === 0
      ? h("p", {}, t("patients.empty"))
      : h("table", { class: "table" },
        h("caption", { class: "visually-hidden" }, t("patients.listHeading")),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, t("patients.name")), h("th", { scope: "col" }, t("patients.dateOfBirth")),
          h("th", { scope: "col" }, t("patients.consents")))),
        h("tbody", {}, data.items.map((patient) => {
          const opened = names.get(patient.id);
          const label = opened?.identity ? displayName(opened.identity)
            : opened?.problem ? t("patients.unreadable") : t("patients.decrypting");
          return h("tr", { key: patient.id },
            h("td", {}, h(Link, { app, href: `/patients/${patient.id}` }, label),
              opened?.unconfirmed ? h("span", { class: "tag tag-warning" }, t("patients.unconfirmed")) : null),
            h("td", {}, opened?.identity?.dateOfBirth ? app.i18n.calendarDate(opened.identity.dateOfBirth) : ""),
            h("td", {}, String(patient.consentCount ?? 0)));
        }))),
    data ? h(Pager, { app, page, pages, onPage: setPage }) : null);
}

/** Find by last name + first name + date of birth: the lookupHash, computed in the worker. @param {{app: import("./app.js").App}} props */
function FindPatient({ app }) {
  const { t, session } = app;
  const [last, setLast] = useState("");
  const [first, setFirst] = useState("");
  const [birth, setBirth] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  /** @param {Event} e */
  async function find(e) {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      const digest = await session.call("lookupHash", session.practice?.lookupSalt, last, first, birth);
      const patient = await session.api("GET", `/api/patients/lookup/${digest}`);
      app.go(`/patients/${patient.id}`);
    } catch (error) {
      const problem = problemOf(error);
      setResult(problem.key === "problem.notFound" ? { key: "patients.notFound" } : problem);
    } finally {
      setBusy(false);
    }
  }

  return h("section", { class: "card", "aria-labelledby": "find-heading" },
    h("h2", { id: "find-heading" }, t("patients.findHeading")),
    h("form", { class: "inline-form", onSubmit: find, noValidate: true },
      h(Field, { id: "find-last", label: t("patients.lastName"), value: last, onInput: setLast, required: true }),
      h(Field, { id: "find-first", label: t("patients.firstName"), value: first, onInput: setFirst, required: true }),
      h(Field, { id: "find-birth", label: t("patients.dateOfBirth"), type: "date", value: birth, onInput: setBirth, required: true }),
      h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("patients.find"), busyLabel: t("patients.finding") }))),
    result ? h(Alert, { kind: result.key === "patients.notFound" ? "info" : "error" }, t(result.key, result.params)) : null);
}

/**
 * The identity form of a new patient; `initial` prefills it (a consent's submitted identity).
 * @param {{app: import("./app.js").App}} props
 */
export function PatientNewView({ app }) {
  const { t, session } = app;
  const [values, setValues] = useState({ firstName: "", lastName: "", dateOfBirth: "", email: "", phone: "" });
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  /** @param {keyof typeof values} key */
  const set = (key) => (/** @type {string} */ value) => setValues({ ...values, [key]: value });

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const patient = await createPatient(session, values);
      app.go(`/patients/${patient.id}`);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  return h("div", { class: "card card-narrow" },
    h("h1", {}, t("patients.newTitle")),
    h("p", {}, t("patients.newIntro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    h("form", { onSubmit: submit, noValidate: true },
      h(Field, { id: "patient-last", label: t("patients.lastName"), value: values.lastName, onInput: set("lastName"), required: true, autocomplete: "off" }),
      h(Field, { id: "patient-first", label: t("patients.firstName"), value: values.firstName, onInput: set("firstName"), required: true }),
      h(Field, { id: "patient-birth", label: t("patients.dateOfBirth"), type: "date", value: values.dateOfBirth, onInput: set("dateOfBirth"), required: true }),
      h(Field, { id: "patient-email", label: t("patients.emailOptional"), type: "email", value: values.email, onInput: set("email") }),
      h(Field, { id: "patient-phone", label: t("patients.phoneOptional"), type: "tel", value: values.phone, onInput: set("phone") }),
      h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("patients.create"), busyLabel: t("patients.creating") }))));
}

/**
 * Seals, signs and stores a patient; empty optional fields are left out.
 * @param {import("./session.js").Session} session @param {Record<string, string>} values
 */
export async function createPatient(session, values) {
  const identity = Object.fromEntries(Object.entries(values).filter(([, v]) => v && v.trim() !== ""));
  const body = await session.call("patientRecord", session.practice?.lookupSalt, identity);
  return session.api("POST", "/api/patients", { body });
}

/** @param {{app: import("./app.js").App}} props */
export function PatientView({ app }) {
  const { t, session, route, i18n } = app;
  const id = route.params.id;
  const [patient, setPatient] = useState(/** @type {any} */ (null));
  const [identity, setIdentity] = useState(/** @type {Record<string, string> | null} */ (null));
  const [consents, setConsents] = useState(/** @type {any[] | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  useEffect(() => {
    (async () => {
      try {
        const record = await session.api("GET", `/api/patients/${id}`);
        setPatient(record);
        setIdentity(await session.call("openPatient", record, { allowUnconfirmed: true }));
        setConsents(await patientConsents(session, id));
      } catch (error) {
        setProblem(problemOf(error));
      }
    })();
  }, [id]);

  if (problem) return h("div", {}, h("h1", {}, t("patients.title")), h(Alert, { kind: "error" }, t(problem.key, problem.params)));
  if (!patient || !identity) return h("div", {}, h("h1", {}, t("patients.title")), h("p", { role: "status" }, t("common.loading")));
  return h("div", {},
    h("div", { class: "heading-row" },
      h("h1", {}, displayName(identity)),
      h("div", { class: "actions" },
        h(Link, { app, href: `/patients/${id}/photos`, class: "button button-secondary" }, t("photos.open")),
        h(Link, { app, href: `/consents/new?patient=${id}`, class: "button button-primary" }, t("consents.newForPatient")))),
    patient.signature == null ? h(Alert, { kind: "warning" }, t("patients.unconfirmedText")) : null,
    h("dl", { class: "facts" },
      h("dt", {}, t("patients.dateOfBirth")), h("dd", {}, identity.dateOfBirth ? i18n.calendarDate(identity.dateOfBirth) : ""),
      identity.email ? [h("dt", {}, t("patients.email")), h("dd", {}, identity.email)] : null,
      identity.phone ? [h("dt", {}, t("patients.phone")), h("dd", {}, identity.phone)] : null,
      h("dt", {}, t("patients.createdAt")), h("dd", {}, i18n.dateTime(patient.createdAt))),
    h("h2", {}, t("patients.consentsHeading")),
    consents === null ? h("p", { role: "status" }, t("common.loading"))
      : consents.length === 0 ? h("p", {}, t("patients.noConsents"))
        : h("ul", { class: "plain-list" }, consents.map((c) => h("li", { key: c.id },
          h(Link, { app, href: `/consents/${c.id}` }, consentLabel(app, c))))),
    h(PatientPlans, { app, patientId: id }),
    session.role === "ADMIN" ? h(ErasePatient, { app, id }) : null);
}

/**
 * Erasure (DSGVO Art. 17), practice owner only. Signed consents must be kept 10 years (BGB
 * 630f): the server refuses to erase them within that time unless the owner confirms the
 * override, which the view explains and asks for explicitly.
 * @param {{app: import("./app.js").App, id: string}} props
 */
function ErasePatient({ app, id }) {
  const { t, session } = app;
  const [open, setOpen] = useState(false);
  const [retained, setRetained] = useState(false);
  const [override, setOverride] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  async function erase() {
    setBusy(true);
    setProblem(null);
    try {
      await session.api("DELETE", `/api/patients/${id}`, { query: { confirmRetentionOverride: override ? "true" : undefined } });
      app.go("/patients");
    } catch (error) {
      if (/** @type {{code?: string}} */ (error).code === "retention_period") setRetained(true);
      else setProblem(problemOf(error));
      setBusy(false);
    }
  }
  return h("section", { class: "card", "aria-labelledby": "erase-heading" },
    h("h2", { id: "erase-heading" }, t("erase.heading")),
    h("p", {}, t("erase.retention")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    retained ? h(Alert, { kind: "warning" }, t("erase.retained")) : null,
    retained ? h("div", { class: "check" },
      h("input", { id: "erase-override", type: "checkbox", checked: override,
        onChange: (/** @type {Event} */ e) => setOverride(/** @type {HTMLInputElement} */ (e.currentTarget).checked) }),
      h("label", { for: "erase-override" }, t("erase.override"))) : null,
    open ? h("div", { class: "actions" },
      h(Button, { kind: "danger", busy, label: t("erase.confirm"), disabled: retained && !override, onClick: erase }),
      h("button", { type: "button", class: "button button-secondary", onClick: () => setOpen(false) }, t("common.cancel")))
      : h("div", { class: "actions" }, h(Button, { kind: "danger", label: t("erase.start"), onClick: () => setOpen(true) })));
}
