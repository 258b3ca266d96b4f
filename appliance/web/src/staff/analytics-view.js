// Analytics (ADMIN, ARZT; revenue ADMIN only, when billing is on): the overview as figures,
// consents created and signed per day, week or month, per type, the conversion of links into
// signatures with the median and 90th percentile time to sign, and what the practice paid.
// Dates are the practice's calendar days (the API counts in its time zone); without a range
// the figures are all time, the chart the last 30 days, 12 weeks or 12 months.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { BarChart } from "./chart-view.js";
import { problemOf } from "./problems.js";
import { Alert, Field, Select, useUrlFilters } from "./ui.js";

const FILTERS = /** @type {const} */ (["from", "to", "granularity"]);
export const GRANULARITIES = ["day", "week", "month"];

/**
 * A duration in seconds in the largest unit that keeps it readable (seconds, minutes, hours,
 * days), in the locale's words.
 * @param {import("../shared/i18n.js").I18n} i18n @param {number} seconds
 */
export function duration(i18n, seconds) {
  const [unit, size] = seconds < 60 ? ["second", 1] : seconds < 3600 ? ["minute", 60]
    : seconds < 86400 ? ["hour", 3600] : ["day", 86400];
  return i18n.number(seconds / size, { style: "unit", unit, unitDisplay: "long", maximumFractionDigits: 1 });
}

/**
 * A bucket's name: short under the chart, in full in the table.
 * @param {import("../shared/i18n.js").I18n} i18n @param {(key: string, params?: Record<string, string | number>) => string} t
 * @param {string} granularity @param {{period: string, from: string, to: string}} bucket
 */
export function bucketLabel(i18n, t, granularity, bucket) {
  const [year, month, day] = bucket.from.split("-").map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  const format = (/** @type {Intl.DateTimeFormatOptions} */ options) =>
    new Intl.DateTimeFormat(i18n.formats, { ...options, timeZone: "UTC" }).format(date);
  if (granularity === "week") {
    const week = Number(bucket.period.split("-W")[1]);
    return { short: t("analytics.weekShort", { week }),
      label: t("analytics.weekLong", { week, year: bucket.period.slice(0, 4), from: i18n.calendarDate(bucket.from), to: i18n.calendarDate(bucket.to) }) };
  }
  if (granularity === "month") return { short: format({ month: "short", year: "2-digit" }), label: format({ month: "long", year: "numeric" }) };
  return { short: format({ day: "numeric", month: "numeric" }), label: i18n.calendarDate(bucket.from) };
}

/** @param {{app: import("./app.js").App}} props */
export function AnalyticsView({ app }) {
  const { t, session } = app;
  const [filters, setFilter] = useUrlFilters("/analytics", FILTERS);
  const granularity = GRANULARITIES.includes(filters.granularity) ? filters.granularity : "day";
  const [figures, setFigures] = useState(/** @type {Record<string, any> | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  useEffect(() => {
    let current = true;
    setProblem(null);
    /** @type {Record<string, string | undefined>} */
    const range = { from: filters.from || undefined, to: filters.to || undefined };
    const get = (/** @type {string} */ what, /** @type {Record<string, string | undefined>} */ query = range) =>
      session.api("GET", `/api/analytics/${what}`, { query });
    Promise.all([
      get("overview"), get("by-type"), get("conversion"),
      get("by-period", { ...range, granularity }).catch((error) => ({ error })),
      session.role === "ADMIN" ? get("revenue") : null,
    ]).then(([overview, byType, conversion, byPeriod, revenue]) => {
      if (current) setFigures({ overview, byType, conversion, byPeriod, revenue });
    }, (error) => { if (current) setProblem(problemOf(error)); });
    return () => { current = false; };
  }, [filters.from, filters.to, granularity]);

  return h("div", {},
    h("h1", {}, t("analytics.title")),
    h("form", { class: "filters", "aria-label": t("analytics.filters"), onSubmit: (/** @type {Event} */ e) => e.preventDefault() },
      h(Field, { id: "analytics-from", label: t("analytics.from"), type: "date", value: filters.from, onInput: setFilter("from") }),
      h(Field, { id: "analytics-to", label: t("analytics.to"), type: "date", value: filters.to, onInput: setFilter("to") }),
      h(Select, { id: "analytics-granularity", label: t("analytics.granularity"), value: granularity, onChange: setFilter("granularity"),
        options: GRANULARITIES.map((g) => ({ value: g, label: t(`analytics.${g}`) })) })),
    h("p", { class: "hint" }, filters.from || filters.to ? t("analytics.rangeHint") : t("analytics.allTimeHint")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    figures === null ? (problem ? null : h("p", { role: "status" }, t("common.loading"))) : [
      h(Overview, { app, overview: figures.overview, key: "o" }),
      h(ByPeriod, { app, answer: figures.byPeriod, key: "p" }),
      h(ByType, { app, answer: figures.byType, key: "t" }),
      h(Conversion, { app, conversion: figures.conversion, key: "c" }),
      figures.revenue?.billingEnabled ? h(Revenue, { app, revenue: figures.revenue, key: "r" }) : null,
    ]);
}

/**
 * Figures as cards: a term and its value.
 * @param {{items: [string, string][], label: string}} props
 */
