"""Mail goes through smtplib to a real SMTP server (aiosmtpd), in every security mode."""

from __future__ import annotations

import datetime as dt
import secrets
import socket
import time
from email.utils import parsedate_to_datetime

import pytest

from appliance.mail import (
    DisabledMailer,
    MailUnavailable,
    OutgoingMail,
    SmtpMailer,
    addr_spec,
    consent_link_mail,
    header_safe,
    open_mailer,
    team_invite_mail,
)
from appliance.settings import Settings, SmtpSection
from tests.support.ports import free_port
from tests.support.smtp import HOST, SmtpSink, tls_available

SENDER = "Praxis Dr. Müller <noreply@praxis-beispiel.de>"
RECIPIENT = "patientin@example.org"
PRACTICE = "Hautarztpraxis Dr. Müller & Söhne"
# 23:30 UTC on Friday 14 March is already Saturday 15 March, 00:30, in Berlin (CET, UTC+1).
EXPIRES = dt.datetime(2025, 3, 14, 23, 30)
TIMEZONE = "Europe/Berlin"

# The sink allows AUTH without STARTTLS for implicit TLS (which aiosmtpd cannot see) and the
# plain-text login tests; aiosmtpd warns about that each time.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
needs_tls = pytest.mark.skipif(not tls_available(), reason="the openssl command is not installed")


def _link() -> str:
    # Long and with "=", so quoted-printable must wrap and escape it on the wire.
    return f"https://praxis-beispiel.de/consent/{secrets.token_urlsafe(32)}?lang=de&utm=none-at-all"


def _config(sink_port: int, *, security: str = "none", **overrides: object) -> SmtpSection:
    values: dict = {
        "host": HOST, "port": sink_port, "security": security, "sender": SENDER, "timeout": 5,
    }
    values.update(overrides)
    return SmtpSection(**values)


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


