"""Streaming multipart/form-data uploads: small fields first, then one file part, last.

A form may also have small binary parts before the file (a photo's encrypted thumbnail),
each read whole up to its own limit.

Falcon's multipart parser reads the body part by part from the socket; this reader keeps it
that way. Fields are bounded (`max_field` bytes each, a few parts in all), the file part is
handed over as a stream and never buffered here, and a body whose declared length is beyond
the file limit plus room for the fields is refused with 413 before a byte of it is read.
The field order is part of the API: a field after the file part is refused with 400.

The parser reads the body READ_BYTES at a time, not Falcon's default 32 KiB: gunicorn's body
reader receives up to 1 MiB per system call and copies all it still holds on every read it
serves, so 32 KiB reads copied each byte of a photo dozens of times.
"""

from __future__ import annotations

from collections.abc import Iterator

import falcon
from falcon.media.multipart import BodyPart, MultipartFormHandler, MultipartParseError, MultipartParseOptions
from falcon.util import BufferedReader

from appliance.http.errors import ApiError, bad_request
from appliance.storage.base import Readable

FILE_FIELD = "file"
#: Room in a body for the fields, part headers and boundaries around the file.
FORM_OVERHEAD = 64 * 1024
MAX_FIELD_BYTES = 8 * 1024
#: What one read of the body asks for. bench/upload.py, 25 MB: 32 KiB reads 0.54-0.57x a direct
#: put; 256 KiB 0.62-0.67x with the worker growing 1.7x the part; 1 MiB reads 0.64-0.70x but
#: growing up to 2.1x (more megabyte copies alive at once).
READ_BYTES = 256 * 1024


def _options(max_parts: int) -> MultipartParseOptions:
    options = MultipartParseOptions()
    options.max_body_part_count = max_parts
    options.max_body_part_buffer_size = MAX_FIELD_BYTES
    options.max_body_part_headers_size = 2048
    return options


class UploadForm:
    def __init__(self, req: falcon.Request, fields: frozenset[str], max_file: int,
                 small_files: dict[str, int] | None = None):
        media_type = (req.content_type or "").split(";")[0].strip().lower()
        if media_type != "multipart/form-data":
            raise ApiError(415, "unsupported_media_type", "the body must be multipart/form-data")
        if req.content_length is None:
            raise ApiError(411, "length_required", "a Content-Length header is required")
        self._small = small_files or {}
        if req.content_length > max_file + sum(self._small.values()) + FORM_OVERHEAD:
            raise ApiError(413, "payload_too_large", f"the file exceeds {max_file} bytes")
        self._allowed = fields
        handler = MultipartFormHandler(_options(len(fields) + len(self._small) + 2))
        stream = BufferedReader(req.stream.read, req.content_length, READ_BYTES)
        form = handler.deserialize(stream, req.content_type, req.content_length)
        self._parts: Iterator[BodyPart] = iter(form)

    def _next(self) -> BodyPart | None:
        try:
            return next(self._parts, None)
        except MultipartParseError as exc:
            raise bad_request("the multipart form is malformed", code="invalid_form") from exc

    def fields_and_file(self) -> tuple[dict[str, str], Readable]:
        """Reads the fields up to the file part; returns them and the file's stream."""
        fields, _, stream = self.parts_and_file()
        return fields, stream

    def parts_and_file(self) -> tuple[dict[str, str], dict[str, bytes], Readable]:
        """Reads the fields and the small binary parts up to the file part; returns them and
        the file's stream."""
        fields: dict[str, str] = {}
        small: dict[str, bytes] = {}
        while (part := self._next()) is not None:
            name = part.name or ""
            if name == FILE_FIELD:
                return fields, small, part.stream
            if name in self._small and name not in small:
                small[name] = self._small_part(part, name)
                continue
            problem = ("is given twice" if name in fields or name in small
                       else "is not a field of this form" if name not in self._allowed else None)
            if problem:
                raise bad_request("the form has an unexpected field",
                                  [{"field": name or "(unnamed part)", "problem": problem}])
            try:
                fields[name] = part.get_data().decode("utf-8")
            except (MultipartParseError, UnicodeDecodeError) as exc:
                raise bad_request("a form field is invalid", [{
                    "field": name, "problem": f"must be UTF-8 text of at most {MAX_FIELD_BYTES} bytes",
                }]) from exc
        raise bad_request("the form has no file part",
                          [{"field": FILE_FIELD, "problem": "is required (as the last part)"}])

    def _small_part(self, part: BodyPart, name: str) -> bytes:
        limit = self._small[name]
        data = b""
        try:
            while len(data) <= limit and (piece := part.stream.read(limit + 1 - len(data))):
                data += piece
        except MultipartParseError as exc:
            raise bad_request("the multipart form is malformed", code="invalid_form") from exc
        if len(data) > limit:
            raise bad_request("a part of the form is too large",
                              [{"field": name, "problem": f"must be at most {limit} bytes"}])
        return data

    def finish(self) -> None:
        """After the file: the form must end here (fields come first, the file last)."""
        if self._next() is not None:
            raise bad_request("the file must be the last part of the form",
                              [{"field": FILE_FIELD, "problem": "must be the last part"}])
