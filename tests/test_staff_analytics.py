"""The staff app's analytics in Chromium against a live gunicorn server, with consents made
through the API (created by staff, signed by patients through their links, one revoked): the
overview cards, the chart per day and per month, the chart per type and the conversion say
what the API says, and each chart's table holds the API's figures. A physician sees the same
figures without the revenue. Every view is checked with axe and photographed at 1366x768 and
768x1024; no page may report a CSP violation."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from appliance.client.api import Identity, PatientClient
from tests.support.browser import check_reflow
from tests.support.forms import FORM, SIGNATURE, fill
from tests.support.staff_app import LAPTOP, StaffApp, founded, joined

OWNER = ("Dr. Anna Sonne", "inhaberin@praxis-sonnenschein.de")
PHYSICIAN = ("Dr. Jan Berg", "arzt@praxis-sonnenschein.de")
#: German unit names as Intl writes them (singular, plural).
#: What the view shows for a figure the API gives as null (an en dash).
NONE = "\u2013"
UNITS = {"second": ("Sekunde", "Sekunden"), "minute": ("Minute", "Minuten"),
         "hour": ("Stunde", "Stunden"), "day": ("Tag", "Tage")}


def german_number(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def german_percent(value: float | None) -> str:
    return NONE if value is None else f"{german_number(value)} %"


def german_duration(seconds: int | None) -> str:
    """The view's duration: the largest unit that keeps it readable, one decimal at most."""
    if seconds is None:
        return NONE
    unit, size = (("second", 1) if seconds < 60 else ("minute", 60) if seconds < 3600
                  else ("hour", 3600) if seconds < 86400 else ("day", 86400))
    value = round(seconds / size, 1)
    one, many = UNITS[unit]
    return f"{german_number(value)} {one if value == 1 else many}"


def sign(server_url: str, consent: dict, last_name: str) -> None:
    """The patient opens the link and submits the form it shows."""
    patient = PatientClient(server_url)
    form = patient.open(consent["token"]).get("form") or FORM
    patient.submit(consent["link"], Identity("Eva", last_name, "1980-05-17"), fill(form), SIGNATURE,
                   form=form)


def cells(table) -> list[list[str]]:
    """The table's body rows: the row heading, then the cells, as text."""
    rows = []
    for row in table.locator("tbody tr").all():
        rows.append([" ".join((cell.text_content() or "").split()) for cell in row.locator("th, td").all()])
    return rows


def test_analytics_show_the_apis_figures_as_charts_and_tables(live_server, browser, request):
    server = live_server()
    owner = founded(server.url, OWNER)
    joined(owner, PHYSICIAN)
    kinds = ("BOTOX", "BOTOX", "BOTOX", "FILLER", "FILLER", "LASER")
    made = [owner.create_consent(kind) for kind in kinds]
    sign(server.url, made[0], "Akte")
    sign(server.url, made[3], "Beispiel")
    owner.revoke_consent(made[5]["id"], "Termin abgesagt")

    overview = owner.call("GET", "/api/analytics/overview")
    by_type = owner.call("GET", "/api/analytics/by-type")
    conversion = owner.call("GET", "/api/analytics/conversion")
    days = owner.call("GET", "/api/analytics/by-period")
    months = owner.call("GET", "/api/analytics/by-period", granularity="month")
    assert (overview["total"], overview["signed"], overview["revoked"]) == (6, 2, 1)
    assert conversion["signed"] == 2 and conversion["medianSecondsToSign"] is not None

    page = browser.page(LAPTOP, locale="de-DE")
    app = StaffApp(page, server.url, request.node.name)
    app.open("/analytics")
    app.sign_in(OWNER[1])
    app.expect_heading("analytics.title")

    # The overview's cards, in the API's order.
    cards = page.get_by_role("region", name=app.t("analytics.overview"))
    keys = ("total", "pending", "signed", "completed", "revoked", "expired", "patients")
    expect(cards.get_by_role("definition")).to_have_text([str(overview[key]) for key in keys])

    # Per day: a bar chart (30 days, today's bars), and its table holds the API's buckets.
    trend = page.get_by_role("region", name=app.t("analytics.byPeriod"))
    day_chart = app.t("analytics.byPeriodTitle", granularity=app.t("analytics.per.day"))
    expect(trend.get_by_role("img", name=day_chart)).to_be_visible()
    assert trend.locator("rect.chart-bar").count() == 2 * len(days["buckets"])
    table = trend.get_by_role("table")
    wrapper = table.locator("xpath=..")
    expect(table.locator("tbody tr")).to_have_count(len(days["buckets"]))
    assert [row[1:] for row in cells(table)] == [[str(b["created"]), str(b["signed"])]
                                                 for b in days["buckets"]]
    assert sum(b["created"] for b in days["buckets"]) == 6
    hidden = re.compile(r"\bvisually-hidden\b")
    expect(wrapper).to_have_class(hidden)  # for screen readers; shown on request
    trend.get_by_role("button", name=app.t("analytics.showTable")).click()
    expect(wrapper).not_to_have_class(hidden)
    hide = trend.get_by_role("button", name=app.t("analytics.hideTable"))
    expect(hide).to_have_attribute("aria-expanded", "true")

    # By type, and the conversion of links into signatures.
    per_type = page.get_by_role("region", name=app.t("analytics.byType"))
    assert cells(per_type.get_by_role("table")) == [
        [app.t(f"type.{item['type']}"), str(item["total"]), str(item["signed"]), str(item["revoked"])]
        for item in by_type["items"]]
    figures = page.get_by_role("region", name=app.t("analytics.conversion"))
    expect(figures.get_by_role("definition")).to_have_text([
        german_percent(conversion["signedPercent"]), german_percent(conversion["expiredPercent"]),
        german_percent(conversion["revokedPercent"]), german_duration(conversion["medianSecondsToSign"]),
        german_duration(conversion["p90SecondsToSign"])])
    expect(page.get_by_role("region", name=app.t("analytics.revenue"))).to_have_count(0)  # billing is off
    app.view("01-analytics-days", tablet=True)
    check_reflow(page, "analytics")

    # Per month: the chart and its table follow the choice (kept in the address).
    app.field("analytics.granularity").select_option("month")
    month_chart = app.t("analytics.byPeriodTitle", granularity=app.t("analytics.per.month"))
    expect(trend.get_by_role("img", name=month_chart)).to_be_visible()
    expect(trend.get_by_role("table").locator("tbody tr")).to_have_count(len(months["buckets"]))
    assert [row[1:] for row in cells(trend.get_by_role("table"))] == [
        [str(b["created"]), str(b["signed"])] for b in months["buckets"]]
    assert "granularity=month" in page.url
    app.view("02-analytics-months", tablet=True)

    # A physician sees the figures, not the audit log; in English.
    other = browser.page(LAPTOP, locale="en-GB")
    doctor = StaffApp(other, server.url, request.node.name, locale="en")
    doctor.open("/analytics")
    doctor.sign_in(PHYSICIAN[1])
    doctor.expect_heading("analytics.title")
    navigation = other.get_by_role("navigation", name=doctor.t("nav.label"))
    expect(navigation.get_by_role("link", name=doctor.t("nav.analytics"))).to_be_visible()
    expect(navigation.get_by_role("link", name=doctor.t("nav.audit"))).to_have_count(0)
    their_cards = other.get_by_role("region", name=doctor.t("analytics.overview"))
    expect(their_cards.get_by_role("definition").first).to_have_text(str(overview["total"]))
    doctor.view("03-analytics-physician-en", tablet=True)
