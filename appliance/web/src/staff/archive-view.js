// The archive copy of a completed consent: the PDF is made here (archive-pdf.js), encrypted in
// the worker as a payload bound to the consent (purpose consent.archive) and signed, then
// uploaded once; the server never sees it in clear. Later the copy is downloaded, its signature
// checked and decrypted in the worker, and handed to the browser as a PDF file.
import { h } from "preact";
import { useState } from "preact/hooks";
import { download } from "./gdt-view.js";
import { problemOf } from "./problems.js";
import { Alert, Button } from "./ui.js";

/** @param {{app: import("./app.js").App, consent: any, read: any, reload: () => void}} props */
export function ArchivePanel({ app, consent, read, reload }) {
  const { t, session, i18n } = app;
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(/** @type {string | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const fileName = `${t("archive.fileName")}-${consent.type}-${consent.id.slice(0, 8)}.pdf`;

  async function store() {
    setBusy(true);
    setProblem(null);
    try {
      const countersignature = await session.call("openCountersignature", consent, consent.countersignature);
      const answersSha256 = await session.call("submissionDigest", consent.encryptedAnswers);
      const { makeArchivePdf } = await import("./archive-pdf.js");
      const pdf = await makeArchivePdf({ t: app.t, i18n }, {
        practice: session.practice?.name ?? "", consent, form: read.form, document: read.document, countersignature, answersSha256,
      });
      const { wrappedKey, ciphertext } = await session.call("encryptPayload", pdf, "consent.archive", consent.id);
      const signature = await session.call("signStatement", "consent.archive", { consentId: consent.id, wrappedKey });
      const body = new FormData();
      body.append("wrappedKey", wrappedKey);
      body.append("signature", signature);
      body.append("file", new Blob([ciphertext], { type: "application/octet-stream" }), "archive.pdf.enc");
      await session.api("POST", `/api/consent/practice/${consent.id}/archive`, { raw: body });
      reload();
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  async function fetchCopy() {
    setBusy(true);
    setProblem(null);
    try {
      const record = await session.api("GET", `/api/consent/practice/${consent.id}/archive`);
      await session.call("verifyStatement", "consent.archive", { consentId: consent.id, wrappedKey: record.wrappedKey },
        record.signature);
      const file = await session.api("GET", `/api/consent/practice/${consent.id}/archive/download`, { binary: true });
      const pdf = await session.call("decryptPayload", record.wrappedKey, file.data, "consent.archive", consent.id);
      download(pdf, fileName, "application/pdf");
      setDone(fileName);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  return h("section", { class: "card", "aria-labelledby": "archive-heading" },
    h("h2", { id: "archive-heading" }, t("archive.heading")),
    h("p", {}, consent.archive ? t("archive.stored", { date: i18n.dateTime(consent.archive.createdAt) }) : t("archive.intro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    done ? h(Alert, { kind: "success" }, t("archive.downloaded", { file: done })) : null,
    h("div", { class: "actions" }, consent.archive
      ? h(Button, { busy, label: t("archive.download"), busyLabel: t("archive.decrypting"), onClick: fetchCopy })
      : h(Button, { busy, label: t("archive.create"), busyLabel: t("archive.creating"), onClick: store })));
}