function Cards({ items, label }) {
  return h("dl", { class: "stat-cards" },
    items.map(([term, value]) => h("div", { class: "stat-card", key: term },
      h("dt", {}, term), h("dd", {}, value))));
}

/** @param {{app: import("./app.js").App, overview: any}} props */
function Overview({ app, overview }) {
  const { t, i18n } = app;
  const keys = ["total", "pending", "signed", "completed", "revoked", "expired", "patients"];
  const month = overview.thisMonth;
  return h("section", { "aria-labelledby": "overview-heading" },
    h("h2", { id: "overview-heading" }, t("analytics.overview")),
    h(Cards, { label: t("analytics.overview"), items: keys.map((key) => /** @type {[string, string]} */ ([t(`analytics.${key}`), i18n.number(overview[key])])) }),
    month ? h("p", {}, month.consentLimit === null
      ? t("analytics.monthUnlimited", { count: month.consents, plan: t(`billing.plan.${month.plan}`) })
      : t("analytics.monthUsage", { count: month.consents, limit: month.consentLimit, plan: t(`billing.plan.${month.plan}`) })) : null);
}

/** @param {{app: import("./app.js").App, answer: any}} props */
function ByPeriod({ app, answer }) {
  const { t, i18n } = app;
  const body = answer.error
    ? h(Alert, { kind: "error" }, answer.error.code === "range_too_large" ? t("analytics.tooManyBuckets")
      : t(problemOf(answer.error).key, problemOf(answer.error).params))
    : h(BarChart, {
      app, title: t("analytics.byPeriodTitle", { granularity: t(`analytics.per.${answer.granularity}`) }),
      categoryHeading: t(`analytics.${answer.granularity}`),
      series: [{ key: "created", label: t("analytics.created") }, { key: "signed", label: t("analytics.signedInPeriod") }],
      categories: answer.buckets.map((/** @type {any} */ b) => ({
        ...bucketLabel(i18n, t, answer.granularity, b), values: [b.created, b.signed],
      })),
    });
  return h("section", { class: "card", "aria-labelledby": "period-heading" },
    h("h2", { id: "period-heading" }, t("analytics.byPeriod")), body);
}

/** @param {{app: import("./app.js").App, answer: any}} props */
function ByType({ app, answer }) {
  const { t } = app;
  const items = /** @type {any[]} */ (answer.items);  // the six types, in the API's fixed order
  return h("section", { class: "card", "aria-labelledby": "type-heading" },
    h("h2", { id: "type-heading" }, t("analytics.byType")),
    h(BarChart, {
      app, title: t("analytics.byTypeTitle"), categoryHeading: t("analytics.type"), horizontal: true,
      series: [{ key: "total", label: t("analytics.total") }, { key: "signed", label: t("analytics.signed") },
        { key: "revoked", label: t("analytics.revoked") }],
      categories: items.map((item) => ({ label: t(`type.${item.type}`), values: [item.total, item.signed, item.revoked] })),
    }));
}

/** @param {{app: import("./app.js").App, conversion: any}} props */
function Conversion({ app, conversion }) {
  const { t, i18n } = app;
  const percent = (/** @type {number | null} */ value) => (value === null ? "–" : i18n.number(value / 100, { style: "percent", maximumFractionDigits: 1 }));
  const time = (/** @type {number | null} */ value) => (value === null ? "–" : duration(i18n, value));
  return h("section", { class: "card", "aria-labelledby": "conversion-heading" },
    h("h2", { id: "conversion-heading" }, t("analytics.conversion")),
    h("p", {}, t("analytics.conversionIntro", { count: conversion.created })),
    h(Cards, { label: t("analytics.conversion"), items: /** @type {[string, string][]} */ ([
      [t("analytics.signedShare"), percent(conversion.signedPercent)],
      [t("analytics.expiredShare"), percent(conversion.expiredPercent)],
      [t("analytics.revokedShare"), percent(conversion.revokedPercent)],
      [t("analytics.medianToSign"), time(conversion.medianSecondsToSign)],
      [t("analytics.p90ToSign"), time(conversion.p90SecondsToSign)],
    ]) }));
}

/** @param {{app: import("./app.js").App, revenue: any}} props */
function Revenue({ app, revenue }) {
  const { t, i18n } = app;
  const money = (/** @type {number} */ cents, /** @type {string} */ currency) =>
    i18n.number(cents / 100, { style: "currency", currency: currency.toUpperCase() });
  const columns = ["payments", "grossCents", "refundedCents", "netCents", "averageNetCents"];
  return h("section", { class: "card", "aria-labelledby": "revenue-heading" },
    h("h2", { id: "revenue-heading" }, t("analytics.revenue")),
    revenue.totals.length === 0 ? h("p", {}, t("analytics.noPayments")) : h("div", { class: "table-scroll" },
      h("table", { class: "table" },
        h("caption", { class: "visually-hidden" }, t("analytics.revenue")),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("analytics.currency")),
          columns.map((c) => h("th", { scope: "col", key: c }, t(`analytics.${c}`))))),
        h("tbody", {}, revenue.totals.map((/** @type {any} */ row) => h("tr", { key: row.currency },
          h("th", { scope: "row" }, row.currency.toUpperCase()),
          columns.map((c) => h("td", { key: c }, c === "payments" ? i18n.number(row[c]) : money(row[c], row.currency)))))))));
}
