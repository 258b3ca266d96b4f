"""A distributed object store losing a server: SeaweedFS with two volume servers and replication
`001` (every object on both). The S3 contract itself runs against the same cluster in
tests/test_storage.py.

With one volume server stopped, every object stored before is still read whole, from the other
copy. Uploads either succeed or answer 503, and a photo row exists exactly for the photos whose
upload succeeded, each with its whole object.
"""

from __future__ import annotations

import secrets
import time

import pytest

from appliance.storage import open_store
from tests.conftest import make_settings
from tests.support.api import assert_error, call
from tests.support.consent import create_patient, team
from tests.support.photos import cleanup_rows, encrypt_photo, photo_fields, photo_rows, upload
from tests.support.s3 import volume_stopped
from tests.test_storage import PRACTICE, Pieces

#: Short, so that an upload the cluster cannot place fails within seconds (three attempts).
S3_TIMEOUT = 2


@pytest.fixture
def storage(s3_cluster) -> dict:
    return {**s3_cluster.storage_settings(), "s3_timeout": S3_TIMEOUT}


@pytest.fixture
def settings(tmp_path, app_database_url, storage):
    """The app's (conftest's `app` and `client` use it): the cluster as its store."""
    return make_settings(tmp_path, app_database_url, storage=storage)


def test_objects_are_read_whole_with_either_volume_server_stopped(s3_cluster, storage, tmp_path):
    store = open_store(make_settings(tmp_path, storage=storage))
    objects = {f"{PRACTICE}/photos/{i}": secrets.token_bytes(size)
               for i, size in enumerate([1, 70_000, 6 * 1024 * 1024 + 3])}  # the last in two parts
    for key, data in objects.items():
        store.put(key, Pieces(data))
    for volume in s3_cluster.VOLUMES:
        with volume_stopped(s3_cluster, volume):
            started = time.monotonic()
            assert {key: store.get(key).read_all() for key in objects} == objects, volume
            assert sorted(info.key for info in store.list(f"{PRACTICE}/")) == sorted(objects)
            print(f"read {len(objects)} objects with {volume} stopped in {time.monotonic() - started:.2f} s")


@pytest.mark.parametrize("engine", ["postgresql"])
def test_uploads_with_a_volume_server_stopped_succeed_or_answer_503_never_half(s3_cluster, client):
    praxis = team(client, "ARZT")
    patient = create_patient(client, praxis)
    before = []
    for _ in range(2):
        wrapped_key, ciphertext = encrypt_photo(praxis.practice)
        result = upload(client, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext)
        assert result.status_code == 201, result.text
        before.append((result.json["id"], ciphertext))

    answered = []
    with volume_stopped(s3_cluster, "volume1"):
        for photo_id, ciphertext in before:  # stored before: still there, from the other copy
            download = call(client, "GET", f"/api/photos/{photo_id}/download", token=praxis.token())
            assert download.status_code == 200 and download.content == ciphertext
        wrapped_key, ciphertext = encrypt_photo(praxis.practice)
        started = time.monotonic()
        result = upload(client, praxis.token(), photo_fields(patient["id"], wrapped_key), ciphertext)
        answered.append((result, ciphertext, time.monotonic() - started))
    for result, _, seconds in answered:
        if result.status_code != 201:
            assert_error(result, 503, "object_store_unavailable")
        print(f"upload with one volume server stopped: {result.status_code} after {seconds:.1f} s")

    stored = {photo_id: ciphertext for photo_id, ciphertext in before}
    stored.update({r.json["id"]: ciphertext for r, ciphertext, _ in answered if r.status_code == 201})
    assert sorted(str(row.id) for row in photo_rows()) == sorted(stored)
    for photo_id, ciphertext in stored.items():
        download = call(client, "GET", f"/api/photos/{photo_id}/download", token=praxis.token())
        assert download.status_code == 200 and download.content == ciphertext
    # What the store took half-way (a refused part) waits in the cleanup queue, never in a row.
    assert all(row.reason == "UPLOAD" for row in cleanup_rows())
