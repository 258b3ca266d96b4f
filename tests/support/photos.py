"""Helpers for the photo and logo tests: encrypted uploads, apps on either object store, raw
WSGI requests with a hand-made request stream, and the rows and objects behind the API.

The acceptance pairs are PostgreSQL with the S3 store (SeaweedFS) and SQLite with the
directory store; `storage_for(engine, ...)` picks the [storage] section accordingly.
"""

from __future__ import annotations

import io
import json
import secrets
import uuid
from typing import Any

import falcon
import falcon.testing
import pytest

from appliance import envelopes, tenancy
from appliance.app import create_app
from appliance.client import crypto
from appliance.client.api import instant, photo_statement
from appliance.client.multipart import MultipartBody
from appliance.models import ObjectCleanup, Photo, PhotoThumbnail, PracticeLogo
from appliance.storage import ObjectStore, StoreUnavailable, open_store
from tests.conftest import make_settings
from tests.support.api import auth_header, fresh_ip, keys_of

#: Not a real JPEG, but it starts like one; the server never sees it in clear anyway.
IMAGE = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + secrets.token_bytes(200_000)
TAKEN_AT = "2026-11-28T14:30:00+01:00"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + secrets.token_bytes(2000)
JPEG = b"\xff\xd8\xff\xdb" + secrets.token_bytes(2000)
WEBP = b"RIFF" + (2004).to_bytes(4, "little") + b"WEBPVP8 " + secrets.token_bytes(2000)


def storage_for(engine: str, request, bucket: str | None = None) -> dict:
    """The [storage] section of an acceptance pair: S3 with PostgreSQL, directory with SQLite."""
    if engine == "postgresql":
        return request.getfixturevalue("s3_server").storage_settings(bucket)
    return {}


def object_store_fixtures(**storage: Any):
    """The `settings`, `store` and `app` fixtures of a test module whose app keeps objects:
    the acceptance pair's store (`storage_for`), with `storage` keys on top. Use as
    `settings, store, app = object_store_fixtures()` at module level."""

    @pytest.fixture
    def settings(tmp_path, database_url, engine, request):
        return make_settings(tmp_path, database_url, storage={**storage_for(engine, request), **storage})

    @pytest.fixture
    def store(settings):
        return open_store(settings)

    @pytest.fixture
    def app(settings, database, clock, store):
        return create_app(settings, database, store=store, clock=clock)

    return settings, store, app


#: wrappedKey -> (photo id, practice JSON) of every photo `encrypt_photo` made: the id the
#: ciphertext is bound to and the practice whose keys sign its fields.
_ENCRYPTED: dict[str, tuple[str, dict]] = {}


def encrypt_photo(practice: dict, image: bytes = IMAGE) -> tuple[str, bytes]:
    """(wrappedKey, ciphertext) as a staff client makes them, bound to a new photo id that
    `photo_fields` uses for the same wrapped key."""
    photo_id = str(uuid.uuid4())
    wrapped_key, ciphertext = crypto.encrypt_payload(practice["publicKey"], image, envelopes.PURPOSE_PHOTO,
                                                     photo_id)
    _ENCRYPTED[wrapped_key] = (photo_id, practice)
    return wrapped_key, ciphertext


def photo_fields(patient_id: str, wrapped_key: str, **extra: Any) -> dict[str, str]:
    """The upload's text fields for a photo `encrypt_photo` made, signed by its practice."""
    photo_id, practice = _ENCRYPTED[wrapped_key]
    fields = {"id": photo_id, "patientId": patient_id, "type": "BEFORE", "bodyRegion": "GLABELLA",
              "takenAt": TAKEN_AT, "wrappedKey": wrapped_key}
    fields.update({k: v for k, v in extra.items() if v is not None})
    return {**fields, "signature": sign_photo(practice, fields)}


def thumbnail_fields(fields: dict[str, str], image: bytes = b"\xff\xd8\xff\xe0thumb") -> tuple[dict, bytes]:
    """(upload fields with the thumbnail's key and signature, the thumbnail's ciphertext) for
    the photo of `fields` (from `photo_fields`), as a staff client makes them."""
    practice = _ENCRYPTED[fields["wrappedKey"]][1]
    wrapped_key, ciphertext = crypto.encrypt_payload(practice["publicKey"], image,
                                                     envelopes.PURPOSE_PHOTO_THUMBNAIL, fields["id"])
    signature = crypto.sign_statement(keys_of(practice), "photo.thumbnail",
                                      {"photoId": fields["id"], "wrappedKey": wrapped_key})
    return {**fields, "thumbnailWrappedKey": wrapped_key, "thumbnailSignature": signature}, ciphertext


