// The signature pad: pointer events (mouse, pen and touch alike) on a canvas, strokes kept as
// points in a fixed 600 x 200 space so the drawing survives rotation and zoom, and exported
// as a PNG of that size. It refuses an empty pad and a dot or short dash: a signature needs
// some length of ink and some extent.
import { h } from "../shared/dom.js";

export const WIDTH = 600;
export const HEIGHT = 200;
/** Least total ink length and least width of the drawing, in the 600 x 200 space. */
export const MIN_INK = 150;
export const MIN_EXTENT = 60;
const INK = "#10213f";
const LINE = 3;

/** @typedef {{x: number, y: number}[]} Stroke */

/** @param {Stroke[]} strokes */
export function inkLength(strokes) {
  let length = 0;
  for (const stroke of strokes) {
    for (let i = 1; i < stroke.length; i += 1) {
      length += Math.hypot(stroke[i].x - stroke[i - 1].x, stroke[i].y - stroke[i - 1].y);
    }
  }
  return length;
}

/**
 * "empty", "short" or null when the strokes are a signature.
 * @param {Stroke[]} strokes
 */
export function signatureProblem(strokes) {
  const points = strokes.flat();
  if (points.length < 2) return "empty";
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const extent = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  return inkLength(strokes) < MIN_INK || extent < MIN_EXTENT ? "short" : null;
}

/**
 * Draws strokes onto a 2D context scaled to `scale` device pixels per unit.
 * @param {CanvasRenderingContext2D} context
 * @param {Stroke[]} strokes
 * @param {number} scale
 */
function paint(context, strokes, scale) {
  context.save();
  context.scale(scale, scale);
  context.lineCap = "round";
  context.lineJoin = "round";
  context.strokeStyle = INK;
  context.fillStyle = INK;
  context.lineWidth = LINE;
  for (const stroke of strokes) {
    if (stroke.length === 1) {
      context.beginPath();
      context.arc(stroke[0].x, stroke[0].y, LINE / 2, 0, Math.PI * 2);
      context.fill();
      continue;
    }
    context.beginPath();
    context.moveTo(stroke[0].x, stroke[0].y);
    // quadratic curves through the midpoints: smooth lines from coarse pointer samples
    for (let i = 1; i < stroke.length - 1; i += 1) {
      const mid = { x: (stroke[i].x + stroke[i + 1].x) / 2, y: (stroke[i].y + stroke[i + 1].y) / 2 };
      context.quadraticCurveTo(stroke[i].x, stroke[i].y, mid.x, mid.y);
    }
    const last = stroke[stroke.length - 1];
    context.lineTo(last.x, last.y);
    context.stroke();
  }
  context.restore();
}

/**
 * A PNG (base64, no data: prefix) of strokes on white, WIDTH x HEIGHT.
 * @param {Stroke[]} strokes
 */
export function strokesToPng(strokes) {
  return paintedPng((context) => paint(context, strokes, 1));
}

/**
 * A typed name as a signature image (WIDTH x HEIGHT PNG, base64).
 * @param {string} name
 */
export function typedToPng(name) {
  return paintedPng((context) => {
    context.fillStyle = INK;
    context.textBaseline = "middle";
    let size = 56;
    do {
      context.font = `italic ${size}px "Segoe Script", "Brush Script MT", "URW Chancery L", cursive, serif`;
      size -= 4;
    } while (context.measureText(name).width > WIDTH - 40 && size > 16);
    context.fillText(name, 20, HEIGHT / 2);
  });
}

/**
 * A WIDTH x HEIGHT PNG (base64) of what `draw` paints on white.
 * @param {(context: CanvasRenderingContext2D) => void} draw
 */
function paintedPng(draw) {
  const canvas = document.createElement("canvas");
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, WIDTH, HEIGHT);
  draw(context);
  return canvas.toDataURL("image/png").split(",")[1];
}

/**
 * The pad: a canvas that follows its box's size, with `strokes` kept by the caller.
 * @param {{label: string, description: string, line: string, strokes: Stroke[], onChange: () => void}} options
 */
export function signaturePad({ label, description, line, strokes, onChange }) {
  const canvas = h("canvas", { class: "signature-canvas", role: "img", "aria-label": label });
  const descriptionId = `signature-description`;
  canvas.setAttribute("aria-describedby", descriptionId);
  const box = h("div", { class: "signature-box" },
    canvas,
    h("span", { class: "signature-line", "aria-hidden": "true" }, line),
    h("span", { class: "visually-hidden", id: descriptionId }, description));
  const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  /** @type {Stroke | null} */
  let current = null;
  let pointer = -1;

  function redraw() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    if (!width) return;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round((width * HEIGHT / WIDTH) * ratio);
    context.clearRect(0, 0, canvas.width, canvas.height);
    paint(context, strokes, canvas.width / WIDTH);
  }

  /** @param {PointerEvent} event */
  function point(event) {
    const rect = canvas.getBoundingClientRect();
    return {
      x: Math.round(((event.clientX - rect.left) / rect.width) * WIDTH * 10) / 10,
      y: Math.round(((event.clientY - rect.top) / rect.height) * HEIGHT * 10) / 10,
    };
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (current || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    pointer = event.pointerId;
    canvas.setPointerCapture(event.pointerId);
    current = [point(event)];
    strokes.push(current);
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current || event.pointerId !== pointer) return;
    event.preventDefault();
    const samples = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    for (const sample of samples.length ? samples : [event]) current.push(point(sample));
    redraw();
  });
  const end = (/** @type {PointerEvent} */ event) => {
    if (!current || event.pointerId !== pointer) return;
    current = null;
    pointer = -1;
    onChange();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  new ResizeObserver(redraw).observe(canvas);

  return {
    element: box,
    clear() {
      strokes.splice(0, strokes.length);
      redraw();
      onChange();
    },
    undo() {
      strokes.pop();
      redraw();
      onChange();
    },
  };
}
