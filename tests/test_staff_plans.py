"""Treatment plans and templates in the staff web app.

The template rules of the app (treatment.js) are the server's: the same cases
(tests/web/fixtures/treatment_templates.json) are posted here and checked there
(tests/web/staff_plans.test.mjs), and both must name the same fields."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
from pathlib import Path

import requests
from playwright.sync_api import expect

from appliance.client.api import Identity, StaffClient
from tests.support.api import call, problem_fields
from tests.support.browser import artifact, check_axe, check_reflow
from tests.support.staff_app import ACCOUNT_PASSWORD, LAPTOP, SLOW, VAULT_PASSWORD, StaffApp
from tests.support.treatment import practice

CASES = json.loads((Path(__file__).parent / "web" / "fixtures" / "treatment_templates.json")
                   .read_text(encoding="utf-8"))["cases"]


def test_the_server_refuses_the_fields_the_app_refuses(client):
    praxis = practice(client)
    differ = []
    for case in CASES:
        answer = call(client, "POST", "/api/treatment-templates", token=praxis.arzt.token, json=case["body"])
        expected = (400, set(case["fields"])) if case["fields"] else (201, set())
        got = (answer.status_code, problem_fields(answer) if answer.status_code == 400 else set())
        if got != expected:
            differ.append(f"{case['case']}: expected {expected}, the server gave {got}: {answer.text[:200]}")
    assert not differ, "\n".join(differ)


# --- in Chromium against a live server --------------------------------------------------------

FOUNDER = ("Dr. Anna Sonne", "inhaberin@praxis-sonnenschein.de")
PHYSICIAN = ("Dr. Jan Berg", "arzt@praxis-sonnenschein.de")
PATIENT = Identity("Jürgen", "Müller-Lüdenscheidt", "1980-02-29")
NAME = f"{PATIENT.last_name}, {PATIENT.first_name}"
#: A tablet upright, as physicians carry them in the treatment room.
TABLET = {"width": 768, "height": 1024}


def look(app: StaffApp, step: str) -> None:
    """axe-core and the full page's picture at 1366x768 and at 768x1024 (test-artifacts/)."""
    original = app.page.viewport_size
    for size in (LAPTOP, TABLET):
        app.page.set_viewport_size(size)
        check_axe(app.page, f"{step} at {size['width']}x{size['height']}")
        app.page.screenshot(path=str(artifact(app.test_name, f"{step}-{size['width']}x{size['height']}.png")),
                            full_page=True)
    if original:
        app.page.set_viewport_size(original)


def signed_in(browser, server, test_name: str, email: str, viewport: dict) -> StaffApp:
    page = browser.page(viewport, locale="de-DE")
    app = StaffApp(page, server.url, test_name)
    app.open("/")
    app.sign_in(email)
    app.expect_heading("home.title")
    return app


def point_button(app: StaffApp, number: int, x: str, y: str):
    name = app.t("treatment.pointButton", number=number, x=x, y=y)
    return app.page.get_by_role("button", name=name, exact=True)


