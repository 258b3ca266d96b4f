// One consent: its state and link (a fresh link, revoking with a reason) and, once signed,
// what the patient submitted: decrypted and checked in the worker (the practice's signature of
// the link, the answers' binding to this consent, the form hash, the link proof, the sealed
// identity) and shown only when every check passed; then linking the identity to a patient,
// the physician's countersignature, the archive copy and the GDT export.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ArchivePanel } from "./archive-view.js";
import { CountersignPanel } from "./countersign-view.js";
import { DeliverLink } from "./deliver-view.js";
import { Link } from "./frame-view.js";
import { GdtPanel } from "./gdt-view.js";
import { createPatient } from "./patients-view.js";
import { displayName } from "./patient-names.js";
import { problemOf } from "./problems.js";
import { Submission } from "./submission-view.js";
import { Alert, Button, Field, MailStatus } from "./ui.js";

/** Statuses whose consent carries the patient's answers. */
export const SUBMITTED = new Set(["SIGNED", "PAID", "COMPLETED"]);

/**
 * Fetches and opens a submitted consent: the form version it names (with the practice text of
 * then), the linked patient, and the worker's checks.
 * @param {import("./session.js").Session} session @param {any} consent
 */
export async function readConsent(session, consent) {
  const form = await session.api("GET", `/api/forms/${consent.formId}/${consent.formVersion}`, {
    query: { locale: consent.formLocale, practiceTextRevision: String(consent.practiceTextRevision ?? 0) },
  });
  const patient = consent.patientId ? await session.api("GET", `/api/patients/${consent.patientId}`) : null;
  const opened = await session.call("openConsent", { consent, form, lookupSalt: session.practice?.lookupSalt, patient });
  return { form, patient, ...opened };
}

