// Small building blocks the views share: labelled fields, alerts, buttons with a busy state.
// Preact without JSX (plain `h` calls, so the bundle needs no transform); no style props: the
// CSP allows no inline styles, the look is staff.css.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { problemOf } from "./problems.js";

let counter = 0;

/** A document-unique id for label/aria wiring. @param {string} prefix */
export function fieldId(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * A label, an optional hint, a control and its error, wired with aria-describedby.
 * @param {{id: string, label: string, error: string | null, hint: string | null}} parts
 * @param {(aria: Record<string, string | undefined>) => any} control
 */
function labelled({ id, label, error, hint }, control) {
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ");
  return h("div", { class: error ? "field field-invalid" : "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    control({ "aria-invalid": error ? "true" : undefined, "aria-describedby": described || undefined }),
    error ? h("p", { class: "error-text", id: `${id}-error` }, error) : null);
}

/**
 * A labelled input. `error` shows below it and is tied to it with aria-describedby.
 * @param {{id: string, label: string, value: string, onInput: (value: string) => void,
 *   type?: string, error?: string | null, hint?: string | null, required?: boolean,
 *   autocomplete?: string, inputmode?: string, children?: any}} props
 */
export function Field({ id, label, value, onInput, type = "text", error = null, hint = null,
  required = false, autocomplete = "off", inputmode }) {
  return labelled({ id, label, error, hint }, (aria) => h("input", {
    id, type, value, required, autocomplete, inputmode, ...aria,
    onInput: (/** @type {Event} */ e) => onInput(/** @type {HTMLInputElement} */ (e.currentTarget).value),
  }));
}

/**
 * A labelled multi-line input; `error` and `hint` as with Field.
 * @param {{id: string, label: string, value: string, onInput: (value: string) => void,
 *   error?: string | null, hint?: string | null, rows?: number}} props
 */
export function TextArea({ id, label, value, onInput, error = null, hint = null, rows = 3 }) {
  return labelled({ id, label, error, hint }, (aria) => h("textarea", {
    id, rows, value, ...aria,
    onInput: (/** @type {Event} */ e) => onInput(/** @type {HTMLTextAreaElement} */ (e.currentTarget).value),
  }));
}

/**
 * A labelled choice; `error` as with Field.
 * @param {{id: string, label: string, value: string, onChange: (value: string) => void,
 *   options: {value: string, label: string}[], error?: string | null}} props
 */
export function Select({ id, label, value, onChange, options, error = null }) {
  return labelled({ id, label, error, hint: null }, (aria) => h("select", {
    id, value, ...aria,
    onChange: (/** @type {Event} */ e) => onChange(/** @type {HTMLSelectElement} */ (e.currentTarget).value),
  }, options.map((o) => h("option", { value: o.value, key: o.value }, o.label))));
}

/** A message for screen readers and eyes: role alert for problems, status for news.
 * @param {{kind?: "error" | "info" | "success" | "warning", children?: any}} props */
export function Alert({ kind = "info", children }) {
  return h("div", { class: `alert alert-${kind}`, role: kind === "error" ? "alert" : "status" }, children);
}

/**
 * A button that shows its busy text while `busy`, and stays in place (no layout jump).
 * @param {{label: string, busyLabel?: string, busy?: boolean, type?: "submit" | "button",
 *   kind?: "primary" | "secondary" | "danger", onClick?: () => void, disabled?: boolean}} props
 */
export function Button({ label, busyLabel, busy = false, type = "button", kind = "primary", onClick, disabled = false }) {
  return h("button", {
    type, class: `button button-${kind}`, disabled: disabled || busy, "aria-busy": busy ? "true" : undefined,
    onClick,
  }, busy ? h("span", { class: "spinner", "aria-hidden": "true" }) : null, busy && busyLabel ? busyLabel : label);
}

/**
 * Previous/next for a paged list.
 * @param {{app: import("./app.js").App, page: number, pages: number, onPage: (page: number) => void}} props
 */
export function Pager({ app, page, pages, onPage }) {
  const { t } = app;
  if (pages <= 1) return null;
  return h("nav", { class: "pager", "aria-label": t("common.pages") },
    h("button", { type: "button", class: "button button-secondary", disabled: page <= 1, onClick: () => onPage(page - 1) },
      t("common.previous")),
    h("span", {}, t("common.pageOf", { page, pages })),
    h("button", { type: "button", class: "button button-secondary", disabled: page >= pages, onClick: () => onPage(page + 1) },
      t("common.nextPage")));
}

/**
 * A list's filters kept in the address, so that a filtered list can be bookmarked and reloaded:
 * the values of `keys` from the query string, and a setter that writes them back.
 * @template {string} K
 * @param {string} path the list's own path, e.g. "/consents"
 * @param {readonly K[]} keys
 * @returns {[Record<K, string>, (key: K) => (value: string) => void]}
 */
export function useUrlFilters(path, keys) {
  const [filters, setFilters] = useState(() => {
    const query = new URLSearchParams(window.location.search);
    return /** @type {Record<K, string>} */ (Object.fromEntries(keys.map((key) => [key, query.get(key) ?? ""])));
  });
  const set = (/** @type {K} */ key) => (/** @type {string} */ value) => {
    const next = { ...filters, [key]: value };
    setFilters(next);
    const query = new URLSearchParams(Object.entries(next).filter(([, v]) => v));
    window.history.replaceState(null, "", `${path}${query.size ? `?${query}` : ""}`);
  };
  return [filters, set];
}

/**
 * Runs `load` whenever `deps` change and hands its answer to `done`, or its failure to
 * `failed`, unless a newer load has started meanwhile: an answer for the filter or page before,
 * arriving late, never replaces the answer for the one shown.
 * @template T
 * @param {() => Promise<T>} load
 * @param {(value: T) => void} done
 * @param {(error: unknown) => void} failed
 * @param {unknown[]} deps
 */
export function useLatest(load, done, failed, deps) {
  useEffect(() => {
    let latest = true;
    load().then((value) => { if (latest) done(value); }, (error) => { if (latest) failed(error); });
    return () => { latest = false; };
  }, deps);
}

/**
 * Deleting a record, asked twice: `texts` names the catalogue section with deleteHeading,
 * deleteText, delete and deleteConfirm; after the DELETE of `path` the app goes to `then`.
 * @param {{app: import("./app.js").App, path: string, then: string, texts: string}} props
 */
export function DeleteCard({ app, path, then, texts }) {
  const { t, session } = app;
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  async function remove() {
    setBusy(true);
    try {
      await session.api("DELETE", path);
      app.go(then);
    } catch (error) {
      setProblem(problemOf(error));
      setBusy(false);
    }
  }
  const [heading] = useState(() => fieldId("delete-heading"));
  return h("section", { class: "card", "aria-labelledby": heading },
    h("h2", { id: heading }, t(`${texts}.deleteHeading`)),
    h("p", {}, t(`${texts}.deleteText`)),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    h("div", { class: "actions" }, open
      ? [h(Button, { kind: "danger", busy, label: t(`${texts}.deleteConfirm`), onClick: remove, key: "d" }),
        h("button", { type: "button", class: "button button-secondary", onClick: () => setOpen(false), key: "c" }, t("common.cancel"))]
      : h(Button, { kind: "danger", label: t(`${texts}.delete`), onClick: () => setOpen(true) })));
}

/**
 * What became of an e-mail the outbox sends (a consent's link, an invitation: the API's `mail`,
 * pending, sent, or failed with a reason), with the time of its last change.
 * @param {{app: import("./app.js").App, mail: {status: string, reason: string | null, updatedAt: string | null}}} props
 */
export function MailStatus({ app, mail }) {
  const { t, i18n } = app;
  const known = ["pending", "sent", "failed"].includes(mail.status);
  return h("span", {},
    h("span", { class: `tag tag-mail-${known ? mail.status : "other"}` }, known ? t(`mail.${mail.status}`) : mail.status),
    mail.updatedAt ? ` ${t("mail.since", { date: i18n.dateTime(mail.updatedAt) })}` : null,
    mail.reason && mail.status !== "sent" ? h("span", { class: "small mail-reason" }, ` ${t("mail.reason", { reason: mail.reason })}`) : null);
}
