"""The patient consent page in Chromium against a live gunicorn server: a patient opens the
link, reads, answers (one wrong comprehension answer first), signs with pointer strokes,
submits and keeps a copy; the practice then decrypts exactly that with the reference client.
Every step is checked with axe-core and photographed on a phone and a desktop (test-artifacts/),
and no page may report a CSP violation (the `browser` fixture)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
import secrets

import pypdf
import pytest
import requests
from playwright.sync_api import Page, expect

from appliance import tenancy
from appliance.client.api import PatientClient, StaffClient
from appliance.clock import SystemClock
from appliance.forms.canonical import form_hash
from appliance.models import ConsentForm
from tests.support import png
from tests.support.browser import DESKTOP, PHONE, artifact, check_axe, screenshot
from tests.support.consent_page import (
    ConsentPage,
    Flow,
    Keyboard,
    Plan,
    Texts,
    consent_url,
    fill_by_keyboard,
    keyboard_date,
    plan_for,
    spinner_animation,
)
from tests.support.png import dark_near, decode

IDENTITY = {"firstName": "Jürgen", "lastName": "Müller-Lüdenscheidt", "dateOfBirth": "1980-02-29",
            "email": "jm@example.de", "phone": "+49 221 1234567"}
STAFF_PASSWORD = "sehr-geheimes-passwort"
VAULT_PASSWORD = "vault-passwort-123"
BROWSER_LOCALE = {"de": "de-DE", "en": "en-GB"}


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def staff(server):
    client = StaffClient(server.url)
    client.register("inhaberin@praxis-sonnenschein.de", STAFF_PASSWORD, "Dr. Anna Sonne")
    client.create_practice("Praxis Sonnenschein", "datenschutz@praxis-sonnenschein.de", VAULT_PASSWORD,
                           city="Köln", postalCode="50667")
    return client


def open_consent(server, staff, consent_type: str = "BOTOX", locale: str = "de") -> tuple[dict, dict]:
    """A new consent link and the form document its page shows."""
    consent = staff.create_consent(consent_type, locale=locale)
    form = PatientClient(server.url).open(consent["token"])["form"]
    return consent, form


@pytest.mark.parametrize("engine", ["postgresql"])
@pytest.mark.parametrize("locale", ["de", "en"])
def test_a_patient_signs_on_a_phone_and_the_practice_reads_exactly_that(
        server, staff, browser, locale, request):
    consent, form = open_consent(server, staff, locale=locale)
    assert form["locale"] == locale
    page = browser.page(PHONE, locale=BROWSER_LOCALE[locale])
    submits = []
    page.on("request", lambda r: submits.append(r) if r.method == "POST" else None)
    page.goto(consent_url(server.url, consent["link"]))
    assert spinner_animation(page) == "spin"
    flow = Flow(page, locale, form, request.node.name)
    plan = plan_for(form, IDENTITY)
    signature_png = flow.to_review(plan)

    flow.ui.submit()
    expect(flow.ui.heading()).to_have_text(flow.ui.t("consent.done.title"), timeout=30000)
    flow.step("09-done")
    assert len(submits) == 1

    with page.expect_download() as download:
        page.get_by_role("button", name=flow.ui.t("consent.done.copyButton")).click()
    copy = download.value
    assert copy.suggested_filename.endswith(".pdf")
    saved = artifact(request.node.name, "copy.pdf")
    copy.save_as(saved)
    pdf_bytes = saved.read_bytes()
    check_copy(pdf_bytes, form, plan)
    expect(page.get_by_text(flow.ui.t("consent.done.copyMade", file=copy.suggested_filename))).to_be_visible()

    # The practice, on another device: unlock the vault and read.
    reader = StaffClient(server.url)
    reader.login("inhaberin@praxis-sonnenschein.de", STAFF_PASSWORD)
    reader.unlock_vault(VAULT_PASSWORD)
    document = reader.read_consent(consent["id"], form=form)
    assert (document["formId"], document["version"], document["formHash"], document["locale"]) == (
        form["formId"], form["version"], form["formHash"], locale)
    assert document["answers"] == plan.answers(form)
    assert document["comprehension"] == [
        {"id": q["id"], "attempts": [plan.wrong_first[q["id"]], q["correct"]], "passed": True}
        for q in form["comprehension"]]
    assert document["declaration"] == [s["id"] for s in form["declaration"]["statements"]]
    assert document["identity"] == IDENTITY
    check_signature(document["signature"], signature_png, flow.points)
    assert document["identityMismatch"] is False  # the sealed identity is the one in the answers
    assert [c["id"] for c in reader.list_consents(status="SIGNED")["items"]] == [consent["id"]]


def check_signature(signature: dict, shown: str, points: list[tuple[float, float]]) -> None:
    """The image the practice decrypts is the one the patient saw, with ink where they drew."""
    data = signature["data"]
    raw = data if isinstance(data, bytes) else base64.b64decode(data)
    assert raw == base64.b64decode(shown)
    assert (signature["format"], signature["width"], signature["height"]) == ("image/png", 600, 200)
    width, height, pixels = decode(raw)
    assert (width, height) == (600, 200)
    # the pad smooths corners, so ink passes near each point drawn rather than through it
    assert all(dark_near(pixels, x, y, radius=10) for x, y in points)
    assert not dark_near(pixels, 590, 10, radius=6)  # nothing drawn there


def check_copy(pdf: bytes, form: dict, plan: Plan) -> None:
    """The copy is a PDF with the form's hash, its text, the answers and the signature image."""
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = re.sub(r"\s+", " ", text)
    assert form["formHash"] in flat
    assert "Praxis Sonnenschein" in flat
    for section in form["sections"]:
        assert re.sub(r"\s+", " ", section["title"]) in flat
    assert plan.identity["lastName"] in flat
    assert "Ibuprofen 400 mg" in flat or not any(
        spec["kind"] == "list" for group in form["fieldGroups"] for spec in group["fields"])
    images = [obj.get_object() for page in reader.pages
              for obj in (page["/Resources"].get("/XObject") or {}).values()]
    assert [(i["/Width"], i["/Height"]) for i in images if i["/Subtype"] == "/Image"] == [(600, 200)]


