"""Treatment templates over HTTP on PostgreSQL and SQLite: validated clear data, names unique
per practice and type, tenant isolation, audit, and plans that outlive their template."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support.api import assert_error, audit_entries, call, problem_fields
from tests.support.treatment import (
    assert_documented,
    create_patient,
    create_plan,
    create_template,
    plan_row,
    practice,
    template_body,
    template_rows,
)

TEMPLATES = "/api/treatment-templates"
POINT = {"x": 50, "y": 50, "units": 1, "unit": "ml"}


@pytest.fixture
def praxis(client):
    return practice(client)


def test_create_list_update_and_delete_with_audit(client, praxis):
    created = create_template(client, praxis, name="  Glabella Standard ")
    assert created["name"] == "Glabella Standard"
    assert {k: created[k] for k in ("type", "bodyRegion", "diagramType", "notes")} == {
        "type": "BOTOX", "bodyRegion": "GLABELLA", "diagramType": "FACE_FRONT",
        "notes": "Standard Glabella, Frauen"}
    assert created["points"] == template_body()["points"]
    create_template(client, praxis, name="Augenfältchen", bodyRegion="PERIORBITAL")
    create_template(client, praxis, name="Lippen 1 ml", type="FILLER", bodyRegion="LIPS",
                    points=[{**POINT, "technique": "LINEAR_THREADING", "product": "Juvederm Volbella"}])

    answer = call(client, "GET", TEMPLATES, token=praxis.admin.token)
    assert_documented(client, "GET", TEMPLATES, answer)
    listed = answer.json
    assert [t["name"] for t in listed["items"]] == ["Augenfältchen", "Glabella Standard", "Lippen 1 ml"]
    assert listed["total"] == 3
    fillers = call(client, "GET", f"{TEMPLATES}?type=FILLER", token=praxis.arzt.token).json
    assert [t["name"] for t in fillers["items"]] == ["Lippen 1 ml"]
    lips = call(client, "GET", f"{TEMPLATES}?bodyRegion=LIPS&type=BOTOX", token=praxis.arzt.token).json
    assert lips["items"] == []
    assert_error(call(client, "GET", f"{TEMPLATES}?bodyRegion=KNEE", token=praxis.arzt.token),
                 400, "validation_failed")

    path = f"{TEMPLATES}/{created['id']}"
    changed = call(client, "PATCH", path, token=praxis.arzt.token,
                   json={"name": "Glabella Männer", "points": [POINT | {"unit": "U", "units": 6}]})
    assert changed.status_code == 200, changed.text
    assert changed.json["name"] == "Glabella Männer" and changed.json["points"] == [
        {**POINT, "unit": "U", "units": 6}]
    assert changed.json["bodyRegion"] == "GLABELLA"  # fields not given stay
    assert_documented(client, "PATCH", TEMPLATES + "/{id}", changed)
    deleted = call(client, "DELETE", path, token=praxis.admin.token)
    assert deleted.status_code == 200 and deleted.json == {"deleted": True, "plansUnlinked": 0}
    assert_documented(client, "DELETE", TEMPLATES + "/{id}", deleted)
    assert [t.name for t in template_rows()] == ["Augenfältchen", "Lippen 1 ml"]
    assert_error(call(client, "DELETE", path, token=praxis.admin.token), 404, "not_found")

    entries = audit_entries("TEMPLATE_CHANGED")
    assert sorted(e.metadata["change"] for e in entries) == ["created"] * 3 + ["deleted", "updated"]
    assert all(e.entity_type == "treatment_template" for e in entries)
    assert not any("Glabella" in str(e.metadata) for e in entries), "names stay out of the audit"
    (update,) = [e for e in entries if e.metadata["change"] == "updated"]
    assert update.metadata["fields"] == ["name", "points"]


INVALID = [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"type": "HYALURON"}, "type"),
    ({"bodyRegion": "KNEE"}, "bodyRegion"),
    ({"diagramType": "BODY"}, "diagramType"),
    ({"points": []}, "points"),
    ({"points": [POINT] * 101}, "points"),
    ({"points": [{**POINT, "x": 100.5}]}, "points.0.x"),
    ({"points": [{**POINT, "y": -1}]}, "points.0.y"),
    ({"points": [{**POINT, "units": 0}]}, "points.0.units"),
    ({"points": [{**POINT, "units": -2}]}, "points.0.units"),
    ({"points": [{**POINT, "unit": "mg"}]}, "points.0.unit"),
    ({"points": [{**POINT, "technique": "SHOTGUN"}]}, "points.0.technique"),
    ({"points": [{**POINT, "notes": "n" * 501}]}, "points.0.notes"),
    ({"points": [{**POINT, "product": ""}]}, "points.0.product"),
    ({"points": [{**POINT, "colour": "red"}]}, "points.0"),
    ({"points": [{"x": 1, "y": 1, "units": 1}]}, "points.0.unit"),
    ({"notes": "n" * 2001}, "notes"),
    ({"owner": "Dr. Berger"}, "(body)"),
]


def test_invalid_template_data_is_400_naming_the_field_and_writes_nothing(client, praxis):
    for changes, field in INVALID:
        result = call(client, "POST", TEMPLATES, token=praxis.arzt.token, json=template_body(**changes))
        assert_error(result, 400, "validation_failed")
        assert field in problem_fields(result), (changes, result.json)
    missing = {k: v for k, v in template_body().items() if k != "diagramType"}
    assert problem_fields(call(client, "POST", TEMPLATES, token=praxis.arzt.token, json=missing)) == {
        "diagramType"}
    assert template_rows() == [] and audit_entries("TEMPLATE_CHANGED") == []

    template = create_template(client, praxis)
    for changes, field in INVALID:
        result = call(client, "PATCH", f"{TEMPLATES}/{template['id']}", token=praxis.arzt.token, json=changes)
        assert_error(result, 400, "validation_failed")
        assert field in problem_fields(result), (changes, result.json)
    assert_error(call(client, "PATCH", f"{TEMPLATES}/{template['id']}", token=praxis.arzt.token, json={}),
                 400, "validation_failed")
    (row,) = template_rows()
    assert row.name == template["name"] and row.points == template["points"]
    assert len(audit_entries("TEMPLATE_CHANGED")) == 1


def test_non_finite_numbers_are_refused(client, praxis):
    """Python's JSON parser reads NaN and Infinity; no other client could read them back."""
    for literal in ("NaN", "Infinity", "-Infinity"):
        raw = template_body(points=[{**POINT, "x": "@"}])
        text = json.dumps(raw).replace('"@"', literal)
        result = client.simulate_post(TEMPLATES, body=text, headers={
            "Authorization": f"Bearer {praxis.arzt.token}", "Content-Type": "application/json"})
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {"points.0.x"}, literal
    assert template_rows() == []


