"""The staff app's billing view in Chromium against a live gunicorn server whose Stripe is the
offline stand-in (localstripe plus the Checkout and Portal stand-in, tests/support/stripe_stub.py):
the trial's plan, end and usage as the API says them; Checkout by redirect to the address the
API answered; coming back cancelled and then paid (Stripe's webhooks delivered signed, as
Stripe sends them), each said once and taken out of the address; the payment in the ADMIN's
analytics; the live plan changed without Checkout; the portal by redirect. Every view is
checked with axe and photographed at 1366x768 and 768x1024; no page may report a CSP
violation."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from tests.support.billing import WEBHOOK_SECRET, billing_section, session_id_of
from tests.support.browser import check_reflow
from tests.support.staff_app import LAPTOP, StaffApp, founded
from tests.support.stripe_stub import event, signed

OWNER = ("Dr. Anna Sonne", "inhaberin@praxis-sonnenschein.de")
STRIPE_PAGE = "<!doctype html><html lang=en><title>Stripe</title><h1>Stripe stand-in</h1></html>"


def deliver(server_url: str, kind: str, obj: dict) -> None:
    """One webhook delivery, signed with the appliance's secret, as Stripe sends it."""
    body, headers = signed(event(kind, obj), WEBHOOK_SECRET)
    answer = requests.post(f"{server_url}/api/billing/webhook", data=body, headers=headers, timeout=10)
    assert answer.status_code == 200 and answer.json()["outcome"] == "applied", answer.text


def euros(cents: int) -> str:
    """An amount under 1 000 euros as the German staff app writes it."""
    assert 0 <= cents < 100_000
    return f"{cents // 100},{cents % 100:02d} €"


