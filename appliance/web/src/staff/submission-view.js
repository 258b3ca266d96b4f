// A signed consent as the patient saw and answered it: the form version's text (with the
// practice's name filled in as on the patient page), the answers with their labels, the
// comprehension attempts, the declaration, the signature image, and what the server recorded
// (time, address, browser). Only shown after every check of the contract passed.
import { h } from "preact";
import { answerText, withPractice } from "../consent/form.js";

/**
 * @typedef {import("../consent/form.js").FormDocument} FormDocument
 * @typedef {import("../consent/form.js").Block} Block
 */

/** @param {{blocks: Block[], practice: string}} props */
function Blocks({ blocks, practice }) {
  return blocks.map((block, i) => block.kind === "list"
    ? h("ul", { key: i }, block.items.map((item, j) => h("li", { key: j }, withPractice(item, practice))))
    : h("p", { key: i }, withPractice(block.text, practice)));
}

/**
 * @param {{app: import("./app.js").App, form: FormDocument, document: any, consent: any}} props
 */
export function Submission({ app, form, document, consent }) {
  const { t, i18n } = app;
  const practice = app.session.practice?.name ?? "";
  const words = { yes: t("common.yes"), no: t("common.no"), none: t("common.none"), date: (/** @type {string} */ iso) => i18n.calendarDate(iso) };
  const answers = document.answers;
  const identity = document.identity;
  const signature = document.signature;
  return h("article", { class: "submission", lang: form.locale, "aria-labelledby": "submission-title" },
    h("h2", { id: "submission-title" }, form.title),
    form.sections.map((section) => h("section", { key: section.id, class: "form-section" },
      h("h3", {}, section.title), h(Blocks, { blocks: section.blocks, practice }))),
    form.practiceText ? h("section", { class: "form-section" }, h("h3", {}, form.practiceText.title),
      h(Blocks, { blocks: form.practiceText.blocks, practice })) : null,
    h("section", { class: "form-section", lang: i18n.locale },
      h("h3", {}, t("read.identity")),
      h("dl", { class: "answers" },
        ["lastName", "firstName", "dateOfBirth", "email", "phone"].filter((k) => identity[k]).map((k) => [
          h("dt", { key: `${k}-t` }, t(`patients.${k}`)),
          h("dd", { key: `${k}-d` }, k === "dateOfBirth" ? i18n.calendarDate(identity[k]) : identity[k])]))),
    form.fieldGroups.map((group) => h("section", { key: group.id, class: "form-section" },
      h("h3", {}, group.title),
      h("dl", { class: "answers" }, group.fields.filter((field) => field.id in answers).map((field) => [
        h("dt", { key: `${field.id}-t` }, field.label),
        h("dd", { key: `${field.id}-d` }, answerText(field, answers[field.id], words),
          field.other && answers[field.other.id] ? h("span", { class: "other-answer" }, ` · ${field.other.label}: ${answers[field.other.id]}`) : null)])))),
    form.comprehension.length ? h("section", { class: "form-section" },
      h("h3", { lang: i18n.locale }, t("read.comprehension")),
      h("ol", {}, form.comprehension.map((question) => {
        const result = document.comprehension.find((/** @type {any} */ c) => c.id === question.id);
        const label = (/** @type {string} */ id) => question.choices.find((c) => c.id === id)?.label ?? id;
        return h("li", { key: question.id }, h("p", {}, question.question),
          h("p", { lang: i18n.locale, class: "hint" }, t("read.attempts", {
            count: result.attempts.length, answers: result.attempts.map(label).join(" → "),
          }), " ", result.passed ? t("read.passed") : t("read.notPassed")));
      }))) : null,
    h("section", { class: "form-section" },
      h("h3", {}, form.declaration.title),
      h("ul", { class: "declaration" }, form.declaration.statements.map((s) => h("li", { key: s.id }, withPractice(s.text, practice))))),
    form.privacy ? h("section", { class: "form-section" }, h("h3", {}, form.privacy.title),
      h(Blocks, { blocks: form.privacy.blocks, practice })) : null,
    h("section", { class: "form-section", lang: i18n.locale },
      h("h3", {}, t("read.signature")),
      signature.format === "typed"
        ? h("p", { class: "typed-signature" }, signature.text)
        : h("img", { class: "signature-image", src: `data:image/png;base64,${signature.data}`, width: signature.width,
          height: signature.height, alt: t("read.signatureAlt", { name: `${identity.firstName} ${identity.lastName}` }) }),
      h("dl", { class: "facts" },
        h("dt", {}, t("read.signedAt")), h("dd", {}, consent.signedAt ? i18n.dateTime(consent.signedAt, { dateStyle: "long", timeStyle: "medium" }) : "–"),
        h("dt", {}, t("read.ip")), h("dd", {}, consent.signatureIp ?? "–"),
        h("dt", {}, t("read.userAgent")), h("dd", { class: "small" }, consent.signatureUserAgent ?? "–"))));
}
