"""A real SMTP server for tests, so that mail goes through smtplib and the wire as in production.

``SmtpSink`` runs aiosmtpd on 127.0.0.1 and a free port and keeps every message it accepts::

    with SmtpSink(tls="starttls", users={"praxis": "secret"}) as sink:
        ...  # send to sink.host:sink.port, trusting sink.client_context()
        (received,) = sink.wait_for(1)

TLS uses a self-signed certificate for 127.0.0.1 made at test time with the ``openssl``
command; ``tls_available()`` says whether that is possible, so only TLS tests need skipping.
"""

from __future__ import annotations

import contextlib
import email.policy
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.ports import free_port

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # the user name the client authenticated as, if any
    tls: bool  # whether the message came over an encrypted connection


def tls_available() -> bool:
    return shutil.which("openssl") is not None


def _make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", f"subjectAltName=IP:{HOST},DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class _Recorder:
    """aiosmtpd handler: parses and keeps each message, and wakes up `wait_for`."""

    def __init__(self, *, refuse_recipients: bool) -> None:
        self.messages: list[ReceivedMessage] = []
        self.arrived = threading.Condition()
        self.refuse_recipients = refuse_recipients

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse_recipients:
            # Worded like Postfix, which quotes the address: errors must not pass that on.
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        # Stored with local line endings, as a mailbox would: decoded text then reads "\n".
        content = envelope.content.replace(b"\r\n", b"\n")
        parsed = BytesParser(policy=email.policy.default).parsebytes(content)
        assert isinstance(parsed, EmailMessage)
        auth = session.auth_data
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            message=parsed,
            login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            tls=server.transport is not None
            and server.transport.get_extra_info("ssl_object") is not None,
        )
        with self.arrived:
            self.messages.append(received)
            self.arrived.notify_all()
        return "250 Message accepted"


class SmtpSink:
    """An SMTP server that accepts mail for anyone and records it.

    ``tls``: None (plain), "starttls" (required before MAIL) or "tls" (implicit TLS).
    ``users``: user name -> password; when given, only authenticated clients may send.
    ``refuse_recipients``: answer every RCPT TO with 550, as for an unknown mailbox.
    """

    def __init__(
        self,
        *,
        tls: Literal["starttls", "tls"] | None = None,
        users: dict[str, str] | None = None,
        refuse_recipients: bool = False,
    ) -> None:
        self.host = HOST
        self.port = free_port()
        self._users = users or {}
        self._recorder = _Recorder(refuse_recipients=refuse_recipients)
        self._directory = tempfile.TemporaryDirectory(prefix="smtp-sink-")
        self._cafile: Path | None = None
        options: dict[str, Any] = {
            "server_hostname": "sink.test",  # spares a slow reverse DNS lookup for the banner
            # Plain-text AUTH is for tests only; with STARTTLS the sink insists on TLS first.
            "auth_require_tls": tls == "starttls",
        }
        if users is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
        if tls is not None:
            self._cafile, key = _make_certificate(Path(self._directory.name))
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_context.load_cert_chain(self._cafile, key)
            if tls == "starttls":
                options.update(tls_context=server_context, require_starttls=True)
            else:
                options.update(ssl_context=server_context)
        self._controller = Controller(self._recorder, hostname=self.host, port=self.port, **options)

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self._recorder.messages

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this sink's certificate (and nothing else)."""
        if self._cafile is None:
            raise RuntimeError("this sink runs without TLS")
        return ssl.create_default_context(cafile=str(self._cafile))

    def wait_for(self, count: int, timeout: float = 5) -> list[ReceivedMessage]:
        """Waits until `count` messages arrived: aiosmtpd hands them over on its own thread."""
        deadline = time.monotonic() + timeout
        with self._recorder.arrived:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
                self._recorder.arrived.wait(remaining)
            return list(self.messages)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and (
            self._users.get(auth_data.login.decode()) == auth_data.password.decode()
        ):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # not handled: aiosmtpd answers 535

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
        self._directory.cleanup()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def hanging_smtp() -> Iterator[int]:
    """The port of an SMTP server that accepts connections (the kernel's backlog) and never
    says a word: every client waits for the greeting until its own timeout."""
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen(128)
        yield silent.getsockname()[1]
