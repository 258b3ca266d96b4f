"""The staff web app in Chromium against a live gunicorn server: a founder registers, creates
the practice and its vault (a weak vault password refused, the warning and the emergency
sheet), signs out and in, unlocks the vault (a wrong password refused while the page keeps
answering), and the vault locks itself after the idle time. Every view is checked with axe and
photographed at 1366x768 (test-artifacts/); no page may report a CSP violation (the `browser`
fixture)."""

from __future__ import annotations

import io
import re
import time

import pypdf
import pytest
from playwright.sync_api import expect

from appliance.client.api import ApiError, PatientClient, StaffClient
from appliance.services import totp
from tests.support.browser import PHONE, artifact
from tests.support.consent_page import Flow, consent_url, plan_for
from tests.support.smtp import SmtpSink
from tests.support.staff_app import ACCOUNT_PASSWORD, LAPTOP, SLOW, VAULT_PASSWORD, StaffApp

FOUNDER = ("Dr. Anna Sonne", "inhaberin@praxis-sonnenschein.de")
IDENTITY = {"firstName": "Jürgen", "lastName": "Müller-Lüdenscheidt", "dateOfBirth": "1980-02-29",
            "email": "jm@example.de", "phone": "+49 221 1234567"}
NAME = f"{IDENTITY['lastName']}, {IDENTITY['firstName']}"
NEW_VAULT_PASSWORD = "Zitronenfalter Hafenkran Notenpult Walnuss 83"
RECEPTION = "empfang@praxis-sonnenschein.de"
PHYSICIAN = "arzt@praxis-sonnenschein.de"


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def mail():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def mailing_server(live_server, mail):
    """A server that mails consent links (SMTP configured) to the test's sink."""
    return live_server(APPLIANCE_SMTP_HOST="127.0.0.1", APPLIANCE_SMTP_PORT=str(mail.port),
                       APPLIANCE_SMTP_SECURITY="none", APPLIANCE_SMTP_SENDER="praxis@example.test")


