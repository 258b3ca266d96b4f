// The copy to keep (BGB 630e(2)): a PDF made on the patient's device with pdf-lib, holding the
// practice, the full text of the form version signed, the answers, the comprehension check,
// the declaration, the signature image, the time and the form hash. This module (and pdf-lib
// with it) is loaded only when the patient asks for the copy.
import { PDFDocument, StandardFonts, rgb } from "pdf-lib";
import { IDENTITY_FIELDS, answerOf, answerText, isVisible, withPractice } from "./form.js";
import { answerWords } from "./review-view.js";

/**
 * @typedef {import("./app.js").App} App
 * @typedef {import("pdf-lib").PDFFont} PDFFont
 * @typedef {import("pdf-lib").PDFPage} PDFPage
 * @typedef {import("./form.js").Block} Block
 */

const A4 = /** @type {[number, number]} */ ([595.28, 841.89]);
const MARGIN = 56;
const BODY = 10.5;
const INK = rgb(0.07, 0.09, 0.15);
const MUTED = rgb(0.3, 0.33, 0.4);

/** Stand-ins for characters the PDF's standard fonts (WinAnsi) cannot show. */
const REPLACEMENTS = /** @type {Record<string, string>} */ ({
  "\u2010": "-", "\u2011": "-", "\u2212": "-", "\u2192": "->", "\u2190": "<-", "\u2264": "<=",
  "\u2265": ">=", "\u2248": "~", "\u2713": "x", "\u2714": "x", "\u202f": " ", "\u2009": " ",
  "\u200b": "", "\u00ad": "",
});

/** Lays out text, headings and label/value pairs on A4 pages (also the staff app's archive copy). */
export class Writer {
  /**
   * @param {PDFDocument} doc
   * @param {{regular: PDFFont, bold: PDFFont, mono: PDFFont}} fonts
   */
  constructor(doc, fonts) {
    this.doc = doc;
    this.fonts = fonts;
    /** @type {PDFPage} */
    this.page = doc.addPage(A4);
    this.y = A4[1] - MARGIN;
    /** @type {Map<string, boolean>} */
    this.encodable = new Map();
  }

  /** Text the font can encode: known stand-ins, else "?". @param {string} text @param {PDFFont} font */
  safe(text, font) {
    let out = "";
    for (const char of text.normalize("NFC")) {
      const replaced = REPLACEMENTS[char] ?? char;
      for (const c of replaced) {
        const key = `${font.name}:${c}`;
        if (!this.encodable.has(key)) {
          let ok = true;
          try {
            font.encodeText(c);
          } catch {
            ok = false;
          }
          this.encodable.set(key, ok);
        }
        out += this.encodable.get(key) ? c : "?";
      }
    }
    return out;
  }

  /** @param {number} height */
  room(height) {
    if (this.y - height < MARGIN + 20) {
      this.page = this.doc.addPage(A4);
      this.y = A4[1] - MARGIN;
    }
  }

  /**
   * Writes wrapped text.
   * @param {string} text
   * @param {{size?: number, font?: PDFFont, indent?: number, before?: number, after?: number,
   *   color?: import("pdf-lib").RGB, bullet?: string}} [options]
   */
  text(text, { size = BODY, font = this.fonts.regular, indent = 0, before = 0, after = 4, color = INK,
    bullet = "" } = {}) {
    this.y -= before;
    const width = A4[0] - 2 * MARGIN - indent;
    const leading = size * 1.35;
    for (const paragraph of this.safe(text, font).split("\n")) {
      const lines = wrap(paragraph, font, size, width);
      lines.forEach((line, index) => {
        this.room(leading);
        this.y -= leading;
        if (bullet && index === 0) {
          const x = MARGIN + indent - font.widthOfTextAtSize(bullet, size) - 5;
          this.page.drawText(bullet, { x, y: this.y, size, font, color });
        }
        this.page.drawText(line, { x: MARGIN + indent, y: this.y, size, font, color });
      });
    }
    this.y -= after;
  }

  /** @param {string} text */
  heading(text) {
    this.room(40);
    this.text(text, { size: 13, font: this.fonts.bold, before: 10, after: 4 });
  }

  /** @param {Block[]} blocks @param {string} practice */
  blocks(blocks, practice) {
    for (const block of blocks) {
      if (block.kind === "list") {
        for (const item of block.items) this.text(withPractice(item, practice), { indent: 14, bullet: "-", after: 2 });
        this.y -= 3;
      } else {
        this.text(withPractice(block.text, practice));
      }
    }
  }

  /**
   * The full text of the form version signed: title, sections, the practice's own block, privacy.
   * @param {import("./form.js").FormDocument} form @param {string} practice
   */
  formText(form, practice) {
    this.text(form.title, { size: 15, font: this.fonts.bold, before: 8, after: 6 });
    for (const section of [...form.sections, ...(form.practiceText ? [form.practiceText] : []), form.privacy]) {
      this.heading(withPractice(section.title, practice));
      this.blocks(section.blocks, practice);
    }
  }

  /** A label and its value, kept on one page. @param {string} label @param {string} value */
  pair(label, value) {
    this.room(2 * BODY * 1.35 + 8);
    this.text(label, { font: this.fonts.bold, after: 0, size: 9.5, color: MUTED });
    this.text(value || "-", { after: 5 });
  }
}

