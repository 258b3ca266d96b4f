"""Someone who can write to the database moves a ciphertext from one record into another of
the same practice: every reader refuses it, for every kind of record (docs/crypto.md,
bindings and signatures). Staff read through the reference client, as they would."""

from __future__ import annotations

import base64
import uuid

import pytest

from appliance import envelopes, tenancy
from appliance.client import answers, crypto
from appliance.client.api import Identity, StaffClient
from appliance.client.in_process import InProcessSession
from appliance.models import ConsentForm, Patient, Photo, TreatmentPlan
from tests.support.api import VAULT_PASSWORD, keys_of
from tests.support.consent import create_consent, submit, submit_body, team
from tests.support.forms import FORM
from tests.support.photos import encrypt_photo, photo_fields, upload
from tests.support.treatment import PLAN

SETUP = "test setup: a database writer moves ciphertexts between records"


@pytest.fixture
def practice(client):
    return team(client)


@pytest.fixture
def staff(client, practice) -> StaffClient:
    reader = StaffClient("http://in-process", session=InProcessSession(client.app))
    reader.token = practice.token()
    reader.unlock_vault(VAULT_PASSWORD)
    return reader


def _move(model, source: str, target: str, *columns: str) -> None:
    """Copies `columns` of row `source` into row `target`, as a database writer could."""
    with tenancy.unscoped(SETUP):
        row = model.get_by_id(uuid.UUID(source))
        model.update({column: getattr(row, column) for column in columns}).where(
            model.id == uuid.UUID(target)).execute()


def test_a_patient_identity_moved_to_another_patient_is_refused(staff):
    first = staff.create_patient(Identity("Anna", "Weiß", "1984-02-29"))
    second = staff.create_patient(Identity("Bernd", "Schmidt", "1970-05-01"))
    _move(Patient, first["id"], second["id"], "encrypted_last_name")
    moved = staff.get_patient(second["id"])
    with pytest.raises(crypto.SignatureInvalid):
        staff.decrypt_patient(moved)
    with pytest.raises(crypto.BindingMismatch):  # and without the signature: the record is named inside
        crypto.open_field(staff.keys, "patient.lastName", second["id"], moved["encryptedLastName"])
    with pytest.raises(crypto.BindingMismatch):  # a field moved within the record
        crypto.open_field(staff.keys, "patient.firstName", first["id"], first["encryptedLastName"])
    assert staff.decrypt_patient(staff.get_patient(first["id"]))["lastName"] == "Weiß"


def _signed(client, practice, staff) -> tuple[dict, dict]:
    consent = create_consent(client, practice)
    assert submit(client, consent["token"], submit_body(client, practice.practice,
                                                        consent)).status_code == 200
    shown = client.simulate_get(f"/api/consent/{consent['token']}").json.get("form") or FORM
    return consent, shown


def test_consent_answers_and_identity_moved_to_another_consent_are_refused(client, practice, staff):
    first, form = _signed(client, practice, staff)
    second, _ = _signed(client, practice, staff)
    third, _ = _signed(client, practice, staff)
    assert staff.read_consent(second["id"], form=form)["identityMismatch"] is False

    _move(ConsentForm, first["id"], second["id"], "encrypted_answers", "wrapped_key")
    with pytest.raises(crypto.PayloadError):
        staff.read_consent(second["id"], form=form)
    _move(ConsentForm, first["id"], third["id"], "identity", "lookup_hash")
    with pytest.raises(crypto.BindingMismatch):
        staff.read_consent(third["id"], form=form)
    assert staff.read_consent(first["id"], form=form)["identityMismatch"] is False


