"""The slow-client attack, bounded, on loopback only: idle connections that never send a byte
and connections that send a request head a byte at a time, while a normal client measures how
long its requests take.

    with SlowClients(port, idle=40, slow=40) as attack:
        latencies = attack.probe(url, seconds=5)
        closed = attack.slow_closed(within=10)
"""

from __future__ import annotations

import socket
import ssl
import threading
import time

import requests

HEAD = b"GET /api/health HTTP/1.1\r\nHost: appliance\r\nX-Slow: " + b"a" * 4000 + b"\r\n\r\n"
#: Seconds between two bytes of a slow head.
TRICKLE = 0.5


class SlowClients:
    def __init__(self, port: int, *, idle: int, slow: int, host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None):
        """`tls`: the slow connections finish a TLS handshake first (through nginx); the idle
        ones never start theirs."""
        assert host.startswith("127."), "the attack runs against loopback only"
        self._address = (host, port)
        self._tls = tls
        self._counts = (idle, slow)
        self._idle: list[socket.socket] = []
        self._slow: list[socket.socket] = []
        self._closed: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> SlowClients:
        idle, slow = self._counts
        self._idle = [socket.create_connection(self._address, timeout=5) for _ in range(idle)]
        self._slow = [self._connect() for _ in range(slow)]
        self._thread.start()
        return self

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self._address, timeout=5)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self._address[0])
        sock.setblocking(False)  # recv below must not wait
        return sock

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()  # within TRICKLE seconds of the stop
        for sock in self._idle + self._slow:
            sock.close()

    def _trickle(self) -> None:
        """One byte of the head per slow connection every TRICKLE seconds, until the server
        closes it (then recv answers b"" or the send fails)."""
        position = 0
        while not self._stop.is_set() and position < len(HEAD):
            for index, sock in enumerate(self._slow):
                if index in self._closed:
                    continue
                try:
                    sock.send(HEAD[position:position + 1])
                    sock.recv(1)  # b"" (closed) or an answer (nginx's 408): the server is done
                    raise ConnectionResetError
                except (BlockingIOError, ssl.SSLWantReadError):
                    continue
                except OSError:
                    with self._lock:
                        self._closed.add(index)
            position += 1
            # Not self._stop.wait(TRICKLE): under libfaketime (`make test-dates`) a timed wait
            # on a thread primitive never times out; time.sleep does.
            time.sleep(TRICKLE)

    def probe(self, url: str, seconds: float, verify: bool | str = True) -> list[float]:
        """A normal client's GETs, each on a new connection, one after the other for `seconds`:
        how long each took."""
        latencies = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert requests.get(url, timeout=30, verify=verify).status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.1)
        return latencies

    def slow_closed(self, within: float) -> int:
        """How many slow connections the server closed, waiting up to `within` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and len(self._closed) < len(self._slow):
            time.sleep(0.2)
        with self._lock:
            return len(self._closed)