/**
 * Greedy word wrap by measured width; a word longer than the line is cut.
 * @param {string} text
 * @param {PDFFont} font
 * @param {number} size
 * @param {number} width
 */
function wrap(text, font, size, width) {
  const lines = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (font.widthOfTextAtSize(candidate, size) <= width) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    line = word;
    while (font.widthOfTextAtSize(line, size) > width) {
      let cut = line.length - 1;
      while (cut > 1 && font.widthOfTextAtSize(line.slice(0, cut), size) > width) cut -= 1;
      lines.push(line.slice(0, cut));
      line = line.slice(cut);
    }
  }
  lines.push(line);
  return lines;
}

/**
 * The copy as PDF bytes and a file name.
 * @param {App} app
 * @returns {Promise<{bytes: Uint8Array, fileName: string}>}
 */
export async function makeCopy(app) {
  const form = /** @type {import("./form.js").FormDocument} */ (app.form);
  const submitted = /** @type {{signedAt: string}} */ (app.submitted);
  const practice = app.practiceName;
  const t = (/** @type {string} */ key, /** @type {Record<string, string | number>} */ params = {}) =>
    app.t(`consent.copy.${key}`, params);
  const doc = await PDFDocument.create();
  doc.setTitle(`${t("title")}: ${form.title}`);
  doc.setSubject(`formHash ${form.formHash}`);
  doc.setAuthor(practice);
  doc.setLanguage(form.locale);
  doc.setCreationDate(new Date(submitted.signedAt));
  const fonts = {
    regular: await doc.embedFont(StandardFonts.Helvetica),
    bold: await doc.embedFont(StandardFonts.HelveticaBold),
    mono: await doc.embedFont(StandardFonts.Courier),
  };
  const out = new Writer(doc, fonts);

  out.text(t("title"), { size: 18, font: fonts.bold, after: 10 });
  out.pair(t("practice"), practice);
  out.pair(t("treatment"), `${form.title} (${form.formId}, ${t("version", { version: form.version, locale: form.locale })})`);
  out.pair(t("signedAt"), app.i18n.dateTime(submitted.signedAt, { dateStyle: "full", timeStyle: "long" }));
  out.pair(t("signedAtUtc"), submitted.signedAt);
  out.text(t("formHash"), { font: fonts.bold, after: 0, size: 9.5, color: MUTED });
  out.text(form.formHash, { font: fonts.mono, size: 9, after: 2 });
  out.text(t("formHashNote"), { size: 9, color: MUTED, after: 8 });

  out.formText(form, practice);

  const words = answerWords(app);
  out.heading(t("person"));
  for (const field of IDENTITY_FIELDS) {
    const answer = answerOf(field, app.values);
    if (answer) out.pair(app.t(`consent.identity.${field.id}`), answerText(field, answer, words));
  }
  out.heading(t("answers"));
  for (const group of form.fieldGroups) {
    out.text(group.title, { font: fonts.bold, before: 4, after: 4 });
    for (const field of group.fields.filter((f) => isVisible(f, app.values))) {
      let value = answerText(field, answerOf(field, app.values), words);
      const other = field.other ? String(app.values[field.other.id] ?? "").trim() : "";
      if (other) value += `; ${field.other?.label}: ${other}`;
      out.pair(field.label, value);
    }
  }
  if (form.comprehension.length > 0) {
    out.heading(t("comprehension"));
    for (const question of form.comprehension) {
      const result = app.comprehension[question.id];
      const label = (/** @type {string} */ id) => question.choices.find((c) => c.id === id)?.label ?? id;
      out.text(question.question, { font: fonts.bold, after: 1 });
      out.text(label(question.correct), { after: 1 });
      out.text(t("attempts", { attempts: (result?.attempts || []).map(label).join(" | ") }),
        { size: 9, color: MUTED, after: 6 });
    }
  }
  out.heading(form.declaration.title);
  for (const statement of form.declaration.statements) {
    if (app.declaration.has(statement.id)) out.text(statement.text, { indent: 24, bullet: "[x]", after: 3 });
  }

  out.heading(t("signature"));
  if (app.signature.png) {
    const image = await doc.embedPng(app.signature.png);
    const width = 240;
    const height = (width * image.height) / image.width;
    out.room(height + 10);
    out.y -= height + 4;
    out.page.drawImage(image, { x: MARGIN, y: out.y, width, height });
    out.page.drawLine({ start: { x: MARGIN, y: out.y - 2 }, end: { x: MARGIN + width, y: out.y - 2 },
      thickness: 0.5, color: MUTED });
    out.y -= 8;
  }
  out.text(app.i18n.dateTime(submitted.signedAt), { size: 9, color: MUTED });

  const pages = doc.getPages();
  pages.forEach((page, index) => {
    const footer = `${out.safe(t("page", { page: index + 1, pages: pages.length }), fonts.regular)}  -  ${
      out.safe(t("footer"), fonts.regular)}`;
    page.drawText(footer, { x: MARGIN, y: MARGIN - 24, size: 7.5, font: fonts.regular, color: MUTED });
  });

  const day = submitted.signedAt.slice(0, 10);
  const fileName = `${t("fileName")}-${form.formId}-${day}.pdf`.replace(/[^\p{L}\p{N}._-]+/gu, "-");
  return { bytes: await doc.save(), fileName };
}
