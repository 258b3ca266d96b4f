"""Benchmark: the patient consent page in headless Chromium with the CPU slowed down 4x (CDP
`Emulation.setCPUThrottlingRate`), as on a modest phone.

One run migrates a fresh SQLite database, starts `appliance serve`, founds a practice with the
reference client and makes one consent link per round. Each round opens its link in a new
browser context (empty cache), measures, fills the form with the test suite's patient driver,
signs and submits:

- **interactive**: from navigation start until the first screen answers input (the page's
  `consent-interactive` mark: the link's data is loaded and the start screen is rendered);
- **first load**: the bytes transferred (gzip where the browser takes it, headers included)
  until the network is idle after that: the shell, its style sheet, scripts and chunks, the
  link's data and the crypto worker with libsodium. The copy's PDF library is not in it: it is
  loaded only when the patient asks for the copy, and is listed on its own;
- **submit -> confirmation**: from the submit click (`consent-submit` mark) until the
  confirmation shows (`consent-confirmed`): the security checks, encryption in the worker,
  the request and the server's transaction.

    .venv/bin/python bench/patient_page.py [--rounds 5] [--cpu 4]

Run `make web` first. The aims: interactive within 2 s and under 300 KB on first load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the browser harness and the patient driver live with the tests

from playwright.sync_api import Page, Response, sync_playwright  # noqa: E402
from upload import Appliance  # noqa: E402  (this directory's upload benchmark)

from appliance.client.api import PatientClient, StaffClient  # noqa: E402
from tests.support.browser import PHONE, launch  # noqa: E402
from tests.support.consent_page import Flow, consent_url, plan_for  # noqa: E402

AIM_INTERACTIVE_MS = 2000
AIM_FIRST_LOAD_KB = 300
IDENTITY = {"firstName": "Erika", "lastName": "Mustermann", "dateOfBirth": "1985-04-12"}


def transferred(response: Response) -> int:
    """Bytes on the wire: headers and the (compressed) body. The body's length comes from
    Content-Length (the appliance sends it for everything here), because Chromium does not
    count the body of a worker's script in the page's network sizes."""
    sizes = response.request.sizes()
    length = response.header_value("content-length")
    return sizes["responseHeadersSize"] + (int(length) if length else sizes["responseBodySize"])


def mark(page: Page, name: str, timeout: float = 120) -> float:
    """When the page set a performance mark, in ms after navigation start; waits for it (polled
    from here: the page's CSP refuses the string evaluation of Playwright's wait_for_function)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = page.evaluate("name => performance.getEntriesByName(name)[0]?.startTime ?? -1", name)
        if at >= 0:
            return at
        time.sleep(0.02)
    raise TimeoutError(f"the page set no mark {name} in {timeout} s")


def one_round(browser, server_url: str, link: str, form: dict, cpu: float) -> dict:
    context = browser.new_context(viewport=PHONE, locale="de-DE", accept_downloads=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
    loads: list[tuple[str, int]] = []
    page.on("response", lambda r: loads.append((r.url, transferred(r))))
    page.goto(consent_url(server_url, link))
    interactive = mark(page, "consent-interactive")
    page.wait_for_load_state("networkidle")
    first_load = list(dict(loads).items())  # a chunk the worker imports again comes from the cache

    flow = Flow(page, "de", form, None, checks=False)
    flow.to_review(plan_for(form, IDENTITY))
    flow.ui.submit()
    submit_ms = mark(page, "consent-confirmed") - mark(page, "consent-submit")
    before_copy = len(loads)
    with page.expect_download():
        page.get_by_role("button", name=flow.ui.t("consent.done.copyButton")).click()
    copy = loads[before_copy:]
    context.close()
    return {"interactive": interactive, "first_load": first_load, "submit": submit_ms, "copy": copy}


def kb(size: float) -> str:
    return f"{size / 1024:.1f} KB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu", type=float, default=4, help="CPU slow-down factor (CDP)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    if not (ROOT / "appliance" / "web" / "static" / "manifest.json").is_file():
        print("run `make web` first: the page is not built", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="bench-page-") as tmp:
        server = Appliance(Path(tmp), {}, args)
        try:
            staff = StaffClient(server.url)
            staff.register("bench@praxis.example", "Korrekt-Pferd-Batterie-42", "Dr. Bench")
            staff.create_practice("Praxis Bench", "kontakt@praxis.example", "Tresor im Keller, 2026!")
            links = [staff.create_consent("BOTOX") for _ in range(args.rounds + 1)]
            form = PatientClient(server.url).open(links[0]["token"])["form"]
            results = []
            with sync_playwright() as playwright:
                browser = launch(playwright)
                started = time.monotonic()
                one_round(browser, server.url, links[0]["link"], form, args.cpu)  # warm-up (server side)
                for number, consent in enumerate(links[1:], start=1):
                    result = one_round(browser, server.url, consent["link"], form, args.cpu)
                    results.append(result)
                    print(f"round {number}: interactive {result['interactive']:7.0f} ms   "
                          f"submit -> confirmation {result['submit']:7.0f} ms   "
                          f"first load {kb(sum(size for _, size in result['first_load']))}")
                browser.close()
            report(results, args, time.monotonic() - started)
        finally:
            server.stop()
    return 0


def report(results: list[dict], args: argparse.Namespace, seconds: float) -> None:
    interactive = statistics.median(r["interactive"] for r in results)
    submit = statistics.median(r["submit"] for r in results)
    first = results[0]["first_load"]
    total = sum(size for _, size in first)
    print(f"\nheadless Chromium, CPU {args.cpu:g}x slower, {len(results)} rounds ({seconds:.0f} s), median:")
    print(f"  navigation -> interactive    {interactive:7.0f} ms   (aim {AIM_INTERACTIVE_MS} ms: "
          f"{'met' if interactive <= AIM_INTERACTIVE_MS else 'missed'})")
    print(f"  submit -> confirmation       {submit:7.0f} ms")
    print(f"  first load                   {kb(total):>10}   (aim {AIM_FIRST_LOAD_KB} KB: "
          f"{'met' if total <= AIM_FIRST_LOAD_KB * 1024 else 'missed'})")
    print("\nfirst load, by resource (round 1):")
    for url, size in sorted(first, key=lambda item: -item[1]):
        print(f"  {kb(size):>10}  {url.split('/', 3)[3].split('#')[0][:70]}")
    copy = results[0]["copy"]
    print(f"\nloaded only for the copy: {kb(sum(size for _, size in copy))} "
          f"({', '.join(url.rsplit('/', 1)[1] for url, _ in copy) or 'nothing'})")


if __name__ == "__main__":
    sys.exit(main())
