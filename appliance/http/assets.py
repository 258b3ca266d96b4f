"""The browser bundles the package ships (`appliance/web/static/`, built by `make web`): the
manifest that names each entry's hashed file, the files themselves with their gzip twins,
and the Content Security Policy every page and script of them runs under.

Hashed file names change with their content, so browsers may keep them for good; the HTML
shells that name them are never cached, so a new release reaches patients at once.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("appliance.web")

PACKAGE_STATIC = Path(__file__).resolve().parents[1] / "web" / "static"

#: For every HTML page and every script of the pages (a worker's script brings its own CSP):
#: own origin only, WebAssembly for libsodium, workers from the own origin, no inline script
#: or style, no framing, no base URL or form target elsewhere.
PAGE_CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; font-src 'self'; "
    "manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
}
#: What esbuild writes: name-HASH.ext, chunk-HASH.ext, and their license notes.
SERVED = re.compile(r"^[A-Za-z0-9_-]+-[A-Z0-9]{8}\.[a-z0-9]+(\.LEGAL\.txt)?$")


class MissingBuild(Exception):
    """The bundles are not built (run `make web`) or lack an entry a page needs."""


@dataclass(frozen=True)
class StaticFile:
    path: Path
    content_type: str
    gzip_path: Path | None


class WebAssets:
    """The built bundles in one directory; read once, when the app is made."""

    def __init__(self, directory: Path = PACKAGE_STATIC):
        self.directory = directory
        self.entries: dict[str, str] = {}
        self.imports: dict[str, list[str]] = {}
        self.files: dict[str, StaticFile] = {}
        manifest = directory / "manifest.json"
        if not manifest.is_file():
            log.warning("browser bundles not built: no manifest", extra={"directory": str(directory)})
            return
        data = json.loads(manifest.read_text(encoding="utf-8"))
        self.entries = dict(data.get("entries", {}))
        self.imports = {name: list(files) for name, files in data.get("imports", {}).items()}
        for path in directory.iterdir():
            content_type = CONTENT_TYPES.get(path.suffix)
            if content_type and SERVED.match(path.name) and path.is_file():
                packed = path.with_name(path.name + ".gz")
                self.files[path.name] = StaticFile(path, content_type, packed if packed.is_file() else None)

    def file(self, name: str) -> StaticFile | None:
        return self.files.get(name)

    def url(self, entry: str) -> str:
        """`/assets/<hashed file>` of an entry point."""
        name = self.entries.get(entry)
        if name is None or name not in self.files:
            raise MissingBuild(f"the browser bundle has no entry {entry!r}; run `make web`")
        return f"/assets/{name}"

    def preloads(self, entry: str) -> list[str]:
        """URLs of the chunks an entry imports statically, transitively, for modulepreload."""
        seen: list[str] = []
        pending = list(self.imports.get(self.entries.get(entry, ""), []))
        while pending:
            name = pending.pop(0)
            if name in seen:
                continue
            seen.append(name)
            pending.extend(self.imports.get(name, []))
        return [f"/assets/{name}" for name in seen if name in self.files]
