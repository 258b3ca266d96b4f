// The archive copy of a completed consent as a PDF, made in the browser with pdf-lib (loaded
// only when staff ask for it): the patient's copy (the form version's full text, the person,
// the answers, the comprehension attempts, the declaration, the signature image and what the
// server recorded), the physician's countersignature, and the verification data a later reader
// can recompute (form hash, link commitment, the practice's signatures, the answers' digest).
// Plain PDF 1.7 with the standard fonts: pdf-lib writes no PDF/A (no XMP, output intent or
// embedded fonts), so PDF/A-2b is not claimed.
import { PDFDocument, StandardFonts } from "pdf-lib";
import { Writer } from "../consent/copy-pdf.js";
import { answerText, withPractice } from "../consent/form.js";

/**
 * @typedef {import("../consent/form.js").FormDocument} FormDocument
 * @typedef {{t: (key: string, params?: Record<string, string | number>) => string,
 *   i18n: import("../shared/i18n.js").I18n}} Words
 */

/**
 * @param {Words} words
 * @param {{practice: string, consent: any, form: FormDocument, document: any,
 *   countersignature: {talkDate: string, note: string | null}, answersSha256: string}} input
 * @returns {Promise<Uint8Array>}
 */
export async function makeArchivePdf({ t, i18n }, { practice, consent, form, document, countersignature, answersSha256 }) {
  const doc = await PDFDocument.create();
  doc.setTitle(`${t("archive.pdfTitle")}: ${form.title}`);
  doc.setSubject(`consent ${consent.id}, formHash ${form.formHash}`);
  doc.setAuthor(practice);
  doc.setLanguage(form.locale);
  doc.setCreationDate(new Date(consent.countersignature?.countersignedAt ?? consent.signedAt));
  const fonts = {
    regular: await doc.embedFont(StandardFonts.Helvetica),
    bold: await doc.embedFont(StandardFonts.HelveticaBold),
    mono: await doc.embedFont(StandardFonts.Courier),
  };
  const out = new Writer(doc, fonts);
  const when = (/** @type {string} */ iso) => i18n.dateTime(iso, { dateStyle: "long", timeStyle: "long" });
  const mono = (/** @type {string} */ label, /** @type {string} */ value) => {
    out.text(label, { font: fonts.bold, size: 9.5, after: 0 });
    out.text(value, { font: fonts.mono, size: 8.5, after: 4 });
  };

  out.text(t("archive.pdfTitle"), { size: 18, font: fonts.bold, after: 10 });
  out.pair(t("archive.practice"), practice);
  out.pair(t("archive.consent"), `${form.title} (${form.formId}, v${form.version}, ${form.locale})`);
  out.pair(t("read.signedAt"), consent.signedAt ? when(consent.signedAt) : "-");
  out.pair(t("read.ip"), consent.signatureIp ?? "-");
  out.pair(t("read.userAgent"), consent.signatureUserAgent ?? "-");

  out.heading(t("countersign.doneHeading"));
  out.pair(t("countersign.talkDate"), i18n.calendarDate(countersignature.talkDate));
  out.pair(t("countersign.note"), countersignature.note ?? "-");
  if (consent.countersignature?.countersignedAt) out.pair(t("countersign.at"), when(consent.countersignature.countersignedAt));

  out.heading(t("archive.verification"));
  out.text(t("archive.verificationText"), { size: 9, after: 6 });
  mono("consentId", consent.id);
  mono("formHash", form.formHash);
  mono("linkCommitment", consent.linkCommitment ?? "-");
  mono(t("archive.consentSignature"), consent.signature ?? "-");
  mono("answersSha256", answersSha256);
  mono(t("archive.countersignatureSignature"), consent.countersignature?.signature ?? "-");

  out.formText(form, practice);

  const answerWords = { yes: t("common.yes"), no: t("common.no"), none: t("common.none"),
    date: (/** @type {string} */ iso) => i18n.calendarDate(iso) };
  out.heading(t("read.identity"));
  for (const key of ["lastName", "firstName", "dateOfBirth", "email", "phone"]) {
    const value = document.identity[key];
    if (value) out.pair(t(`patients.${key}`), key === "dateOfBirth" ? i18n.calendarDate(value) : value);
  }
  for (const group of form.fieldGroups) {
    out.heading(group.title);
    for (const field of group.fields.filter((f) => f.id in document.answers)) {
      let value = answerText(field, document.answers[field.id], answerWords);
      if (field.other && document.answers[field.other.id]) value += `; ${field.other.label}: ${document.answers[field.other.id]}`;
      out.pair(field.label, value);
    }
  }
  if (form.comprehension.length) {
    out.heading(t("read.comprehension"));
    for (const question of form.comprehension) {
      const result = document.comprehension.find((/** @type {any} */ c) => c.id === question.id);
      const label = (/** @type {string} */ id) => question.choices.find((c) => c.id === id)?.label ?? id;
      out.text(question.question, { font: fonts.bold, after: 1 });
      out.text(t("read.attempts", { count: result.attempts.length, answers: result.attempts.map(label).join(" | ") }),
        { size: 9, after: 6 });
    }
  }
  out.heading(form.declaration.title);
  for (const statement of form.declaration.statements) {
    out.text(withPractice(statement.text, practice), { indent: 24, bullet: "[x]", after: 3 });
  }
  out.heading(t("read.signature"));
  if (document.signature.format === "image/png") {
    const image = await doc.embedPng(document.signature.data);
    const width = 240;
    const height = (width * image.height) / image.width;
    out.room(height + 10);
    out.y -= height + 4;
    out.page.drawImage(image, { x: 56, y: out.y, width, height });
    out.y -= 8;
  } else {
    out.text(document.signature.text, { size: 14 });
  }
  const pages = doc.getPages();
  pages.forEach((page, index) => {
    const footer = out.safe(t("archive.footer", { page: index + 1, pages: pages.length, id: consent.id }), fonts.regular);
    page.drawText(footer, { x: 56, y: 32, size: 7.5, font: fonts.regular });
  });
  return doc.save();
}
