// The drawings treatment plans and templates place injection points on: one plain SVG outline
// per diagram type of the API (appliance/models/treatment.py DIAGRAM_TYPES), drawn in a
// 200 x 250 view box, and the arithmetic between a place in the drawing and the point's x and y
// (percent of the drawing's width and height, as the API and docs/domain.md define them). Pure,
// so that the Node tests check it; diagram-view.js renders it.

/** The view box every drawing uses: width and height in SVG user units (aspect 4:5). */
export const VIEW = Object.freeze({ width: 200, height: 250 });

/**
 * A stroke of a drawing: `d` an SVG path in view-box units; `detail` strokes are drawn
 * lighter; `mirror` strokes are drawn a second time mirrored at the vertical centre line.
 * @typedef {{d: string, detail?: boolean, mirror?: boolean}} Stroke
 */

const HAND = "M 28 240 L 22 200 L 20 120 L 20 70 Q 26 60 32 70 L 32 120 L 34 120 L 34 58 Q 40 48 46 58"
  + " L 46 120 L 48 120 L 48 60 Q 54 50 60 60 L 60 120 L 62 120 L 62 75 Q 68 65 74 75 L 74 150"
  + " L 90 128 Q 98 124 96 136 L 78 185 L 70 240";
const PROFILE = [
  { d: "M 140 40 C 100 25 62 40 58 85 L 56 96 L 48 120 L 57 124 L 55 140 Q 60 145 57 150 Q 51 156 57 160"
    + " Q 55 167 60 172 Q 62 190 82 195 Q 102 199 116 188 L 118 240" },
  { d: "M 140 40 C 178 55 178 122 150 152 L 150 240" },
  { d: "M 118 104 C 134 94 140 126 124 136", detail: true },
  { d: "M 64 99 Q 71 95 78 99", detail: true },
  { d: "M 60 90 Q 70 84 82 88", detail: true },
  { d: "M 62 40 C 80 30 120 28 140 40", detail: true },
];

/** @type {Readonly<Record<string, Stroke[]>>} The drawings by diagram type. */
export const DRAWINGS = Object.freeze({
  FACE_FRONT: [
    { d: "M 38 100 C 38 36 162 36 162 100 C 162 150 140 190 100 200 C 60 190 38 150 38 100 Z" },
    { d: "M 38 100 C 27 98 27 126 41 129", mirror: true },
    { d: "M 78 196 L 76 240", mirror: true },
    { d: "M 46 82 C 60 48 140 48 154 82", detail: true },
    { d: "M 62 92 Q 76 84 90 90", mirror: true, detail: true },
    { d: "M 64 104 Q 76 97 88 104 Q 76 110 64 104 Z", mirror: true, detail: true },
    { d: "M 100 100 L 95 134 Q 100 140 105 134", detail: true },
    { d: "M 91 138 Q 79 150 82 163", mirror: true, detail: true },
    { d: "M 80 160 Q 90 153 100 157 Q 110 153 120 160 Q 100 173 80 160 Z" },
    { d: "M 80 160 Q 100 164 120 160", detail: true },
  ],
  FACE_LEFT: PROFILE,
  // The right profile is the left one mirrored: drawn by diagram-view.js with a transform.
  FACE_RIGHT: PROFILE,
  NECK_DECOLLETE: [
    { d: "M 58 8 Q 100 44 142 8", detail: true },
    { d: "M 72 20 L 74 82 Q 56 98 18 106 L 6 124 L 6 246", mirror: true },
    { d: "M 44 116 Q 74 108 96 121", mirror: true, detail: true },
    { d: "M 100 126 L 100 200", detail: true },
    { d: "M 40 214 Q 66 236 94 222", mirror: true, detail: true },
  ],
  HANDS: [
    { d: HAND, mirror: true },
    { d: "M 26 104 L 72 104", mirror: true, detail: true },
  ],
  SCALP: [
    { d: "M 100 22 C 170 22 182 120 170 170 C 160 226 40 226 30 170 C 18 120 30 22 100 22 Z" },
    { d: "M 92 22 L 100 8 L 108 22", detail: true },
    { d: "M 26 120 C 12 118 12 150 28 152", mirror: true },
    { d: "M 100 34 L 100 140", detail: true },
    { d: "M 88 150 A 12 12 0 1 0 112 150 A 12 12 0 1 0 88 150 Z", detail: true },
  ],
});

/** Drawings shown mirrored as a whole (the right profile). */
export const MIRRORED = new Set(["FACE_RIGHT"]);

/** The transform that mirrors at the vertical centre line of the view box. */
export const MIRROR_TRANSFORM = `translate(${VIEW.width} 0) scale(-1 1)`;

/** A percentage clamped to 0..100 and rounded to one decimal (a tenth of a percent is finer
 * than a finger can place). @param {number} value */
export function clampPercent(value) {
  if (!Number.isFinite(value)) return 0;
  return Math.round(Math.min(100, Math.max(0, value)) * 10) / 10;
}

/**
 * The point (x, y in percent) of a place in view-box units, e.g. a click mapped through the
 * SVG's screen matrix. Places outside the drawing are clamped to its edge.
 * @param {number} viewX @param {number} viewY
 * @returns {{x: number, y: number}}
 */
export function percentOfView(viewX, viewY) {
  return { x: clampPercent((viewX / VIEW.width) * 100), y: clampPercent((viewY / VIEW.height) * 100) };
}

/**
 * Where a point (x, y in percent) sits in view-box units.
 * @param {{x: number, y: number}} point
 * @returns {{cx: number, cy: number}}
 */
export function viewOfPercent(point) {
  return { cx: (point.x * VIEW.width) / 100, cy: (point.y * VIEW.height) / 100 };
}

/**
 * The point of a click given the drawing's box on screen (its bounding rectangle), for a
 * drawing shown at its own aspect ratio. Null when the box has no size (not laid out).
 * @param {number} clientX @param {number} clientY
 * @param {{left: number, top: number, width: number, height: number}} box
 */
export function percentOfClick(clientX, clientY, box) {
  if (!(box.width > 0 && box.height > 0)) return null;
  return percentOfView(((clientX - box.left) / box.width) * VIEW.width, ((clientY - box.top) / box.height) * VIEW.height);
}

/**
 * A point moved by the arrow keys: one percent a step, ten with Shift; null for other keys.
 * @param {{x: number, y: number}} point @param {string} key @param {boolean} [large]
 */
export function nudged(point, key, large = false) {
  const step = large ? 10 : 1;
  const moves = /** @type {Record<string, [number, number]>} */ ({
    ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step],
  });
  const move = moves[key];
  if (!move) return null;
  return { x: clampPercent(point.x + move[0]), y: clampPercent(point.y + move[1]) };
}
