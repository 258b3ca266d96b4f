"""Photos end to end through `appliance serve` with the reference client: PostgreSQL with the
S3 store (SeaweedFS), SQLite with the directory store."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from appliance.client.api import ApiError, Identity, StaffClient
from tests.support.photos import cleanup_rows, photo_rows
from tests.support.s3 import fresh_bucket

IMAGE_BYTES = 3 * 1024 * 1024 + 12345  # not a multiple of the 64 KiB chunk
THUMBNAIL = b"\xff\xd8\xff\xe0" + secrets.token_bytes(70_000)  # two chunks


@pytest.fixture
def stored(engine, request, tmp_path):
    """(environment for the server, a function listing every stored object)."""
    if engine == "postgresql":
        server, bucket = request.getfixturevalue("s3_server"), fresh_bucket()
        return server.environment(bucket), lambda: server.keys(bucket)
    root = tmp_path / "var" / "objects"
    return {}, lambda: sorted(str(p.relative_to(root)) for p in root.rglob("*")
                              if p.is_file() and ".incoming" not in p.parts)


def test_upload_list_download_decrypt_delete_with_the_reference_client(live_server, stored, tmp_path):
    env, objects = stored
    server = live_server(**env)
    staff = StaffClient(server.url)
    staff.register("fotos@praxis.example", "ein-langes-passwort", "Dr. Foto")
    staff.create_practice("Praxis Foto", "fotos@praxis.example", "tresor-passwort-1")
    patient = staff.create_patient(Identity("Eva", "Bild", "1980-05-17"))
    image = tmp_path / "vorher.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0" + secrets.token_bytes(IMAGE_BYTES))

    with image.open("rb") as handle:  # encrypted while read, streamed while encrypted
        photo = staff.upload_photo(patient["id"], handle, "BEFORE", "CHEEKS", "2026-11-28T09:15:00+01:00",
                                   metadata={"caption": "links, Tageslicht"}, thumbnail=THUMBNAIL)
    assert objects() == [f"{staff.practice['id']}/photos/{photo['id']}"]
    listed = staff.list_photos(patient["id"], bodyRegion="CHEEKS")
    assert [p["id"] for p in listed["items"]] == [photo["id"]]

    ciphertext = b"".join(staff.photo_ciphertext(photo["id"]))
    assert len(ciphertext) == photo["sizeBytes"]
    decrypted = tmp_path / "decrypted.jpg"
    with decrypted.open("wb") as out:
        staff.read_photo(photo["id"], out)
    assert hashlib.sha256(decrypted.read_bytes()).digest() == hashlib.sha256(image.read_bytes()).digest()
    assert staff.photo_metadata(staff.get_photo(photo["id"])) == {"caption": "links, Tageslicht"}
    assert staff.read_photo_thumbnail(staff.get_photo(photo["id"])) == THUMBNAIL
    assert ciphertext[:64] != image.read_bytes()[:64]

    assert staff.delete_photo(photo["id"])["deleted"] is True
    assert objects() == [] and photo_rows() == [] and cleanup_rows() == []
    with pytest.raises(ApiError) as gone:
        staff.get_photo(photo["id"])
    assert gone.value.status == 404

    # Erasing the patient takes their remaining photos and objects along.
    for region in ("LIPS", "CHIN"):
        with image.open("rb") as handle:
            staff.upload_photo(patient["id"], handle, "AFTER", region, "2026-11-29T09:15:00Z")
    assert len(objects()) == 2
    staff.delete_patient(patient["id"])
    assert objects() == [] and photo_rows() == [] and cleanup_rows() == []
