"""gunicorn's threaded worker, hardened against slow and idle clients for `appliance serve`.

gunicorn 27's `gthread` hands every new connection to a pool thread, which waits up to 5 s
for its first bytes and then reads the request head with no time limit: two dozen idle
sockets stall every request, and clients that send their heads a byte at a time keep the
threads for ever. Here no thread is tied to a client that is still sending its head:

* the worker's event loop reads each request head (new and kept-alive connections alike)
  without blocking, and hands the connection to a pool thread only once the head is complete;
* a connection that sends nothing is closed after `server.keepalive` seconds, and a head
  must be complete within `header_timeout` seconds of its first byte;
* in the thread, every read of the body (and every write of the answer) may stall at most
  `body_timeout` seconds, so a slow upload still works but a stalled one ends;
* an answer's head goes out together with the first piece of its body: gunicorn writes them
  in two sends, and a system call less per request is measurable on small answers.

`appliance.serve` sets the timeouts from `server.header_timeout` and `server.body_timeout`.
These are gunicorn internals (`accept`, `pending_conns`, `keepalived_conns`, `poller`,
`enqueue_req`): setup.cfg pins gunicorn's major version, and tests/test_serve.py runs the attack.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import selectors
import socket
import struct
import time
from functools import partial

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import TConn, ThreadWorker

#: A head larger than this goes to the parser unfinished, which refuses it (gunicorn's limits).
MAX_HEAD_BYTES = 64 * 1024
END_OF_HEAD = b"\r\n\r\n"
#: A body piece up to this size goes out in one send with the answer's head (copied behind it).
JOIN_BYTES = 16 * 1024


class _Head(enum.Enum):
    """What a read in the event loop found of a request head."""

    PARTIAL = "partial"  # more to come (or nothing yet)
    COMPLETE = "complete"
    CLOSED = "closed"  # the client went away


class _BufferedSocket:
    """A client socket that first gives back what the event loop read of the head, and whose
    blocking reads and writes time out after the body timeout.

    The timeout is the kernel's (SO_RCVTIMEO, SO_SNDTIMEO) on a blocking socket, not Python's
    `settimeout`, which polls before every read and write: two more system calls, and two
    more hand-overs of the GIL, in every request.
    """

    def __init__(self, sock: socket.socket, body_timeout: float):
        self._sock = sock
        seconds, fraction = divmod(body_timeout, 1)
        limit = struct.pack("ll", int(seconds), int(fraction * 1_000_000))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        self.head = b""
        self._hold = False
        self._held = b""

    def __getattr__(self, name: str):
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv(self, size: int, *flags: int) -> bytes:
        if self.head:
            piece, self.head = self.head[:size], self.head[size:]
            return piece
        try:
            return self._sock.recv(size, *flags)
        except (BlockingIOError, TimeoutError):  # the kernel's limit; gunicorn's own drains
            raise NoMoreData(b"") from None  # gunicorn closes the connection quietly

    def sendall(self, data: bytes, *flags: int) -> None:
        """Every answer goes out here: not through `__getattr__`."""
        if self._hold:  # gunicorn writes an answer's head first, then each piece of its body
            self._hold = False
            self._held = bytes(data)
            return
        if self._held:
            held, self._held = self._held, b""
            if len(data) <= JOIN_BYTES:
                data = held + data
            else:
                self._sock.sendall(held)
        self._sock.sendall(data, *flags)

    def hold_head(self) -> None:
        """Keeps the answer's head until its first body piece: one send instead of two."""
        self._hold = True

    def release_head(self, send: bool) -> None:
        """The answer is complete: a head still held (no body) goes out, or is dropped if
        the answer failed (gunicorn then closes the connection or writes its error page)."""
        self._hold = False
        held, self._held = self._held, b""
        if held and send:
            self._sock.sendall(held)

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)


class SlowClientWorker(ThreadWorker):
    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def accept(self, listener) -> None:
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        buffered = _BufferedSocket(client, self.body_timeout)
        buffered.setblocking(False)
        conn = TConn(self.cfg, buffered, address, listener.getsockname())
        self._await_head(conn, idle_until=time.monotonic() + self.cfg.keepalive)

    def on_client_socket_readable(self, conn, client) -> None:
        """A kept-alive connection's next request: its head is read here too; it mostly
        arrives whole, and then goes to a thread without another round in the poller."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        state = self._receive(conn)
        if state is _Head.COMPLETE:
            self._hand_over(conn)
        elif state is _Head.CLOSED:
            self.nr_conns -= 1
            conn.close()
        else:
            self._await_head(conn, idle_until=time.monotonic() + self.header_timeout)

    def _await_head(self, conn, idle_until: float) -> None:
        conn.timeout = idle_until
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))

    def _read_head(self, conn, client) -> None:
        """In the event loop: what arrived of a waiting connection's head."""
        state = self._receive(conn)
        if state is _Head.PARTIAL:
            return
        if state is _Head.CLOSED:
            self._drop(conn)
            return
        self.poller.unregister(client)
        self.pending_conns.remove(conn)
        self._hand_over(conn)

    def _receive(self, conn) -> _Head:
        """Reads what arrived of the head, without waiting for more."""
        buffered = conn.sock
        try:
            data = buffered._sock.recv(MAX_HEAD_BYTES)
        except BlockingIOError:
            return _Head.PARTIAL
        except OSError:
            data = b""
        if not data:
            return _Head.CLOSED
        if not buffered.head:  # the first byte starts the head's deadline
            conn.timeout = time.monotonic() + self.header_timeout
        buffered.head += data
        if END_OF_HEAD in buffered.head or len(buffered.head) >= MAX_HEAD_BYTES:
            return _Head.COMPLETE
        return _Head.PARTIAL

    def handle_request(self, req, conn):
        """gunicorn's, with the answer's head held for its first body piece (see the socket)."""
        conn.sock.hold_head()
        try:
            keepalive = super().handle_request(req, conn)
        except BaseException:
            conn.sock.release_head(send=False)
            raise
        conn.sock.release_head(send=True)
        return keepalive

    def _hand_over(self, conn) -> None:
        conn.data_ready = True
        self.enqueue_req(conn)

    def _drop(self, conn) -> None:
        self.pending_conns.remove(conn)
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Closes silent connections and heads past their deadline (in any order)."""
        now = time.monotonic()
        for conn in [c for c in self.pending_conns if c.timeout <= now]:
            self._drop(conn)
