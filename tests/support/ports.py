"""Free TCP ports on 127.0.0.1 for the servers the tests start, and for addresses where nothing
listens.

They come from below the kernel's ephemeral range, not from `bind(port 0)`: the kernel hands out
ephemeral ports as the source ports of outgoing connections and to every `bind(0)`, so a server
the suite stops and starts again on its ports (S3, PostgreSQL) could find one taken meanwhile by
any client socket of the machine or by another pytest worker. `weed mini` then dies at start-up
("port ... is not available"), which took a worker's whole S3 server away once.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

LOWEST = 10000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _below_ephemeral() -> range:
    """Where to look: from LOWEST up to the ephemeral range (Linux default 32768-60999)."""
    try:
        first = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first = 32768
    return range(LOWEST, max(first, LOWEST + 1000))


def free_ports(count: int) -> list[int]:
    """Distinct ports nobody has bound: every candidate stays bound until all are chosen."""
    population = _below_ephemeral()
    candidates = random.SystemRandom().sample(population, k=min(4000, len(population)))
    held: list[socket.socket] = []
    try:
        for port in candidates:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
            if len(held) == count:
                return [s.getsockname()[1] for s in held]
        raise RuntimeError(f"fewer than {count} free ports below the ephemeral range")
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()


def listening(port: int) -> bool:
    """Whether a connection to the port on 127.0.0.1 is accepted (a reset while it comes in means
    the socket has just closed)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def free_port() -> int:
    """One port nobody listens on right now (also: an address where a connection is refused)."""
    return free_ports(1)[0]
