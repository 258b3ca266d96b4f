// Billing (ADMIN, only when the appliance bills): the plan, its status and trial end, this
// month's usage against the plan's limits, a plan chosen and paid on Stripe's Checkout page,
// and Stripe's portal for payment methods, invoices and cancelling; both by redirect. Coming
// back from Checkout (…/billing?checkout=success or =cancelled, the appliance's configured
// addresses) says how it went and takes the marker out of the address, so a reload does not
// say it again; after a payment the plan is read again until Stripe's confirmation is in.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { problemOf } from "./problems.js";
import { Alert, Button, Select } from "./ui.js";

/** Statuses in which a paid plan is live (appliance/billing/plans.py WORKING_STATUSES). */
const WORKING = new Set(["TRIALING", "ACTIVE", "PAST_DUE"]);
/** After a payment: how often, and how far apart, the plan is read again for the webhook's news. */
const CONFIRM_TRIES = 10;
const CONFIRM_EVERY_MS = 3000;

/** Whether the subscription is a live paid one (a checkout then changes its plan). @param {any} subscription */
export function livePlan(subscription) {
  return subscription.plan !== "FREE_TRIAL" && WORKING.has(subscription.status);
}

/** What the return from Checkout said, read once from the address. @returns {"success" | "cancelled" | null} */
function returnedFrom() {
  const value = new URLSearchParams(window.location.search).get("checkout");
  return value === "success" || value === "cancelled" ? value : null;
}

/** @param {{app: import("./app.js").App}} props */
export function BillingView({ app }) {
  const { t, session } = app;
  const [returned] = useState(returnedFrom);
  const [subscription, setSubscription] = useState(/** @type {any} */ (null));
  const [disabled, setDisabled] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const [version, setVersion] = useState(0);

  useEffect(() => {
    if (returned) window.history.replaceState(null, "", "/billing");
  }, []);
  useEffect(() => {
    let current = true;
    // Days and months are the practice's (its time zone, from the settings), not this browser's.
    Promise.all([session.api("GET", "/api/billing/subscription"),
      session.api("GET", "/api/settings").then((settings) => settings.timezone, () => undefined)]).then(([answer, timeZone]) => {
      if (current) setSubscription({ ...answer, timeZone });
    }, (error) => {
      if (!current) return;
      if (error.code === "billing_disabled") setDisabled(true);
      else setProblem(problemOf(error));
    });
    return () => { current = false; };
  }, [version]);
  // Paid, but the plan is still the old one: Stripe's webhook is on its way. Read it again.
  const [tries, setTries] = useState(0);
  useEffect(() => {
    if (returned !== "success" || !subscription || livePlan(subscription) || tries >= CONFIRM_TRIES) return undefined;
    const timer = setTimeout(() => { setTries(tries + 1); setVersion(version + 1); }, CONFIRM_EVERY_MS);
    return () => clearTimeout(timer);
  }, [subscription]);

  return h("div", {},
    h("h1", {}, t("billing.title")),
    returned === "success" ? h(Alert, { kind: "success" }, t(subscription && livePlan(subscription) ? "billing.paidConfirmed" : "billing.paid")) : null,
    returned === "cancelled" ? h(Alert, { kind: "info" }, t("billing.cancelled")) : null,
    disabled ? h("p", {}, t("billing.disabled")) : null,
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    subscription === null ? (disabled || problem ? null : h("p", { role: "status" }, t("common.loading"))) : [
      h(Plan, { app, subscription, key: "p" }),
      h(Usage, { app, usage: subscription.usage, timeZone: subscription.timeZone, key: "u" }),
      h(Choose, { app, subscription, reload: () => setVersion(version + 1), key: "c" }),
      subscription.hasBillingAccount ? h(Portal, { app, key: "o" }) : null,
    ]);
}

/** @param {{app: import("./app.js").App, subscription: any}} props */
function Plan({ app, subscription: s }) {
  const { t, i18n } = app;
  const date = (/** @type {string} */ value) => i18n.dateTime(value, { dateStyle: "long", timeZone: s.timeZone });
  return h("section", { class: "card", "aria-labelledby": "plan-heading" },
    h("h2", { id: "plan-heading" }, t("billing.planHeading")),
    h("dl", { class: "facts" },
      h("dt", {}, t("billing.planLabel")), h("dd", {}, t(`billing.plan.${s.plan}`)),
      h("dt", {}, t("billing.statusLabel")), h("dd", {}, h("span", { class: `tag tag-billing-${s.status.toLowerCase()}` }, t(`billing.status.${s.status}`))),
      s.interval ? [h("dt", {}, t("billing.intervalLabel")), h("dd", {}, t(`billing.interval.${s.interval}`))] : null,
      s.plan === "FREE_TRIAL" ? [h("dt", {}, t("billing.trialEnds")), h("dd", {}, date(s.trialEndsAt))] : null,
      s.currentPeriodEnd ? [h("dt", {}, t(s.cancelAtPeriodEnd ? "billing.endsOn" : "billing.renewsOn")), h("dd", {}, date(s.currentPeriodEnd))] : null),
    s.cancelAtPeriodEnd && s.currentPeriodEnd ? h(Alert, { kind: "warning" }, t("billing.cancelling", { date: date(s.currentPeriodEnd) })) : null,
    s.status === "PAST_DUE" ? h(Alert, { kind: "warning" }, t("billing.pastDue")) : null,
    s.status === "EXPIRED" || s.status === "CANCELLED" ? h(Alert, { kind: "error" }, t("billing.notWorking")) : null);
}

