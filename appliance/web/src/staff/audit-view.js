// The practice's audit log (ADMIN): whether its hash chain holds, the entries with filters
// (action, member, date range) and pages, the CSV export for the data-protection officer
// (German dialect by default, RFC 4180 on request), and the nightly encrypted exports:
// downloaded, decrypted and unpacked in the crypto worker with the vault's key, checked
// against what the server recorded of them (rows, chain hash of the last entry), and handed
// out as CSV.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { parseCsv } from "./csv.js";
import { download } from "./gdt-view.js";
import { problemOf } from "./problems.js";
import { Alert, Button, Field, Pager, Select, useLatest, useUrlFilters } from "./ui.js";
import { UnlockView } from "./unlock-view.js";

/** The actions of appliance/services/audit.py, as the API's filter accepts them. */
export const ACTIONS = [
  "LOGIN_SUCCESS", "LOGIN_FAILED", "ACCOUNT_LOCKED", "LOGOUT", "LOGOUT_EVERYWHERE", "SESSION_ENDED", "PASSWORD_CHANGED",
  "TWO_FACTOR_ENABLED", "TWO_FACTOR_DISABLED", "USER_REGISTERED", "USER_SYNCED",
  "CONSENT_CREATED", "CONSENT_VIEWED", "CONSENT_SUBMITTED", "CONSENT_REVOKED", "CONSENT_WITHDRAWN",
  "CONSENT_EXPIRED", "CONSENT_LINK_ISSUED", "CONSENT_PATIENT_LINKED", "CONSENT_COUNTERSIGNED",
  "CONSENT_ARCHIVED", "CONSENT_ARCHIVE_VIEWED", "PATIENT_CREATED", "PATIENT_VIEWED", "PATIENT_DELETED",
  "PATIENT_CONFIRMED", "PHOTO_UPLOADED", "PHOTO_VIEWED", "PHOTO_DELETED", "PHOTO_CONSENT_CHANGED",
  "TREATMENT_PLAN_CREATED", "TREATMENT_PLAN_VIEWED", "TREATMENT_PLAN_UPDATED", "TREATMENT_PLAN_DELETED",
  "TEMPLATE_CHANGED", "TEAM_MEMBER_INVITED", "TEAM_MEMBER_JOINED", "TEAM_MEMBER_REMOVED",
  "TEAM_MEMBER_ROLE_CHANGED", "TEAM_INVITE_REVOKED", "PRACTICE_CREATED", "PRACTICE_SETTINGS_UPDATED",
  "VAULT_ENVELOPE_REPLACED", "SUBSCRIPTION_CHANGED", "AUDIT_EXPORTED", "GDT_EXPORTED", "GDT_IMPORTED",
  "VAULT_UNLOCKED", "VAULT_LOCKED",
].sort();
const FILTERS = /** @type {const} */ (["action", "userId", "from", "to"]);
const PAGE_SIZE = 50;
/** The column of the chain hash in the export's CSV (appliance/services/audit_log.py HEADERS). */
const HASH_COLUMN = 6;

/**
 * What a decrypted nightly export holds, against the server's record of it: its rows (the
 * header line aside) and the chain hash of its last entry.
 * @param {string} text the CSV @param {{rows: number, headHash: string}} record
 */
export function checkExport(text, record) {
  const rows = parseCsv(text, ";").slice(1);
  const last = rows[rows.length - 1];
  return { rows: rows.length, ok: rows.length === record.rows && last?.[HASH_COLUMN] === record.headHash };
}

/** An action's name with line-break chances after its underscores (narrow tables). @param {string} name */
function breakable(name) {
  return name.split("_").flatMap((part, i) => (i ? [h("wbr", { key: i }), `_${part}`] : [part]));
}

/**
 * An action in the reader's words; its code (as in the CSV) when the catalogue has none.
 * @param {(key: string) => string} t @param {string} action
 */
export function actionLabel(t, action) {
  const key = `audit.actions.${action}`;
  const label = t(key);
  return label === key ? action : label;
}