def test_the_daily_loop_from_founding_to_archive(mailing_server, mail, browser, request):
    server = mailing_server
    page = browser.page(LAPTOP, locale="de-DE")
    page.clock.install()
    app = StaffApp(page, server.url, request.node.name)
    app.open("/")
    app.expect_heading("login.title")
    app.view("01-sign-in")

    app.register(*FOUNDER)
    app.expect_heading("setup.title")
    app.field("setup.name").fill("Praxis Sonnenschein")
    expect(app.field("setup.email")).to_have_value(FOUNDER[1])
    app.field("setup.timeZone").select_option("Europe/Vienna")
    expect(page.get_by_text(app.t("setup.warning")).first).to_be_visible()
    # A guessable vault password (the practice's own name in it) is refused, with the reason.
    app.field("setup.password").fill("Sonnenschein2024!")
    expect(page.get_by_text(app.t("setup.strengthOk"))).to_be_hidden()
    expect(page.get_by_text(app.t("setup.strengthEmpty"))).to_be_hidden(timeout=SLOW)
    app.field("setup.repeat").fill("Sonnenschein2024!")
    app.button("setup.submit").click()
    expect(page.get_by_text(app.t("setup.passwordWeak"))).to_be_visible()
    expect(page.get_by_text(app.t("setup.confirmStored"))).to_be_visible()
    app.view("02-setup-refused")

    app.field("setup.password").fill(VAULT_PASSWORD)
    expect(page.get_by_text(app.t("setup.strengthOk"))).to_be_visible(timeout=SLOW)
    app.field("setup.repeat").fill(VAULT_PASSWORD)
    page.get_by_label(app.t("setup.stored")).check()
    # The emergency sheet is what goes to paper.
    page.emulate_media(media="print")
    sheet = page.get_by_role("region", name=app.t("sheet.title"))
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("Praxis Sonnenschein")
    expect(app.button("setup.submit")).to_be_hidden()
    page.screenshot(path=str(artifact(request.node.name, "02b-emergency-sheet-print.png")), full_page=True)
    page.emulate_media(media="screen")
    app.button("setup.submit").click()
    app.expect_heading("home.title", timeout=SLOW)
    expect(page.get_by_text(app.t("vault.stateUnlocked"))).to_be_visible()
    app.view("03-home")

    owner = StaffClient(server.url)
    owner.login(FOUNDER[1], ACCOUNT_PASSWORD)
    assert owner.settings()["timezone"] == "Europe/Vienna"
    owner.settings(vaultIdleMinutes=5)  # read with the practice at the next sign-in
    owner.unlock_vault(VAULT_PASSWORD)  # the envelope the browser made opens with the reference client

    # Sign out, a wrong account password, then in again: the vault is locked in a new session.
    app.button("nav.signOut").click()
    app.expect_heading("login.title")
    app.sign_in(FOUNDER[1], "falsches-passwort-123")
    expect(app.alert()).to_have_text(app.t("problem.invalidCredentials"))
    app.sign_in(FOUNDER[1])
    app.expect_heading("home.title")
    expect(page.get_by_text(app.t("vault.stateLocked"))).to_be_visible()
    app.nav("nav.patients")
    app.expect_heading("vault.unlockTitle")
    app.view("04-unlock")

    # A wrong vault password: Argon2id runs in the worker, the page keeps answering meanwhile
    # (its timers run while the button says "unlocking"; recorded in the page, as the state may
    # pass between two looks from here).
    app.record_busy("vault.unlocking")
    app.unlock("Mondschein Quittung Blaupause Kastanie 48")
    expect(app.alert()).to_have_text(app.t("problem.wrongVaultPassword"), timeout=SLOW)
    busy = app.busy_recorded()
    assert busy["seen"] and busy["ticks"] > 0, busy
    expect(app.field("vault.password")).to_be_focused()
    app.unlock()
    app.expect_heading("patients.title", timeout=SLOW)
    app.view("05-patients-empty")

    # A patient: sealed and signed in the worker, found again by name and date of birth.
    app.link("patients.new").click()
    app.expect_heading("patients.newTitle")
    app.field("patients.lastName").fill(IDENTITY["lastName"])
    app.field("patients.firstName").fill(IDENTITY["firstName"])
    app.field("patients.dateOfBirth").fill(IDENTITY["dateOfBirth"])
    app.field("patients.emailOptional").fill(IDENTITY["email"])
    app.view("06-patient-new")
    app.button("patients.create").click()
    expect(app.heading()).to_have_text(NAME, timeout=SLOW)
    app.view("07-patient")
    app.nav("nav.patients")
    expect(page.get_by_role("link", name=NAME)).to_be_visible(timeout=SLOW)
    page.get_by_label(app.t("patients.lastName")).fill("MÜLLER-LÜDENSCHEIDT")
    page.get_by_label(app.t("patients.firstName")).fill("jürgen")
    page.get_by_label(app.t("patients.dateOfBirth")).fill(IDENTITY["dateOfBirth"])
    app.button("patients.find").click()
    expect(app.heading()).to_have_text(NAME, timeout=SLOW)

    # A consent for this patient: the link carries the key fingerprint; a QR code shows it.
    app.link("consents.newForPatient").click()
    app.expect_heading("consents.newTitle")
    expect(page.get_by_text(app.t("consents.forPatient", name=NAME))).to_be_visible()
    expect(app.field("consents.emailOptional")).to_have_value(IDENTITY["email"])  # from the record
    app.field("consents.type").select_option("BOTOX")
    app.view("08-consent-new")
    app.button("consents.create").click()
    app.expect_heading("consents.createdTitle")
    link = app.field("deliver.link").input_value()
    assert "/consent/" in link and "#k=" in link
    expect(page.get_by_role("img", name=app.t("deliver.qrLabel"))).to_be_visible()
    app.view("09-consent-link")

    # The patient signs on their own device (the patient page, another browser context).
    token = link.split("/consent/", 1)[1].split("#", 1)[0]
    form = PatientClient(server.url).open(token)["form"]
    patient_page = browser.page(PHONE, locale="de-DE")
    patient_page.goto(consent_url(server.url, link))
    flow = Flow(patient_page, "de", form, None, checks=False)
    plan = plan_for(form, IDENTITY)
    flow.to_review(plan)
    flow.ui.submit()
    expect(flow.ui.heading()).to_have_text(flow.ui.t("consent.done.title"), timeout=SLOW)

    # Staff see it signed, read exactly what was entered, verified.
    app.nav("nav.consents")
    app.field("consents.status").select_option("SIGNED")
    row = page.get_by_role("row").filter(has_text=app.t("status.SIGNED"))
    expect(row).to_have_count(1)
    app.view("10-consents-signed")
    row.get_by_role("link").click()
    expect(app.heading()).to_have_text(f"{app.t('type.BOTOX')} · {app.t('status.SIGNED')}")
    verified = page.get_by_role("region", name=app.t("read.verifiedTitle"))
    expect(verified).to_be_visible(timeout=SLOW)
    expect(verified.get_by_role("listitem")).to_have_count(5)
    submission = page.get_by_role("article", name=form["title"])
    for group in form["fieldGroups"]:
        for spec in group["fields"]:
            if spec["id"] in plan.answers(form):
                expect(submission.get_by_text(spec["label"], exact=True).first).to_be_visible()
    signer = f"{IDENTITY['firstName']} {IDENTITY['lastName']}"
    expect(submission.get_by_role("img", name=app.t("read.signatureAlt", name=signer))).to_be_visible()
    expect(submission).to_contain_text("127.0.0.1")
    app.view("11-consent-read")

    # The physician's countersignature completes it.
    note = "Risiken und Alternativen besprochen."
    page.get_by_label(app.t("countersign.noteOptional")).fill(note)
    app.button("countersign.submit").click()
    expect(app.heading()).to_have_text(f"{app.t('type.BOTOX')} · {app.t('status.COMPLETED')}", timeout=SLOW)
    expect(page.get_by_text(note)).to_be_visible(timeout=SLOW)
    consent_id = page.url.rsplit("/", 1)[1]
    assert owner.read_countersignature(owner.get_consent(consent_id))["note"] == note

    # GDT: the browser supplies the decrypted identity for this one file.
    app.field("gdt.patientNumber").fill("4711")
    with page.expect_download() as download:
        app.button("gdt.submit").click()
    gdt = download.value.path().read_bytes()
    assert b"6310" in gdt and IDENTITY["lastName"].encode("latin-1") in gdt and b"4711" in gdt
    app.view("12-consent-completed")

    # The archive copy: made and encrypted here, stored once, downloaded and decrypted later.
    app.button("archive.create").click()
    expect(app.button("archive.download")).to_be_visible(timeout=SLOW)
    with page.expect_download() as download:
        app.button("archive.download").click()
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf == owner.read_consent_archive(consent_id)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    for expected in (form["formHash"], IDENTITY["lastName"], note, form["title"], consent_id):
        assert expected in text.replace("\n", " ") or expected in text, expected
    stored = owner.http.get(f"{server.url}/api/consent/practice/{consent_id}/archive/download",
                            headers={"Authorization": f"Bearer {owner.token}"}, timeout=30).content
    assert len(stored) > len(pdf) and b"%PDF" not in stored  # the server holds ciphertext only

    # A consent for whoever opens the link: staff link the submitted identity afterwards.
    app.nav("nav.consents")
    app.link("consents.new").click()
    expect(page.get_by_text(app.t("consents.withoutPatient"))).to_be_visible()
    app.field("consents.emailOptional").fill("jm@example.de")
    app.button("consents.create").click()
    expect(page.get_by_text(app.t("deliver.emailed", email="jm@example.de"))).to_be_visible()
    link = app.field("deliver.link").input_value()
    mailed = mail.wait_for(2)[-1]  # the first went to the patient's stored address
    assert link in mailed.message.get_body(("plain",)).get_content()  # with the same #k= fingerprint
    patient_page.goto(consent_url(server.url, link))
    flow = Flow(patient_page, "de", form, None, checks=False)
    flow.to_review(plan_for(form, IDENTITY))
    flow.ui.submit()
    expect(flow.ui.heading()).to_have_text(flow.ui.t("consent.done.title"), timeout=SLOW)
    app.link("consents.open").click()
    expect(page.get_by_text(app.t("consents.noPatient"))).to_be_visible()
    app.button("link.existing", name=NAME).click()
    expect(page.get_by_role("link", name=app.t("consents.linkedPatient"))).to_be_visible(timeout=SLOW)
    linked = owner.get_consent(page.url.rsplit("/", 1)[1])
    assert linked["patientId"] == owner.get_consent(consent_id)["patientId"]

    # A fresh link replaces a pending one's; revoking takes a reason.
    app.nav("nav.consents")
    app.link("consents.new").click()
    app.button("consents.create").click()
    first_link = app.field("deliver.link").input_value()
    app.link("consents.open").click()
    expect(app.heading()).to_have_text(f"{app.t('type.BOTOX')} · {app.t('status.PENDING')}")
    app.button("consents.freshLink").click()
    expect(app.field("deliver.link")).not_to_have_value(first_link, timeout=SLOW)
    fresh_link = app.field("deliver.link").input_value()
    assert "#k=" in fresh_link
    with pytest.raises(ApiError):
        PatientClient(server.url).open(first_link.split("/consent/", 1)[1].split("#", 1)[0])
    app.view("13a-consent-fresh-link")
    app.button("consents.revoke").click()
    app.field("consents.reason").fill("Termin abgesagt")
    app.button("consents.revokeConfirm").click()
    expect(app.heading()).to_have_text(f"{app.t('type.BOTOX')} · {app.t('status.REVOKED')}")
    expect(page.get_by_text("Termin abgesagt")).to_be_visible()

    # The owner changes the vault password: proof of the key, the same keys in a new envelope.
    app.nav("nav.account")
    app.expect_heading("account.title")
    app.field("account.newPassword").fill(NEW_VAULT_PASSWORD)
    expect(page.get_by_text(app.t("setup.strengthOk"))).to_be_visible(timeout=SLOW)
    app.field("setup.repeat").fill(NEW_VAULT_PASSWORD)
    page.get_by_label(app.t("setup.stored")).check()
    app.button("account.changeVault").click()
    expect(page.get_by_text(app.t("account.vaultChanged"))).to_be_visible(timeout=SLOW)
    app.view("13-vault-changed")
    owner.unlock_vault(NEW_VAULT_PASSWORD)

    # Erasure: signed consents inside the retention period need the owner's explicit override.
    app.nav("nav.patients")
    page.get_by_role("link", name=NAME).click()
    expect(app.heading()).to_have_text(NAME, timeout=SLOW)
    app.expect_loaded()
    app.button("erase.start").click()
    app.button("erase.confirm").click()
    expect(page.get_by_text(app.t("erase.retained"))).to_be_visible()
    expect(app.button("erase.confirm")).to_be_disabled()
    app.view("14-erase-retained")
    page.get_by_label(app.t("erase.override")).check()
    app.button("erase.confirm").click()
    app.expect_heading("patients.title")
    expect(page.get_by_text(app.t("patients.empty"))).to_be_visible()

    # Idle: the practice's 5 minutes (its setting, not the default 15) pass without input.
    page.clock.fast_forward("04:00")
    expect(page.get_by_text(app.t("vault.stateUnlocked"))).to_be_visible()
    page.clock.fast_forward("01:30")
    app.expect_heading("vault.unlockTitle")
    expect(page.get_by_text(app.t("vault.lockedIdle"))).to_be_visible()
    events = [e["action"] for e in owner.call("GET", "/api/audit", limit=50)["items"]]
    assert events.count("VAULT_UNLOCKED") == 1 and "VAULT_LOCKED" in events