/**
 * This month's consents and the team against the plan's limits.
 * @param {{app: import("./app.js").App, usage: any, timeZone?: string}} props
 */
function Usage({ app, usage, timeZone }) {
  const { t, i18n } = app;
  const row = (/** @type {string} */ id, /** @type {string} */ label, /** @type {number} */ used, /** @type {number | null} */ limit) =>
    (limit === null
      ? h("p", { class: "usage", key: id }, h("strong", {}, label), " ", t("billing.unlimited", { count: used }))
      : h("div", { class: "usage", key: id },
        h("label", { for: id }, label),
        h("meter", { id, min: 0, max: limit, value: Math.min(used, limit), high: limit * 0.8, optimum: 0,
          "aria-describedby": `${id}-figure` }),
        h("p", { id: `${id}-figure`, class: used >= limit ? "usage-figure usage-full" : "usage-figure" },
          t("billing.usedOf", { used, limit }))));
  return h("section", { class: "card", "aria-labelledby": "usage-heading" },
    h("h2", { id: "usage-heading" }, t("billing.usageHeading")),
    h("p", { class: "hint" }, t("billing.usagePeriod", {
      from: i18n.dateTime(usage.from, { dateStyle: "long", timeZone }),
      to: i18n.dateTime(new Date(Date.parse(usage.to) - 1), { dateStyle: "long", timeZone }),
    })),
    row("usage-consents", t("billing.consents"), usage.consents, usage.consentLimit),
    row("usage-members", t("billing.members"), usage.members, usage.memberLimit));
}

/** A plan and interval of those offered: paid on Checkout, or the live plan changed. @param {{app: import("./app.js").App, subscription: any, reload: () => void}} props */
function Choose({ app, subscription, reload }) {
  const { t, session } = app;
  const live = livePlan(subscription);
  const offers = /** @type {{plan: string, interval: string}[]} */ (subscription.offered)
    .filter((o) => !live || o.plan !== subscription.plan || o.interval !== subscription.interval);
  const [choice, setChoice] = useState(offers.length ? `${offers[0].plan}:${offers[0].interval}` : "");
  const [busy, setBusy] = useState(false);
  const [changed, setChanged] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  async function go() {
    const [plan, interval] = choice.split(":");
    setBusy(true);
    setProblem(null);
    try {
      const answer = await session.api("POST", "/api/billing/checkout", { body: { plan, interval } });
      if (answer.mode === "checkout" && answer.url) {
        window.location.assign(answer.url);  // Stripe's page; it sends the ADMIN back here
        return;
      }
      setChanged(true);
      reload();
    } catch (error) {
      setProblem(problemOf(error));
    }
    setBusy(false);
  }
  if (!offers.length) return null;
  return h("section", { class: "card", "aria-labelledby": "choose-heading" },
    h("h2", { id: "choose-heading" }, t(live ? "billing.changeHeading" : "billing.chooseHeading")),
    h("p", {}, t(live ? "billing.changeIntro" : "billing.chooseIntro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    changed ? h(Alert, { kind: "success" }, t("billing.changeRequested")) : null,
    h("div", { class: "inline-form" },
      h(Select, { id: "billing-offer", label: t("billing.offer"), value: choice, onChange: setChoice,
        options: offers.map((o) => ({ value: `${o.plan}:${o.interval}`,
          label: t("billing.offerLabel", { plan: t(`billing.plan.${o.plan}`), interval: t(`billing.interval.${o.interval}`) }) })) }),
      h("div", { class: "actions" }, h(Button, { busy, label: t(live ? "billing.change" : "billing.checkout"),
        busyLabel: t("common.loading"), onClick: go }))));
}

/** Stripe's portal: payment methods, invoices, cancelling. @param {{app: import("./app.js").App}} props */
function Portal({ app }) {
  const { t, session } = app;
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  async function go() {
    setBusy(true);
    setProblem(null);
    try {
      const answer = await session.api("POST", "/api/billing/portal");
      window.location.assign(answer.url);
      return;
    } catch (error) {
      setProblem(problemOf(error));
    }
    setBusy(false);
  }
  return h("section", { class: "card", "aria-labelledby": "portal-heading" },
    h("h2", { id: "portal-heading" }, t("billing.portalHeading")),
    h("p", {}, t("billing.portalIntro")),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    h("div", { class: "actions" }, h(Button, { kind: "secondary", busy, label: t("billing.portal"), busyLabel: t("common.loading"), onClick: go })));
}
