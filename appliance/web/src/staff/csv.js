// CSV as the audit exports write it (RFC 4180 quoting, ";" in the German dialect, "," in
// rfc4180): rows of cells, quoted cells with doubled quotes and line breaks inside. Pure, so
// that the Node tests check it.

/**
 * @param {string} text the file's text (a byte-order mark at the start is ignored)
 * @param {string} [delimiter]
 * @returns {string[][]} the rows; a last line break ends the last row, it does not add one
 */
export function parseCsv(text, delimiter = ";") {
  /** @type {string[][]} */
  const rows = [];
  /** @type {string[]} */
  let row = [];
  let cell = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