CASES = {
    "consent-de": (
        lambda link: consent_link_mail(RECIPIENT, "de", PRACTICE, link, EXPIRES, TIMEZONE),
        f"Ihre Einwilligungserklärung für {PRACTICE}",
        "Samstag, 15. März 2025, 00:30 Uhr",
        ["auszufüllen und zu unterschreiben", "Ende-zu-Ende-verschlüsselt", "ignorieren"],
    ),
    "consent-en": (
        lambda link: consent_link_mail(RECIPIENT, "en", PRACTICE, link, EXPIRES, TIMEZONE),
        f"Your consent form for {PRACTICE}",
        "Saturday, 15 March 2025, 00:30 (Europe/Berlin time)",
        ["fill in and sign", "encrypted end to end", f"Only {PRACTICE} can read", "ignore"],
    ),
    "invite-de": (
        lambda link: team_invite_mail(RECIPIENT, "de", PRACTICE, "ARZT", link, EXPIRES, TIMEZONE),
        f"Einladung in das Team von {PRACTICE}",
        "Samstag, 15. März 2025, 00:30 Uhr",
        ["mit der Rolle: Ärztin/Arzt.", "gültig bis"],
    ),
    "invite-en": (
        lambda link: team_invite_mail(RECIPIENT, "en", PRACTICE, "EMPFANG", link, EXPIRES, TIMEZONE),
        f"Invitation to join the team of {PRACTICE}",
        "Saturday, 15 March 2025, 00:30 (Europe/Berlin time)",
        ["with the role: Reception.", "valid until"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_message_arrives_with_headers_text_link_and_local_date(sink, case):
    build, subject, expiry, phrases = CASES[case]
    link = _link()
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    SmtpMailer(_config(sink.port)).send(build(link))

    (received,) = sink.wait_for(1)
    message = received.message
    assert received.mail_from == "noreply@praxis-beispiel.de"
    assert received.rcpt_tos == [RECIPIENT]
    assert received.login is None and received.tls is False
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Praxis Dr. Müller", "noreply@praxis-beispiel.de")
    assert message["To"] == RECIPIENT
    assert message["Subject"] == subject
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@praxis-beispiel.de>")
    assert before <= parsedate_to_datetime(message["Date"]) <= dt.datetime.now(dt.UTC)
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert not message.is_multipart()
    assert message.as_bytes().isascii()  # 7-bit on the wire, whatever the relay supports
    text = message.get_content()
    assert link in text.splitlines()  # on a line of its own, unchanged
    assert expiry in text
    assert PRACTICE in text
    for phrase in phrases:
        assert phrase in text
    assert "$" not in text  # every placeholder was filled


@needs_tls
def test_starttls_with_login():
    with SmtpSink(tls="starttls", users={"praxis": "geheim"}) as sink:
        config = _config(sink.port, security="starttls", username="praxis", password="geheim")
        SmtpMailer(config, ssl_context=sink.client_context()).send(
            OutgoingMail(to=RECIPIENT, subject="Grüße", text="Schöne Grüße\n")
        )
        (received,) = sink.wait_for(1)
    assert received.tls is True
    assert received.login == "praxis"
    assert received.message["Subject"] == "Grüße"
    assert received.message.get_content() == "Schöne Grüße\n"


@needs_tls
def test_implicit_tls_with_login():
    with SmtpSink(tls="tls", users={"praxis": "geheim"}) as sink:
        config = _config(sink.port, security="tls", username="praxis", password="geheim")
        SmtpMailer(config, ssl_context=sink.client_context()).send(
            OutgoingMail(to=RECIPIENT, subject="Test", text="Hallo\n")
        )
        (received,) = sink.wait_for(1)
    assert received.tls is True
    assert received.login == "praxis"


@needs_tls
def test_untrusted_certificate_is_refused():
    with SmtpSink(tls="starttls") as sink:
        mailer = SmtpMailer(_config(sink.port, security="starttls"))  # system trust store only
        with pytest.raises(MailUnavailable, match="TLS failed"):
            mailer.send(OutgoingMail(to=RECIPIENT, subject="Test", text="Hallo\n"))
        assert sink.messages == []


def test_wrong_password_is_mail_unavailable():
    with SmtpSink(users={"praxis": "richtig"}) as sink:
        mailer = SmtpMailer(_config(sink.port, username="praxis", password="falsch"))
        with pytest.raises(MailUnavailable, match=r"login refused \(535\)") as caught:
            mailer.send(OutgoingMail(to=RECIPIENT, subject="Test", text="Geheimer Text\n"))
        assert sink.messages == []
    _assert_no_personal_data(caught.value)


def test_refused_recipient_is_mail_unavailable_without_the_address():
    with SmtpSink(refuse_recipients=True) as sink:
        mailer = SmtpMailer(_config(sink.port))
        with pytest.raises(MailUnavailable, match=r"recipient refused \(550\)") as caught:
            mailer.send(OutgoingMail(to=RECIPIENT, subject="Test", text="Geheimer Text\n"))
    _assert_no_personal_data(caught.value)


def test_non_ascii_password_is_mail_unavailable():
    # smtplib can only send ASCII credentials; the operator must learn that, not get a crash.
    with SmtpSink(users={"praxis": "geheim-ß"}) as sink:
        mailer = SmtpMailer(_config(sink.port, username="praxis", password="geheim-ß"))
        with pytest.raises(MailUnavailable, match="must be ASCII"):
            mailer.send(OutgoingMail(to=RECIPIENT, subject="Test", text="Hallo\n"))


def test_unreachable_server_fails_fast_without_personal_data():
    config = _config(free_port(), timeout=30)  # nothing listens there
    mailer = SmtpMailer(config)
    started = time.monotonic()
    with pytest.raises(MailUnavailable, match="unreachable") as caught:
        mailer.send(consent_link_mail(RECIPIENT, "de", PRACTICE, _link(), EXPIRES, TIMEZONE))
    # A refused connection does not wait for the timeout (a wide margin below it).
    assert time.monotonic() - started < config.timeout / 3
    _assert_no_personal_data(caught.value)


def test_silent_server_times_out():
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind((HOST, 0))
        silent.listen()
        config = _config(silent.getsockname()[1], timeout=1)
        mailer = SmtpMailer(config)
        started = time.monotonic()
        with pytest.raises(MailUnavailable, match="timed out"):
            mailer.send(OutgoingMail(to=RECIPIENT, subject="Test", text="Hallo\n"))
    # The greeting wait is cut at the timeout: well under ten times it, even on a loaded machine.
    assert config.timeout <= time.monotonic() - started < 10 * config.timeout


def test_disabled_mailer_raises():
    with pytest.raises(MailUnavailable, match="e-mail is not configured"):
        DisabledMailer().send(OutgoingMail(to=RECIPIENT, subject="Test", text="Hallo\n"))


def test_open_mailer_follows_settings():
    assert isinstance(open_mailer(Settings()), DisabledMailer)
    configured = Settings(smtp=SmtpSection(host="mail.praxis-beispiel.de", sender=SENDER))
    assert isinstance(open_mailer(configured), SmtpMailer)


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("a@example.org\r\nBcc: b@example.org", "Test"),
        (RECIPIENT, "Test\nBcc: b@example.org"),
        ("not-an-address", "Test"),
    ],
)
def test_header_injection_and_bad_addresses_are_rejected(to, subject):
    with pytest.raises(ValueError) as caught:
        OutgoingMail(to=to, subject=subject, text="Hallo\n")
    assert to not in str(caught.value)


@pytest.mark.parametrize(("address", "normalised"), [
    ("erika@example.org", "erika@example.org"),
    ("Erika.Muster+einwilligung@Example.ORG", "Erika.Muster+einwilligung@example.org"),
    ("o'brien@xn--mnchen-3ya.de", "o'brien@xn--mnchen-3ya.de"),
    ("kaethe@münchen.de", "kaethe@xn--mnchen-3ya.de"),
])
def test_one_mailbox_is_accepted_with_its_domain_in_ascii(address, normalised):
    assert addr_spec(address) == normalised
    assert OutgoingMail(to=address, subject="Test", text="Hallo\n").to == normalised


@pytest.mark.parametrize("address", [
    "postmaster,victim@x.test", "victim@x.test>,<root", "Erika <erika@example.org>",
    "=?utf-8?q?a=0D=0Ab?=@example.org", '"quoted"@example.org', "erika@localhost", "erika@[127.0.0.1]",
    "a..b@example.org", ".a@example.org", "a@exa_mple.org", "a@-example.org", "a@example.123",
    "zwei worte@example.org", "käthe@example.org", "a@example.org\n", "a@b@example.org",
    "x" * 65 + "@example.org", "a@" + "b" * 250 + ".de",
])
def test_anything_but_one_mailbox_is_refused_without_quoting_it(address):
    with pytest.raises(ValueError) as caught:
        addr_spec(address)
    assert address not in str(caught.value)


@pytest.mark.parametrize("text", ["Praxis\u2028Bcc: x@y.de", "Praxis\u2029", "Praxis\x85", "Praxis\x0bX",
                                  "Praxis\rX"])
def test_a_subject_with_any_line_break_is_refused(text):
    assert not header_safe(text)
    with pytest.raises(ValueError, match="subject"):
        OutgoingMail(to=RECIPIENT, subject=text, text="Hallo\n")
    assert header_safe("Hautarztpraxis Dr. Müller & Söhne, Zürich")


def test_the_envelope_names_exactly_the_one_recipient(sink):
    SmtpMailer(_config(sink.port)).send(OutgoingMail(to="kaethe@münchen.de", subject="Test", text="Hallo\n"))
    (received,) = sink.wait_for(1)
    assert received.rcpt_tos == ["kaethe@xn--mnchen-3ya.de"]
    assert received.message["To"] == "kaethe@xn--mnchen-3ya.de"
    assert received.mail_from == "noreply@praxis-beispiel.de"


def test_a_sender_the_generator_refuses_is_mail_unavailable(sink):
    """smtp.sender is operator input: a bad one must not turn into a 500 after a commit."""
    mailer = SmtpMailer(_config(sink.port, sender="Praxis =?utf-8?q?a=0D=0Ab?= <a@b.de>"))
    with pytest.raises(MailUnavailable, match="could not be"):
        mailer.send(OutgoingMail(to=RECIPIENT, subject="Test", text="Hallo\n"))
    assert sink.messages == []


def test_unknown_locale_and_role_are_rejected():
    with pytest.raises(ValueError, match="locale"):
        consent_link_mail(RECIPIENT, "fr", PRACTICE, _link(), EXPIRES, TIMEZONE)
    with pytest.raises(ValueError, match="role"):
        team_invite_mail(RECIPIENT, "de", PRACTICE, "PATIENT", _link(), EXPIRES, TIMEZONE)


def test_admin_role_label_in_german():
    mail = team_invite_mail(RECIPIENT, "de", PRACTICE, "ADMIN", _link(), EXPIRES, TIMEZONE)
    assert "mit der Rolle: Administrator/in." in mail.text


def test_summer_time_is_applied():
    # 22:15 UTC on 30 June is 00:15 on 1 July in Berlin (CEST, UTC+2).
    mail = consent_link_mail(
        RECIPIENT, "de", PRACTICE, _link(), dt.datetime(2025, 6, 30, 22, 15), TIMEZONE
    )
    assert "Dienstag, 1. Juli 2025, 00:15 Uhr" in mail.text


def _assert_no_personal_data(error: MailUnavailable) -> None:
    text = str(error)
    assert RECIPIENT not in text and "patientin" not in text
    assert "Geheim" not in text and "Einwilligung" not in text
    # The original exception is not chained, so a logged traceback cannot reveal it either.
    assert error.__cause__ is None and error.__suppress_context__
