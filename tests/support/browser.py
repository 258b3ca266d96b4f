"""The browser tests' harness: Debian's Chromium driven by Playwright, headless.

Every test gets fresh browser contexts (no shared storage, cache or service workers between
tests). Each page is watched for Content Security Policy violations (the document's
`securitypolicyviolation` events and the console's reports, workers included) and for
uncaught errors; the `browser` fixture fails the test when any occurred. `check_axe` runs
axe-core (from node_modules, evaluated in the page, so the page's CSP does not stand in its
way) and fails on violations of impact serious or critical. `screenshot` writes PNGs to
test-artifacts/ (APPLIANCE_TEST_ARTIFACTS), one folder per test.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("APPLIANCE_TEST_CHROMIUM", "/usr/bin/chromium")
#: --no-sandbox: the tests run as root here, where Chromium's sandbox cannot start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("APPLIANCE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
#: WCAG 2.1 A and AA, plus axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SERIOUS = ("serious", "critical")

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.effectiveDirective} blocked ${event.blockedURI || "(inline)"}`
    + ` at ${event.sourceFile || "?"}:${event.lineNumber || 0}`);
});
"""
CSP_TEXT = re.compile(r"Content Security Policy|Content-Security-Policy", re.I)


def launch(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@dataclass
class PageWatch:
    """What went wrong on one page: CSP reports and uncaught errors."""

    page: Page
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if CSP_TEXT.search(message.text):
            self.console.append(message.text)

    def violations(self) -> list[str]:
        found = [f"console: {text}" for text in self.console]
        found += [f"uncaught: {text}" for text in self.errors]
        if not self.page.is_closed():
            found += [f"event: {text}" for text in self.page.evaluate("window.__cspViolations || []")]
        return found


class BrowserSession:
    """Contexts and pages of one test; `close` returns what the watched pages reported."""

    def __init__(self, browser: Browser):
        self._browser = browser
        self._contexts: list[BrowserContext] = []
        self.watches: list[PageWatch] = []

    def page(self, viewport: dict | None = None, locale: str = "de-DE", **options) -> Page:
        """A page in a new context (its own storage), watched for CSP violations."""
        context = self._browser.new_context(viewport=viewport or PHONE, locale=locale,
                                            accept_downloads=True, **options)
        context.add_init_script(CSP_WATCH)
        self._contexts.append(context)
        return self.watch(context.new_page())

    def watch(self, page: Page) -> Page:
        """Watches another page (e.g. a second tab of a context)."""
        watch = PageWatch(page)
        page.on("console", watch.on_console)
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        self.watches.append(watch)
        return page

    def violations(self) -> list[str]:
        return [v for watch in self.watches for v in watch.violations()]

    def close(self) -> list[str]:
        found = self.violations()
        for context in self._contexts:
            context.close()
        return found


def check_axe(page: Page, where: str) -> None:
    """Fails on axe-core violations of impact serious or critical on what the page shows."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    serious = [v for v in result["violations"] if v["impact"] in SERIOUS]
    lines = [f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}x: "
             f"{', '.join(n['target'][0] if n['target'] else '?' for n in v['nodes'][:3])})" for v in serious]
    assert not serious, f"axe-core at {where}:\n" + "\n".join(lines)


#: WCAG 1.4.10 reflow (320 CSS px wide) and 1.4.4 resize: a 1280x800 screen at 200 % zoom.
REFLOW = ({"width": 320, "height": 640}, {"width": 640, "height": 400})


def check_reflow(page: Page, where: str) -> None:
    """Nothing sticks out sideways at 320 CSS px nor at 200 % zoom of a desktop: no horizontal
    scrolling, every text still reachable."""
    original = page.viewport_size
    for size in REFLOW:
        page.set_viewport_size(size)
        wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wide <= 1, f"{where}: {wide}px of horizontal scrolling at {size['width']} CSS px"
    if original:
        page.set_viewport_size(original)


def artifact(test_name: str, file_name: str) -> Path:
    """Where a test's artefact goes: test-artifacts/<test>/<file>."""
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / file_name


def screenshot(page: Page, test_name: str, step: str,
               viewports: tuple[str, ...] = ("phone", "desktop")) -> None:
    """The full page at each viewport, as test-artifacts/<test>/<step>-<W>x<H>.png; the page's
    own viewport is restored afterwards."""
    original = page.viewport_size
    for name in viewports:
        size = VIEWPORTS[name]
        page.set_viewport_size(size)
        page.wait_for_timeout(50)  # layout after the resize
        page.screenshot(path=str(artifact(test_name, f"{step}-{size['width']}x{size['height']}.png")),
                        full_page=True)
    if original:
        page.set_viewport_size(original)
