"""One contract for both object stores: the local directory and S3, on a real SeaweedFS in one
process and on a distributed one (separate master, volume servers, filer and S3 gateway)."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

import pytest
from minio.error import S3Error

from appliance.storage import (
    DirectoryStore,
    ObjectNotFound,
    SourceError,
    StoreUnavailable,
    open_store,
)
from appliance.storage.directory import INCOMING
from appliance.storage.s3 import S3Store
from appliance.storage.s3_parts import send_part
from tests.conftest import make_settings
from tests.support.ports import free_port
from tests.support.s3 import fresh_bucket
from tests.support.s3_proxy import PartProxy

PRACTICE = "0b7e9c1e-8a7e-4f53-9a52-3f0d7a1c5e11"


class Pieces:
    """A stream of unknown length that hands out uneven pieces, optionally failing midway."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        self._data = memoryview(data)
        self._offset = 0
        self._fail_after = fail_after
        self._sizes = iter([1, 7, 4096, 65536, 13] * 10_000)

    def read(self, size: int = -1) -> bytes:
        if self._fail_after is not None and self._offset >= self._fail_after:
            raise SourceError("the client went away")
        size = min(size if size >= 0 else len(self._data), next(self._sizes))
        piece = bytes(self._data[self._offset:self._offset + size])
        self._offset += len(piece)
        return piece


@pytest.fixture(params=["directory", "s3", "s3_cluster"])
def store(request, tmp_path):
    if request.param == "directory":
        return DirectoryStore(tmp_path / "objects")
    server = request.getfixturevalue("s3_server" if request.param == "s3" else "s3_cluster")
    return open_store(make_settings(tmp_path, storage=server.storage_settings()))


def key(*parts: str) -> str:
    return "/".join((PRACTICE, *parts))


def test_put_of_unknown_length_then_get_stat_list_delete(store):
    data = secrets.token_bytes(300_000)
    assert store.put(key("photos", "a"), Pieces(data)) == len(data)
    content = store.get(key("photos", "a"))
    assert content.size == len(data)
    assert content.read_all() == data
    assert store.stat(key("photos", "a")).size == len(data)
    store.delete(key("photos", "a"))
    assert store.stat(key("photos", "a")) is None
    with pytest.raises(ObjectNotFound):
        store.get(key("photos", "a"))
    store.delete(key("photos", "a"))  # deleting what is gone is fine


def test_a_large_object_streams_through_in_parts(store):
    data = secrets.token_bytes(12 * 1024 * 1024 + 17)  # more than two S3 multipart parts
    assert store.put(key("photos", "big"), Pieces(data)) == len(data)
    content = store.get(key("photos", "big"))
    pieces = list(content)
    content.close()
    assert b"".join(pieces) == data and len(pieces) > 1


@pytest.mark.parametrize("parts", [1, 2])
def test_an_object_of_whole_parts_ends_at_its_last_byte(store, parts):
    """Exactly one or two S3 parts: the store sees the end only on the read after a full part."""
    data = secrets.token_bytes(parts * 5 * 1024 * 1024)
    assert store.put(key("photos", "whole"), Pieces(data)) == len(data)
    assert store.get(key("photos", "whole")).read_all() == data
    assert store.stat(key("photos", "whole")).size == len(data)


def test_empty_object_and_replacement(store):
    store.put(key("logo", "x"), Pieces(b""))
    assert store.get(key("logo", "x")).read_all() == b""
    store.put(key("logo", "x"), Pieces(b"first version"))
    store.put(key("logo", "x"), Pieces(b"second"))
    assert store.get(key("logo", "x")).read_all() == b"second"


