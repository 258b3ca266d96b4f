"""Benchmark: the staff app's patient list with 200 rows in headless Chromium, the CPU slowed
down 4x (CDP `Emulation.setCPUThrottlingRate`), as on an old practice PC.

One run migrates a fresh SQLite database, starts `appliance serve`, founds a practice with the
reference client and stores 200 signed patients (sealed names; a random lookupHash each, since
nothing here looks them up). The staff app then signs in, unlocks the vault and shows one page
of 200 rows; its names are opened in the crypto worker one record after the other and reach
the page in batches of 10. Measured per round:

- **names open**: from the list's arrival (`staff-patients-listed` mark) until every name of
  the page is decrypted and verified (`staff-patients-opened`);
- **longest task**: the longest main-thread task meanwhile (Long Tasks API; none over 50 ms
  counts as 0): the page must not freeze while the names open (mostly Preact re-rendering the
  table for each batch).

    .venv/bin/python bench/staff_patients.py [--rounds 3] [--cpu 4] [--patients 200]

Run `make web` first. The aim: no main-thread task over 200 ms while the names open.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the browser harness and the staff app driver live with the tests

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from upload import Appliance  # noqa: E402  (this directory's upload benchmark)

from appliance.client import crypto  # noqa: E402
from appliance.client.api import StaffClient, patient_statement  # noqa: E402
from tests.support.browser import launch  # noqa: E402
from tests.support.staff_app import LAPTOP, StaffApp  # noqa: E402

AIM_LONGEST_TASK_MS = 200
EMAIL, PASSWORD, VAULT = "bench@praxis.example", "Korrekt-Pferd-Batterie-42", "Tresor im Keller, 2026!"
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push([entry.startTime, entry.duration]);
}).observe({type: "longtask", buffered: true});
"""


def store_patients(staff: StaffClient, count: int) -> None:
    keys = staff.keys
    for number in range(count):
        pid = str(uuid.uuid4())
        body = {f"encrypted{name}": crypto.seal_field(keys.public_key, f"patient.{field}", pid, value)
                for name, field, value in (("FirstName", "firstName", f"Vorname{number}"),
                                           ("LastName", "lastName", f"Nachname{number:03d}"),
                                           ("DateOfBirth", "dateOfBirth", "1980-01-01"))}
        body["lookupHash"] = uuid.uuid4().hex + uuid.uuid4().hex
        body["signature"] = crypto.sign_statement(keys, "patient", patient_statement(pid, body))
        staff.call("POST", "/api/patients", {"id": pid, **body})


def mark(page: Page, name: str, timeout: float = 300) -> float:
    """When the page set a performance mark, in ms after navigation start (polled: the page's
    CSP refuses Playwright's wait_for_function)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = page.evaluate("name => performance.getEntriesByName(name).at(-1)?.startTime ?? -1", name)
        if at >= 0:
            return at
        time.sleep(0.02)
    raise TimeoutError(f"the page set no mark {name} in {timeout} s")


def one_round(browser, server_url: str, cpu: float, count: int) -> dict:
    context = browser.new_context(viewport=LAPTOP, locale="de-DE")
    context.add_init_script(LONG_TASKS)
    page = context.new_page()
    app = StaffApp(page, server_url, "bench")
    app.open("/")
    app.sign_in(EMAIL, PASSWORD)
    app.expect_heading("home.title")
    app.nav("nav.patients")
    app.unlock(VAULT)
    app.expect_heading("patients.title", timeout=120000)
    mark(page, "staff-patients-opened")  # the first page of 50, before the CPU slows down
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
    app.field("common.rowsPerPage").select_option(str(min(count, 200)))
    while page.evaluate("performance.getEntriesByName('staff-patients-listed').length") < 2:
        time.sleep(0.01)
    listed = page.evaluate("performance.getEntriesByName('staff-patients-listed')[1].startTime")
    while page.evaluate("performance.getEntriesByName('staff-patients-opened').length") < 2:
        time.sleep(0.02)
    opened = page.evaluate("performance.getEntriesByName('staff-patients-opened')[1].startTime")
    tasks = [d for start, d in page.evaluate("window.__longTasks") if listed <= start <= opened]
    rows = page.get_by_role("row").count() - 1
    context.close()
    return {"open": opened - listed, "longest": max(tasks, default=0.0), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=float, default=4, help="CPU slow-down factor (CDP)")
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    if not (ROOT / "appliance" / "web" / "static" / "manifest.json").is_file():
        print("run `make web` first: the app is not built", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-staff-") as tmp:
        server = Appliance(Path(tmp), {}, args)
        try:
            staff = StaffClient(server.url)
            staff.register(EMAIL, PASSWORD, "Dr. Bench")
            staff.create_practice("Praxis Bench", "kontakt@praxis.example", VAULT)
            store_patients(staff, args.patients)
            results = []
            with sync_playwright() as playwright:
                browser = launch(playwright)
                for number in range(1, args.rounds + 1):
                    result = one_round(browser, server.url, args.cpu, args.patients)
                    results.append(result)
                    print(f"round {number}: {result['rows']} rows, names open in {result['open']:7.0f} ms, "
                          f"longest task {result['longest']:5.0f} ms")
                browser.close()
        finally:
            server.stop()
    open_ms = statistics.median(r["open"] for r in results)
    longest = max(r["longest"] for r in results)
    print(f"\nheadless Chromium, CPU {args.cpu:g}x slower, {args.patients} patients, {len(results)} rounds:")
    per_row = open_ms / max(1, results[0]["rows"])
    print(f"  names open (median)          {open_ms:7.0f} ms   ({per_row:.1f} ms a row)")
    print(f"  longest main-thread task     {longest:7.0f} ms   (aim {AIM_LONGEST_TASK_MS} ms: "
          f"{'met' if longest <= AIM_LONGEST_TASK_MS else 'missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