def test_invitations_and_what_each_role_sees(server, browser, request):
    owner = StaffClient(server.url)
    owner.register(FOUNDER[1], ACCOUNT_PASSWORD, FOUNDER[0])
    owner.create_practice("Praxis Sonnenschein", FOUNDER[1], VAULT_PASSWORD)
    reception = owner.call("POST", "/api/team/invite", {"email": RECEPTION, "role": "EMPFANG"})
    physician = owner.call("POST", "/api/team/invite", {"email": PHYSICIAN, "role": "ARZT"})
    # The physician has an account already (from another practice's time): signs in to accept.
    elsewhere = StaffClient(server.url)  # and stays signed in there (another device)
    elsewhere.register(PHYSICIAN, ACCOUNT_PASSWORD, "Dr. Jan Berg")

    # A new account: name and password on the invitation page, then reception's view.
    page = browser.page(LAPTOP, locale="de-DE")
    app = StaffApp(page, server.url, request.node.name)
    app.open(f"/invite/{reception['token']}")
    app.expect_heading("invite.title")
    expect(page.get_by_text("Praxis Sonnenschein", exact=False).first).to_be_visible()
    app.view("01-invite-new-account")
    page.get_by_label(app.t("login.name"), exact=True).fill("Eva Empfang")
    app.field("login.password").fill(ACCOUNT_PASSWORD)
    app.button("invite.accept").click()
    app.expect_heading("home.title")
    expect(page.get_by_text(app.t("home.reception"))).to_be_visible()
    navigation = page.get_by_role("navigation", name=app.t("nav.label"))
    expect(navigation.get_by_role("link")).to_have_text([app.t("nav.home"), app.t("nav.account")])
    expect(page.get_by_text(app.t("vault.stateLocked"))).to_be_hidden()  # no vault for reception
    app.view("02-reception-home")
    for path in ("/patients", "/consents/new"):
        app.within(path)
        app.expect_heading("title.forbidden")
    app.view("03-reception-refused")
    # Used once: the same link explains itself.
    app.button("nav.signOut").click()
    app.open(f"/invite/{reception['token']}")
    expect(page.get_by_text(app.t("invite.used"))).to_be_visible()

    # An existing account proves it with its password; the physician works with patients, but
    # team (part 2) and audit are not offered.
    other = browser.page(LAPTOP, locale="en-GB")
    doctor = StaffApp(other, server.url, request.node.name, locale="en")
    doctor.open(f"/invite/{physician['token']}")
    expect(other.get_by_text(doctor.t("invite.existingAccount"))).to_be_visible()
    doctor.view("04-invite-existing-account")
    doctor.field("login.password").fill(ACCOUNT_PASSWORD)
    doctor.button("invite.accept").click()
    doctor.expect_heading("home.title")
    links = other.get_by_role("navigation", name=doctor.t("nav.label")).get_by_role("link")
    expect(links).to_have_text([doctor.t("nav.home"), doctor.t("nav.patients"), doctor.t("nav.consents"),
                                doctor.t("nav.templates"), doctor.t("nav.analytics"),
                                doctor.t("nav.account")])
    doctor.view("05-physician-home")
    for path in ("/team", "/settings", "/audit"):  # the practice's administration: ADMIN only
        doctor.within(path)
        doctor.expect_heading("title.forbidden")
    # Sign-out everywhere ends the physician's other sessions too.
    doctor.within("/")
    doctor.button("home.everywhere").click()
    doctor.expect_heading("login.title")
    expect(other.get_by_text(doctor.t("session.signedOutEverywhere"))).to_be_visible()
    with pytest.raises(ApiError) as ended:
        elsewhere.call("GET", "/api/auth/me")
    assert ended.value.status == 401

    members = {m["email"]: m["role"] for m in owner.call("GET", "/api/team/members")["items"]}
    assert (members[PHYSICIAN], members[RECEPTION]) == ("ARZT", "EMPFANG")


