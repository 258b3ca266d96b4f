"""The browser pages beside the API: HTML shells under a strict CSP that are never cached, the
hashed bundles that are cached for good (gzip where the browser takes it), and the public
entry, which lets patients reach exactly the consent page and its bundles."""

from __future__ import annotations

import gzip
import json
import re
import secrets
import uuid
from html.parser import HTMLParser
from pathlib import Path

import falcon.testing
import pytest

from appliance.app import create_app
from appliance.http.assets import PAGE_CSP, WebAssets
from appliance.storage import open_store
from tests.support.api import declared_operations

PUBLIC = {"X-Appliance-Entry": "public"}
LAN = {"X-Appliance-Entry": "lan"}


@pytest.fixture
def engine() -> str:
    return "sqlite"  # pages do not touch the database: one engine is enough


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <script> and <style>."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._open = tag

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open in ("script", "style") and data.strip():
            self.inline.append(data)


def built(folder: Path) -> Path:
    """A static folder as `make web` leaves it: manifest, hashed files, gzip twins."""
    files = {"main-AAAAAAAA.js": "import './chunk-BBBBBBBB.js';console.log('page')",
             "chunk-BBBBBBBB.js": "export const x = 1;", "consent-CCCCCCCC.css": "body{margin:0}",
             "worker-DDDDDDDD.js": "self.onmessage = () => {};",
             "main-EEEEEEEE.js": "import './chunk-BBBBBBBB.js';console.log('staff')",
             "staff-FFFFFFFF.css": "main{margin:0}"}
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text * 20)
        (folder / f"{name}.gz").write_bytes(gzip.compress((text * 20).encode()))
    (folder / "manifest.json").write_text(json.dumps({
        "entries": {"consent": "main-AAAAAAAA.js", "consent-style": "consent-CCCCCCCC.css",
                    "crypto-worker": "worker-DDDDDDDD.js", "staff": "main-EEEEEEEE.js",
                    "staff-style": "staff-FFFFFFFF.css"},
        "imports": {"main-AAAAAAAA.js": ["chunk-BBBBBBBB.js"], "main-EEEEEEEE.js": ["chunk-BBBBBBBB.js"]},
    }))
    return folder


@pytest.fixture
def pages(settings, database, clock, tmp_path) -> falcon.testing.TestClient:
    assets = WebAssets(built(tmp_path / "static"))
    return falcon.testing.TestClient(create_app(settings, database, store=open_store(settings), clock=clock,
                                                web_assets=assets))


def token() -> str:
    return secrets.token_urlsafe(32)


def test_the_consent_shell_loads_its_bundles_without_inline_code(pages):
    answer = pages.simulate_get(f"/consent/{token()}")  # any link: the page asks the API itself
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Security-Policy"] == PAGE_CSP
    for directive in ("default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'",
                      "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"):
        assert directive in PAGE_CSP
    assert "unsafe-inline" not in PAGE_CSP and "http" not in PAGE_CSP
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Set-Cookie" not in answer.headers

    parsed = Tags()
    parsed.feed(answer.text)
    assert parsed.inline == [], "inline script or style"
    assert not [tag for tag, attrs in parsed.tags if "style" in attrs or tag == "style"]
    assert not [attrs for _, attrs in parsed.tags if any(name.startswith("on") for name in attrs)]
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts == [{"type": "module", "src": "/assets/main-AAAAAAAA.js"}]
    links = {(attrs["rel"], attrs["href"]) for tag, attrs in parsed.tags if tag == "link"}
    assert links == {("stylesheet", "/assets/consent-CCCCCCCC.css"),
                     ("modulepreload", "/assets/chunk-BBBBBBBB.js")}
    body = next(attrs for tag, attrs in parsed.tags if tag == "body")
    assert json.loads(body["data-assets"]) == {"crypto-worker": "/assets/worker-DDDDDDDD.js"}
    head = pages.simulate_head(f"/consent/{token()}")
    assert head.status_code == 200 and head.text == ""


def test_bundles_are_cached_for_good_and_sent_gzipped_to_who_takes_it(pages, tmp_path):
    plain = pages.simulate_get("/assets/main-AAAAAAAA.js")
    assert plain.status_code == 200
    assert plain.content == (tmp_path / "static" / "main-AAAAAAAA.js").read_bytes()
    assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Content-Encoding" not in plain.headers
    # a worker runs under the CSP its script arrives with: the page's, with WebAssembly
    assert plain.headers["Content-Security-Policy"] == PAGE_CSP
    packed = pages.simulate_get("/assets/main-AAAAAAAA.js", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.content) == plain.content
    head = pages.simulate_head("/assets/consent-CCCCCCCC.css")
    assert head.status_code == 200 and head.content == b""
    size = len(pages.simulate_get("/assets/consent-CCCCCCCC.css").content)
    assert int(head.headers["Content-Length"]) == size


