// The consent link as a QR code for the patient's phone: qrcode-generator computes the modules,
// this module turns them into one SVG path (no inline styles, no data URL, so the CSP stays
// strict). Pure, checked by the Node tests.
import qrcode from "qrcode-generator";

/**
 * The dark modules of `text` as an SVG path over a square of `size` modules (quiet zone
 * included: 4 modules on each side).
 * @param {string} text a URL (ASCII)
 * @returns {{size: number, path: string}}
 */
export function qrPath(text) {
  const code = qrcode(0, "M");
  code.addData(text, "Byte");
  code.make();
  const count = code.getModuleCount();
  const quiet = 4;
  const parts = [];
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (code.isDark(row, col)) parts.push(`M${col + quiet} ${row + quiet}h1v1h-1z`);
    }
  }
  return { size: count + 2 * quiet, path: parts.join("") };
}