/** @param {{app: import("./app.js").App}} props */
export function ConsentView({ app }) {
  const { t, session, route, i18n } = app;
  const id = route.params.id;
  const [consent, setConsent] = useState(/** @type {any} */ (null));
  const [read, setRead] = useState(/** @type {any} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const [version, setVersion] = useState(0);
  const reload = () => setVersion(version + 1);

  useEffect(() => {
    let current = true;
    (async () => {
      try {
        const record = await session.api("GET", `/api/consent/practice/${id}`);
        if (!current) return;
        setConsent(record);
        if (record.signature) await session.call("verifyConsent", record);
        if (SUBMITTED.has(record.status) && record.encryptedAnswers) {
          const opened = await readConsent(session, record);
          if (current) setRead(opened);
        }
      } catch (error) {
        if (current) setProblem(problemOf(error));
      }
    })();
    return () => { current = false; };
  }, [id, version]);

  if (!consent) {
    return h("div", {}, h("h1", {}, t("consents.detailTitle")),
      problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : h("p", { role: "status" }, t("common.loading")));
  }
  return h("div", {},
    h("h1", {}, `${t(`type.${consent.type}`)} · ${t(`status.${consent.status}`)}`),
    h("dl", { class: "facts" },
      h("dt", {}, t("consents.created")), h("dd", {}, i18n.dateTime(consent.createdAt)),
      consent.status === "PENDING" ? [h("dt", {}, t("consents.expires")), h("dd", {}, i18n.dateTime(consent.expiresAt))] : null,
      consent.revokedAt ? [h("dt", {}, t("consents.revokedAt")), h("dd", {}, i18n.dateTime(consent.revokedAt))] : null,
      consent.revokeReason ? [h("dt", {}, t("consents.reason")), h("dd", {}, consent.revokeReason)] : null,
      consent.mail ? [h("dt", {}, t("consents.mail")), h("dd", {}, h(MailStatus, { app, mail: consent.mail }))] : null,
      h("dt", {}, t("consents.patient")),
      h("dd", {}, consent.patientId ? h(Link, { app, href: `/patients/${consent.patientId}` }, read?.patient ? t("consents.linkedPatient") : t("consents.showPatient")) : t("consents.noPatient"))),
    consent.signature ? null : h(Alert, { kind: "warning" }, t("read.unsigned")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    consent.status === "PENDING" ? h(PendingPanel, { app, consent, reload }) : null,
    SUBMITTED.has(consent.status) && !read && !problem ? h("p", { role: "status" }, t("read.decrypting")) : null,
    read ? [
      h(Verification, { app, consent, read, key: "v" }),
      consent.patientId ? null : h(LinkPatient, { app, consent, identity: read.document.identity, reload, key: "l" }),
      h(CountersignPanel, { app, consent, reload, key: "c" }),
      consent.status === "COMPLETED" && consent.countersignature ? h(ArchivePanel, { app, consent, read, reload, key: "a" }) : null,
      consent.status === "COMPLETED" ? h(GdtPanel, { app, consent, identity: read.document.identity, key: "g" }) : null,
      h(Submission, { app, form: read.form, document: read.document, consent, key: "s" }),
    ] : null,
    ["PENDING", "SIGNED", "PAID"].includes(consent.status) ? h(RevokePanel, { app, consent, reload }) : null);
}

/** What the checks found, said visibly. @param {{app: import("./app.js").App, consent: any, read: any}} props */
function Verification({ app, consent, read }) {
  const { t } = app;
  const checks = ["read.checkSignature", "read.checkBinding", "read.checkFormHash", "read.checkLinkProof", "read.checkIdentity"];
  return h("section", { class: "card verified", "aria-labelledby": "verify-heading" },
    h("h2", { id: "verify-heading" }, t("read.verifiedTitle")),
    h("ul", { class: "checks" }, checks.map((key) => h("li", { key }, h("span", { "aria-hidden": "true", class: "check-mark" }, "✓"), " ",
      t(key, { formHash: consent.formHash.slice(0, 16) })))),
    read.identityMismatch ? h(Alert, { kind: "warning" }, t("read.identityMismatch")) : null);
}

/** @param {{app: import("./app.js").App, consent: any, reload: () => void}} props */
function PendingPanel({ app, consent, reload }) {
  const { t, session } = app;
  const [link, setLink] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  async function fresh() {
    setBusy(true);
    setProblem(null);
    try {
      const body = await session.call("newLinkRecord", consent);
      const answer = await session.api("POST", `/api/consent/practice/${consent.id}/link`, { body });
      setLink(await session.call("linkWithFragment", answer.link));
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }
  return h("section", { class: "card", "aria-labelledby": "pending-heading" },
    h("h2", { id: "pending-heading" }, t("consents.linkHeading")),
    h("p", {}, t("consents.freshLinkIntro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    link ? h(DeliverLink, { app, link }) : h("div", { class: "actions" },
      h(Button, { busy, label: t("consents.freshLink"), busyLabel: t("consents.creating"), onClick: fresh })));
}

/** @param {{app: import("./app.js").App, consent: any, reload: () => void}} props */
function RevokePanel({ app, consent, reload }) {
  const { t, session } = app;
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  async function revoke(/** @type {Event} */ e) {
    e.preventDefault();
    setBusy(true);
    try {
      await session.api("PATCH", `/api/consent/${consent.id}/revoke`, { body: reason.trim() ? { reason: reason.trim() } : {} });
      reload();
    } catch (error) {
      setProblem(problemOf(error));
      setBusy(false);
    }
  }
  return h("section", { class: "card", "aria-labelledby": "revoke-heading" },
    h("h2", { id: "revoke-heading" }, t("consents.revokeHeading")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    open ? h("form", { onSubmit: revoke, noValidate: true },
      h(Field, { id: "revoke-reason", label: t("consents.reason"), value: reason, onInput: setReason, required: true }),
      h("div", { class: "actions" },
        h(Button, { type: "submit", kind: "danger", busy, label: t("consents.revokeConfirm") }),
        h("button", { type: "button", class: "button button-secondary", onClick: () => setOpen(false) }, t("common.cancel"))))
      : h("div", { class: "actions" }, h(Button, { kind: "danger", label: t("consents.revoke"), onClick: () => setOpen(true) })));
}

/**
 * The staff decision after reading (docs/crypto.md): the submission is never attached by its
 * lookupHash alone. Offers the patient with the same lookupHash, if any, or a new one.
 * @param {{app: import("./app.js").App, consent: any, identity: any, reload: () => void}} props
 */
function LinkPatient({ app, consent, identity, reload }) {
  const { t, session } = app;
  const [match, setMatch] = useState(/** @type {any} */ (undefined));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  useEffect(() => {
    (async () => {
      try {
        const digest = await session.call("lookupHash", session.practice?.lookupSalt, identity.lastName, identity.firstName, identity.dateOfBirth);
        const patient = await session.api("GET", `/api/patients/lookup/${digest}`);
        setMatch({ patient, identity: await session.call("openPatient", patient, { allowUnconfirmed: true }) });
      } catch {
        setMatch(null);
      }
    })();
  }, []);
  /** @param {string} patientId */
  async function link(patientId) {
    const body = await session.call("patientLinkRecord", consent, patientId);
    await session.api("PUT", `/api/consent/practice/${consent.id}/patient`, { body });
  }
  async function decide(/** @type {"existing" | "new"} */ choice) {
    setBusy(true);
    setProblem(null);
    try {
      const patientId = choice === "existing" ? match.patient.id : (await createPatient(session, identity)).id;
      await link(patientId);
      reload();
    } catch (error) {
      setProblem(problemOf(error));
      setBusy(false);
    }
  }
  return h("section", { class: "card", "aria-labelledby": "link-heading" },
    h("h2", { id: "link-heading" }, t("link.heading")),
    h("p", {}, t("link.intro", { name: displayName(identity) })),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    match === undefined ? h("p", { role: "status" }, t("common.loading")) : h("div", { class: "actions" },
      match ? h(Button, { busy, label: t("link.existing", { name: displayName(match.identity) }), onClick: () => decide("existing") }) : null,
      h(Button, { busy, kind: match ? "secondary" : "primary", label: t("link.create"), onClick: () => decide("new") })));
}