/** @param {{app: import("./app.js").App}} props */
export function AuditView({ app }) {
  const { t, session, i18n } = app;
  const [filters, setFilter] = useUrlFilters("/audit", FILTERS);
  const [page, setPage] = useState(1);
  const [data, setData] = useState(/** @type {{items: any[], total: number} | null} */ (null));
  const [members, setMembers] = useState(/** @type {any[]} */ ([]));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  useEffect(() => {
    session.api("GET", "/api/team/members", { query: { limit: "200" } }).then((answer) => setMembers(answer.items), () => setMembers([]));
  }, []);
  useLatest(() => {
    setData(null);
    setProblem(null);
    /** @type {Record<string, string | undefined>} */
    const query = { page: String(page), limit: String(PAGE_SIZE) };
    for (const [name, value] of Object.entries(filters)) if (value) query[name] = value;
    return session.api("GET", "/api/audit", { query });
  }, setData, (error) => setProblem(problemOf(error)), [filters, page]);

  /** @param {typeof FILTERS[number]} key */
  const set = (key) => (/** @type {string} */ value) => {
    setFilter(key)(value);
    setPage(1);
  };
  /** @type {Record<string, string>} */
  const names = Object.fromEntries(members.map((m) => [m.id, m.name]));
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;
  return h("div", {},
    h("h1", {}, t("audit.title")),
    h(ChainStatus, { app }),
    h("form", { class: "filters", "aria-label": t("audit.filters"), onSubmit: (/** @type {Event} */ e) => e.preventDefault() },
      h(Select, { id: "audit-action", label: t("audit.action"), value: filters.action, onChange: set("action"),
        options: [{ value: "", label: t("audit.all") }, ...ACTIONS.map((a) => ({ value: a, label: actionLabel(t, a) }))
          .sort((a, b) => a.label.localeCompare(b.label, i18n.locale))] }),
      h(Select, { id: "audit-user", label: t("audit.user"), value: filters.userId, onChange: set("userId"),
        options: [{ value: "", label: t("audit.all") }, ...members.map((m) => ({ value: m.id, label: m.name }))] }),
      h(Field, { id: "audit-from", label: t("audit.from"), type: "date", value: filters.from, onInput: set("from") }),
      h(Field, { id: "audit-to", label: t("audit.to"), type: "date", value: filters.to, onInput: set("to") })),
    h(CsvExport, { app, filters }),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    data === null ? (problem ? null : h("p", { role: "status" }, t("common.loading"))) : data.items.length === 0
      ? h("p", {}, t("audit.empty"))
      : [
        h("p", { class: "hint", key: "n" }, t("audit.count", { count: data.total })),
        h("div", { class: "table-scroll", key: "t" }, h("table", { class: "table" },
          h("caption", { class: "visually-hidden" }, t("audit.title")),
          h("thead", {}, h("tr", {},
            ["time", "action", "user", "entity", "ip"].map((col) => h("th", { scope: "col", key: col }, t(`audit.${col}`))))),
          h("tbody", {}, data.items.map((entry) => h("tr", { key: entry.id },
            h("td", {}, i18n.dateTime(entry.createdAt, { dateStyle: "medium", timeStyle: "medium" })),
            h("td", {}, actionLabel(t, entry.action), h("br", {}), h("code", { class: "small" }, breakable(entry.action))),
            h("td", {}, entry.userId ? names[entry.userId] ?? t("audit.formerMember") : "–"),
            h("td", { class: "small" }, entry.entityType ? `${entry.entityType}${entry.entityId ? `: ${entry.entityId}` : ""}` : "–"),
            h("td", { class: "small" }, entry.ip ?? "–")))))),
      ],
    data ? h(Pager, { app, page, pages, onPage: setPage }) : null,
    h(NightlyExports, { app }));
}