def sign_photo(practice: dict, fields: dict[str, str]) -> str:
    """The practice's signature of the photo statement of upload `fields`."""
    statement = {**photo_statement(fields), "takenAt": instant(fields["takenAt"]),
                 "photoConsentGranted": fields.get("photoConsentGranted") == "true"}
    return crypto.sign_statement(keys_of(practice), "photo", statement)


def multipart(fields: dict[str, str], file: bytes | None, *, after: dict[str, str] | None = None,
              filename: str = "photo.enc", parts: dict[str, bytes] | None = None) -> tuple[bytes, str]:
    """(body, content type): `fields`, the binary `parts`, then the file part (unless None),
    then `after`."""
    if file is None:
        body = MultipartBody(fields, [], 0, parts=parts)
        raw = b"".join(body)
        boundary = body.content_type.split("=", 1)[1].encode()
        cut = raw.index(b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"')
        return raw[:cut] + b"--" + boundary + b"--\r\n", body.content_type
    body = MultipartBody(fields, [file], len(file), filename, parts)
    raw = b"".join(body)
    if after:
        boundary = body.content_type.split("=", 1)[1]
        extra = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                         .encode() for k, v in after.items())
        raw = raw[: -len(f"--{boundary}--\r\n")] + extra + f"--{boundary}--\r\n".encode()
    return raw, body.content_type


def post_form(client: falcon.testing.TestClient, path: str, token: str, body: bytes,
              content_type: str) -> falcon.testing.Result:
    return client.simulate_post(path, body=body, remote_addr=fresh_ip(),
                                headers={**auth_header(token), "Content-Type": content_type})


def upload(client: falcon.testing.TestClient, token: str, fields: dict[str, str], ciphertext: bytes,
           **options: Any) -> falcon.testing.Result:
    body, content_type = multipart(fields, ciphertext, **options)
    return post_form(client, "/api/photos", token, body, content_type)


class WsgiResult:
    def __init__(self, status: str, body: bytes):
        self.status_code = int(status.split()[0])
        self.body = body

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(app: falcon.App, method: str, path: str, token: str, content_type: str,
                stream: Any, content_length: int) -> WsgiResult:
    """Calls the app with `stream` as wsgi.input: a request body that can fail or act midway."""
    environ = falcon.testing.create_environ(
        path=path, method=method, remote_addr=fresh_ip(),
        headers={**auth_header(token), "Content-Type": content_type,
                 "Content-Length": str(content_length)},
    )
    environ["wsgi.input"] = stream
    start = falcon.testing.StartResponseMock()
    iterable = app(environ, start)
    try:
        body = b"".join(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return WsgiResult(start.status, body)


class ActingStream(io.RawIOBase):
    """A request body that runs `action` once `after` bytes were read (stop a server, fail)."""

    def __init__(self, data: bytes, after: int, action):
        self._data = io.BytesIO(data)
        self._after = after
        self._action = action
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self._done and self._data.tell() >= self._after:
            self._done = True
            self._action()
        if not self._done and size is not None and size > 0:
            size = min(size, self._after - self._data.tell())
        return self._data.read(size)


class FlakyStore:
    """Wraps a store; its deletes fail after the first `deletes_ok` (the store went away)."""

    def __init__(self, inner: ObjectStore, deletes_ok: int = 10**9):
        self.inner = inner
        self.deletes_ok = deletes_ok

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def delete(self, key: str) -> None:
        if self.deletes_ok <= 0:
            raise StoreUnavailable("the store went away")
        self.deletes_ok -= 1
        self.inner.delete(key)


# --- rows and objects behind the API -------------------------------------------------------


def photo_rows() -> list[Photo]:
    with tenancy.unscoped("test inspection"):
        return list(Photo.select())


def thumbnail_rows() -> list[PhotoThumbnail]:
    with tenancy.unscoped("test inspection"):
        return list(PhotoThumbnail.select())


def cleanup_rows() -> list[ObjectCleanup]:
    with tenancy.unscoped("test inspection"):
        return list(ObjectCleanup.select())


def logo_rows() -> list[PracticeLogo]:
    with tenancy.unscoped("test inspection"):
        return list(PracticeLogo.select())


def object_keys(store: ObjectStore) -> list[str]:
    return [info.key for info in store.list("")]


def random_id() -> str:
    return str(uuid.uuid4())