def test_sign_in_with_the_totp_step(server, browser, request):
    member = StaffClient(server.url)
    member.register(PHYSICIAN, ACCOUNT_PASSWORD, "Dr. Jan Berg")
    secret = member.call("POST", "/api/auth/2fa/setup")["secret"]
    step = int(time.time()) // totp.STEP_SECONDS
    member.call("POST", "/api/auth/2fa/enable", {"code": totp.code_at(secret, step - 1)})
    page = browser.page(LAPTOP, locale="de-DE")
    app = StaffApp(page, server.url, request.node.name)
    app.open("/")
    app.sign_in(PHYSICIAN)
    app.expect_heading("login.codeTitle")
    app.view("01-totp")
    right = totp.code_at(secret, step + 1)
    app.field("login.code").fill("000000" if right != "000000" else "111111")
    app.button("login.submit").click()
    expect(app.alert()).to_have_text(app.t("problem.invalidCode"))
    app.field("login.code").fill(right)
    app.button("login.submit").click()
    app.expect_heading("setup.title")  # signed in, no practice yet


def test_wrong_sign_ins_and_then_the_rate_limit_are_told_apart(server, browser, request):
    page = browser.page(LAPTOP, locale="de-DE")
    app = StaffApp(page, server.url, request.node.name)
    app.open("/login")
    app.expect_heading("login.title")
    for _ in range(5):  # the sign-in budget of an address: five a minute
        app.sign_in(FOUNDER[1], "falsches-passwort-123")
        expect(app.alert()).to_have_text(app.t("problem.invalidCredentials"))
        expect(app.button("login.submit")).to_be_enabled()
    app.sign_in(FOUNDER[1], "falsches-passwort-123")
    expect(app.alert()).to_contain_text(app.t("problem.rateLimited", seconds="")[:30])
    assert re.search(r"\d+ Sekunden", app.alert().inner_text())
    app.view("01-rate-limited")