def test_list_by_prefix_in_key_order(store):
    other = "1c2d3e4f-0000-4000-8000-000000000000"
    for name in ("photos/b", "photos/a", "logo/l"):
        store.put(key(*name.split("/")), Pieces(name.encode()))
    store.put(f"{other}/photos/a", Pieces(b"other practice"))
    assert [o.key for o in store.list(f"{PRACTICE}/photos/")] == [key("photos", "a"), key("photos", "b")]
    assert [o.key for o in store.list(f"{PRACTICE}/")] == [
        key("logo", "l"), key("photos", "a"), key("photos", "b")]
    assert [(o.key, o.size) for o in store.list(f"{other}/")] == [(f"{other}/photos/a", 14)]
    assert list(store.list(f"{PRACTICE}/nothing/")) == []


def test_a_failed_put_leaves_nothing_and_keeps_the_old_object(store):
    data = secrets.token_bytes(7 * 1024 * 1024)
    with pytest.raises(SourceError):  # the source's own error, not a store error
        store.put(key("photos", "cut"), Pieces(data, fail_after=6 * 1024 * 1024))
    assert store.stat(key("photos", "cut")) is None
    assert list(store.list(f"{PRACTICE}/")) == []

    store.put(key("photos", "kept"), Pieces(b"old and whole"))
    with pytest.raises(SourceError):
        store.put(key("photos", "kept"), Pieces(data, fail_after=100))
    assert store.get(key("photos", "kept")).read_all() == b"old and whole"


@pytest.mark.parametrize("bad", ["", "/abs", "../escape", f"{PRACTICE}/../x", "a//b", "a/./b",
                                 "a\\b", ".hidden", "a/b/", "a b", "x" * 600])
def test_keys_that_could_leave_the_namespace_are_refused(store, bad):
    for call in (lambda: store.put(bad, Pieces(b"x")), lambda: store.get(bad),
                 lambda: store.stat(bad), lambda: store.delete(bad)):
        with pytest.raises(ValueError):
            call()


def test_ping(store):
    store.ping()


# --- the directory store -------------------------------------------------------------------


def test_directory_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    store = DirectoryStore(tmp_path / "objects")
    with pytest.raises(SourceError):
        store.put(key("photos", "p"), Pieces(secrets.token_bytes(3_000_000), fail_after=2_000_000))
    assert os.listdir(tmp_path / "objects" / INCOMING) == []
    assert not (tmp_path / "objects" / PRACTICE).exists()
    store.put(key("photos", "p"), Pieces(b"done"))
    assert os.listdir(tmp_path / "objects" / INCOMING) == []
    assert list(store.list("")) == [store.stat(key("photos", "p"))]
    assert oct((tmp_path / "objects" / PRACTICE / "photos" / "p").stat().st_mode & 0o777) == "0o600"


def test_directory_refuses_a_path_through_a_symlink_out_of_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    store = DirectoryStore(tmp_path / "objects")
    (tmp_path / "objects" / PRACTICE).symlink_to(outside)
    with pytest.raises(ValueError):
        store.put(key("photos", "x"), Pieces(b"secret"))
    with pytest.raises(ValueError):
        store.get(key("photos", "x"))
    assert list(outside.iterdir()) == []


# --- the S3 store --------------------------------------------------------------------------


def test_s3_creates_a_missing_bucket(s3_server, tmp_path):
    bucket = fresh_bucket()
    store = open_store(make_settings(tmp_path, storage=s3_server.storage_settings(bucket)))
    assert not s3_server.client().bucket_exists(bucket)
    store.put(key("photos", "first"), Pieces(b"hello"))
    assert s3_server.keys(bucket) == [key("photos", "first")]


def test_s3_unreachable_or_wrong_keys_is_store_unavailable(s3_server):
    away = S3Store(f"127.0.0.1:{free_port()}", "key", "secret-key", fresh_bucket(), secure=False,
                   timeout=2)
    wrong = S3Store(s3_server.endpoint, s3_server.access_key, "not-the-secret", fresh_bucket(),
                    secure=False, timeout=2)
    for store in (away, wrong):
        with pytest.raises(StoreUnavailable):
            store.ping()
        with pytest.raises(StoreUnavailable):
            store.put(key("photos", "x"), Pieces(b"data"))
        with pytest.raises(StoreUnavailable):
            store.get(key("photos", "x"))


