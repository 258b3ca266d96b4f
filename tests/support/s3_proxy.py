"""A TCP proxy in front of the real S3 server that sees the order of multipart part requests.

It holds the store's answer to part 1 until the request for part 2 has arrived (at most `hold`
seconds), so a test can tell whether the appliance sends the next part while the store still
answers the last one; it can also cut the connection instead of passing on the store's answer to
one part (a store or network failing after the part went out), after an answer of its own.
Requests are found by their request line (`PUT /bucket/key?partNumber=N&uploadId=...`); on a
kept-alive connection a request goes out only after the answer to the one before it, so what
comes back after a part's request line is that part's answer.
"""

from __future__ import annotations

import contextlib
import socket
import threading

PIECE = 64 * 1024


class PartProxy:
    def __init__(self, endpoint: str, hold: float = 2.0, cut_answer_to: int | None = None,
                 answer: bytes = b""):
        host, port = endpoint.rsplit(":", 1)
        self._target = (host, int(port))
        self._hold = hold
        self._cut = f"?partNumber={cut_answer_to}&".encode() if cut_answer_to else None
        self._answer = answer
        self._part_two = threading.Event()
        #: Whether the store's answer to part 1 went out only after part 2 had arrived.
        self.part_two_before_answer_one: bool | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._target)
                state = {"part_one": False, "cut": False}
                threading.Thread(target=self._up, args=(client, upstream, state), daemon=True).start()
                threading.Thread(target=self._down, args=(upstream, client, state), daemon=True).start()

    def _up(self, source: socket.socket, sink: socket.socket, state: dict) -> None:
        tail = b""
        with contextlib.suppress(OSError):
            while data := source.recv(PIECE):
                seen = tail + data
                if b"?partNumber=1&" in seen:
                    state["part_one"] = True
                if b"?partNumber=2&" in seen:
                    self._part_two.set()
                if self._cut and self._cut in seen:
                    state["cut"] = True
                tail = data[-64:]
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _down(self, source: socket.socket, sink: socket.socket, state: dict) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(PIECE):
                if state["cut"]:
                    sink.sendall(self._answer)
                    break
                if state["part_one"] and self.part_two_before_answer_one is None:
                    self.part_two_before_answer_one = self._part_two.wait(self._hold)
                sink.sendall(data)
        with contextlib.suppress(OSError):
            if state["cut"]:  # shutdown, not close: it wakes the other direction's recv
                source.shutdown(socket.SHUT_RDWR)
                sink.shutdown(socket.SHUT_RDWR)
            else:
                sink.shutdown(socket.SHUT_WR)