def test_names_are_unique_per_practice_and_type(client, praxis):
    first = create_template(client, praxis, name="Stirn 10 U")
    duplicate = call(client, "POST", TEMPLATES, token=praxis.arzt.token,
                     json=template_body(name=" Stirn 10 U "))
    assert_error(duplicate, 409, "duplicate_template")
    create_template(client, praxis, name="Stirn 10 U", type="FILLER")  # another type
    create_template(client, practice(client), name="Stirn 10 U")  # another practice
    other = create_template(client, praxis, name="Stirn 12 U")
    renamed = call(client, "PATCH", f"{TEMPLATES}/{other['id']}", token=praxis.arzt.token,
                   json={"name": "Stirn 10 U"})
    assert_error(renamed, 409, "duplicate_template")
    retyped = call(client, "PATCH", f"{TEMPLATES}/{first['id']}", token=praxis.arzt.token,
                   json={"type": "FILLER"})
    assert_error(retyped, 409, "duplicate_template")
    same = call(client, "PATCH", f"{TEMPLATES}/{first['id']}", token=praxis.arzt.token,
                json={"name": "Stirn 10 U", "notes": ""})
    assert same.status_code == 200, same.text
    assert sorted((t.name, t.type) for t in template_rows()) == [
        ("Stirn 10 U", "BOTOX"), ("Stirn 10 U", "BOTOX"), ("Stirn 10 U", "FILLER"), ("Stirn 12 U", "BOTOX")]


def test_another_practice_can_neither_see_nor_change_a_template(client, praxis):
    template = create_template(client, praxis)
    stranger = practice(client)
    assert call(client, "GET", TEMPLATES, token=stranger.arzt.token).json["total"] == 0
    assert_error(call(client, "PATCH", f"{TEMPLATES}/{template['id']}", token=stranger.arzt.token,
                      json={"name": "gekapert"}), 404, "not_found")
    assert_error(call(client, "DELETE", f"{TEMPLATES}/{template['id']}", token=stranger.admin.token),
                 404, "not_found")
    assert_error(call(client, "PATCH", f"{TEMPLATES}/{uuid.uuid4()}", token=praxis.arzt.token,
                      json={"name": "neu"}), 404, "not_found")
    assert [t.name for t in template_rows()] == [template["name"]]


def test_deleting_a_template_in_use_keeps_the_plans_data(client, praxis):
    template = create_template(client, praxis)
    patient = create_patient(client, praxis)
    plan = create_plan(client, praxis, patient["id"], templateId=template["id"])
    before = plan_row(plan["id"])

    deleted = call(client, "DELETE", f"{TEMPLATES}/{template['id']}", token=praxis.arzt.token)
    assert deleted.status_code == 200 and deleted.json == {"deleted": True, "plansUnlinked": 1}
    after = plan_row(plan["id"])
    assert after.template_id is None
    assert bytes(after.encrypted_plan) == bytes(before.encrypted_plan)
    assert (after.wrapped_key, after.version) == (before.wrapped_key, before.version)
    read = call(client, "GET", f"/api/treatment-plans/{plan['id']}", token=praxis.arzt.token).json
    assert read["templateId"] is None and read["encryptedPlan"] == plan["encryptedPlan"]
    (entry,) = [e for e in audit_entries("TEMPLATE_CHANGED") if e.metadata["change"] == "deleted"]
    assert entry.metadata["plansUnlinked"] == 1
