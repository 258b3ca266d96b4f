"""The worker's client sockets: blocking in the threads, but never for longer than the body
timeout, on a read of a body or a write of an answer (tests/test_serve.py runs the attacks on
a real server)."""

from __future__ import annotations

import socket
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
