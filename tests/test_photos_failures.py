"""Photos when things break: the S3 server stops mid-upload, the client cuts the connection,
the process crashes before the commit, the store fails during a patient's erasure.

After each, no photo row lacks its object and no object outlives its row; what the store
refused is left in the cleanup queue, and the sweep finishes it once the store is back.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import socket
import time
import uuid

import falcon.testing
import pytest

from appliance import tenancy
from appliance.app import create_app
from appliance.client.api import Identity, StaffClient
from appliance.client.multipart import MultipartBody
from appliance.models import Patient
from appliance.services.objects import Objects, UploadExpired
from appliance.storage import StoreUnavailable, open_store
from appliance.storage.keys import photo_key
from tests.conftest import make_settings
from tests.support.api import assert_error, audit_actions, audit_entries, call, remember_keys
from tests.support.consent import create_patient, team
from tests.support.photos import (
    IMAGE,
    ActingStream,
    FlakyStore,
    cleanup_rows,
    encrypt_photo,
    multipart,
    object_keys,
    object_store_fixtures,
    photo_fields,
    photo_rows,
    raw_request,
    upload,
)
from tests.support.s3 import fresh_bucket, stopped

settings, store, app = object_store_fixtures()


@pytest.fixture
def praxis(client):
    return team(client, "ARZT")


@pytest.fixture
def patient(client, praxis):
    return create_patient(client, praxis)


def big_upload(praxis, patient, megabytes: int = 12) -> tuple[bytes, str]:
    wrapped_key, ciphertext = encrypt_photo(praxis.practice, IMAGE + bytes(megabytes * 1024 * 1024))
    return multipart(photo_fields(patient["id"], wrapped_key), ciphertext)


def falcon_client(app) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(app)


class DownStore:
    """A store that cannot be reached at all."""

    def __getattr__(self, name: str):
        def unavailable(*args, **kwargs):
            raise StoreUnavailable("connection refused")
        return unavailable


@pytest.mark.parametrize("engine", ["postgresql"])  # the S3 pair
def test_s3_stopped_during_an_upload_answers_503_and_stores_nothing(
        s3_server, tmp_path, database_url, database, clock, client, praxis, patient):
    bucket = fresh_bucket()
    settings = make_settings(tmp_path, database_url, storage=s3_server.storage_settings(bucket))
    store = open_store(settings)
    app = create_app(settings, database, store=store, clock=clock)
    client = falcon_client(app)
    body, content_type = big_upload(praxis, patient)
    in_flight = ActingStream(body, after=7 * 1024 * 1024, action=s3_server.stop)  # one part is in S3
    try:
        result = raw_request(app, "POST", "/api/photos", praxis.token(), content_type, in_flight, len(body))
        assert result.status_code == 503, result.body
        assert result.json["error"]["code"] == "object_store_unavailable"
        assert not s3_server.running
        ready = client.simulate_get("/api/health/ready")
        assert ready.status_code == 503 and ready.json["error"]["details"]["database"] == "ok"
        assert ready.json["error"]["details"]["objectStore"].startswith("unavailable")
    finally:
        s3_server.start()
    assert photo_rows() == [] and audit_actions()["PHOTO_UPLOADED"] == 0
    # The store could not confirm the removal while it was down: the key waits in the queue.
    assert [row.reason for row in cleanup_rows()] == ["UPLOAD"]
    # The part S3 took before it went away stays, unlisted, as an unfinished multipart upload.
    [unfinished] = s3_server.unfinished_uploads(bucket)
    assert unfinished.startswith(f"{praxis.practice_id}/photos/")
    s3_server.begin_upload(bucket, "someone-else/a-file")  # not the appliance's: never touched
    assert Objects(database, store, clock).sweep().aborted == 0  # it may still be in progress
    assert cleanup_rows() == [] and s3_server.keys(bucket) == []
    assert s3_server.unfinished_uploads(bucket) == sorted([unfinished, "someone-else/a-file"])
    clock.advance(hours=2)  # past the upload grace period
    assert Objects(database, store, clock).sweep().aborted == 1
    assert s3_server.unfinished_uploads(bucket) == ["someone-else/a-file"]
    # Back up: the same upload works, and readiness is green again.
    retry = raw_request(app, "POST", "/api/photos", praxis.token(), content_type,
                        ActingStream(body, after=len(body), action=lambda: None), len(body))
    assert retry.status_code == 201, retry.body
    assert len(s3_server.keys(bucket)) == 1 and cleanup_rows() == []
    assert client.simulate_get("/api/health/ready").status_code == 200


def test_a_full_disk_answers_507_names_the_cause_in_the_log_and_fails_readiness(
        tmp_path, database_url, database, clock, praxis, patient, monkeypatch, caplog):
    root = tmp_path / "objects"
    settings = make_settings(tmp_path, database_url, storage={"directory": str(root)})
    client = falcon_client(create_app(settings, database, store=open_store(settings), clock=clock))
    wrapped_key, ciphertext = encrypt_photo(praxis.practice)
    stored = upload(client, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext)
    assert stored.status_code == 201, stored.text
    real_fsync = os.fsync

    def disk_full(fd: int) -> None:  # what a full file system answers when the data is flushed
        if os.path.realpath(f"/proc/self/fd/{fd}").startswith(str(root)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_full)
    wrapped_key, ciphertext = encrypt_photo(praxis.practice)
    with caplog.at_level(logging.WARNING, logger="appliance"):
        result = upload(client, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext)
    assert_error(result, 507, "storage_full")
    [line] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.name == "appliance.objects" and os.strerror(errno.ENOSPC) in line.cause
    monkeypatch.undo()
    assert [str(row.id) for row in photo_rows()] == [stored.json["id"]]  # nothing half-written
    download = call(client, "GET", f"/api/photos/{stored.json['id']}/download", token=praxis.token())
    assert download.status_code == 200  # reading still works

    free_mb = open_store(settings).free_bytes() // (1024 * 1024)
    assert client.simulate_get("/api/health/ready").status_code == 200
    low = make_settings(tmp_path, database_url,
                        storage={"directory": str(root), "min_free_mb": free_mb + 1024})
    low_client = falcon_client(create_app(low, database, store=open_store(low), clock=clock))
    ready = low_client.simulate_get("/api/health/ready")
    assert ready.status_code == 503 and ready.json["error"]["details"]["database"] == "ok"
    assert ready.json["error"]["details"]["objectStore"].startswith("low free space")


@pytest.mark.parametrize("engine", ["postgresql"])
def test_downloads_while_s3_is_stopped_answer_503_and_are_not_audited(
        s3_server, tmp_path, database_url, database, clock, praxis, patient):
    settings = make_settings(tmp_path, database_url, storage=s3_server.storage_settings())
    client = falcon_client(create_app(settings, database, store=open_store(settings), clock=clock))
    wrapped_key, ciphertext = encrypt_photo(praxis.practice)
    photo = upload(client, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext).json
    with stopped(s3_server):
        result = call(client, "GET", f"/api/photos/{photo['id']}/download", token=praxis.token())
        assert_error(result, 503, "object_store_unavailable")
        assert result.headers["Retry-After"]
    assert audit_actions()["PHOTO_VIEWED"] == 0
    again = call(client, "GET", f"/api/photos/{photo['id']}/download", token=praxis.token())
    assert again.content == ciphertext


def test_an_unreachable_store_answers_503_and_writes_nothing(tmp_path, database_url, database, clock, client,
                                                             praxis, patient):
    settings = make_settings(tmp_path, database_url)
    down = falcon_client(create_app(settings, database, store=DownStore(), clock=clock))
    wrapped_key, ciphertext = encrypt_photo(praxis.practice)
    assert_error(upload(down, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext),
                 503, "object_store_unavailable")
    assert photo_rows() == [] and audit_actions()["PHOTO_UPLOADED"] == 0
    assert down.simulate_get("/api/health/ready").status_code == 503


def test_a_commit_that_fails_removes_the_object_at_once(app, client, praxis, patient, store):
    body, content_type = big_upload(praxis, patient, megabytes=1)

    def erase_patient():  # meanwhile, the patient is erased (foreign key fails at the commit)
        with tenancy.unscoped("test: a concurrent erasure"):
            Patient.delete().where(Patient.id == uuid.UUID(patient["id"])).execute()

    result = raw_request(app, "POST", "/api/photos", praxis.token(), content_type,
                         ActingStream(body, after=len(body) - 100, action=erase_patient), len(body))
    assert result.status_code == 409, result.body
    assert photo_rows() == [] and object_keys(store) == [] and cleanup_rows() == []


def test_a_client_stream_that_breaks_midway_stores_nothing(app, praxis, patient, store):
    body, content_type = big_upload(praxis, patient, megabytes=6)

    def cut():
        raise ConnectionResetError("client went away")

    result = raw_request(app, "POST", "/api/photos", praxis.token(), content_type,
                         ActingStream(body, after=6 * 1024 * 1024, action=cut), len(body))
    assert result.status_code == 400 and result.json["error"]["code"] == "upload_incomplete"
    assert photo_rows() == [] and object_keys(store) == [] and cleanup_rows() == []


def _served(server, route: str) -> list[dict]:
    lines = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("route") == route and "status" in record:
                lines.append(record)
    return lines


def test_a_connection_cut_midway_through_a_real_server_stores_nothing(
        engine, request, live_server, tmp_path, database):
    bucket = fresh_bucket()
    env = request.getfixturevalue("s3_server").environment(bucket) if engine == "postgresql" else {}
    server = live_server(**env)
    staff = StaffClient(server.url)
    staff.register("cut@praxis.example", "ein-langes-passwort", "Dr. Cut")
    staff.create_practice("Praxis Cut", "cut@praxis.example", "Tresor im Keller, 2026!")
    remember_keys(staff.keys)
    patient = staff.create_patient(Identity("Eva", "Schnitt", "1970-01-01"))
    wrapped_key, ciphertext = encrypt_photo(staff.practice, IMAGE + bytes(8 * 1024 * 1024))
    body = MultipartBody(photo_fields(patient["id"], wrapped_key), [ciphertext], len(ciphertext))
    raw = b"".join(body)
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"POST /api/photos HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {staff.token}\r\n"
            f"Content-Type: {body.content_type}\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
        )
        sock.sendall(raw[: len(raw) // 2])
    deadline = time.monotonic() + 30
    while not _served(server, "/api/photos") and time.monotonic() < deadline:
        time.sleep(0.1)  # the real server notices the cut on its own time
    assert [r["status"] for r in _served(server, "/api/photos")] == [400]
    objects = (request.getfixturevalue("s3_server").keys(bucket) if engine == "postgresql"
               else [str(p) for p in (tmp_path / "var" / "objects").rglob("*") if p.is_file()])
    assert objects == [] and photo_rows() == [] and cleanup_rows() == []
    # The same upload, complete, goes through.
    with io.BytesIO(IMAGE) as image:
        photo = staff.upload_photo(patient["id"], image, "AFTER", "LIPS", "2026-11-28T10:00:00Z")
    assert staff.read_photo(photo["id"]) == IMAGE


def test_a_crashed_upload_is_removed_by_the_sweep_after_its_grace_period(database, store, clock, praxis):
    objects = Objects(database, store, clock)
    practice_id = uuid.UUID(praxis.practice_id)
    key = photo_key(practice_id, uuid.uuid4())
    with tenancy.practice_scope(practice_id):  # what a process did before it died
        objects.begin_upload(practice_id, key)
    store.put(key, io.BytesIO(b"half of a photo"))
    assert objects.sweep().removed == 0  # may still be uploading
    assert object_keys(store) == [key]
    clock.advance(hours=2)
    assert objects.sweep().removed == 1
    assert object_keys(store) == [] and cleanup_rows() == []


def test_an_upload_the_sweep_claimed_cannot_commit(database, store, clock, praxis):
    objects = Objects(database, store, clock)
    practice_id = uuid.UUID(praxis.practice_id)
    key = photo_key(practice_id, uuid.uuid4())
    with tenancy.practice_scope(practice_id):
        objects.begin_upload(practice_id, key)
        store.put(key, io.BytesIO(b"a very slow upload"))
        clock.advance(hours=2)
        objects.sweep()
        with pytest.raises(UploadExpired), database.atomic():
            objects.claim_upload(key)
    assert object_keys(store) == [] and cleanup_rows() == []


def test_the_sweep_never_removes_an_object_that_a_row_names(app, client, database, store, clock, praxis,
                                                            patient):
    wrapped_key, ciphertext = encrypt_photo(praxis.practice)
    photo = upload(client, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext).json
    key = photo_key(uuid.UUID(praxis.practice_id), uuid.UUID(photo["id"]))
    practice_id = uuid.UUID(praxis.practice_id)
    objects = Objects(database, store, clock)
    with tenancy.practice_scope(practice_id), database.atomic():
        objects.bury(practice_id, [key])  # a stray entry, as a bug might leave one
    assert objects.sweep().kept == 1
    assert object_keys(store) == [key] and cleanup_rows() == []


def test_erasing_a_patient_removes_photos_and_objects_even_if_the_store_fails_midway(
        settings, database, clock, store, praxis, patient):
    flaky = FlakyStore(store, deletes_ok=1)
    client = falcon_client(create_app(settings, database, store=flaky, clock=clock))
    for _ in range(3):
        wrapped_key, ciphertext = encrypt_photo(praxis.practice)
        result = upload(client, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext)
        assert result.status_code == 201
    other = create_patient(client, praxis)
    wrapped_key, ciphertext = encrypt_photo(praxis.practice)
    kept = upload(client, praxis.token(), photo_fields(other["id"], wrapped_key), ciphertext).json

    erased = call(client, "DELETE", f"/api/patients/{patient['id']}", token=praxis.token())
    assert erased.status_code == 200, erased.text
    assert [p.id for p in photo_rows()] == [uuid.UUID(kept["id"])]
    assert len(object_keys(store)) == 3  # one removed, two left when the store failed, one kept
    assert sorted(r.reason for r in cleanup_rows()) == ["DELETE", "DELETE"]
    assert audit_entries("PATIENT_DELETED")[0].metadata["photos"] == 3

    flaky.deletes_ok = 10**9  # the store is back: the sweep finishes the erasure
    assert Objects(database, flaky, clock).sweep().removed == 2
    assert object_keys(store) == [photo_key(uuid.UUID(praxis.practice_id), uuid.UUID(kept["id"]))]
    assert cleanup_rows() == []


def test_deleting_a_photo_while_the_store_is_down_finishes_with_the_sweep(
        settings, database, clock, store, client, praxis, patient):
    wrapped_key, ciphertext = encrypt_photo(praxis.practice)
    photo = upload(client, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext).json
    down = falcon_client(create_app(settings, database, store=FlakyStore(store, deletes_ok=0), clock=clock))
    deleted = call(down, "DELETE", f"/api/photos/{photo['id']}", token=praxis.token())
    assert deleted.json == {"deleted": True, "objectRemoved": False}
    assert photo_rows() == [] and len(object_keys(store)) == 1
    Objects(database, store, clock).sweep()
    assert object_keys(store) == [] and cleanup_rows() == []