def test_answers_put_behind_another_link_of_the_same_consent_are_refused(client, practice, staff):
    """The reader checks the link proof inside against the commitment staff signed."""
    consent, form = _signed(client, practice, staff)
    token = envelopes.link_commitment("A" * 43)
    forged = crypto.sign_statement(keys_of(practice.practice), "consent", {
        "id": consent["id"], "type": "BOTOX", "patientId": None, "linkCommitment": token})
    with tenancy.unscoped(SETUP):  # as if staff had issued another link after the submit
        ConsentForm.update(link_commitment=token, signature=forged).where(
            ConsentForm.id == uuid.UUID(consent["id"])).execute()
    with pytest.raises(answers.AnswersInvalid, match="linkProof"):
        staff.read_consent(consent["id"], form=form)


def test_a_treatment_plan_moved_to_another_plan_is_refused(staff):
    patient = staff.create_patient(Identity("Anna", "Weiß", "1984-02-29"))
    first = staff.create_plan(patient["id"], "BOTOX", PLAN, "2026-11-28T14:30:00Z")
    second = staff.create_plan(patient["id"], "BOTOX", {**PLAN, "notes": "anders"}, "2026-11-28T14:30:00Z")
    _move(TreatmentPlan, first["id"], second["id"], "encrypted_plan", "wrapped_key")
    moved = staff.get_plan(second["id"])
    with pytest.raises(crypto.SignatureInvalid):
        staff.decrypt_plan(moved)
    with pytest.raises(crypto.PayloadError):  # the ciphertext names its plan
        crypto.decrypt_payload(staff.keys, moved["wrappedKey"], base64.b64decode(moved["encryptedPlan"]),
                               envelopes.PURPOSE_TREATMENT_PLAN, second["id"])
    assert staff.decrypt_plan(staff.get_plan(first["id"])) == PLAN


def test_photo_metadata_and_content_moved_to_another_photo_are_refused(client, practice, staff):
    patient = staff.create_patient(Identity("Anna", "Weiß", "1984-02-29"))
    photos = []
    for note in ("links", "rechts"):
        wrapped, ciphertext = encrypt_photo(practice.practice, b"\xff\xd8\xff\xe0" + note.encode() * 100)
        photo_id = photo_fields(patient["id"], wrapped)["id"]
        metadata = crypto.seal_field(practice.practice["publicKey"], "photo.metadata", photo_id, note)
        result = upload(client, practice.token(), photo_fields(patient["id"], wrapped,
                                                               encryptedMetadata=metadata),
                        ciphertext)
        assert result.status_code == 201, result.text
        photos.append((result.json, ciphertext))
    (first, first_ciphertext), (second, _) = photos
    assert staff.photo_metadata(staff.get_photo(second["id"])) == "rechts"

    _move(Photo, first["id"], second["id"], "encrypted_metadata")
    moved = staff.get_photo(second["id"])
    with pytest.raises(crypto.SignatureInvalid):
        staff.photo_metadata(moved)
    with pytest.raises(crypto.BindingMismatch):
        crypto.open_field(staff.keys, "photo.metadata", second["id"], moved["encryptedMetadata"])
    with pytest.raises(crypto.PayloadError):  # the first photo's bytes stored under the second
        crypto.decrypt_payload(staff.keys, first["wrappedKey"], first_ciphertext, envelopes.PURPOSE_PHOTO,
                               second["id"])


def test_a_payload_of_one_purpose_or_record_never_opens_as_another(staff):
    """The additional data names purpose and record; the kinds without an endpoint here too."""
    record, other = str(uuid.uuid4()), str(uuid.uuid4())
    for purpose in sorted(envelopes.PURPOSES):
        wrapped, ciphertext = crypto.encrypt_payload(staff.keys.public_key, b"inhalt", purpose, record)
        assert crypto.decrypt_payload(staff.keys, wrapped, ciphertext, purpose, record) == b"inhalt"
        with pytest.raises(crypto.PayloadError):
            crypto.decrypt_payload(staff.keys, wrapped, ciphertext, purpose, other)
        for another in envelopes.PURPOSES - {purpose}:
            with pytest.raises(crypto.PayloadError):
                crypto.decrypt_payload(staff.keys, wrapped, ciphertext, another, record)
