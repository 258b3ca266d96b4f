"""The appliance's only way to send e-mail: consent links to patients and invitations to staff.

Mail goes out through the practice's own SMTP relay. Errors are reported as `MailUnavailable`
whose message names the server and what went wrong, never the recipient or the text, because
callers log it and logs must not carry personal data.

A recipient is exactly one RFC 5321 mailbox (`addr_spec`), and the envelope names it
explicitly: the message's To header is never parsed for recipients, so neither a comma list
nor angle brackets nor an encoded word in an address can reach a second mailbox or rewrite a
header. Header texts (the subject, which carries the practice name) must not contain line
breaks of any kind (`header_safe`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import smtplib
import ssl
import unicodedata
import zoneinfo
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from importlib import resources
from string import Template
from typing import Protocol

import idna

from appliance.settings import Settings, SmtpSection

LOCALES = ("de", "en")

ROLE_LABELS: dict[str, dict[str, str]] = {
    "de": {"ADMIN": "Administrator/in", "ARZT": "Ärztin/Arzt", "EMPFANG": "Empfang"},
    "en": {"ADMIN": "Administrator", "ARZT": "Physician", "EMPFANG": "Reception"},
}

_MONTHS = {
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}
_WEEKDAYS = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


#: RFC 5321 Dot-string: atoms of atext joined by single dots (quoted local parts are refused:
#: no one needs them for a patient's address, and they invite header trouble).
_DOT_STRING = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_LOCAL, _MAX_DOMAIN, _MAX_ADDRESS = 64, 253, 254
#: Categories of characters that end or break a header line: controls (CR, LF, NEL, ...) and
#: the Unicode line and paragraph separators, which the e-mail library treats as line ends.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


def addr_spec(address: str) -> str:
    """The one mailbox `address` names, with its domain in IDNA (ASCII) form, or ValueError.

    The message names no part of the address, which is personal data.
    """
    local, at, domain = address.rpartition("@")
    if not at or not _DOT_STRING.fullmatch(local) or len(local) > _MAX_LOCAL:
        raise ValueError("the recipient is not a single e-mail address (local@domain)")
    if "=?" in local:  # RFC 2047: an encoded word must not appear in an addr-spec
        raise ValueError("the recipient's local part looks like an encoded word")
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise ValueError("the recipient's domain is not a valid (IDNA) domain name") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > _MAX_DOMAIN or labels[-1].isdigit():
        raise ValueError("the recipient's domain is not a valid (IDNA) domain name")
    normalised = f"{local}@{ascii_domain}"
    if len(normalised) > _MAX_ADDRESS:
        raise ValueError("the recipient's address is longer than 254 characters")
    return normalised


def is_addr_spec(address: str) -> bool:
    try:
        addr_spec(address)
    except ValueError:
        return False
    return True


def header_safe(text: str) -> bool:
    """Whether `text` can stand in a header without breaking its line (or adding one)."""
    return not any(unicodedata.category(char) in _LINE_BREAKING for char in text)


@dataclass(frozen=True)
class OutgoingMail:
    """One plain-text UTF-8 message to one recipient (normalised to its `addr_spec`)."""

    to: str
    subject: str
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "to", addr_spec(self.to))
        # A line break in a header value would let input add headers or recipients.
        if not header_safe(self.subject):
            raise ValueError("line breaks and control characters are not allowed in the subject")


class MailUnavailable(Exception):
    """The mail could not be handed to the SMTP server; the message holds no personal data."""


class Mailer(Protocol):
    def send(self, mail: OutgoingMail) -> None:
        """Hands the mail to the relay or raises `MailUnavailable`."""


class DisabledMailer:
    """Stands in when no SMTP host is configured, so callers can tell staff to share links by hand."""

    enabled = False

    def send(self, mail: OutgoingMail) -> None:
        raise MailUnavailable("e-mail is not configured")


class SmtpMailer:
    """Sends each mail over its own SMTP connection: mail is rare, and no idle socket can go stale."""

    enabled = True

    def __init__(self, config: SmtpSection, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._config = config
        self._ssl_context = ssl_context or ssl.create_default_context()
        # Message-IDs carry the sender's domain so that they are unique and not flagged as spam.
        self._domain = parseaddr(config.sender)[1].rpartition("@")[2] or "localhost"

    def _build(self, mail: OutgoingMail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._config.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
        message["Message-ID"] = make_msgid(domain=self._domain)
        # Tells auto-responders and ticket systems not to answer a machine.
        message["Auto-Submitted"] = "auto-generated"
        # Quoted-printable passes every relay, including those without 8BITMIME.
        message.set_content(mail.text, charset="utf-8", cte="quoted-printable")
        return message

    def send(self, mail: OutgoingMail) -> None:
        config = self._config
        try:
            message = self._build(mail)
        except ValueError as exc:  # e.g. smtp.sender is no address
            raise MailUnavailable(f"the message could not be built ({type(exc).__name__})") from None
        envelope_sender = parseaddr(config.sender)[1]
        try:
            if config.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout, context=self._ssl_context
                )
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with client:
                if config.security == "starttls":
                    client.starttls(context=self._ssl_context)
                if config.username:
                    _login(client, config)
                # Explicit envelope: exactly the one validated recipient, whatever the headers say.
                client.send_message(message, from_addr=envelope_sender, to_addrs=[mail.to])
        except (smtplib.SMTPException, OSError) as exc:
            # `from None`: the original exception may quote the recipient (e.g. "550 <a@b>
            # unknown"), and a logged traceback would print it.
            raise MailUnavailable(
                f"SMTP server {config.host}:{config.port}: {_reason(exc)}"
            ) from None
        except ValueError as exc:  # what the message generator refused (UnicodeError too)
            raise MailUnavailable(
                f"SMTP server {config.host}:{config.port}: the message could not be sent"
                f" ({type(exc).__name__})"
            ) from None


def _login(client: smtplib.SMTP, config: SmtpSection) -> None:
    try:
        client.login(config.username, config.password)
    except UnicodeEncodeError:
        # smtplib encodes credentials as ASCII; without this the send would crash unexplained.
        raise MailUnavailable("smtp.username and smtp.password must be ASCII") from None


def _reason(exc: smtplib.SMTPException | OSError) -> str:
    """What went wrong, from fixed words and codes only, never the server's free text."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused ({exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"recipient refused ({', '.join(map(str, codes))})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"refused with code {exc.smtp_code}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib turns a read timeout into a disconnect; the timeout is the useful part.
        return "timed out" if isinstance(exc.__context__, TimeoutError) else "connection closed"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"unreachable ({exc.strerror})"
    return type(exc).__name__