def test_plan_usage_checkout_and_portal_by_redirect(live_server, stripe_stub, browser, request):
    env = {f"APPLIANCE_BILLING_{key.upper()}": str(value)
           for key, value in billing_section(stripe_stub).items()}
    server = live_server(**env)
    owner = founded(server.url, OWNER)
    practice = owner.practice
    for kind in ("BOTOX", "FILLER"):
        owner.create_consent(kind)
    trial = owner.call("GET", "/api/billing/subscription")
    assert (trial["plan"], trial["usage"]["consents"]) == ("FREE_TRIAL", 2)

    page = browser.page(LAPTOP, locale="de-DE")
    # Stripe's pages are the stand-in's made-up addresses: the browser gets a page for them.
    for stripe_pages in ("https://checkout.stripe.test/**", "https://billing.stripe.test/**"):
        page.route(stripe_pages, lambda route: route.fulfill(content_type="text/html", body=STRIPE_PAGE))
    # What the API answers the page for checkout and portal, seen on its way to the page.
    answered: dict[str, dict] = {}

    def keep(route) -> None:
        response = route.fetch()
        answered[route.request.url.rsplit("/", 1)[1]] = response.json()
        route.fulfill(response=response)

    page.route("**/api/billing/checkout", keep)
    page.route("**/api/billing/portal", keep)
    app = StaffApp(page, server.url, request.node.name)
    app.open("/")
    app.sign_in(OWNER[1])
    app.expect_heading("home.title")
    app.nav("nav.billing")
    app.expect_heading("billing.title")
    plan = page.get_by_role("region", name=app.t("billing.planHeading"))
    usage = page.get_by_role("region", name=app.t("billing.usageHeading"))
    zone = owner.settings()["timezone"]
    expect(plan.get_by_role("definition")).to_have_text([
        app.t("billing.plan.FREE_TRIAL"), app.t("billing.status.TRIALING"),
        page.evaluate("([d, timeZone]) => new Intl.DateTimeFormat('de-DE', {dateStyle: 'long', timeZone})"
                      ".format(new Date(d))", [trial["trialEndsAt"], zone])])
    # The usage is the practice's calendar month, whatever this browser's time zone.
    start, end = page.evaluate("""([start, end, timeZone]) => [new Date(start), new Date(Date.parse(end) - 1)]
        .map((d) => new Intl.DateTimeFormat('de-DE', {dateStyle: 'long', timeZone}).format(d))""",
                               [trial["usage"]["from"], trial["usage"]["to"], zone])
    assert start.startswith("1. ")
    consents = usage.get_by_role("meter", name=app.t("billing.consents"))
    expect(consents).to_have_attribute("value", str(trial["usage"]["consents"]))
    expect(consents).to_have_attribute("max", str(trial["usage"]["consentLimit"]))
    expect(usage).to_contain_text(app.t("billing.usagePeriod", **{"from": start, "to": end}))
    expect(usage).to_contain_text(app.t("billing.usedOf", used=trial["usage"]["members"],
                                        limit=trial["usage"]["memberLimit"]))
    # No Stripe customer yet: no portal.
    expect(page.get_by_role("button", name=app.t("billing.portal"))).to_have_count(0)
    app.view("01-billing-trial", tablet=True)

    # Checkout: the browser goes where the API says.
    starter = app.t("billing.offerLabel", plan=app.t("billing.plan.STARTER"),
                    interval=app.t("billing.interval.monthly"))
    app.field("billing.offer").select_option(label=starter)
    app.button("billing.checkout").click()
    page.wait_for_url("https://checkout.stripe.test/**")
    checkout = answered["checkout"]
    assert checkout["mode"] == "checkout" and page.url == checkout["url"]

    # Cancelled on Stripe's page: back here (a new page load signs in again), nothing changed.
    app.open("/billing?checkout=cancelled")
    app.sign_in(OWNER[1])
    app.expect_heading("billing.title")
    expect(page.get_by_text(app.t("billing.cancelled"))).to_be_visible()
    expect(page).to_have_url(f"{server.url}/billing")  # said once: a reload would not say it again
    expect(plan.get_by_role("definition").first).to_have_text(app.t("billing.plan.FREE_TRIAL"))
    app.view("02-billing-cancelled")

    # Paid this time: Stripe confirms by webhook; back here the plan is the new one.
    session, subscription = stripe_stub.complete_checkout(session_id_of(checkout["url"]))
    deliver(server.url, "checkout.session.completed", session)
    deliver(server.url, "customer.subscription.created", subscription)
    deliver(server.url, "invoice.paid", stripe_stub.latest_invoice(subscription["id"]))
    paid = owner.call("GET", "/api/billing/subscription")
    assert (paid["plan"], paid["status"]) == ("STARTER", "ACTIVE")
    app.open("/billing?checkout=success")
    app.sign_in(OWNER[1])
    app.expect_heading("billing.title")
    expect(page.get_by_text(app.t("billing.paidConfirmed"))).to_be_visible()
    expect(page).to_have_url(f"{server.url}/billing")
    expect(plan.get_by_role("definition").nth(0)).to_have_text(app.t("billing.plan.STARTER"))
    expect(plan.get_by_role("definition").nth(1)).to_have_text(app.t("billing.status.ACTIVE"))
    expect(plan.get_by_role("definition").nth(2)).to_have_text(app.t("billing.interval.monthly"))
    expect(usage.get_by_role("meter", name=app.t("billing.consents"))).to_have_attribute(
        "max", str(paid["usage"]["consentLimit"]))
    expect(page.get_by_role("heading", name=app.t("billing.changeHeading"))).to_be_visible()
    app.view("03-billing-paid", tablet=True)
    check_reflow(page, "billing")

    # The payment in the ADMIN's analytics.
    revenue = owner.call("GET", "/api/analytics/revenue")
    [total] = revenue["totals"]
    app.nav("nav.analytics")
    app.expect_heading("analytics.title")
    table = page.get_by_role("region", name=app.t("analytics.revenue")).get_by_role("table")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr td")).to_have_text([
        str(total["payments"]), euros(total["grossCents"]), euros(total["refundedCents"]),
        euros(total["netCents"]), euros(total["averageNetCents"])])
    month = page.get_by_text(app.t("analytics.monthUsage", count=paid["usage"]["consents"],
                                   limit=paid["usage"]["consentLimit"], plan=app.t("billing.plan.STARTER")))
    expect(month).to_be_visible()
    app.view("04-analytics-revenue", tablet=True)

    # A live subscription changes its plan here, without Checkout; Stripe confirms by webhook.
    app.nav("nav.billing")
    yearly = app.t("billing.offerLabel", plan=app.t("billing.plan.STARTER"),
                   interval=app.t("billing.interval.yearly"))
    app.field("billing.offer").select_option(label=yearly)
    app.button("billing.change").click()
    expect(page.get_by_text(app.t("billing.changeRequested"))).to_be_visible()
    assert answered["checkout"]["mode"] == "plan_change" and page.url == f"{server.url}/billing"
    changed = stripe_stub.subscription(subscription["id"])
    assert changed["items"]["data"][0]["plan"]["id"] == "price_test_starter_yearly"
    deliver(server.url, "customer.subscription.updated", changed)
    app.nav("nav.analytics")
    app.nav("nav.billing")
    expect(plan.get_by_role("definition").nth(2)).to_have_text(app.t("billing.interval.yearly"))

    # The portal: by redirect too, to the address the API answered.
    app.button("billing.portal").click()
    page.wait_for_url("https://billing.stripe.test/**")
    assert page.url == answered["portal"]["url"]
    [customer] = stripe_stub.customers(practice["id"])
    assert stripe_stub.checkout_sessions[session_id_of(checkout["url"])]["customer"] == customer["id"]
