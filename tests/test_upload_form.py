"""The multipart form reader on its own: how it reads the request body."""

from __future__ import annotations

import io
import os

import falcon
import falcon.testing

from appliance.resources.uploads import READ_BYTES, UploadForm
from tests.support.photos import multipart


class RecordingInput(io.BytesIO):
    """A request body that notes the size of every read asked of it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.sizes: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.sizes.append(-1 if size is None else size)
        return super().read(size)


def test_the_body_is_read_in_large_pieces_and_the_file_arrives_whole():
    """gunicorn's body reader copies all it holds on every read it serves: small reads of a
    large photo copy each byte dozens of times (bench/upload.py)."""
    file = os.urandom(3 * READ_BYTES + 12345)
    body, content_type = multipart({"note": "vorher"}, file)
    environ = falcon.testing.create_environ(method="POST", path="/api/photos", body=body,
                                            headers={"Content-Type": content_type})
    recording = RecordingInput(body)
    environ["wsgi.input"] = recording
    form = UploadForm(falcon.Request(environ), frozenset({"note"}), max_file=len(file))
    fields, stream = form.fields_and_file()
    received = b"".join(iter(lambda: stream.read(64 * 1024), b""))
    form.finish()

    assert fields == {"note": "vorher"}
    assert received == file
    assert max(recording.sizes) == READ_BYTES
    # a handful of small reads while the part headers are parsed, then READ_BYTES at a time
    assert len(recording.sizes) <= len(body) // READ_BYTES + 8, recording.sizes