def open_mailer(settings: Settings) -> Mailer:
    """The mailer the settings ask for: SMTP when a host is configured, otherwise disabled."""
    return SmtpMailer(settings.smtp) if settings.smtp_enabled else DisabledMailer()


# -- messages ------------------------------------------------------------------------------


def consent_link_mail(
    to: str, locale: str, practice_name: str, link: str, expires_at: dt.datetime, timezone: str
) -> OutgoingMail:
    """Asks a patient to fill in and sign a consent form before the link expires."""
    return _render(
        "consent_link", to, locale,
        practice=practice_name, link=link, expires=format_expiry(expires_at, timezone, locale),
    )


def team_invite_mail(
    to: str,
    locale: str,
    practice_name: str,
    role: str,
    link: str,
    expires_at: dt.datetime,
    timezone: str,
) -> OutgoingMail:
    """Invites someone to join a practice team with the given role."""
    _check_locale(locale)
    try:
        label = ROLE_LABELS[locale][role]
    except KeyError:
        raise ValueError(f"unknown role {role!r}") from None
    return _render(
        "team_invite", to, locale,
        practice=practice_name, role=label, link=link,
        expires=format_expiry(expires_at, timezone, locale),
    )


def format_expiry(expires_at: dt.datetime, timezone: str, locale: str) -> str:
    """A naive-UTC instant as the practice's wall-clock time, written out for the reader.

    Month and weekday names come from tables, not the C locale, which is process-global and
    often lacks German on servers.
    """
    _check_locale(locale)
    local = expires_at.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(timezone))
    weekday = _WEEKDAYS[locale][local.weekday()]
    month = _MONTHS[locale][local.month - 1]
    if locale == "de":
        return f"{weekday}, {local.day}. {month} {local.year}, {local:%H:%M} Uhr"
    return f"{weekday}, {local.day} {month} {local.year}, {local:%H:%M} ({timezone} time)"


def _check_locale(locale: str) -> None:
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")


@functools.cache
def _template(name: str, locale: str) -> tuple[Template, Template]:
    """Subject and body templates; the file's first line is `Subject: ...`."""
    path = resources.files("appliance") / "templates" / f"{name}.{locale}.txt"
    text = path.read_text(encoding="utf-8")
    first, _, body = text.partition("\n")
    prefix = "Subject: "
    if not first.startswith(prefix):
        raise ValueError(f"template {name}.{locale}.txt must start with {prefix!r}")
    return Template(first.removeprefix(prefix)), Template(body)


def _render(name: str, to: str, locale: str, **values: str) -> OutgoingMail:
    _check_locale(locale)
    subject, body = _template(name, locale)
    return OutgoingMail(to=to, subject=subject.substitute(values), text=body.substitute(values))
