// Consents: the list with filters (status, type, created from/to) and expiry, and creating one
// for a patient or for whoever opens the link: type and language, the link drawn and signed in
// the worker, then handed out by copying, by QR code or by e-mail.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { DeliverLink } from "./deliver-view.js";
import { Link } from "./frame-view.js";
import { displayName } from "./patient-names.js";
import { problemOf } from "./problems.js";
import { Alert, Button, Field, Pager, Select, useLatest, useUrlFilters } from "./ui.js";

export const STATUSES = ["PENDING", "SIGNED", "PAID", "COMPLETED", "EXPIRED", "REVOKED"];
export const TYPES = ["BOTOX", "FILLER", "LASER", "CHEMICAL_PEEL", "MICRONEEDLING", "PRP"];
const PAGE_SIZE = 50;

/** The list's filters, kept in the address. */
const FILTERS = /** @type {const} */ (["status", "type", "from", "to"]);

/** @param {{app: import("./app.js").App}} props */
export function ConsentsView({ app }) {
  const { t, session, i18n } = app;
  const [filters, setFilter] = useUrlFilters("/consents", FILTERS);
  const [page, setPage] = useState(1);
  const [data, setData] = useState(/** @type {{items: any[], total: number} | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  useLatest(() => {
    setData(null);
    setProblem(null);
    /** @type {Record<string, string | undefined>} */
    const query = { page: String(page), limit: String(PAGE_SIZE) };
    for (const [name, value] of Object.entries(filters)) if (value) query[name] = value;
    return session.api("GET", "/api/consent/practice", { query });
  }, setData, (error) => setProblem(problemOf(error)), [filters, page]);

  /** @param {typeof FILTERS[number]} key */
  const set = (key) => (/** @type {string} */ value) => {
    setFilter(key)(value);
    setPage(1);
  };
  const now = Date.now();
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;
  return h("div", {},
    h("div", { class: "heading-row" },
      h("h1", {}, t("consents.title")),
      h(Link, { app, href: "/consents/new", class: "button button-primary" }, t("consents.new"))),
    h("form", { class: "filters", "aria-label": t("consents.filters"), onSubmit: (/** @type {Event} */ e) => e.preventDefault() },
      h(Select, { id: "filter-status", label: t("consents.status"), value: filters.status, onChange: set("status"),
        options: [{ value: "", label: t("consents.all") }, ...STATUSES.map((s) => ({ value: s, label: t(`status.${s}`) }))] }),
      h(Select, { id: "filter-type", label: t("consents.type"), value: filters.type, onChange: set("type"),
        options: [{ value: "", label: t("consents.all") }, ...TYPES.map((s) => ({ value: s, label: t(`type.${s}`) }))] }),
      h(Field, { id: "filter-from", label: t("consents.from"), type: "date", value: filters.from, onInput: set("from") }),
      h(Field, { id: "filter-to", label: t("consents.to"), type: "date", value: filters.to, onInput: set("to") })),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    data === null ? h("p", { role: "status" }, t("common.loading")) : data.items.length === 0
      ? h("p", {}, t("consents.empty"))
      : h("table", { class: "table" },
        h("caption", { class: "visually-hidden" }, t("consents.title")),
        h("thead", {}, h("tr", {},
          ["type", "status", "created", "expires"].map((col) => h("th", { scope: "col", key: col }, t(`consents.${col}`))))),
        h("tbody", {}, data.items.map((c) => {
          const expiresSoon = c.status === "PENDING" && new Date(c.expiresAt).getTime() - now < 2 * 86400000;
          return h("tr", { key: c.id },
            h("td", {}, h(Link, { app, href: `/consents/${c.id}` }, t(`type.${c.type}`))),
            h("td", {}, h("span", { class: `tag tag-${c.status.toLowerCase()}` }, t(`status.${c.status}`))),
            h("td", {}, i18n.dateTime(c.createdAt)),
            h("td", { class: expiresSoon ? "soon" : undefined },
              c.status === "PENDING" ? i18n.dateTime(c.expiresAt) : "–"));
        }))),
    data ? h(Pager, { app, page, pages, onPage: setPage }) : null);
}

/** @param {{app: import("./app.js").App}} props */
export function ConsentNewView({ app }) {
  const { t, session, i18n } = app;
  const patientId = new URLSearchParams(window.location.search).get("patient");
  const [forms, setForms] = useState(/** @type {any[] | null} */ (null));
  const [patientName, setPatientName] = useState("");
  const [type, setType] = useState("");
  const [locale, setLocale] = useState(i18n.locale);
  const [email, setEmail] = useState("");
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState(/** @type {any} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  useEffect(() => {
    session.api("GET", "/api/forms").then((answer) => {
      setForms(answer.items);
      if (answer.items.length) setType(answer.items[0].type);
    }, (error) => setProblem(problemOf(error)));
    if (patientId) {
      session.api("GET", `/api/patients/${patientId}`)
        .then((record) => session.call("openPatient", record, { allowUnconfirmed: true }))
        .then((identity) => {
          setPatientName(displayName(identity));
          if (identity.email) setEmail(identity.email);
        }, (error) => setProblem(problemOf(error)));
    }
  }, []);

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const body = await session.call("consentRecord", { type, patientId, locale, patientEmail: email.trim() || undefined });
      const answer = await session.api("POST", "/api/consent", { body });
      const link = await session.call("linkWithFragment", answer.link);
      setCreated({ ...answer, link });
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  if (created) {
    return h("div", {},
      h("h1", {}, t("consents.createdTitle")),
      h(DeliverLink, { app, link: created.link, emailed: created.emailSent, email }),
      h("p", {}, h(Link, { app, href: `/consents/${created.id}` }, t("consents.open"))));
  }
  const chosen = forms?.find((f) => f.type === type);
  const locales = chosen?.locales ?? ["de", "en"];
  return h("div", { class: "card card-narrow" },
    h("h1", {}, t("consents.newTitle")),
    patientId ? h("p", {}, t("consents.forPatient", { name: patientName || "…" })) : h("p", {}, t("consents.withoutPatient")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    forms === null ? h("p", { role: "status" }, t("common.loading")) : h("form", { onSubmit: submit, noValidate: true },
      h(Select, { id: "consent-type", label: t("consents.type"), value: type, onChange: setType,
        options: forms.map((f) => ({ value: f.type, label: f.titles?.[i18n.locale] ?? t(`type.${f.type}`) })) }),
      h(Select, { id: "consent-locale", label: t("consents.language"), value: locale, onChange: setLocale,
        options: locales.map((/** @type {string} */ l) => ({ value: l, label: t(`language.${l}`) })) }),
      h(Field, { id: "consent-email", label: t("consents.emailOptional"), hint: t("consents.emailHint"), type: "email",
        value: email, onInput: setEmail }),
      h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("consents.create"), busyLabel: t("consents.creating") }))));
}