def test_the_directory_store_drops_what_crashed_puts_left_after_the_cutoff(tmp_path):
    store = DirectoryStore(tmp_path / "objects")
    incoming = tmp_path / "objects" / INCOMING
    incoming.mkdir(exist_ok=True)
    (incoming / "put-crashed").write_bytes(b"half")
    os.utime(incoming / "put-crashed", (1_000_000, 1_000_000))
    (incoming / "put-writing").write_bytes(b"a put in progress")
    store.put(key("photos", "a"), Pieces(b"whole"))
    cutoff = datetime.fromtimestamp(2_000_000, UTC).replace(tzinfo=None)  # the clock's naive UTC
    assert store.abort_stale_uploads(cutoff, lambda _: True) == 1
    assert sorted(p.name for p in incoming.iterdir()) == ["put-writing"]
    assert store.get(key("photos", "a")).read_all() == b"whole"


def test_s3_sends_the_next_part_while_the_store_still_answers_the_last(s3_server):
    """One part buffer, yet two parts in flight: the store writes part 1 while part 2 arrives
    (bench/upload.py: 0.58-0.61x -> 0.72-0.81x the direct put). The proxy holds the answer to
    part 1 until part 2 has come, for 2 s at most; part after part would wait out the 2 s."""
    proxy = PartProxy(s3_server.endpoint)
    bucket = fresh_bucket()
    store = S3Store(proxy.endpoint, s3_server.access_key, s3_server.secret_key, bucket, secure=False)
    data = secrets.token_bytes(11 * 1024 * 1024)  # three parts
    try:
        assert store.put(key("photos", "overlap"), Pieces(data)) == len(data)
    finally:
        proxy.close()
    assert proxy.part_two_before_answer_one is True
    assert store.get(key("photos", "overlap")).read_all() == data
    assert s3_server.unfinished_uploads(bucket) == []


GARBLED = b"HTTP/1.1 2OO OK\r\n\r\n"
BROKEN_ERROR = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n"
                b"Content-Length: 6\r\n\r\n<Error")


@pytest.mark.parametrize(("part", "answer"), [(1, b""), (2, b""), (3, b""), (2, GARBLED),
                                              (2, BROKEN_ERROR)])
def test_s3_a_part_whose_answer_is_lost_fails_the_put_and_leaves_nothing(s3_server, part, answer):
    """The store took the part but its answer never comes (the connection is cut), comes
    garbled, or is an error that is no S3 error document: the part cannot be sent again (its
    buffer holds the next one by then), so the upload fails whole (unavailable: a 503, never a
    500), aborted, no object, whether the next part is in flight (1, 2) or it was the last (3)."""
    proxy = PartProxy(s3_server.endpoint, hold=0, cut_answer_to=part, answer=answer)
    bucket = fresh_bucket()
    store = S3Store(proxy.endpoint, s3_server.access_key, s3_server.secret_key, bucket, secure=False)
    try:
        with pytest.raises(StoreUnavailable, match="unreachable"):
            store.put(key("photos", "lost"), Pieces(secrets.token_bytes(11 * 1024 * 1024)))
        assert store.stat(key("photos", "lost")) is None
        assert store.put(key("photos", "next"), Pieces(b"the store works on")) == 18
    finally:
        proxy.close()
    assert s3_server.unfinished_uploads(bucket) == []



def test_s3_a_part_the_store_refuses_raises_the_stores_own_error(s3_server):
    """An error answer to a part is read as the SDK reads it (its code), so the store's
    translation (unavailable, full) applies to parts as to every other call."""
    client = s3_server.client()
    bucket = fresh_bucket()
    client.make_bucket(bucket)
    upload_id = client._create_multipart_upload(bucket, "k", {})
    client._abort_multipart_upload(bucket, "k", upload_id)
    answer = send_part(client, client._http, bucket, "k", upload_id, 1, memoryview(b"x" * 100))
    with pytest.raises(S3Error) as refused:
        answer.part()
    assert refused.value.code == "NoSuchUpload"
