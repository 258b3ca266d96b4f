"""The staff app's audit log in Chromium against a live gunicorn server: the chain check (and
which entry broke it, after an entry was altered behind the database's back), the entries
filtered by action and member, the CSV export in both dialects (downloaded and parsed: the
API's entries, in chain order), and a nightly encrypted export (made by the scheduler's job, as
at night) decrypted in the browser's crypto worker: the same rows the Python reference client
opens. The audit log is the ADMIN's; without billing there is no billing view. The consent view
says what became of the link's e-mail. Every view is checked with axe and photographed at
1366x768 and 768x1024; no page may report a CSP violation."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Route, expect

from appliance.client.api import StaffClient
from appliance.mail import DisabledMailer
from appliance.scheduler import jobs
from appliance.services.audit import ACTIONS
from appliance.services.container import build_services
from appliance.storage import open_store
from tests.conftest import ROOT
from tests.support.browser import artifact, check_reflow
from tests.support.smtp import SmtpSink
from tests.support.staff_app import LAPTOP, SLOW, StaffApp, founded, joined
from tests.support.team import smtp_env
from tests.test_audit import _tamper as tamper

OWNER = ("Dr. Anna Sonne", "inhaberin@praxis-sonnenschein.de")
PHYSICIAN = ("Dr. Jan Berg", "arzt@praxis-sonnenschein.de")
GERMAN_HEADER = ["Zeitpunkt", "Aktion", "Benutzer", "E-Mail", "Objekt", "IP-Adresse", "Kettenhash"]


@pytest.fixture
def mail():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def ctx(database, clock, settings):
    """The scheduler's services on the live server's database and object store."""
    return build_services(settings, database, clock, open_store(settings), DisabledMailer())


def entries(staff: StaffClient, **filters) -> list[dict]:
    """Every audit entry the API lists (newest first)."""
    found, page = [], 1
    while True:
        answer = staff.call("GET", "/api/audit", limit=200, page=page, **filters)
        found += answer["items"]
        if len(found) >= answer["total"]:
            return found
        page += 1


def downloaded(page, click) -> tuple[str, bytes]:
    with page.expect_download() as info:
        click()
    download = info.value
    return download.suggested_filename, open(download.path(), "rb").read()


def test_audit_log_filters_csv_and_nightly_export_opened_in_the_browser(live_server, mail, ctx, browser,
                                                                        request):
    server = live_server(**smtp_env(mail))
    owner = founded(server.url, OWNER)
    doctor = joined(owner, PHYSICIAN)
    mailed = owner.create_consent("BOTOX", patient_email="patientin@example.de")
    mail.wait_for(2)  # the invitation and the link
    for event in ("VAULT_UNLOCKED", "VAULT_LOCKED"):
        owner.vault_event(event)
    assert jobs.audit_exports(ctx)["rows"] > 0  # the night's run
    [export] = owner.audit_exports()["items"]

    page = browser.page(LAPTOP, locale="de-DE")
    app = StaffApp(page, server.url, request.node.name)
    app.open("/audit")
    app.sign_in(OWNER[1])
    app.expect_heading("audit.title")
    listed = entries(owner)
    expect(page.get_by_text(app.t("audit.chainOk", count=len(listed))).first).to_be_visible()
    table = page.get_by_role("table", name=app.t("audit.title"))
    expect(table.get_by_role("row")).to_have_count(len(listed) + 1)
    app.view("01-audit", tablet=True)
    check_reflow(page, "audit log")

    # Filters: one action, then one member; the rows are the API's for the same filter.
    app.field("audit.action").select_option("VAULT_UNLOCKED")
    expect(table.get_by_role("row")).to_have_count(len(entries(owner, action="VAULT_UNLOCKED")) + 1)
    assert "action=VAULT_UNLOCKED" in page.url
    # Back to every action, and at once one member. The answer for every action is held back
    # until the member's has arrived: arriving late, it must not replace the rows shown.
    held: list[Route] = []

    def hold_unfiltered(route: Route) -> None:
        if re.search(r"[?&](action|userId)=", route.request.url):
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/audit?*", hold_unfiltered)
    app.field("audit.action").select_option("")
    doctors = entries(owner, userId=doctor["user"]["id"])
    assert doctors  # joining the team
    app.field("audit.user").select_option(label=PHYSICIAN[0])
    expect(table.get_by_role("row")).to_have_count(len(doctors) + 1)
    [late] = held
    with page.expect_response(lambda response: response.url == late.request.url):
        late.continue_()
    page.evaluate("() => new Promise((done) => setTimeout(done, 300))")  # time to (wrongly) show it
    page.unroute("**/api/audit?*")
    expect(table.get_by_role("row")).to_have_count(len(doctors) + 1)
    expect(table.get_by_role("row").nth(1)).to_contain_text(PHYSICIAN[0])
    app.field("audit.user").select_option("")
    expect(table.get_by_role("row")).to_have_count(len(entries(owner)) + 1)

    # The CSV for the data-protection officer, German by default: the API's entries in chain
    # order (the export logs itself first, so it is in the file).
    name, data = downloaded(page, app.button("audit.csvDownload").click)
    assert name == "audit-log.csv" and data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == GERMAN_HEADER
    chronological = list(reversed(entries(owner)))
    assert [r[6] for r in rows[1:]] == [e["hash"] for e in chronological][:len(rows) - 1]
    assert [r[1] for r in rows[1:]] == [e["action"] for e in chronological][:len(rows) - 1]
    assert rows[-1][1] == "AUDIT_EXPORTED"
    expect(page.get_by_text(app.t("audit.csvDone", file=name))).to_be_visible()
    # RFC 4180 on request, with the filter of the list.
    app.field("audit.action").select_option("VAULT_LOCKED")
    app.field("audit.dialect").select_option("rfc4180")
    _, data = downloaded(page, app.button("audit.csvDownload").click)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0][0] == "timestamp" and [r[1] for r in rows[1:]] == ["VAULT_LOCKED"]
    app.field("audit.action").select_option("")

    # The nightly export: the vault is unlocked right here, the worker decrypts and unpacks it
    # and checks it against the server's record; the file holds what the reference client opens.
    exports = page.get_by_role("region", name=app.t("audit.exportsHeading"))
    expect(exports.get_by_role("row")).to_have_count(2)
    decrypt = exports.get_by_role("button", name=app.t("audit.exportDecrypt", date="")[:12], exact=False)
    expect(decrypt).to_be_disabled()
    app.unlock()
    expect(decrypt).to_be_enabled(timeout=SLOW)
    name, data = downloaded(page, decrypt.click)
    opened = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    reference = list(csv.reader(io.StringIO(owner.audit_export_csv(export)), delimiter=";"))
    assert opened == reference
    assert opened[0] == GERMAN_HEADER and len(opened) - 1 == export["rows"]
    assert [r[6] for r in opened[1:]] == [e["hash"] for e in chronological][:export["rows"]]
    expect(page.get_by_text(app.t("audit.exportOpened", file=name, count=export["rows"]))).to_be_visible()
    app.view("02-export-opened", tablet=True)
    check_reflow(page, "audit log with the vault open")
    (artifact(request.node.name, name)).write_bytes(data)

    # Billing is not set up on this appliance: not offered, and the view says so.
    navigation = page.get_by_role("navigation", name=app.t("nav.label"))
    expect(navigation.get_by_role("link", name=app.t("nav.billing"))).to_have_count(0)
    app.within("/billing")
    expect(page.get_by_text(app.t("billing.disabled"))).to_be_visible()

    # The consent view says the link's e-mail went out.
    app.within(f"/consents/{mailed['id']}")
    expect(page.get_by_text(app.t("mail.sent"), exact=True)).to_be_visible(timeout=SLOW)
    app.view("03-consent-mail-sent", tablet=True)


def test_audit_is_for_the_admin_only_and_says_when_the_chain_is_broken(live_server, database, browser,
                                                                       request):
    server = live_server()
    owner = founded(server.url, OWNER)
    joined(owner, PHYSICIAN)
    page = browser.page(LAPTOP, locale="en-GB")
    app = StaffApp(page, server.url, request.node.name, locale="en")
    app.open("/audit")
    app.sign_in(PHYSICIAN[1])
    app.expect_heading("title.forbidden")
    navigation = page.get_by_role("navigation", name=app.t("nav.label"))
    expect(navigation.get_by_role("link", name=app.t("nav.audit"))).to_have_count(0)

    # Someone with the database's superuser rights alters an entry: the ADMIN is told which.
    chain = owner.practice["id"].replace("-", "")
    tamper(database, f"UPDATE audit_log SET ip = '6.6.6.6' WHERE chain = '{chain}' AND seq = 2")
    verdict = owner.call("GET", "/api/audit/verify")
    assert verdict["ok"] is False and verdict["firstBroken"] == 2
    admin_page = browser.page(LAPTOP, locale="en-GB")
    admin = StaffApp(admin_page, server.url, request.node.name, locale="en")
    admin.open("/audit")
    admin.sign_in(OWNER[1])
    admin.expect_heading("audit.title")
    chain_check = admin_page.get_by_role("region", name=admin.t("audit.chainHeading"))
    expect(chain_check.get_by_role("alert")).to_contain_text(
        admin.t("audit.chainBroken", seq=verdict["firstBroken"], count=verdict["entries"]))
    admin.view("01-chain-broken", tablet=True)


def test_the_views_actions_are_the_servers():
    """The filter offers exactly the actions the API accepts (the view keeps its own list)."""
    source = (ROOT / "appliance/web/src/staff/audit-view.js").read_text(encoding="utf-8")
    listed = re.search(r"export const ACTIONS = \[(.*?)\]", source, re.S).group(1)
    assert sorted(re.findall(r'"([A-Z_]+)"', listed)) == sorted(ACTIONS)
