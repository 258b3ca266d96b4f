"""The staff app's team, settings and account views in Chromium against a live gunicorn: the
owner invites a physician, who accepts in a second browser; the owner changes the role and
removes the member, whose open page is signed out on its next action (not broken). The account
page enrols TOTP with a QR code made in the browser and a code computed here (the next sign-in
asks for it), lists the account's sign-ins and ends another one. The settings are saved, a
wrong value is refused in the browser and a value only the server can judge is refused with
the server's words at its field. Every view passes axe-core and is photographed at 1366x768
and 768x1024 (test-artifacts/); no page may report a CSP violation (the `browser` fixture)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from appliance.client.api import ApiError, StaffClient
from appliance.services import totp
from tests.support import png
from tests.support.billing import billing_section
from tests.support.browser import artifact, check_reflow
from tests.support.smtp import SmtpSink
from tests.support.staff_app import ACCOUNT_PASSWORD, LAPTOP, VAULT_PASSWORD, StaffApp
from tests.support.team import link_in, smtp_env

OWNER = ("Dr. Anna Sonne", "inhaberin@praxis-sonnenschein.de")
PHYSICIAN = ("Dr. Jan Berg", "arzt@praxis-sonnenschein.de")
RECEPTION = "empfang@praxis-sonnenschein.de"
TABLET = {"width": 768, "height": 1024}


@pytest.fixture
def server(live_server):
    return live_server()


def practice(server) -> StaffClient:
    """The owner's reference client, with the practice founded."""
    owner = StaffClient(server.url)
    owner.register(OWNER[1], ACCOUNT_PASSWORD, OWNER[0])
    owner.create_practice("Praxis Sonnenschein", OWNER[1], VAULT_PASSWORD)
    return owner


def look(app: StaffApp, step: str) -> None:
    """axe-core, no sideways scrolling at 320 CSS px nor at 200 % zoom, then the view at
    1366x768 and at a portrait tablet's 768x1024."""
    app.view(step)
    check_reflow(app.page, step)
    app.page.set_viewport_size(TABLET)
    app.page.screenshot(path=str(artifact(app.test_name, f"{step}-768x1024.png")), full_page=True)
    app.page.set_viewport_size(LAPTOP)


def signed_in(browser, server, request, email: str = OWNER[1], locale: str = "de") -> StaffApp:
    page = browser.page(LAPTOP, locale="de-DE" if locale == "de" else "en-GB")
    app = StaffApp(page, server.url, request.node.name, locale=locale)
    app.open("/")
    app.sign_in(email)
    app.expect_heading("home.title")
    return app


