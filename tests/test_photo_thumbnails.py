"""A photo's thumbnail (docs/crypto.md, purpose and statement photo.thumbnail): uploaded in the
photo's request, committed with it, served on its own, deleted with the photo and with the
patient's erasure, and no record of its own (one audit entry for the upload, as before).
PostgreSQL with the S3 store, SQLite with the directory store."""

from __future__ import annotations

import pytest

from appliance import envelopes
from appliance.client import crypto
from tests.support.api import assert_error, audit_actions, call, problem_fields
from tests.support.consent import create_patient, team
from tests.support.photos import (
    IMAGE,
    encrypt_photo,
    object_keys,
    object_store_fixtures,
    photo_fields,
    photo_rows,
    random_id,
    thumbnail_fields,
    thumbnail_rows,
    upload,
)

THUMB = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40

settings, store, app = object_store_fixtures(max_photo_bytes=512 * 1024)


@pytest.fixture
def praxis(client):
    return team(client, "ARZT", "EMPFANG")


@pytest.fixture
def patient(client, praxis):
    return create_patient(client, praxis)


def with_thumbnail(praxis, patient, thumb: bytes = THUMB, **extra) -> tuple[dict, bytes, bytes]:
    wrapped_key, ciphertext = encrypt_photo(praxis.practice, IMAGE)
    fields, thumb_cipher = thumbnail_fields(photo_fields(patient["id"], wrapped_key, **extra), thumb)
    return fields, thumb_cipher, ciphertext


def assert_nothing_stored(store) -> None:
    assert photo_rows() == [] and thumbnail_rows() == [] and object_keys(store) == []


def test_a_thumbnail_travels_with_its_photo_and_goes_with_it(client, praxis, patient, store):
    fields, thumb_cipher, ciphertext = with_thumbnail(praxis, patient)
    created = upload(client, praxis.token("ARZT"), fields, ciphertext, parts={"thumbnail": thumb_cipher})
    assert created.status_code == 201, created.text
    photo = created.json
    assert photo["thumbnail"] == {"wrappedKey": fields["thumbnailWrappedKey"],
                                  "signature": fields["thumbnailSignature"], "sizeBytes": len(thumb_cipher)}
    listed = call(client, "GET", f"/api/photos/patient/{patient['id']}", token=praxis.token()).json
    assert listed["items"] == [photo]

    served = call(client, "GET", f"/api/photos/{photo['id']}/thumbnail", token=praxis.token("ARZT"))
    assert served.status_code == 200 and served.headers["Content-Type"] == "application/octet-stream"
    assert served.content == thumb_cipher
    keys = praxis.admin.keys
    crypto.verify_statement(keys, "photo.thumbnail", {"photoId": photo["id"],
                                                      "wrappedKey": photo["thumbnail"]["wrappedKey"]},
                            photo["thumbnail"]["signature"])
    assert crypto.decrypt_payload(keys, photo["thumbnail"]["wrappedKey"], served.content,
                                  envelopes.PURPOSE_PHOTO_THUMBNAIL, photo["id"]) == THUMB
    with pytest.raises(crypto.PayloadError):  # the purpose keeps it from passing as the photo
        crypto.decrypt_payload(keys, photo["thumbnail"]["wrappedKey"], served.content,
                               envelopes.PURPOSE_PHOTO, photo["id"])
    # one record: the upload's audit entry, none for reading the thumbnail
    actions = audit_actions()
    assert actions["PHOTO_UPLOADED"] == 1 and actions["PHOTO_VIEWED"] == 0

    assert call(client, "DELETE", f"/api/photos/{photo['id']}", token=praxis.token()).status_code == 200
    assert_nothing_stored(store)
    assert_error(call(client, "GET", f"/api/photos/{photo['id']}/thumbnail", token=praxis.token()), 404,
                 "not_found")


def test_a_photo_without_a_thumbnail_says_so(client, praxis, patient):
    wrapped_key, ciphertext = encrypt_photo(praxis.practice, IMAGE)
    photo = upload(client, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext).json
    assert photo["thumbnail"] is None
    assert_error(call(client, "GET", f"/api/photos/{photo['id']}/thumbnail", token=praxis.token()), 404,
                 "not_found")


def test_half_a_thumbnail_a_forged_one_or_a_big_one_is_refused_and_nothing_is_stored(
        client, praxis, patient, store):
    fields, thumb_cipher, ciphertext = with_thumbnail(praxis, patient)
    token = praxis.token()
    part_only = upload(client, token, {k: v for k, v in fields.items() if not k.startswith("thumbnail")},
                       ciphertext, parts={"thumbnail": thumb_cipher})
    assert problem_fields(part_only) == {"thumbnailWrappedKey", "thumbnailSignature"}
    assert problem_fields(upload(client, token, fields, ciphertext)) == {"thumbnail"}

    # signed for another photo: the statement names the photo's id
    other, other_cipher, _ = with_thumbnail(praxis, patient)
    forged = {**fields, "thumbnailWrappedKey": other["thumbnailWrappedKey"],
              "thumbnailSignature": other["thumbnailSignature"]}
    assert_error(upload(client, token, forged, ciphertext, parts={"thumbnail": other_cipher}), 400,
                 "invalid_signature")
    assert problem_fields(upload(client, token, fields, ciphertext,
                                 parts={"thumbnail": thumb_cipher[:30]})) == {"thumbnail"}
    big = bytes(envelopes.THUMBNAIL_MAX_BYTES + 1)
    too_big = upload(client, token, fields, ciphertext, parts={"thumbnail": big})
    assert problem_fields(too_big) == {"thumbnail"}
    assert_nothing_stored(store)


def test_erasing_the_patient_erases_the_thumbnails(client, praxis, patient, store):
    for _ in range(2):
        fields, thumb_cipher, ciphertext = with_thumbnail(praxis, patient)
        assert upload(client, praxis.token(), fields, ciphertext,
                      parts={"thumbnail": thumb_cipher}).status_code == 201
    assert len(thumbnail_rows()) == 2
    erased = call(client, "DELETE", f"/api/patients/{patient['id']}", token=praxis.token())
    assert erased.status_code == 200, erased.text
    assert_nothing_stored(store)


def test_another_practices_thumbnail_answers_like_one_that_does_not_exist(client, praxis, patient):
    fields, thumb_cipher, ciphertext = with_thumbnail(praxis, patient)
    photo = upload(client, praxis.token(), fields, ciphertext, parts={"thumbnail": thumb_cipher}).json
    intruder = team(client)
    foreign = call(client, "GET", f"/api/photos/{photo['id']}/thumbnail", token=intruder.token())
    unknown = call(client, "GET", f"/api/photos/{random_id()}/thumbnail", token=intruder.token())
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json["error"] == unknown.json["error"]
    assert_error(call(client, "GET", f"/api/photos/{photo['id']}/thumbnail", token=praxis.token("EMPFANG")),
                 403, "forbidden")