def test_templates_and_a_plan_edited_in_two_places_at_once(live_server, browser, request):
    server = live_server()
    owner = StaffClient(server.url)
    owner.register(FOUNDER[1], ACCOUNT_PASSWORD, FOUNDER[0])
    owner.create_practice("Praxis Sonnenschein", FOUNDER[1], VAULT_PASSWORD)
    invite = owner.call("POST", "/api/team/invite", {"email": PHYSICIAN[1], "role": "ARZT"})
    accepted = requests.post(f"{server.url}/api/team/invite/{invite['token']}/accept",
                             json={"name": PHYSICIAN[0], "password": ACCOUNT_PASSWORD}, timeout=30)
    assert accepted.status_code == 200, accepted.text
    owner.unlock_vault(VAULT_PASSWORD)
    patient = owner.create_patient(PATIENT)
    consent = owner.create_consent("BOTOX", patient["id"])

    # A template: refused as the server would refuse it, the problems at their fields.
    app = signed_in(browser, server, request.node.name, FOUNDER[1], LAPTOP)
    page = app.page
    app.nav("nav.templates")
    app.expect_heading("treatment.templates.title")
    expect(page.get_by_text(app.t("treatment.templates.empty"))).to_be_visible()
    app.link("treatment.templates.new").click()
    app.expect_heading("treatment.templates.newTitle")
    canvas = page.locator(".diagram-canvas")
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.2})  # x 50 %, y 20 %
    near = app.t("treatment.pointButton", number=1, x="X", y="Y").replace("/", ".")  # about 50 % / 20 %
    placed = re.compile("^" + near.replace("X", r"(49,\d|50(,\d)?)").replace("Y", r"(19,\d|20(,\d)?)") + "$")
    expect(page.get_by_role("button", name=placed)).to_be_visible()
    app.field("treatment.field.x").fill("50")  # the exact place, typed
    app.field("treatment.field.y").fill("20")
    expect(point_button(app, 1, "50", "20")).to_be_visible()
    app.field("treatment.field.product").fill("Bocouture")
    app.field("treatment.field.units").fill("0")
    app.button("treatment.templates.save").click()
    summary = page.locator("#problem-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text(app.t("validation.summary", count=2))
    expect(app.field("treatment.field.name")).to_have_attribute("aria-invalid", "true")
    expect(app.field("treatment.field.units")).to_have_attribute("aria-invalid", "true")
    look(app, "01-template-refused")
    assert owner.call("GET", "/api/treatment-templates")["total"] == 0

    # Fixed; a second point placed with the keyboard only, then moved with the arrow keys.
    app.field("treatment.field.name").fill("Glabella Standard")
    app.field("treatment.field.units").fill("4")
    app.field("treatment.addX").fill("44")
    app.field("treatment.addY").fill("24")
    app.button("treatment.addPoint").focus()
    page.keyboard.press("Enter")
    expect(app.page.get_by_role("group", name=app.t("treatment.pointHeading", number=2))).to_be_visible()
    app.field("treatment.field.units").fill("4")
    point_button(app, 2, "44", "24").focus()
    page.keyboard.press("ArrowLeft")
    expect(point_button(app, 2, "43", "24")).to_be_focused()
    app.button("treatment.templates.save").click()
    expect(page.get_by_text(app.t("treatment.templates.saved"))).to_be_visible()
    app.expect_heading("treatment.templates.editTitle")
    look(app, "02-template-saved")
    # A second template of the same type and name: the server's refusal shown at the name.
    template_id = page.url.split("/templates/", 1)[1].split("?", 1)[0]
    app.field("treatment.field.name").fill("Glabella 8 E")
    app.button("treatment.templates.save").click()
    expect(page.get_by_text(app.t("treatment.templates.saved"))).to_be_visible()
    stored = owner.call("GET", "/api/treatment-templates")["items"]
    assert [(t["id"], t["name"]) for t in stored] == [(template_id, "Glabella 8 E")]
    assert stored[0]["points"] == [
        {"x": 50, "y": 20, "units": 4, "unit": "U", "product": "Bocouture"},
        {"x": 43, "y": 24, "units": 4, "unit": "U", "product": "Bocouture"},
    ]
    app.link("treatment.templates.back").click()
    app.link("treatment.templates.new").click()
    app.field("treatment.field.name").fill("Glabella 8 E")
    app.button("treatment.addPoint").click()
    app.field("treatment.field.units").fill("2,5")
    app.button("treatment.templates.save").click()
    expect(page.locator("#template-name-error")).to_have_text(app.t("treatment.templates.duplicate"))
    look(app, "03-template-duplicate")
    for diagram in ("FACE_FRONT", "FACE_LEFT", "FACE_RIGHT", "NECK_DECOLLETE", "HANDS", "SCALP"):
        app.field("treatment.field.diagramType").select_option(diagram)
        expect(page.locator("figcaption")).to_contain_text(app.t(f"treatment.diagrams.{diagram}"))
        page.locator(".diagram").screenshot(path=str(artifact(app.test_name, f"03-drawing-{diagram}.png")))

    # A plan from the template, for the patient, linked to the consent.
    app.nav("nav.patients")
    app.unlock()
    app.expect_heading("patients.title", timeout=SLOW)
    page.get_by_role("link", name=NAME).click()
    expect(app.heading()).to_have_text(NAME, timeout=SLOW)
    expect(page.get_by_text(app.t("treatment.plans.empty"))).to_be_visible()
    app.expect_loaded()  # the consents above the plans arrive separately
    app.link("treatment.plans.new").click()
    app.expect_heading("treatment.plans.newTitle", timeout=SLOW)
    app.button("treatment.plans.applyTemplate").click()
    expect(page.get_by_text(app.t("treatment.tableCaption", count=2))).to_be_visible()
    app.field("treatment.field.batchNumber").fill("C-778812")
    app.field("treatment.field.depth").select_option(label=app.t("treatment.depths.INTRAMUSCULAR"))
    app.button("treatment.editPoint", number=2).click()
    app.field("treatment.field.batchNumber").fill("C-778812")
    app.field("treatment.field.pointNotes").fill("Corrugator links")
    app.field("treatment.field.consentFormId").select_option(consent["id"])
    expect(app.link("treatment.plans.openConsent")).to_have_attribute("href", f"/consents/{consent['id']}")
    page.get_by_label(app.t("treatment.field.notes"), exact=True).fill("Kontrolle in 14 Tagen")
    expect(page.get_by_text(app.t("treatment.plans.totals", units="8", ml="0"))).to_be_visible()
    look(app, "04-plan-new")
    check_reflow(page, "a new plan")  # 320 CSS px and 200 % zoom: the points table scrolls in its own region
    app.button("treatment.plans.save").click()
    expect(page.get_by_text(app.t("treatment.plans.saved", version=1))).to_be_visible(timeout=SLOW)
    plan_id = page.url.split("/plans/", 1)[1].split("?", 1)[0]

    # What the reference client decrypts is what was entered.
    record = owner.get_plan(plan_id)
    assert (record["patientId"], record["consentFormId"], record["templateId"], record["version"]) == (
        patient["id"], consent["id"], template_id, 1)
    entered = {
        "diagramType": "FACE_FRONT", "bodyRegion": "GLABELLA",
        "points": [
            {"x": 50, "y": 20, "units": 4, "unit": "U", "product": "Bocouture", "batchNumber": "C-778812",
             "depth": "INTRAMUSCULAR"},
            {"x": 43, "y": 24, "units": 4, "unit": "U", "product": "Bocouture", "notes": "Corrugator links",
             "batchNumber": "C-778812"},
        ],
        "totalUnits": 8, "totalMl": 0, "notes": "Kontrolle in 14 Tagen",
    }
    assert owner.decrypt_plan(record) == entered
    assert b"C-778812" not in base64.b64decode(record["encryptedPlan"])
    # A photo names its plan when it is uploaded; the plan's page lists it.
    taken = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    owner.upload_photo(patient["id"], io.BytesIO(b"not really a photo"), "BEFORE", "GLABELLA", taken,
                       treatment_plan_id=plan_id)

    # The physician opens the same plan on a tablet while the owner still has it open.
    doctor = signed_in(browser, server, request.node.name, PHYSICIAN[1], TABLET)
    doctor.within(f"/plans/{plan_id}")
    doctor.unlock()
    doctor.expect_heading("treatment.plans.title", timeout=SLOW)
    photos = doctor.page.get_by_role("region", name=doctor.t("treatment.plans.photosHeading"))
    expect(photos.get_by_role("listitem")).to_contain_text(
        f"{doctor.t('treatment.photoTypes.BEFORE')} · {doctor.t('treatment.regions.GLABELLA')} · ")
    doctor.button("treatment.editPoint", number=2).click()
    doctor.field("treatment.field.units").fill("6")
    page.get_by_label(app.t("treatment.field.notes"), exact=True).fill("Kontrolle in 10 Tagen")
    # The owner saves first; the physician's save names the version it read and is refused.
    app.button("treatment.plans.save").click()
    expect(page.get_by_text(app.t("treatment.plans.saved", version=2))).to_be_visible(timeout=SLOW)
    doctor.button("treatment.plans.save").click()
    conflict = doctor.alert().filter(has_text=doctor.t("treatment.plans.conflict", version=2))
    expect(conflict).to_be_visible(timeout=SLOW)
    expect(doctor.field("treatment.field.units")).to_have_value("6")  # the local edit stays
    expect(doctor.page.get_by_role("cell", name="6 " + doctor.t("treatment.units.U"))).to_be_visible()
    look(doctor, "05-plan-conflict")
    record = owner.get_plan(plan_id)
    assert record["version"] == 2
    assert owner.decrypt_plan(record) == {**entered, "notes": "Kontrolle in 10 Tagen"}

    # Reloaded: the owner's change is there; the physician's applied again is stored on top.
    doctor.button("treatment.plans.reload").click()
    expect(doctor.page.get_by_label(doctor.t("treatment.field.notes"), exact=True)).to_have_value(
        "Kontrolle in 10 Tagen", timeout=SLOW)
    doctor.button("treatment.editPoint", number=2).click()
    expect(doctor.field("treatment.field.units")).to_have_value("4")
    doctor.field("treatment.field.units").fill("6")
    doctor.button("treatment.plans.save").click()
    expect(doctor.page.get_by_text(doctor.t("treatment.plans.saved", version=3))).to_be_visible(timeout=SLOW)
    changed = owner.decrypt_plan(owner.get_plan(plan_id))
    assert changed["points"][1]["units"] == 6 and changed["totalUnits"] == 10
    assert changed["notes"] == "Kontrolle in 10 Tagen"

    # The patient's page lists the plan.
    app.link("treatment.plans.backTo", name=NAME).click()
    expect(app.heading()).to_have_text(NAME, timeout=SLOW)
    entry = page.get_by_role("region", name=app.t("treatment.plans.listHeading")).get_by_role("listitem")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(app.t("type.BOTOX"))
    expect(entry).to_contain_text(app.t("treatment.plans.version") + " 3")
    look(app, "06-patient-plans")

    # Deleting the template: the plan keeps its points, only the link goes.
    app.nav("nav.templates")
    page.get_by_role("link", name="Glabella 8 E").click()
    app.expect_heading("treatment.templates.editTitle")
    app.button("treatment.templates.delete").click()
    app.button("treatment.templates.deleteConfirm").click()
    expect(page.get_by_text(app.t("treatment.templates.empty"))).to_be_visible()
    record = owner.get_plan(plan_id)
    assert record["templateId"] is None and owner.decrypt_plan(record) == changed
    # Deleting the plan: its photo stays with the patient, without the link.
    app.nav("nav.patients")
    page.get_by_role("link", name=NAME).click()
    expect(app.heading()).to_have_text(NAME, timeout=SLOW)
    app.expect_loaded()
    plans = page.get_by_role("region", name=app.t("treatment.plans.listHeading"))
    plans.get_by_role("listitem").get_by_role("link").click()
    app.expect_heading("treatment.plans.title", timeout=SLOW)
    app.button("treatment.plans.delete").click()
    app.button("treatment.plans.deleteConfirm").click()
    expect(app.heading()).to_have_text(NAME, timeout=SLOW)
    expect(page.get_by_text(app.t("treatment.plans.empty"))).to_be_visible()
    assert [p["treatmentPlanId"] for p in owner.list_photos(patient["id"])["items"]] == [None]
