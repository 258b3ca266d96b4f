// Bar charts in plain SVG (no library, nothing inline the CSP would refuse: colours and type
// come from staff.css classes), grouped by category, upright for periods or lying for named
// categories. Every chart comes with its numbers as a table: always there for screen readers,
// shown on request for everyone. The geometry is pure, so that the Node tests check it.
import { h } from "preact";
import { useState } from "preact/hooks";
import { fieldId } from "./ui.js";

/**
 * @typedef {{key: string, label: string}} Series
 * @typedef {{label: string, short?: string, values: number[]}} Category one value per series
 * @typedef {{x: number, y: number, width: number, height: number, series: number, category: number}} Bar
 */

/**
 * A round top for the value axis and its ticks: the smallest step of 1, 2 or 5 times a power
 * of ten that needs at most `count` + 1 intervals; whole numbers only (the charts count things).
 * @param {number} max the largest value @param {number} [count]
 * @returns {number[]} ticks from 0 to the top, inclusive
 */
export function niceTicks(max, count = 4) {
  if (!(max > 0)) return [0, 1];
  const rough = max / (count + 1);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power);
  const top = Math.ceil(max / step) * step;
  return Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);
}

/**
 * Where the bars go in a `width` x `height` plot area (origin top left): categories side by
 * side (upright) or one under the other (lying), the series of a category next to each other.
 * @param {Category[]} categories @param {number} seriesCount @param {number} top the axis' top value
 * @param {{width: number, height: number, horizontal?: boolean, gap?: number}} area
 * @returns {Bar[]}
 */
export function barLayout(categories, seriesCount, top, { width, height, horizontal = false, gap = 0.25 }) {
  const along = horizontal ? height : width;
  const across = horizontal ? width : height;
  const slot = along / Math.max(1, categories.length);
  const barSize = (slot * (1 - gap)) / Math.max(1, seriesCount);
  /** @type {Bar[]} */
  const bars = [];
  categories.forEach((category, c) => {
    category.values.forEach((value, s) => {
      const start = c * slot + (slot * gap) / 2 + s * barSize;
      const length = top > 0 ? (Math.max(0, value) / top) * across : 0;
      bars.push(horizontal
        ? { x: 0, y: start, width: length, height: barSize, series: s, category: c }
        : { x: start, y: across - length, width: barSize, height: length, series: s, category: c });
    });
  });
  return bars;
}

const WIDTH = 720;
const LABEL_EVERY_MAX = 12;

/**
 * A grouped bar chart with its legend and its table.
 * @param {{app: import("./app.js").App, title: string, categoryHeading: string, series: Series[],
 *   categories: Category[], horizontal?: boolean, format?: (value: number) => string}} props
 */
export function BarChart({ app, title, categoryHeading, series, categories, horizontal = false, format }) {
  const { t, i18n } = app;
  const [shown, setShown] = useState(false);
  const [ids] = useState(() => ({ caption: fieldId("chart"), table: fieldId("chart-table") }));
  const show = format ?? ((/** @type {number} */ v) => i18n.number(v));
  const max = Math.max(0, ...categories.flatMap((c) => c.values));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1];
  const labelSpace = horizontal ? 170 : 0;
  const axisSpace = 44;
  const plot = horizontal
    ? { width: WIDTH - labelSpace - 16, height: Math.max(1, categories.length) * 22 * Math.max(1, series.length) + 16 }
    : { width: WIDTH - axisSpace - 8, height: 220 };
  const height = plot.height + (horizontal ? 28 : 34) + 8;
  const left = horizontal ? labelSpace : axisSpace;
  const bars = barLayout(categories, series.length, top, { ...plot, horizontal });
  const every = Math.max(1, Math.ceil(categories.length / LABEL_EVERY_MAX));
  const slot = (horizontal ? plot.height : plot.width) / Math.max(1, categories.length);

  return h("figure", { class: "chart" },
    h("figcaption", { id: ids.caption, class: "chart-title" }, title),
    h("svg", {
      class: horizontal ? "chart-svg chart-svg-lying" : "chart-svg", viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-labelledby": ids.caption,
    },
    h("g", { transform: `translate(${left} 8)` },
      ticks.map((tick) => {
        const at = top ? (tick / top) * (horizontal ? plot.width : plot.height) : 0;
        return horizontal
          ? h("g", { key: `t${tick}` },
            h("line", { class: "chart-grid", x1: at, x2: at, y1: 0, y2: plot.height }),
            h("text", { class: "chart-tick", x: at, y: plot.height + 18, "text-anchor": "middle" }, show(tick)))
          : h("g", { key: `t${tick}` },
            h("line", { class: "chart-grid", x1: 0, x2: plot.width, y1: plot.height - at, y2: plot.height - at }),
            h("text", { class: "chart-tick", x: -8, y: plot.height - at + 4, "text-anchor": "end" }, show(tick)));
      }),
      bars.map((bar) => h("rect", {
        key: `b${bar.category}-${bar.series}`, class: `chart-bar chart-series-${bar.series}`,
        x: bar.x, y: bar.y, width: Math.max(0, bar.width), height: Math.max(0, bar.height),
      })),
      categories.map((category, c) => (c % every && !horizontal ? null : horizontal
        ? h("text", { key: `l${c}`, class: "chart-label", x: -8, y: c * slot + slot / 2 + 4, "text-anchor": "end" },
          category.short ?? category.label)
        : h("text", { key: `l${c}`, class: "chart-label", x: c * slot + slot / 2, y: plot.height + 20, "text-anchor": "middle" },
          category.short ?? category.label))),
      h("line", horizontal
        ? { class: "chart-axis", x1: 0, x2: 0, y1: 0, y2: plot.height }
        : { class: "chart-axis", x1: 0, x2: plot.width, y1: plot.height, y2: plot.height }))),
    h("ul", { class: "chart-legend", "aria-hidden": "true" }, series.map((s, i) => h("li", { key: s.key },
      h("svg", { class: "chart-swatch", viewBox: "0 0 10 10" }, h("rect", { class: `chart-series-${i}`, width: 10, height: 10 })),
      s.label))),
    h("button", {
      type: "button", class: "link-button", "aria-expanded": shown ? "true" : "false", "aria-controls": ids.table,
      onClick: () => setShown(!shown),
    }, t(shown ? "analytics.hideTable" : "analytics.showTable")),
    h("div", { id: ids.table, class: shown ? "table-scroll chart-table" : "visually-hidden" }, h("table", { class: "table" },
      h("caption", { class: "visually-hidden" }, title),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, categoryHeading),
        series.map((s) => h("th", { scope: "col", key: s.key }, s.label)))),
      h("tbody", {}, categories.map((category, c) => h("tr", { key: c },
        h("th", { scope: "row" }, category.label),
        category.values.map((value, s) => h("td", { key: s }, show(value)))))))));
}