def sign(browser, server, consent: dict, form: dict, locale: str = "de") -> Page:
    """A patient signs through the page (no checks on the way); the page shows the confirmation."""
    page = browser.page(DESKTOP, locale=BROWSER_LOCALE[locale])
    page.goto(consent_url(server.url, consent["link"]))
    flow = Flow(page, locale, form, None, checks=False)
    flow.to_review(plan_for(form, IDENTITY))
    flow.ui.submit()
    expect(flow.ui.heading()).to_have_text(flow.ui.t("consent.done.title"), timeout=30000)
    return page


@pytest.mark.parametrize("engine", ["postgresql"])
def test_links_that_cannot_be_used_get_a_page_that_says_what_to_do(server, staff, browser, database, request):
    """Unknown, expired, revoked and already signed links, in the patient's language, even where
    the API answers 404 or 410 (the shell always renders)."""
    expired, _ = open_consent(server, staff)
    with tenancy.unscoped("test moves a link's deadline into the past"):
        past = SystemClock().now() - dt.timedelta(minutes=1)
        ConsentForm.update(expires_at=past).where(ConsentForm.id == expired["id"]).execute()
    revoked, _ = open_consent(server, staff)
    staff.revoke_consent(revoked["token"], "falscher Typ")
    signed, form = open_consent(server, staff)
    sign(browser, server, signed, form).close()
    unknown = f"{server.url}/consent/{secrets.token_urlsafe(32)}#k=AAAAAAAAAAAAAAAAAAAAAA"

    cases = [("unknown", unknown, "consent.problems.unknown"),
             ("expired", consent_url(server.url, expired["link"]), "consent.problems.expired"),
             ("revoked", consent_url(server.url, revoked["link"]), "consent.problems.revoked")]
    for locale in ("de", "en"):  # no practice data with these answers: the browser's language
        t = Texts(locale)
        page = browser.page(PHONE, locale=BROWSER_LOCALE[locale])
        for name, url, key in cases:
            answer = page.goto(url)
            assert answer is not None and answer.status == 200
            assert answer.headers["content-type"].startswith("text/html")
            expect(page.get_by_role("heading", level=1)).to_have_text(t(f"{key}.title"))
            expect(page.get_by_text(t(f"{key}.text"))).to_be_visible()
            check_axe(page, f"{name} ({locale})")
            screenshot(page, request.node.name, f"{name}-{locale}")
    # A signed link shows the practice and the date, in the link's language; the patient may
    # switch, as on every page.
    page = browser.page(PHONE, locale="en-GB")
    page.goto(consent_url(server.url, signed["link"]))
    expect(page.get_by_role("heading", level=1)).to_have_text(Texts("de")("consent.signed.title"))
    expect(page.get_by_text("Praxis Sonnenschein").first).to_be_visible()
    check_axe(page, "signed")
    screenshot(page, request.node.name, "signed-de")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(Texts("en")("consent.signed.title"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(unknown)
    page.get_by_role("button", name="Deutsch").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(Texts("de")("consent.problems.unknown.title"))


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_patient_withdraws_a_signed_consent_through_the_same_link(server, staff, browser, request):
    """Also: the practice's logo shows, a light brand colour stays off the buttons (axe
    checks the contrast on every screen), and the footer links the practice's Impressum and
    privacy notice."""
    staff.settings(brandColor="#ffd700", impressumUrl="https://praxis-sonnenschein.de/impressum",
                   privacyUrl="https://praxis-sonnenschein.de/datenschutz")
    image = png.encode(120, 40, (200, 30, 30))
    logo = requests.post(f"{server.url}/api/settings/logo", files={"file": ("logo.png", image, "image/png")},
                         headers={"Authorization": f"Bearer {staff.token}"}, timeout=30)
    assert logo.status_code == 200, logo.text
    consent, form = open_consent(server, staff)
    sign(browser, server, consent, form).close()
    t = Texts("de")
    page = browser.page(PHONE)
    page.goto(consent_url(server.url, consent["link"]))
    expect(page.get_by_role("heading", level=1)).to_have_text(t("consent.signed.title"))
    shown = page.get_by_role("img", name=t("consent.logoAlt", practice="Praxis Sonnenschein"))
    expect(shown).to_be_visible()
    assert shown.evaluate("image => image.naturalWidth") == 120
    band = page.get_by_role("banner")
    assert band.evaluate("element => getComputedStyle(element).backgroundColor") == "rgb(255, 215, 0)"
    button = page.get_by_role("button", name=t("consent.done.withdrawButton"))
    assert button.evaluate("element => getComputedStyle(element).backgroundColor") != "rgb(255, 215, 0)"
    footer = page.get_by_role("contentinfo")
    expect(footer.get_by_role("link", name=t("consent.footer.impressum"))).to_have_attribute(
        "href", "https://praxis-sonnenschein.de/impressum")
    expect(footer.get_by_role("link", name=t("consent.footer.privacy"))).to_have_attribute(
        "href", "https://praxis-sonnenschein.de/datenschutz")
    page.get_by_role("button", name=t("consent.done.withdrawButton")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("consent.withdraw.title"))
    page.get_by_role("textbox", name=re.compile(t("consent.withdraw.reasonLabel"))).fill(
        "Ich möchte die Behandlung verschieben.")
    check_axe(page, "withdraw")
    screenshot(page, request.node.name, "01-withdraw")
    page.get_by_role("button", name=t("consent.withdraw.continue")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("consent.withdraw.confirmTitle"))
    check_axe(page, "withdraw-confirm")
    screenshot(page, request.node.name, "02-confirm")
    # cancelling changes nothing
    page.get_by_role("button", name=t("common.cancel")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("consent.signed.title"))
    assert staff.list_consents(status="SIGNED")["total"] == 1
    page.get_by_role("button", name=t("consent.done.withdrawButton")).click()
    page.get_by_role("textbox", name=re.compile(t("consent.withdraw.reasonLabel"))).fill(
        "Ich möchte die Behandlung verschieben.")
    page.get_by_role("button", name=t("consent.withdraw.continue")).click()
    page.get_by_role("button", name=t("consent.withdraw.confirm")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("consent.withdraw.doneTitle"))
    check_axe(page, "withdrawn")
    screenshot(page, request.node.name, "03-withdrawn")

    reader = StaffClient(server.url)
    reader.login("inhaberin@praxis-sonnenschein.de", STAFF_PASSWORD)
    reader.unlock_vault(VAULT_PASSWORD)
    record = reader.call("GET", f"/api/consent/practice/{consent['id']}")
    assert (record["status"], record["revokedBy"], record["revokeReason"]) == (
        "REVOKED", "PATIENT", "Ich möchte die Behandlung verschieben.")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("consent.problems.revoked.title"))


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_consent_is_sent_once_whatever_the_clicks_and_tabs(server, staff, browser, request):
    """A double click sends one request; a second tab that submits later is told the consent
    was already sent (the server's 409), and nothing of it is stored."""
    consent, form = open_consent(server, staff)
    plan = plan_for(form, IDENTITY)
    first = browser.page(DESKTOP)
    second = browser.watch(first.context.new_page())
    posts: list[str] = []
    for tab in (first, second):
        tab.on("request", lambda r, tab=tab: posts.append(tab.url) if r.method == "POST" else None)
        tab.bring_to_front()  # a hidden tab gets no animation frames: the flow would wait on them
        tab.goto(consent_url(server.url, consent["link"]))
        Flow(tab, "de", form, None, checks=False).to_review(plan)
    ui = ConsentPage(first, "de", form)
    first.bring_to_front()
    first.get_by_role("button", name=ui.t("consent.review.submit")).dblclick()
    expect(ui.heading()).to_have_text(ui.t("consent.done.title"), timeout=30000)
    assert len(posts) == 1
    second.bring_to_front()
    ConsentPage(second, "de", form).submit()
    expect(second.get_by_role("heading", level=1)).to_have_text(ui.t("consent.alreadySubmitted.title"),
                                                                  timeout=30000)
    check_axe(second, "already submitted")
    screenshot(second, request.node.name, "second-tab")
    assert len(posts) == 2
    second.get_by_role("button", name=ui.t("consent.alreadySubmitted.reload")).click()
    expect(second.get_by_role("heading", level=1)).to_have_text(ui.t("consent.signed.title"))
    assert staff.list_consents(status="SIGNED")["total"] == 1


def test_a_submit_whose_answer_is_lost_is_sent_once_more_and_confirmed(server, staff, browser):
    """The server commits, then the connection drops before the answer arrives (a worker died):
    the page repeats the request once with the same Idempotency-Key and shows the confirmation."""
    consent, form = open_consent(server, staff)
    page = browser.page(DESKTOP)
    keys: list[str] = []

    def answer_lost_once(route):
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the server gets it and commits
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/consent/*/submit", answer_lost_once)
    page.goto(consent_url(server.url, consent["link"]))
    Flow(page, "de", form, None, checks=False).to_review(plan_for(form, IDENTITY))
    ui = ConsentPage(page, "de", form)
    ui.submit()
    expect(ui.heading()).to_have_text(ui.t("consent.done.title"), timeout=30000)
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) >= 16
    assert staff.list_consents(status="SIGNED")["total"] == 1


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_key_that_does_not_match_the_link_is_refused_before_anything_is_entered(
        server, staff, browser, request):
    consent, _ = open_consent(server, staff)
    t = Texts("de")
    page = browser.page(PHONE)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    link = consent_url(server.url, consent["link"])
    page.goto(link.split("#")[0] + "#k=" + "A" * 22)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("consent.problems.keyMismatch.title"))
    check_axe(page, "key mismatch")
    screenshot(page, request.node.name, "key-mismatch")
    page.goto("about:blank")
    page.goto(link.split("#")[0])
    expect(page.get_by_role("heading", level=1)).to_have_text(t("consent.problems.keyMissing.title"))
    page.goto("about:blank")
    page.goto(link)  # the link as sent works
    expect(page.get_by_role("button", name=t("consent.start.begin"))).to_be_visible()
    page.wait_for_timeout(500)  # the checks have run by now
    expect(page.get_by_role("button", name=t("consent.start.begin"))).to_be_visible()
    assert posts == []
    assert staff.list_consents(status="PENDING")["total"] == 1


@pytest.mark.parametrize("engine", ["sqlite"])
def test_the_page_works_on_the_embedded_sqlite_database(server, staff, browser):
    consent, form = open_consent(server, staff, locale="en")
    sign(browser, server, consent, form, locale="en").close()
    reader = StaffClient(server.url)
    reader.login("inhaberin@praxis-sonnenschein.de", STAFF_PASSWORD)
    reader.unlock_vault(VAULT_PASSWORD)
    document = reader.read_consent(consent["id"], form=form)
    assert document["answers"] == plan_for(form, IDENTITY).answers(form)
    assert document["identity"] == IDENTITY


@pytest.mark.parametrize("engine", ["postgresql"])
def test_the_whole_flow_works_with_the_keyboard_alone(server, staff, browser, request):
    """Tab, Space, Enter, arrows and typing, from the first screen to the copy; only the drawn
    signature takes a pointer (the forms require one, and the page says why). Each new step
    puts the focus on its heading."""
    consent, form = open_consent(server, staff)
    page = browser.page(DESKTOP, reduced_motion="reduce")
    page.goto(consent_url(server.url, consent["link"]))
    ui, keys, plan = ConsentPage(page, "de", form), Keyboard(page), plan_for(form, IDENTITY)
    assert spinner_animation(page) == "none"  # asked for reduced motion: the spinner stands still
    button = lambda name: page.get_by_role("button", name=name, exact=True)  # noqa: E731

    def on_new_step(title: str) -> None:
        ui.expect_step(title)
        assert keys.focused(ui.heading()), f"the focus is not on the heading of {title}"

    keys.press(button(ui.t("consent.start.begin")))
    on_new_step(ui.t("consent.steps.info"))
    keys.press(button(ui.t("consent.info.continue")))
    on_new_step(ui.t("consent.steps.identity"))
    keys.press(button(ui.t("common.next")))  # errors: the summary takes the focus
    summary = page.get_by_role("heading", name=ui.t("validation.summary", count=3))
    expect(summary).to_be_visible()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    first_name = re.compile("^" + re.escape(ui.t("consent.identity.firstName")))
    keys.press(page.get_by_role("button", name=first_name))
    assert keys.focused(ui.textbox(ui.t("consent.identity.firstName"), True))
    for name in ("firstName", "lastName"):
        keys.type_into(ui.textbox(ui.t(f"consent.identity.{name}"), True), IDENTITY[name])
    keyboard_date(ui, keys, ui.group(ui.t("consent.identity.dateOfBirth"), True), IDENTITY["dateOfBirth"])
    for name in ("email", "phone"):
        keys.type_into(ui.textbox(ui.t(f"consent.identity.{name}"), False), IDENTITY[name])
    keys.press(button(ui.t("common.next")))

    for group in form["fieldGroups"]:
        on_new_step(group["title"])
        for spec in group["fields"]:
            if plan.visible(spec):
                fill_by_keyboard(ui, keys, spec, plan)
        keys.press(button(ui.t("common.next")))

    if form["comprehension"]:
        on_new_step(ui.t("consent.steps.comprehension"))
        for question in form["comprehension"]:
            correct = {c["id"]: c["label"] for c in question["choices"]}[question["correct"]]
            keys.choose(page.get_by_role("group", name=re.compile(re.escape(question["question"]))), correct)
        keys.press(button(ui.t("common.next")))

    on_new_step(ui.t("consent.steps.signature"))
    expect(page.get_by_role("heading", name=ui.t("consent.signature.whyDrawnTitle"))).to_be_visible()
    ui.draw_signature()  # the one pointer action
    keys.press(button(ui.t("consent.signature.clear")))  # the pad's tools work by keyboard
    keys.press(button(ui.t("common.next")))
    expect(page.get_by_text(ui.t("consent.signature.empty"))).to_be_visible()
    ui.draw_signature()
    keys.press(button(ui.t("common.next")))

    on_new_step(ui.t("consent.steps.review"))
    for statement in form["declaration"]["statements"]:
        keys.press(page.get_by_role("checkbox", name=statement["text"], exact=True), "Space")
    keys.press(button(ui.t("consent.review.submit")))
    expect(ui.heading()).to_have_text(ui.t("consent.done.title"), timeout=30000)
    assert keys.focused(ui.heading())
    with page.expect_download() as download:
        keys.press(button(ui.t("consent.done.copyButton")))
    assert download.value.suggested_filename.endswith(".pdf")
    screenshot(page, request.node.name, "done", viewports=("desktop",))
    assert staff.list_consents(status="SIGNED")["total"] == 1


@pytest.mark.parametrize("engine", ["postgresql"])
def test_switching_the_language_midway_keeps_the_answers_and_signs_what_is_shown(
        server, staff, browser):
    """The form document is fetched again in the new language (?locale=); what was entered
    stays; the answers document names the version and hash of the language signed in."""
    consent, form_de = open_consent(server, staff, locale="de")
    form_en = PatientClient(server.url).call("GET", f"/api/consent/{consent['token']}", locale="en")["form"]
    assert form_en["formHash"] != form_de["formHash"]
    page = browser.page(PHONE)
    page.goto(consent_url(server.url, consent["link"]))
    de, en = ConsentPage(page, "de", form_de), ConsentPage(page, "en", form_en)
    page.get_by_role("button", name=de.t("consent.start.begin")).click()
    de.next(de.t("consent.info.continue"))
    de.fill_identity(IDENTITY)
    page.get_by_role("button", name="English").click()
    en.expect_step(en.t("consent.steps.identity"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="English")).to_be_focused()
    expect(en.textbox(en.t("consent.identity.lastName"), True)).to_have_value(IDENTITY["lastName"])
    en.next()
    plan = plan_for(form_en, IDENTITY)
    en.fill_groups(plan)
    if form_en["comprehension"]:
        en.answer_comprehension(plan)
    en.draw_signature()
    en.next()
    en.confirm_declaration()
    en.submit()
    expect(en.heading()).to_have_text(en.t("consent.done.title"), timeout=30000)
    reader = StaffClient(server.url)
    reader.login("inhaberin@praxis-sonnenschein.de", STAFF_PASSWORD)
    reader.unlock_vault(VAULT_PASSWORD)
    document = reader.read_consent(consent["id"], form=form_en)
    assert (document["locale"], document["formHash"]) == ("en", form_en["formHash"])
    assert document["answers"] == plan.answers(form_en)


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_typed_name_signs_only_where_the_form_allows_it(server, staff, browser, request):
    """No shipped form allows a typed signature yet, so the test serves one that does (the
    same form with `typedAlternative` and its hash recomputed) and goes as far as the review:
    the name must be the one entered, and the review shows it as the signature."""
    consent, form = open_consent(server, staff)
    typed_form = {**form, "signature": {"typedAlternative": True}}
    typed_form["formHash"] = form_hash({k: v for k, v in typed_form.items() if k != "formHash"})

    def allow_typing(route):
        answer = route.fetch()
        route.fulfill(response=answer, json={**answer.json(), "form": typed_form})

    page = browser.page(PHONE)
    page.route(re.compile(r".*/api/consent/[A-Za-z0-9_-]+(\?.*)?$"), allow_typing)
    page.goto(consent_url(server.url, consent["link"]))
    flow = Flow(page, "de", typed_form, None, checks=False)
    ui = flow.ui
    page.get_by_role("button", name=ui.t("consent.start.begin")).click()
    ui.next(ui.t("consent.info.continue"))
    ui.fill_identity(IDENTITY)
    ui.next()
    plan = plan_for(typed_form, IDENTITY)
    ui.fill_groups(plan)
    ui.answer_comprehension(plan)
    ui.expect_step(ui.t("consent.steps.signature"))
    expect(page.get_by_role("heading", name=ui.t("consent.signature.whyDrawnTitle"))).to_have_count(0)
    page.get_by_role("button", name=ui.t("consent.signature.typedChoice")).click()
    name = page.get_by_role("textbox", name=ui.t("consent.signature.typedLabel"))
    expect(name).to_be_focused()
    name.fill("Jürgen Müller")
    ui.next()
    full = f"{IDENTITY['firstName']} {IDENTITY['lastName']}"
    expect(page.get_by_text(ui.t("consent.signature.typedMismatch", name=full))).to_be_visible()
    name.fill(f"  jürgen   {IDENTITY['lastName']} ")
    check_axe(page, "typed signature")
    screenshot(page, request.node.name, "typed")
    ui.next()
    ui.expect_step(ui.t("consent.steps.review"))
    typed = ui.t("consent.review.typedSignature", name=f"jürgen {IDENTITY['lastName']}")
    shown = page.get_by_role("img", name=typed)
    expect(shown).to_be_visible()
