// WCAG 2.1 contrast, for a practice's brand colour: it is used only where it keeps text at
// 4.5:1 (AA) and controls at 3:1 against the page; otherwise the page's own colours stay.

/** @param {string} hex "#rrggbb" @returns {[number, number, number] | null} */
export function parseHex(hex) {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
  if (!match) return null;
  return [parseInt(match[1], 16), parseInt(match[2], 16), parseInt(match[3], 16)];
}

/** Relative luminance (WCAG 2.1). @param {[number, number, number]} rgb */
export function luminance(rgb) {
  const [r, g, b] = rgb.map((channel) => {
    const c = channel / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** @param {[number, number, number]} a @param {[number, number, number]} b */
export function contrastRatio(a, b) {
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (high + 0.05) / (low + 0.05);
}

const WHITE = /** @type {[number, number, number]} */ ([255, 255, 255]);

/**
 * Where a brand colour may go on a white page.
 * @param {string} hex
 * @returns {{band: string, onBand: string, action: string | null, onAction: string}}
 *   band: a header band, with text on it in onBand: white where it reads at 4.5:1, else black
 *   (which then always does: the two cannot both fall below 4.5:1 on one colour);
 *   action: buttons and links, only if the colour has 4.5:1 against white and white text on
 *   it reads at 4.5:1 too (null: keep the page's own colour).
 */
export function brandUsage(hex) {
  const rgb = parseHex(hex);
  if (!rgb) return { band: "", onBand: "", action: null, onAction: "#ffffff" };
  const onWhite = contrastRatio(rgb, WHITE);
  return {
    band: hex.toLowerCase(),
    onBand: onWhite >= 4.5 ? "#ffffff" : "#000000",
    action: onWhite >= 4.5 ? hex.toLowerCase() : null,
    onAction: "#ffffff",
  };
}
