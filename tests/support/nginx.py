"""nginx from the machine's Debian package serving the site the `reverse_proxy` role renders (its
LAN and public entries, proxying, TLS, the operator's page at the public root), in front of any
number of upstreams.

`Nginx(upstreams)` renders the role's templates into a temporary directory, makes a self-signed
RSA certificate for 127.0.0.1 (and `consent.example.test`), and runs its own nginx master there
(not the machine's service, whose configuration it never touches) on free ports; `close()` (or
leaving its `with` block) stops it and removes the directory. The LAN entry admits 127.0.0.0/8:
a test gives each simulated client its own loopback address (`client_session`), so per-IP limits
apply to each of them as to real clients. `handshake()` tries a TLS handshake with openssl.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from tests.support.deploy import ANSIBLE, render_template, run
from tests.support.ports import free_ports, listening

SITE = "appliance-test"
SERVER_NAME = "consent.example.test"
START_TIMEOUT = 20
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
#: What the operator's page at the public root names (reverse_proxy_operator_name and the links).
OPERATOR = {"reverse_proxy_operator_name": "Praxis Dr. Beispiel",
            "reverse_proxy_impressum_url": "https://praxis-beispiel.de/impressum",
            "reverse_proxy_privacy_url": "https://praxis-beispiel.de/datenschutz"}


def nginx_available() -> bool:
    """nginx is installed and can run as the CI runs it (root)."""
    return os.access(NGINX, os.X_OK) and os.geteuid() == 0


class NginxUnavailable(RuntimeError):
    """nginx is not installed or does not start; the message says what to do."""


class Nginx:
    """The role's site for `upstreams` (host:port each); `variables` override the role's."""

    def __init__(self, upstreams: list[str], **variables):
        if not os.access(NGINX, os.X_OK):
            raise NginxUnavailable("nginx is missing: install Debian's package (apt-get install -y nginx)")
        self.dir = Path(tempfile.mkdtemp(prefix="appliance-nginx-"))
        self.dir.chmod(0o711)  # workers (nobody, when started as root) reach their temp directories
        self.process: subprocess.Popen | None = None
        try:
            self._start(upstreams, variables)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _start(self, upstreams: list[str], variables: dict) -> None:
        self.lan_port, self.public_port = free_ports(2)
        self.certificate = self.dir / "tls" / "cert.pem"
        self._make_certificate()
        self.variables = {
            "reverse_proxy_upstreams": upstreams, "reverse_proxy_site_name": SITE,
            "reverse_proxy_nginx_dir": str(self.dir), "reverse_proxy_lan_port": self.lan_port,
            "reverse_proxy_public_port": self.public_port, "reverse_proxy_public_http_port": 0,
            "reverse_proxy_ipv6": False, "reverse_proxy_lan_allow": ["127.0.0.0/8"],
            "reverse_proxy_self_signed_dir": str(self.certificate.parent),
            "reverse_proxy_legal_page_dir": str(self.dir / "legal"), **OPERATOR, **variables,
        }
        self._write_configuration()
        checked = run([NGINX, "-t", "-q", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")])
        if checked.returncode != 0:
            raise NginxUnavailable(f"nginx refuses the rendered site:\n{checked.stderr}")
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_for(self.lan_port)
        self.lan_url = f"https://127.0.0.1:{self.lan_port}"
        self.public_url = f"https://127.0.0.1:{self.public_port}"

    def _make_certificate(self) -> None:
        self.certificate.parent.mkdir(mode=0o700)
        key = self.certificate.parent / "key.pem"
        # RSA: the TLS tests check the ECDHE-RSA suites of Mozilla's "intermediate" list.
        made = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", f"subjectAltName=IP:127.0.0.1,DNS:{SERVER_NAME}",
                    "-keyout", str(key), "-out", str(self.certificate)])
        if made.returncode != 0:
            raise NginxUnavailable(f"openssl could not make a certificate:\n{made.stderr}")

    def _write_configuration(self) -> None:
        """The role's snippets, site and public root page, included by a minimal nginx.conf of
        our own."""
        templates = ANSIBLE / "roles" / "reverse_proxy" / "templates"
        for name in ("snippets", "temp", "legal"):
            (self.dir / name).mkdir()
        for template in sorted(templates.glob("*.conf.j2")):
            name = template.name.removesuffix(".conf.j2")
            target = self.dir / ("site.conf" if name == "site" else f"snippets/{SITE}-{name}.conf")
            target.write_text(render_template("reverse_proxy", template.name, **self.variables))
        (Path(self.variables["reverse_proxy_legal_page_dir"]) / "index.html").write_text(
            render_template("reverse_proxy", "legal.html.j2", **self.variables))
        temp = self.dir / "temp"
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        (self.dir / "nginx.conf").write_text("\n".join([
            f"pid {self.dir / 'nginx.pid'};",
            f"error_log {self.dir / 'error.log'} warn;",
            "worker_processes 1;",
            "events { worker_connections 512; }",
            "http {",
            f"    access_log {self.dir / 'access.log'};",
            *(f"    {kind}_temp_path {temp / kind};" for kind in kinds),
            f"    include {self.dir / 'site.conf'};",
            "}",
            "",
        ]))

    def _wait_for(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NginxUnavailable(f"nginx exited:\n{self.error_log()}")
            if listening(port):
                return
            time.sleep(0.05)
        raise NginxUnavailable(f"nginx did not listen in {START_TIMEOUT} s:\n{self.error_log()}")

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def upstream_errors(self) -> dict[str, int]:
        """What nginx logged about upstreams: connections refused (it moved the request to the
        next server) and connections lost while a request was on them."""
        text = self.error_log_all()
        return {"refused": text.count("(111: Connection refused) while connecting to upstream"),
                "lost": sum(text.count(f) for f in ("prematurely closed", "(104: Connection reset by peer)"))}

    def error_log_all(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish what runs, then exit
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def handshake(self, port: int, *options: str) -> subprocess.CompletedProcess:
        """`openssl s_client` to a port: returncode 0 when the handshake succeeded."""
        return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                               SERVER_NAME, "-brief", *options], input="", capture_output=True,
                              text=True, timeout=30, check=False)


class SourceAddress(HTTPAdapter):
    """Connections from one local address: a client with an IP of its own."""

    def __init__(self, address: str, **kwargs):
        self._address = address
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_session(address: str, certificate: Path) -> requests.Session:
    """A requests session that connects from `address` (127.x.y.z) and trusts `certificate`."""
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE of the environment overrides `verify`
    session.verify = str(certificate)
    adapter = SourceAddress(address, pool_maxsize=4)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