def test_team_invite_accept_change_role_and_remove(server, browser, request):
    owner = practice(server)
    app = signed_in(browser, server, request)
    page = app.page
    app.nav("nav.team")
    app.expect_heading("team.title")
    members = page.get_by_role("region", name=app.t("team.membersHeading"))
    expect(members.get_by_role("row")).to_have_count(2)  # the header and the owner
    expect(page.get_by_text(app.t("team.lastAdminRule"))).to_be_visible()
    # The owner's own role cannot be changed here, nor can the owner remove themself.
    expect(page.get_by_label(app.t("team.roleOf", name=OWNER[0]))).to_be_disabled()
    expect(members.get_by_role("button", name=app.t("team.remove"))).to_have_count(0)
    expect(page.locator(".seats")).to_have_count(0)  # billing is off: no seats to count

    # A malformed address is refused in the browser; then the invitation, with its link (no SMTP).
    app.field("login.email").fill("arzt-at-praxis")
    app.button("team.invite").click()
    expect(page.get_by_text(app.t("validation.email"))).to_be_visible()
    app.field("login.email").fill(PHYSICIAN[1])
    page.get_by_label(app.t("account.role"), exact=True).select_option("ARZT")
    app.button("team.invite").click()
    expect(page.get_by_text(app.t("team.invited", email=PHYSICIAN[1]))).to_be_visible()
    expect(page.get_by_text(app.t("team.noMail"))).to_be_visible()
    link = page.get_by_label(app.t("team.link"), exact=True).input_value()
    assert re.fullmatch(r"https?://\S+/invite/[A-Za-z0-9_-]{43}", link), link
    invites = page.get_by_role("region", name=app.t("team.invitesHeading"))
    expect(invites.get_by_role("row")).to_have_count(2)
    look(app, "01-team-invited")
    # Inviting the same address again: the open invitation is named.
    app.field("login.email").fill(PHYSICIAN[1])
    app.button("team.invite").click()
    expect(app.alert()).to_have_text(app.t("team.invitePending"))
    # A second invitation, withdrawn again: its link stops working.
    app.field("login.email").fill(RECEPTION)
    page.get_by_label(app.t("account.role"), exact=True).select_option("EMPFANG")
    app.button("team.invite").click()
    expect(invites.get_by_role("row")).to_have_count(3)
    expect(page.get_by_label(app.t("team.link"), exact=True)).not_to_have_value(link)
    withdrawn = page.get_by_label(app.t("team.link"), exact=True).input_value()
    row = invites.get_by_role("row").filter(has_text=RECEPTION)
    row.get_by_role("button", name=app.t("team.revoke")).click()
    expect(page.get_by_text(app.t("team.revoked", email=RECEPTION))).to_be_visible()
    expect(invites.get_by_role("row")).to_have_count(2)
    with pytest.raises(ApiError) as gone:
        StaffClient(server.url).call("GET", "/api/team/invite/" + withdrawn.rsplit("/", 1)[1])
    assert (gone.value.status, gone.value.code) == (410, "invite_revoked")
    # Resending makes a new link; the old one stops working.
    invites.get_by_role("button", name=app.t("team.resend")).click()
    expect(page.get_by_text(app.t("team.resent", email=PHYSICIAN[1]))).to_be_visible()
    expect(page.get_by_role("heading", name=app.t("team.linkHeading", email=PHYSICIAN[1]))).to_be_visible()
    fresh = page.get_by_label(app.t("team.link"), exact=True).input_value()
    assert fresh not in (link, withdrawn)

    # The physician accepts in a browser of their own.
    other = browser.page(LAPTOP, locale="en-GB")
    doctor = StaffApp(other, server.url, request.node.name, locale="en")
    doctor.open(re.sub(r"^https?://[^/]+", "", fresh))
    doctor.expect_heading("invite.title")
    other.get_by_label(doctor.t("login.name"), exact=True).fill(PHYSICIAN[0])
    doctor.field("login.password").fill(ACCOUNT_PASSWORD)
    doctor.button("invite.accept").click()
    doctor.expect_heading("home.title")
    # No team or settings for a physician, neither in the navigation nor by path.
    links = other.get_by_role("navigation", name=doctor.t("nav.label")).get_by_role("link")
    expect(links).to_have_text([doctor.t(key) for key in ("nav.home", "nav.patients", "nav.consents",
                                                          "nav.templates", "nav.analytics", "nav.account")])
    for path in ("/team", "/settings"):
        doctor.within(path)
        doctor.expect_heading("title.forbidden")
    doctor.within("/")
    doctor.expect_heading("home.title")

    # The owner sees the new member (and no open invitation), and makes them reception.
    app.nav("nav.home")
    app.nav("nav.team")
    expect(members.get_by_role("row")).to_have_count(3)
    expect(page.get_by_text(app.t("team.noInvites"))).to_be_visible()
    page.get_by_label(app.t("team.roleOf", name=PHYSICIAN[0])).select_option("EMPFANG")
    app.button("team.saveRole").click()
    changed = app.t("team.roleChanged", name=PHYSICIAN[0], role=app.t("role.EMPFANG"))
    expect(page.get_by_text(changed)).to_be_visible()
    roles = {m["email"]: m["role"] for m in owner.call("GET", "/api/team/members")["items"]}
    assert roles == {OWNER[1]: "ADMIN", PHYSICIAN[1]: "EMPFANG"}
    # The member's open page: the first request the new role may not make brings the new role.
    doctor.nav("nav.analytics")
    doctor.expect_heading("title.forbidden")
    expect(links).to_have_text([doctor.t("nav.home"), doctor.t("nav.account")])
    reception = doctor.t("nav.signedInAs", name=PHYSICIAN[0], role=doctor.t("role.EMPFANG"))
    expect(other.get_by_text(reception)).to_be_visible()

    # Removing asks once more, then the member is gone and their sessions end.
    members.get_by_role("button", name=app.t("team.remove")).click()
    look(app, "02-team-remove-confirm")
    app.button("team.removeConfirm", name=PHYSICIAN[0]).click()
    expect(page.get_by_text(app.t("team.removed", name=PHYSICIAN[0]))).to_be_visible()
    expect(members.get_by_role("row")).to_have_count(2)

    # The removed member's open page: its next action finds the session ended and says so.
    doctor.nav("nav.account")
    doctor.expect_heading("login.title")
    expect(other.get_by_text(doctor.t("session.expired"))).to_be_visible()
    doctor.view("03-removed-member-signed-out")
    assert [m["email"] for m in owner.call("GET", "/api/team/members")["items"]] == [OWNER[1]]


