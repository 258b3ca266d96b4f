"""The worker's client sockets: blocking in the threads, but never for longer than the body
timeout, on a read of a body or a write of an answer (tests/test_serve.py runs the attacks on
a real server)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from gunicorn.http.errors import NoMoreData

from appliance.http_worker import _BufferedSocket

TIMEOUT = 1.0


@pytest.fixture
def pair():
    """A connected TCP pair on loopback, with small buffers so that a peer that stops reading
    stalls the writer (loopback otherwise buffers megabytes)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        peer = socket.socket()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        peer.connect(listener.getsockname())
        served, _ = listener.accept()
    served.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock = _BufferedSocket(served, TIMEOUT)
    sock.setblocking(True)
    yield sock, peer
    served.close()
    peer.close()


def test_the_head_read_in_the_event_loop_comes_first_then_the_socket(pair):
    sock, peer = pair
    sock.head = b"GET / HTTP/1.1\r\n\r\nbo"
    peer.sendall(b"dy")
    assert sock.recv(4) == b"GET "
    assert sock.recv(100) == b"/ HTTP/1.1\r\n\r\nbo"
    assert sock.recv(100) == b"dy"


def test_a_body_that_stops_coming_ends_the_request_after_the_timeout(pair):
    sock, peer = pair
    peer.sendall(b"part of a body")
    assert sock.recv(100) == b"part of a body"
    started = time.monotonic()
    with pytest.raises(NoMoreData):
        sock.recv(100)
    assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT * 5


def test_a_reader_that_stops_reading_ends_the_answer_after_the_timeout(pair):
    sock, _peer = pair
    started = time.monotonic()
    with pytest.raises(OSError):  # gunicorn closes the connection on it
        sock.sendall(b"x" * 8 * 1024 * 1024)
    assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT * 5


def test_the_event_loop_reads_without_waiting(pair):
    sock, _peer = pair
    sock.setblocking(False)
    started = time.monotonic()
    with pytest.raises(BlockingIOError):
        sock._sock.recv(100)
    assert time.monotonic() - started < TIMEOUT / 2


def _received(peer: socket.socket, size: int = 0) -> bytes:
    """`size` bytes once they have arrived (5 s at most); with no size, what has arrived after
    a short wait (a check that nothing went out can only pass too early, never fail so)."""
    if not size:
        time.sleep(0.05)
        peer.setblocking(False)
        try:
            return peer.recv(65536)
        except BlockingIOError:
            return b""
    peer.settimeout(5)
    data = b""
    while len(data) < size and (chunk := peer.recv(size - len(data))):
        data += chunk
    return data


def test_an_answers_head_goes_out_with_its_first_body_piece(pair):
    sock, peer = pair
    sock.hold_head()
    sock.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    assert _received(peer) == b""
    sock.sendall(b'{"status": "ok"}')
    assert _received(peer, 35) == b'HTTP/1.1 200 OK\r\n\r\n{"status": "ok"}'
    sock.sendall(b"next piece")  # only the head is held, once
    assert _received(peer, 10) == b"next piece"


def test_a_head_without_body_goes_out_when_the_answer_ends(pair):
    sock, peer = pair
    sock.hold_head()
    sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    sock.release_head(send=True)
    assert _received(peer, 27) == b"HTTP/1.1 204 No Content\r\n\r\n"
    sock.release_head(send=True)  # nothing held: nothing more goes out
    assert _received(peer) == b""


def test_a_failed_answers_held_head_is_dropped_and_the_error_page_goes_out(pair):
    sock, peer = pair
    sock.hold_head()
    sock.release_head(send=False)  # the answer failed before writing anything
    sock.sendall(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    assert _received(peer, 38) == b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
    sock.hold_head()
    sock.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    sock.release_head(send=False)
    assert _received(peer) == b""


def test_a_large_body_follows_its_head_in_order(pair):
    sock, peer = pair
    body = bytes(range(256)) * 256  # 64 KiB: sent on its own, not copied behind the head
    received = bytearray()

    def read() -> None:
        while chunk := peer.recv(65536):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    sock.hold_head()
    sock.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    sock.sendall(body)
    sock.release_head(send=True)
    sock.shutdown(socket.SHUT_WR)
    reader.join(5)
    assert bytes(received) == b"HTTP/1.1 200 OK\r\n\r\n" + body
