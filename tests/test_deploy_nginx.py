"""The reverse_proxy role's site served by a real nginx (in a directory of its own, on free
loopback ports, with a certificate made for the test): only forward-secret AEAD suites are
accepted (Mozilla "intermediate"), and the public root answers the operator's page with the
Impressum and the privacy notice under a CSP that allows nothing but styles from itself."""

from __future__ import annotations

import ssl
import urllib.request

import pytest

from appliance.services.link_tokens import new_token
from tests.support.deploy import render_template
from tests.support.nginx import Nginx, nginx_available
from tests.support.ports import free_ports
from tests.support.slow_clients import SlowClients

pytestmark = pytest.mark.skipif(not nginx_available(), reason="nginx is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def nginx():
    (nothing_listens,) = free_ports(1)
    with Nginx([f"127.0.0.1:{nothing_listens}"]) as running:
        yield running


#: TLS 1.2 suites without forward secrecy (RSA key exchange) or with CBC: all refused.
REFUSED = ["AES128-SHA", "AES256-GCM-SHA384", "AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA",
           "ECDHE-RSA-AES256-SHA384"]
ACCEPTED = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"]


@pytest.mark.parametrize("suite", REFUSED)
def test_a_suite_without_forward_secrecy_or_with_cbc_is_refused(nginx, suite):
    for port in (nginx.public_port, nginx.lan_port):
        result = nginx.handshake(port, "-tls1_2", "-cipher", f"{suite}:@SECLEVEL=0")
        assert result.returncode != 0, result.stdout + result.stderr
        assert "handshake failure" in result.stderr or "no cipher" in result.stderr, result.stderr


@pytest.mark.parametrize("suite", ACCEPTED)
def test_forward_secret_aead_suites_are_accepted(nginx, suite):
    result = nginx.handshake(nginx.public_port, "-tls1_2", "-cipher", suite)
    assert result.returncode == 0, result.stderr
    assert f"Ciphersuite: {suite}" in result.stderr


def test_tls_1_3_is_accepted_and_1_1_refused(nginx):
    assert nginx.handshake(nginx.public_port, "-tls1_3").returncode == 0
    older = nginx.handshake(nginx.public_port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert older.returncode != 0


def test_ocsp_stapling_only_with_the_operators_certificate():
    operator = render_template("reverse_proxy", "tls.conf.j2", reverse_proxy_tls_certificate="/etc/ssl/a.pem",
                               reverse_proxy_tls_certificate_key="/etc/ssl/a.key",
                               reverse_proxy_resolvers=["192.168.10.1"])
    assert "ssl_stapling on;" in operator and "resolver 192.168.10.1 valid=300s;" in operator
    assert "ssl_trusted_certificate /etc/ssl/a.pem;" in operator
    assert "ssl_stapling" not in render_template("reverse_proxy", "tls.conf.j2",
                                                 reverse_proxy_resolvers=["192.168.10.1"])


def _get(nginx: Nginx, port: int, path: str):
    context = ssl.create_default_context(cafile=str(nginx.certificate))
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_the_public_root_is_the_operators_page_with_impressum_and_privacy_notice(nginx):
    status, headers, body = _get(nginx, nginx.public_port, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; style-src 'self';")
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert '<a href="https://praxis-beispiel.de/impressum">Impressum</a>' in body
    assert '<a href="https://praxis-beispiel.de/datenschutz">Datenschutzerklärung</a>' in body
    assert "Praxis Dr. Beispiel" in body
    assert "<script" not in body and "<style" not in body and "style=" not in body
    # Only the root itself: everything else on the public entry stays 404.
    assert _get(nginx, nginx.public_port, "/index.html")[0] == 404
    assert _get(nginx, nginx.public_port, "/impressum")[0] == 404


def test_the_lan_root_is_left_to_the_appliance(nginx):
    """The staff web app will live there: the LAN entry forwards / (no appliance runs here)."""
    assert _get(nginx, nginx.lan_port, "/")[0] == 502


def test_the_staff_app_is_forwarded_on_the_lan_and_only_its_invitation_page_on_the_public_entry(nginx):
    """The appliance's entry rule (appliance.http.entry) and this block agree: 502 means
    forwarded to the (absent) appliance, 404 that nginx answered itself."""
    invite = f"/invite/{new_token()}"
    for path in ("/patients", "/consents/new", "/setup", "/login", invite):
        assert _get(nginx, nginx.lan_port, path)[0] == 502, path
    for path in ("/patients", "/consents/new", "/setup", "/login", invite + "x", "/invite/x"):
        assert _get(nginx, nginx.public_port, path)[0] == 404, path
    assert _get(nginx, nginx.public_port, invite)[0] == 502


def test_the_operators_texts_are_escaped(tmp_path):
    page = render_template("reverse_proxy", "legal.html.j2", reverse_proxy_operator_name="Praxis <b>&</b>",
                           reverse_proxy_impressum_url="https://x.de/i?a=1&b=2",
                           reverse_proxy_privacy_url="https://x.de/p")
    assert "Praxis &lt;b&gt;&amp;&lt;/b&gt;" in page and 'href="https://x.de/i?a=1&amp;b=2"' in page


@pytest.mark.parametrize("engine", ["sqlite"])
def test_idle_and_slow_clients_through_nginx_do_not_stall_the_api(live_server):
    """The attack of tests/test_serve.py through the role's nginx (timeouts scaled down): nginx
    reads requests whole, so a normal client is not held up, and cuts slow heads off."""
    server = live_server(APPLIANCE_SERVER_THREADS="4")
    with Nginx([server.url.removeprefix("http://")], reverse_proxy_client_header_timeout="3s",
               reverse_proxy_client_body_timeout="3s") as proxy:
        context = ssl.create_default_context(cafile=str(proxy.certificate))
        with SlowClients(proxy.lan_port, idle=40, slow=40, tls=context) as attack:
            latencies = attack.probe(proxy.lan_url + "/api/health", seconds=5, verify=str(proxy.certificate))
            closed = attack.slow_closed(within=10)
    print(f"through nginx, {len(latencies)} requests under attack: slowest {max(latencies):.3f} s,"
          f" median {sorted(latencies)[len(latencies) // 2]:.3f} s; {closed}/40 slow heads cut off")
    assert max(latencies) < 1.0
    assert closed == 40