def test_totp_enrolment_sign_ins_and_the_password(server, browser, request):
    owner = practice(server)  # another sign-in of the same account (a second device)
    app = signed_in(browser, server, request, locale="en")
    page = app.page
    app.nav("nav.account")
    app.expect_heading("account.title")

    # The account's sign-ins: this one and the reference client's; the other one is ended here.
    sign_ins = page.get_by_role("region", name=app.t("account.sessionsHeading"))
    expect(sign_ins.get_by_role("row")).to_have_count(3)
    expect(sign_ins.get_by_text(app.t("account.thisSession"))).to_have_count(1)
    assert [s["current"] for s in owner.sessions()].count(True) == 1
    look(app, "01-account")
    sign_ins.get_by_role("button").click()
    expect(page.get_by_text(app.t("account.sessionEnded"))).to_be_visible()
    expect(sign_ins.get_by_role("row")).to_have_count(2)
    with pytest.raises(ApiError) as ended:
        owner.call("GET", "/api/auth/me")
    assert ended.value.status == 401

    # TOTP: the QR code is drawn in the page; the key beside it gives the code computed here.
    app.button("account.twoFactorStart").click()
    qr = page.get_by_role("img", name=app.t("account.twoFactorQr"))
    expect(qr).to_be_visible()
    assert qr.locator("path").get_attribute("d").count("M") > 100  # modules, not an empty frame
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    look(app, "02-totp-scan")
    app.field("login.code").fill("12345")
    app.button("account.twoFactorEnable").click()
    expect(page.get_by_text(app.t("account.codeFormat"))).to_be_visible()
    # The current step: the server accepts one step either side, so a step boundary between
    # here and there does not matter.
    step = int(time.time()) // totp.STEP_SECONDS
    app.field("login.code").fill(totp.code_at(secret, step))
    app.button("account.twoFactorEnable").click()
    expect(page.get_by_text(app.t("account.twoFactorOn"))).to_be_visible()
    expect(page.get_by_text(app.t("account.twoFactorIsOn"))).to_be_visible()
    # Switching it off takes the password too: a wrong one is refused, nothing changes.
    app.field("login.password").fill("falsches-passwort-123")
    app.field("login.code").fill(totp.code_at(secret, step))
    app.button("account.twoFactorDisable").click()
    expect(app.alert()).to_have_text(app.t("account.wrongPassword"))
    look(app, "03-totp-on")

    # The next sign-in asks for the code.
    app.button("nav.signOut").click()
    app.expect_heading("login.title")
    app.sign_in(OWNER[1])
    app.expect_heading("login.codeTitle")
    # A code of a later step than the one enabling used (each step's code works once).
    app.field("login.code").fill(totp.code_at(secret, int(time.time()) // totp.STEP_SECONDS + 1))
    app.button("login.submit").click()
    app.expect_heading("account.title")  # back where the page was

    # The account password: a wrong current one is refused; the new one works at the next sign-in.
    app.field("account.currentPassword").fill("falsches-passwort-123")
    app.field("account.newAccountPassword").fill("Neues-Passwort-2027")
    app.field("account.repeatPassword").fill("Neues-Passwort-2027")
    app.button("account.changePassword").click()
    expect(app.alert()).to_have_text(app.t("account.wrongPassword"))
    app.field("account.currentPassword").fill(ACCOUNT_PASSWORD)
    app.button("account.changePassword").click()
    expect(page.get_by_text(app.t("account.passwordChanged"))).to_be_visible()
    app.nav("nav.home")  # the page goes on with the new token
    app.expect_heading("home.title")
    with pytest.raises(ApiError):
        StaffClient(server.url).login(OWNER[1], ACCOUNT_PASSWORD)


def test_settings_saved_refused_and_the_logo(server, browser, request):
    owner = practice(server)
    app = signed_in(browser, server, request)
    page = app.page
    app.nav("nav.settings")
    app.expect_heading("settings.title")
    expect(app.field("setup.name")).to_have_value("Praxis Sonnenschein")

    # The brand colour's contrast with white text is measured as it is typed.
    colour = app.field("settings.brandColor")
    colour.fill("#ffcc00")
    contrast = page.locator("#settings-contrast")
    expect(contrast).to_contain_text(app.t("settings.contrastFail"))
    expect(contrast).to_contain_text("1,")  # about 1.6:1, in German notation
    colour.fill("#1d6b3a")
    expect(contrast).to_contain_text(app.t("settings.contrastAa"))

    # Values the browser refuses by the API's rules: nothing is sent.
    app.field("settings.expiry").fill("91")
    page.get_by_label(app.t("settings.idle"), exact=True).fill("0")
    app.button("settings.save").click()
    expect(app.alert()).to_have_text(app.t("settings.checkFields"))
    expect(page.get_by_text(app.t("settings.range", low=1, high=90))).to_be_visible()
    expect(page.get_by_text(app.t("settings.range", low=1, high=240))).to_be_visible()
    expect(app.field("settings.expiry")).to_have_attribute("aria-invalid", "true")
    look(app, "01-settings-refused-here")
    assert owner.settings()["defaultConsentExpiry"] == 7

    # A value only the server can judge: the exchange directory (this server has no GDT root).
    app.field("settings.expiry").fill("21")
    page.get_by_label(app.t("settings.idle"), exact=True).fill("10")
    app.field("settings.gdtDirectory").fill("/var/lib/praxis/gdt")
    app.button("settings.save").click()
    expect(app.alert()).to_have_text(app.t("settings.refused"))
    expect(page.get_by_text(re.compile("gdt.exchange_root"))).to_be_visible()  # the API's words
    assert owner.settings()["defaultConsentExpiry"] == 7  # the directory is sent first: nothing saved
    look(app, "02-settings-refused-by-server")

    # Then all of it saved, the practice's own text for one treatment included.
    app.field("settings.gdtDirectory").fill("")
    app.field("setup.name").fill("Praxis Sonnenschein Köln")
    page.get_by_label(app.t("type.LASER"), exact=True).uncheck()
    page.get_by_text(app.t("settings.textFor", type=app.t("type.BOTOX"))).click()
    page.locator("#settings-text-BOTOX-title").fill("Preise")
    page.locator("#settings-text-BOTOX-paragraphs").fill("Eine Zone: 250 Euro\nZwei Zonen: 400 Euro")
    app.button("settings.save").click()
    expect(page.get_by_text(app.t("settings.saved"))).to_be_visible()
    saved = owner.settings()
    assert (saved["defaultConsentExpiry"], saved["vaultIdleMinutes"]) == (21, 10)
    assert saved["brandColor"] == "#1d6b3a"
    assert "LASER" not in saved["enabledConsentTypes"] and "BOTOX" in saved["enabledConsentTypes"]
    assert saved["practiceTexts"]["BOTOX"]["paragraphs"] == ["Eine Zone: 250 Euro", "Zwei Zonen: 400 Euro"]
    assert owner.call("GET", "/api/practice")["name"] == "Praxis Sonnenschein Köln"
    expect(page.get_by_text("Praxis Sonnenschein Köln").first).to_be_visible()  # the frame's name too

    # The logo: previewed from the file before it is uploaded, then served by the appliance.
    logo = artifact(request.node.name, "logo.png")
    logo.write_bytes(png.encode(120, 40, (29, 107, 58)))
    page.get_by_label(app.t("settings.logoChoose"), exact=True).set_input_files(str(logo))
    preview = page.get_by_role("img", name=app.t("settings.logoPreview"))
    expect(preview).to_be_visible()
    assert preview.get_attribute("src").startswith("blob:")
    app.button("settings.logoUpload").click()
    expect(page.get_by_text(app.t("settings.logoSaved"))).to_be_visible()
    current = page.get_by_role("img", name=app.t("settings.logoCurrent"))
    expect(current).to_have_attribute("src", re.compile(r"^/api/public/logo/[0-9a-f-]{36}$"))
    page.wait_for_function("img => img.complete && img.naturalWidth === 120", arg=current.element_handle())
    look(app, "03-settings-saved")
    app.button("settings.logoRemove").click()
    expect(page.get_by_text(app.t("settings.logoRemoved"))).to_be_visible()
    expect(page.get_by_text(app.t("settings.noLogo"))).to_be_visible()
    with pytest.raises(ApiError) as gone:
        owner.call("GET", "/api/settings/logo")
    assert gone.value.status == 404


def test_seats_against_the_plan_when_billing_is_on(live_server, stripe_stub, browser, request):
    env = {f"APPLIANCE_BILLING_{key.upper()}": str(value)
           for key, value in billing_section(stripe_stub).items()}
    server = live_server(**env)
    owner = practice(server)
    issued = owner.call("POST", "/api/team/invite", {"email": PHYSICIAN[1], "role": "ARZT"})
    StaffClient(server.url).call("POST", f"/api/team/invite/{issued['token']}/accept",
                                 {"name": PHYSICIAN[0], "password": ACCOUNT_PASSWORD})
    usage = owner.call("GET", "/api/billing/subscription")["usage"]
    assert (usage["members"], usage["memberLimit"]) == (2, 2)  # the trial's two seats, both taken

    app = signed_in(browser, server, request)
    page = app.page
    app.nav("nav.team")
    expect(page.get_by_text(app.t("team.seats", used=2, allowed=2))).to_be_visible()
    # A third member does not fit the plan: the refusal names the numbers.
    app.field("login.email").fill(RECEPTION)
    app.button("team.invite").click()
    expect(app.alert()).to_have_text(app.t("team.seatLimit", allowed=2, used=2))
    look(app, "01-team-seats-full")
    assert [i["email"] for i in owner.call("GET", "/api/team/invites")["items"]] == []


def test_an_invitation_by_e_mail_says_what_became_of_the_mail(live_server, browser, request):
    with SmtpSink() as mail:
        server = live_server(**smtp_env(mail))
        practice(server)
        app = signed_in(browser, server, request)
        page = app.page
        app.nav("nav.team")
        app.field("login.email").fill(RECEPTION)
        page.get_by_label(app.t("account.role"), exact=True).select_option("EMPFANG")
        app.button("team.invite").click()
        expect(page.get_by_text(app.t("team.mailQueued"))).to_be_visible()
        (sent,) = mail.wait_for(1)
        assert sent.rcpt_tos == [RECEPTION]
        base, token = link_in(sent.message.get_body(("plain",)).get_content())
        assert page.get_by_label(app.t("team.link"), exact=True).input_value() == f"{base}/invite/{token}"
        # The outbox sends after the answer: the list says so once it has.
        app.nav("nav.home")
        app.nav("nav.team")
        invites = page.get_by_role("region", name=app.t("team.invitesHeading"))
        expect(invites.get_by_text(app.t("mail.sent"), exact=True)).to_be_visible()
        look(app, "01-team-invitation-mailed")
