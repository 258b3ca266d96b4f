// The physician's countersignature (docs/crypto.md, completing a consent): an ARZT or ADMIN
// confirms the information talk (its date, an optional note); the document is encrypted and
// bound to the consent, and signed with the digest of the answers just read. This moves the
// consent to COMPLETED. A countersigned consent shows the decrypted, checked document.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { mayCountersign } from "./router.js";
import { problemOf } from "./problems.js";
import { Alert, Button, Field } from "./ui.js";

/** Today in the browser's calendar, YYYY-MM-DD. */
export function today() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

/**
 * The countersignature document: canonical JSON means its keys in code-point order, which
 * JSON.stringify keeps as written here.
 * @param {string} talkDate @param {string} note
 */
export function countersignatureDocument(talkDate, note) {
  return { note: note.trim() === "" ? null : note.trim(), talkDate, v: 2 };
}

/** @param {{app: import("./app.js").App, consent: any, reload: () => void}} props */
export function CountersignPanel({ app, consent, reload }) {
  const { t, session, i18n } = app;
  const [talkDate, setTalkDate] = useState(today());
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [opened, setOpened] = useState(/** @type {any} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const record = consent.countersignature;

  useEffect(() => {
    if (!record) return;
    session.call("openCountersignature", consent, record).then(setOpened, (error) => setProblem(problemOf(error)));
  }, [record?.signature]);

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const body = await session.call("countersignatureRecord", consent, countersignatureDocument(talkDate, note));
      await session.api("POST", `/api/consent/practice/${consent.id}/countersignature`, { body });
      reload();
    } catch (error) {
      setProblem(problemOf(error));
      setBusy(false);
    }
  }

  if (record) {
    return h("section", { class: "card", "aria-labelledby": "countersign-heading" },
      h("h2", { id: "countersign-heading" }, t("countersign.doneHeading")),
      problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
      opened ? h("dl", { class: "facts" },
        h("dt", {}, t("countersign.talkDate")), h("dd", {}, i18n.calendarDate(opened.talkDate)),
        h("dt", {}, t("countersign.note")), h("dd", {}, opened.note ?? "–"),
        h("dt", {}, t("countersign.at")), h("dd", {}, record.countersignedAt ? i18n.dateTime(record.countersignedAt) : "–"))
        : problem ? null : h("p", { role: "status" }, t("common.loading")),
      opened ? h("p", { class: "hint" }, t("countersign.verified")) : null);
  }
  if (!["SIGNED", "PAID"].includes(consent.status) || !mayCountersign(session.role)) return null;
  return h("section", { class: "card", "aria-labelledby": "countersign-heading" },
    h("h2", { id: "countersign-heading" }, t("countersign.heading")),
    h("p", {}, t("countersign.intro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    h("form", { onSubmit: submit, noValidate: true },
      h(Field, { id: "talk-date", label: t("countersign.talkDate"), type: "date", value: talkDate, onInput: setTalkDate, required: true }),
      h("div", { class: "field" },
        h("label", { for: "talk-note" }, t("countersign.noteOptional")),
        h("textarea", { id: "talk-note", rows: 3, maxLength: 2000, value: note,
          onInput: (/** @type {Event} */ e) => setNote(/** @type {HTMLTextAreaElement} */ (e.currentTarget).value) })),
      h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("countersign.submit"), busyLabel: t("countersign.signing") }))));
}
