// GDT export of a completed consent: the server writes the 6310 record, but has no names; the
// browser sends the identity it decrypted (the server uses it for this one file and keeps
// nothing, docs/gdt.md), and offers the answer as a download.
import { h } from "preact";
import { useState } from "preact/hooks";
import { problemOf } from "./problems.js";
import { Alert, Button, Field } from "./ui.js";

/**
 * Hands bytes (or a Blob, which stays in the blob store) to the browser as a file download
 * (a blob: URL, revoked after the click).
 * @param {Uint8Array | Blob} data @param {string} filename @param {string} type
 */
export function download(data, filename, type) {
  const url = URL.createObjectURL(data instanceof Blob ? data : new Blob([/** @type {BlobPart} */ (data)], { type }));
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = filename;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** @param {{app: import("./app.js").App, consent: any, identity: any}} props */
export function GdtPanel({ app, consent, identity }) {
  const { t, session } = app;
  const [number, setNumber] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(/** @type {string | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    if (!/^[A-Za-z0-9]{1,10}$/.test(number)) {
      setError(t("gdt.numberInvalid"));
      return;
    }
    setError(null);
    setBusy(true);
    setProblem(null);
    try {
      const file = await session.api("POST", "/api/gdt/generate", {
        binary: true,
        body: { consentId: consent.id, patientNumber: number, lastName: identity.lastName.slice(0, 28),
          firstName: identity.firstName.slice(0, 28), dateOfBirth: identity.dateOfBirth },
      });
      const name = file.filename ?? `${consent.id}.gdt`;
      download(file.data, name, "application/octet-stream");
      setDone(name);
    } catch (failure) {
      setProblem(problemOf(failure));
    } finally {
      setBusy(false);
    }
  }

  return h("section", { class: "card", "aria-labelledby": "gdt-heading" },
    h("h2", { id: "gdt-heading" }, t("gdt.heading")),
    h("p", {}, t("gdt.intro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    done ? h(Alert, { kind: "success" }, t("gdt.done", { file: done })) : null,
    h("form", { onSubmit: submit, noValidate: true, class: "inline-form" },
      h(Field, { id: "gdt-number", label: t("gdt.patientNumber"), hint: t("gdt.patientNumberHint"), value: number,
        onInput: setNumber, error, required: true }),
      h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("gdt.submit"), busyLabel: t("common.loading") }))));
}