/** Whether the hash chain holds (GET /api/audit/verify). @param {{app: import("./app.js").App}} props */
function ChainStatus({ app }) {
  const { t, session } = app;
  const [result, setResult] = useState(/** @type {any} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  useEffect(() => {
    session.api("GET", "/api/audit/verify").then(setResult, (error) => setProblem(problemOf(error)));
  }, []);
  return h("section", { class: result && !result.ok ? "card chain chain-broken" : "card chain", "aria-labelledby": "chain-heading" },
    h("h2", { id: "chain-heading" }, t("audit.chainHeading")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params))
      : result === null ? h("p", { role: "status" }, t("common.loading"))
        : result.ok
          ? h("p", { role: "status" }, h("span", { class: "check-mark", "aria-hidden": "true" }, "✓"), " ",
            t("audit.chainOk", { count: result.entries }))
          : h(Alert, { kind: "error" }, t("audit.chainBroken", { seq: result.firstBroken ?? "?", count: result.entries }),
            result.problem ? h("span", { class: "small" }, ` (${result.problem})`) : null));
}

/**
 * The CSV of the filtered entries, as the API writes it.
 * @param {{app: import("./app.js").App, filters: Record<string, string>}} props
 */
function CsvExport({ app, filters }) {
  const { t, session } = app;
  const [dialect, setDialect] = useState("de");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(/** @type {string | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  async function run() {
    setBusy(true);
    setProblem(null);
    setDone(null);
    try {
      /** @type {Record<string, string | undefined>} */
      const query = { dialect };
      for (const [name, value] of Object.entries(filters)) if (value) query[name] = value;
      const file = await session.api("GET", "/api/audit/export", { query, binary: true, timeoutMs: 120000 });
      const name = file.filename ?? "audit-log.csv";
      download(file.data, name, "text/csv");
      setDone(name);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }
  return h("section", { class: "card", "aria-labelledby": "csv-heading" },
    h("h2", { id: "csv-heading" }, t("audit.csvHeading")),
    h("p", {}, t("audit.csvIntro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    done ? h(Alert, { kind: "success" }, t("audit.csvDone", { file: done })) : null,
    h("div", { class: "inline-form" },
      h(Select, { id: "audit-dialect", label: t("audit.dialect"), value: dialect, onChange: setDialect,
        options: [{ value: "de", label: t("audit.dialectDe") }, { value: "rfc4180", label: t("audit.dialectRfc") }] }),
      h("div", { class: "actions" }, h(Button, { busy, label: t("audit.csvDownload"), busyLabel: t("common.loading"), onClick: run }))));
}

/** The nightly encrypted exports; opening one needs the unlocked vault. @param {{app: import("./app.js").App}} props */
function NightlyExports({ app }) {
  const { t, session, i18n } = app;
  const [page, setPage] = useState(1);
  const [data, setData] = useState(/** @type {{items: any[], total: number} | null} */ (null));
  const [busy, setBusy] = useState(/** @type {string | null} */ (null));
  const [done, setDone] = useState(/** @type {{file: string, rows: number, ok: boolean} | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  useLatest(() => session.api("GET", "/api/audit/exports", { query: { page: String(page), limit: "20" } }),
    setData, (error) => setProblem(problemOf(error)), [page]);

  /** @param {any} record */
  async function open(record) {
    setBusy(record.id);
    setProblem(null);
    setDone(null);
    try {
      const file = await session.api("GET", `/api/audit/exports/${record.id}/download`, { binary: true, timeoutMs: 120000 });
      const text = await session.call("openAuditExport", { id: record.id, wrappedKey: record.wrappedKey }, file.data);
      const checked = checkExport(text, record);
      const name = `${t("audit.exportFileName")}-${record.createdAt.slice(0, 10)}-${record.firstSeq ?? 0}-${record.lastSeq ?? 0}.csv`;
      download(new TextEncoder().encode(`\uFEFF${text}`), name, "text/csv");
      setDone({ file: name, ...checked });
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(null);
    }
  }

  const pages = data ? Math.max(1, Math.ceil(data.total / 20)) : 1;
  const locked = session.vault !== "unlocked";
  return h("section", { class: "card", "aria-labelledby": "exports-heading" },
    h("h2", { id: "exports-heading" }, t("audit.exportsHeading")),
    h("p", {}, t("audit.exportsIntro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    done ? h(Alert, { kind: done.ok ? "success" : "error" },
      t(done.ok ? "audit.exportOpened" : "audit.exportMismatch", { file: done.file, count: done.rows })) : null,
    data === null ? (problem ? null : h("p", { role: "status" }, t("common.loading"))) : data.items.length === 0
      ? h("p", {}, t("audit.exportsEmpty"))
      : [
        locked ? h("div", { key: "u" }, h("p", {}, t("audit.exportsUnlock")), h(UnlockView, { app, level: 3 })) : null,
        h("div", { class: "table-scroll", key: "t" }, h("table", { class: "table" },
          h("caption", { class: "visually-hidden" }, t("audit.exportsHeading")),
          h("thead", {}, h("tr", {},
            ["exportCreated", "exportEntries", "exportRows", "exportSize", "exportOpen"].map((col) =>
              h("th", { scope: "col", key: col }, t(`audit.${col}`))))),
          h("tbody", {}, data.items.map((record) => h("tr", { key: record.id },
            h("td", {}, i18n.dateTime(record.createdAt)),
            h("td", {}, record.firstSeq ? `${record.firstSeq}–${record.lastSeq}` : "–"),
            h("td", {}, i18n.number(record.rows)),
            h("td", {}, i18n.number(record.sizeBytes / 1024, { maximumFractionDigits: 1 }), " KiB"),
            h("td", {}, h(Button, {
              kind: "secondary", busy: busy === record.id, disabled: locked || (busy !== null && busy !== record.id),
              label: t("audit.exportDecrypt", { date: i18n.dateTime(record.createdAt, { dateStyle: "medium" }) }),
              busyLabel: t("audit.exportDecrypting"), onClick: () => open(record),
            }))))))),
      ],
    data ? h(Pager, { app, page, pages, onPage: setPage }) : null);
}
