"""The browser pages: an HTML shell per page and the hashed bundles it loads.

A shell is the same for every link (the token stays in the URL; the page's script asks the
API), so it holds no data, and answers 200 even for a link the API does not know: the page
itself then says, in the patient's language, that the link is not valid. Shells are never
cached; the bundles under /assets/ are, for good (their names carry their content hash).
These are pages, not API operations: they are not in the OpenAPI document.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass

import falcon

from appliance.http.assets import IMMUTABLE, PAGE_HEADERS, MissingBuild, WebAssets
from appliance.http.errors import not_found

log = logging.getLogger("appliance.web")


@dataclass(frozen=True)
class Page:
    """What a shell loads: its script and style sheet entries, the entries its script starts
    later (workers), and the few words shown before the script runs (German and English: the
    shell does not know the patient's language yet)."""

    script: str
    style: str
    later: tuple[str, ...]
    title: str
    loading: str
    noscript: str


CONSENT_PAGE = Page(
    script="consent",
    style="consent-style",
    later=("crypto-worker",),
    title="Einwilligung · Consent",
    loading="Wird geladen … · Loading …",
    noscript="Diese Seite braucht JavaScript, um Ihre Angaben auf Ihrem Gerät zu verschlüsseln."
    " Bitte schalten Sie JavaScript ein. · This page needs JavaScript to encrypt your answers"
    " on your device. Please turn JavaScript on.",
)
STAFF_PAGE = Page(
    script="staff",
    style="staff-style",
    later=("crypto-worker",),
    title="Praxis · Practice",
    loading="Wird geladen … · Loading …",
    noscript="Diese Anwendung braucht JavaScript: sie ver- und entschlüsselt die Daten der Praxis"
    " auf Ihrem Gerät. Bitte schalten Sie JavaScript ein. · This app needs JavaScript: it encrypts"
    " and decrypts the practice's data on your device. Please turn JavaScript on.",
)
#: The staff app's client-side routes: each answers the same shell, whose script routes by the
#: path. Only these (an unknown path stays a 404). On the LAN entry only, except the invitation
#: (appliance.http.entry.PATIENT_PAGES), which invited people open from the mail at home.
STAFF_APP_PATHS = (
    "/", "/login", "/setup", "/account", "/patients", "/patients/{rest:path}", "/consents",
    "/consents/{rest:path}", "/plans/{rest:path}", "/templates", "/templates/{rest:path}", "/team", "/audit",
    "/analytics", "/billing", "/settings", "/invite/{token}",
)
UNAVAILABLE = (
    "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>Nicht verfügbar · Unavailable</title></head><body>"
    "<h1>Die Seite ist gerade nicht verfügbar.</h1><p lang=\"en\">This page is not available right now.</p>"
    "<p>Bitte versuchen Sie es später erneut. · Please try again later.</p></body></html>"
)


def render_shell(assets: WebAssets, page: Page) -> str:
    """The page's HTML: no inline script or style (the CSP allows neither)."""
    esc = html.escape
    later = json.dumps({name: assets.url(name) for name in page.later}, separators=(",", ":"))
    preloads = "".join(f'<link rel="modulepreload" href="{esc(url)}">'
                       for url in assets.preloads(page.script))
    return (
        "<!doctype html>\n"
        '<html lang="de" dir="ltr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{esc(page.title)}</title>"
        f'<link rel="stylesheet" href="{esc(assets.url(page.style))}">'
        f"{preloads}"
        f'<script type="module" src="{esc(assets.url(page.script))}"></script>'
        f'</head><body data-assets="{esc(later)}">'
        f'<div id="app"><main id="main" class="main"><p class="loading">{esc(page.loading)}</p></main></div>'
        f"<noscript><p>{esc(page.noscript)}</p></noscript>"
        "</body></html>\n"
    )


def _page_headers(resp: falcon.Response) -> None:
    for name, value in PAGE_HEADERS.items():
        resp.set_header(name, value)


class PageShell:
    """GET/HEAD of a page URL (e.g. /consent/{token}): the shell, whatever the parameters."""

    def __init__(self, assets: WebAssets, page: Page):
        self._assets = assets
        self._page = page
        self._html: str | None = None

    def _shell(self) -> str | None:
        if self._html is None:
            try:
                self._html = render_shell(self._assets, self._page)
            except MissingBuild as exc:
                log.error("page unavailable", extra={"reason": str(exc)})
                return None
        return self._html

    def on_get(self, req: falcon.Request, resp: falcon.Response, **_params: str) -> None:
        _page_headers(resp)
        resp.cache_control = ["no-store"]
        resp.content_type = falcon.MEDIA_HTML
        shell = self._shell()
        if shell is None:
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "60")
            shell = UNAVAILABLE
        resp.text = shell

    on_head = on_get


class StaticAssets:
    """GET/HEAD /assets/{name}: a built bundle, gzip-encoded for browsers that accept it."""

    def __init__(self, assets: WebAssets):
        self._assets = assets

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        found = self._assets.file(name)
        if found is None:
            raise not_found("asset")
        _page_headers(resp)
        resp.set_header("Cache-Control", IMMUTABLE)
        resp.set_header("Vary", "Accept-Encoding")
        resp.content_type = found.content_type
        path = found.path
        if found.gzip_path is not None and "gzip" in (req.get_header("Accept-Encoding") or "").lower():
            path = found.gzip_path
            resp.set_header("Content-Encoding", "gzip")
        size = path.stat().st_size
        if req.method == "HEAD":
            resp.content_length = size
            return
        resp.set_stream(path.open("rb"), size)

    on_head = on_get