@pytest.mark.parametrize("name", ["manifest.json", "main-AAAAAAAA.js.gz", "nothing-ZZZZZZZZ.js",
                                  "..%2Fmanifest.json", "%2e%2e%2f%2e%2e%2fsetup.cfg"])
def test_only_built_bundles_are_served(pages, name):
    answer = pages.simulate_get(f"/assets/{name}")
    assert answer.status_code == 404
    assert answer.json["error"]["code"] in ("not_found",)


def test_the_public_entry_reaches_the_page_and_its_bundles_and_nothing_else(pages):
    link = f"/consent/{token()}"
    assert pages.simulate_get(link, headers=PUBLIC).status_code == 200
    assert pages.simulate_head(link, headers=PUBLIC).status_code == 200
    assert pages.simulate_get("/assets/main-AAAAAAAA.js", headers=PUBLIC).status_code == 200
    # methods the pages lack are hidden there (405 on the LAN)
    assert pages.simulate_post(link, headers=PUBLIC).status_code == 404
    assert pages.simulate_post(link).status_code == 405
    # staff things stay hidden, the API document too
    assert pages.simulate_get("/api/openapi.json", headers=PUBLIC).status_code == 404
    assert pages.simulate_get("/api/auth/me", headers=PUBLIC).status_code == 404


#: Any record id: the shell does not look it up. Fixed, so every pytest-xdist worker collects
#: the same test ids.
ANY_ID = uuid.UUID(int=0x4a1)
STAFF_PATHS = ["/", "/login", "/setup", "/patients", f"/patients/{ANY_ID}", "/consents",
               f"/consents/{ANY_ID}", "/consents/new", "/team", "/audit", "/settings", "/account"]


@pytest.mark.parametrize("path", STAFF_PATHS)
def test_the_staff_app_answers_its_shell_on_every_route_of_its_own(pages, path):
    answer = pages.simulate_get(path, headers=LAN)
    assert answer.status_code == 200
    assert answer.headers["Content-Security-Policy"] == PAGE_CSP
    assert answer.headers["Cache-Control"] == "no-store"
    parsed = Tags()
    parsed.feed(answer.text)
    assert parsed.inline == [], "inline script or style"
    assert [attrs for tag, attrs in parsed.tags if tag == "script"] == [
        {"type": "module", "src": "/assets/main-EEEEEEEE.js"}]
    links = {(attrs["rel"], attrs["href"]) for tag, attrs in parsed.tags if tag == "link"}
    assert links == {("stylesheet", "/assets/staff-FFFFFFFF.css"),
                     ("modulepreload", "/assets/chunk-BBBBBBBB.js")}
    body = next(attrs for tag, attrs in parsed.tags if tag == "body")
    assert json.loads(body["data-assets"]) == {"crypto-worker": "/assets/worker-DDDDDDDD.js"}
    # without a proxy (make run) too; never on the public entry
    assert pages.simulate_get(path).text == answer.text
    assert pages.simulate_head(path, headers=LAN).status_code == 200
    assert pages.simulate_get(path, headers=PUBLIC).status_code == 404
    assert pages.simulate_head(path, headers=PUBLIC).status_code == 404


def test_the_invitation_page_is_the_staff_shell_on_both_entries(pages):
    link = f"/invite/{token()}"
    for headers in (LAN, PUBLIC, {}):
        answer = pages.simulate_get(link, headers=headers)
        assert answer.status_code == 200
        assert '<script type="module" src="/assets/main-EEEEEEEE.js">' in answer.text
    assert pages.simulate_post(link, headers=PUBLIC).status_code == 404


@pytest.mark.parametrize("path", ["/patient", "/index.html", "/consents-x", "/favicon.ico"])
def test_other_paths_stay_unknown(pages, path):
    assert pages.simulate_get(path, headers=LAN).status_code == 404


def test_pages_are_no_api_operations():
    assert not [template for template, _ in declared_operations() if not template.startswith("/api/")]


def test_an_unbuilt_page_says_so_in_html(settings, database, clock, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    client = falcon.testing.TestClient(create_app(settings, database, store=open_store(settings), clock=clock,
                                                  web_assets=WebAssets(empty)))
    answer = client.simulate_get(f"/consent/{token()}")
    assert answer.status_code == 503
    assert answer.headers["Content-Type"].startswith("text/html")
    assert re.search(r"nicht verfügbar", answer.text)
