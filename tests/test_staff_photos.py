"""The staff app's photos in Chromium against a live gunicorn server (PostgreSQL and SQLite):
a photo chosen in the browser is encrypted in the crypto worker while it is read and uploaded
with a progress bar; the gallery shows its decrypted thumbnail (the one the worker made) next
to one the Python reference client uploaded; the original downloaded through the app is the
file, byte for byte, and so is what the reference client decrypts; filters, the before/after
comparison, the signed marketing consent, cancel and delete. On PostgreSQL the photo is 20 MB
and the JavaScript heaps (the page's and the crypto worker's, sampled over CDP during the
upload) stay below three times its size. axe on every view, no CSP violation, pictures at
1366x768 and 768x1024."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from playwright.sync_api import Page, expect

from appliance.client.api import ApiError, Identity
from tests.support import png
from tests.support.api import audit_actions
from tests.support.browser import artifact, check_axe
from tests.support.staff_app import LAPTOP, SLOW, StaffApp, founded

OWNER = ("Dr. Anna Sonne", "inhaberin@praxis-sonnenschein.de")
#: The heap bound is about the client, which does the same on either database; one 20 MB run
#: (PostgreSQL) measures it, the SQLite run uploads 2 MB to keep the module's time modest.
SIDE = {"postgresql": 2600, "sqlite": 820}  # noise PNGs of 20.3 MB and 2.0 MB
#: Upload speed the browser is held to (CDP network emulation), so that the progress bar,
#: the heap samples and the cancel button have an upload to watch on a local connection.
UPLOAD_BYTES_PER_SECOND = 4 * 1024 * 1024
#: Records every state of the progress bar (phase label and value) from here on.
WATCH_PROGRESS = """() => {
  window.__progress = [];
  const seen = () => {
    const bar = document.getElementById("photo-progress");
    if (!bar) return;
    const label = document.querySelector("label[for=photo-progress]");
    const last = window.__progress[window.__progress.length - 1];
    const now = {phase: label ? label.textContent : "", value: Number(bar.value)};
    if (!last || last.phase !== now.phase || last.value !== now.value) window.__progress.push(now);
  };
  new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                     characterData: true});
}"""


class HeapSampler:
    """The JS heaps of the page (Performance.getMetrics: JSHeapUsedSize) and of its dedicated
    worker (Runtime.getHeapUsage over a CDP session attached to it), as they are (`page_max`,
    `worker_max`: garbage included); and every `live_every`th sample, after a garbage
    collection in both, what is alive: heaps plus ArrayBuffer backing stores (`live_max`),
    which the heap figures leave out and where a photo held whole would sit."""

    def __init__(self, page: Page, live_every: int = 2):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable")
        self.workers: list[str] = []
        self.answers: dict[int, dict] = {}
        self.next_id = 1
        self.cdp.on("Target.attachedToTarget", self._attached)
        self.cdp.on("Target.receivedMessageFromTarget", self._received)
        self.cdp.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False,
                                               "flatten": False})
        self.live_every = live_every
        self.page_max = self.worker_max = self.live_max = 0
        self.samples = self.live_samples = 0

    def _attached(self, event: dict) -> None:
        if event["targetInfo"]["type"] == "worker":
            self.workers.append(event["sessionId"])

    def _received(self, event: dict) -> None:
        message = json.loads(event["message"])
        if "id" in message:
            self.answers[message["id"]] = message.get("result", {})

    def _worker(self, session: str, method: str) -> dict | None:
        """A CDP call in the worker (its answer arrives as an event of this session)."""
        call = self.next_id
        self.next_id += 1
        self.cdp.send("Target.sendMessageToTarget", {
            "sessionId": session, "message": json.dumps({"id": call, "method": method})})
        for _ in range(200):
            if call in self.answers:
                return self.answers.pop(call)
            self.cdp.send("Performance.getMetrics")  # lets the session's events arrive
        return None

    def sample(self) -> None:
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        self.page_max = max(self.page_max, int(metrics["JSHeapUsedSize"]))
        for session in self.workers:
            usage = self._worker(session, "Runtime.getHeapUsage")
            if usage is not None:
                self.worker_max = max(self.worker_max, int(usage["usedSize"]))
        self.samples += 1
        if self.samples % self.live_every == 0:
            self.live_max = max(self.live_max, self.live())
            self.live_samples += 1

    def live(self) -> int:
        """Heaps and ArrayBuffer backing stores of page and worker after a garbage collection."""
        self.cdp.send("HeapProfiler.collectGarbage")
        page = self.cdp.send("Runtime.getHeapUsage")
        live = int(page["usedSize"]) + int(page.get("backingStorageSize", 0))
        for session in self.workers:
            self._worker(session, "HeapProfiler.collectGarbage")
            usage = self._worker(session, "Runtime.getHeapUsage") or {}
            live += int(usage.get("usedSize", 0)) + int(usage.get("backingStorageSize", 0))
        return live

    def throttle(self, upload: int) -> None:
        self.cdp.send("Network.enable")
        self.cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": upload})


def tile(page: Page, app: StaffApp, label_start: str):
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=label_start))


def thumbnail_width(image) -> int:
    """The natural width of a shown <img>: 0 until a decodable image arrived."""
    return image.evaluate("img => img.complete ? img.naturalWidth : 0")


def downloaded(page: Page, click) -> tuple[str, bytes]:
    with page.expect_download() as info:
        click()
    download = info.value
    return download.suggested_filename, open(download.path(), "rb").read()


@pytest.fixture
def practice(live_server):
    server = live_server()
    return server, founded(server.url, OWNER)


def test_photo_upload_gallery_compare_consent_cancel_and_delete(practice, engine, browser, request,
                                                                tmp_path):
    server, owner = practice
    patient = owner.create_patient(Identity("Eva", "Bild", "1980-05-17"))
    # An earlier BEFORE photo the reference client uploaded with its own thumbnail.
    before = tmp_path / "vorher.png"
    before.write_bytes(png.gradient(640, 480, (200, 60, 60)))
    with before.open("rb") as handle:
        earlier = owner.upload_photo(patient["id"], handle, "BEFORE", "GLABELLA", "2026-11-02T09:00:00+01:00",
                                     metadata={"mimeType": "image/png", "caption": "vor der Behandlung"},
                                     thumbnail=png.gradient(320, 240, (200, 60, 60)))
    plan = owner.create_plan(patient["id"], "BOTOX", {"points": [], "notes": "Glabella"},
                             "2026-11-02T09:30:00+01:00")
    linked_consent = owner.create_consent("BOTOX", patient_id=patient["id"])
    side = SIDE[engine]
    photo = tmp_path / "nachher.png"
    photo.write_bytes(png.noise(side, side))
    size = photo.stat().st_size

    page = browser.page(LAPTOP, locale="de-DE")
    app = StaffApp(page, server.url, request.node.name)
    app.open(f"/patients/{patient['id']}/photos")
    app.sign_in(OWNER[1])
    app.unlock()
    app.expect_heading("photos.titleFor", timeout=SLOW, name="Bild, Eva")
    grid = page.get_by_role("list").filter(has=page.get_by_role("heading", level=3))
    earlier_image = grid.get_by_role("img").first
    expect(earlier_image).to_be_visible(timeout=SLOW)
    assert thumbnail_width(earlier_image) == 320
    expect(page.get_by_text("vor der Behandlung")).to_be_visible()
    app.view("01-gallery", tablet=True)

    # Upload: encrypting, then uploading, each with its share; heaps sampled all along.
    sampler = HeapSampler(page)
    sampler.throttle(UPLOAD_BYTES_PER_SECOND)
    app.field("photos.chooseFile").set_input_files(str(photo))
    app.field("photos.type").select_option("AFTER")
    app.field("photos.region").select_option("GLABELLA")
    app.field("photos.caption").fill("zwei Wochen danach")
    app.field("photos.plan").select_option(plan["id"])
    app.field("photos.consentForm").select_option(linked_consent["id"])
    page.evaluate(WATCH_PROGRESS)
    before_upload = sampler.live()
    app.button("photos.upload").click()
    done = page.get_by_text(app.t("photos.uploaded"))
    uploading = page.get_by_label(app.t("photos.uploading"))
    give_up = time.monotonic() + 600  # a guard against a hang, not a timing assertion
    while not done.is_visible() and time.monotonic() < give_up:
        sampler.sample()
        assert not app.alert().is_visible(), app.alert().text_content()
    progress = page.evaluate("window.__progress")
    phases = {app.t("photos.encrypting"): [], app.t("photos.uploading"): []}
    for state in progress:
        phases[state["phase"]].append(state["value"])
    for phase, values in phases.items():
        assert values == sorted(values), (phase, values)  # the bar only moves forward
    assert any(0 < v < 100 for v in phases[app.t("photos.uploading")]), progress
    assert phases[app.t("photos.encrypting")], progress
    print(f"\nphoto {size} bytes on {engine}: {sampler.samples} samples, page heap max "
          f"{sampler.page_max} bytes, worker heap max {sampler.worker_max} bytes; after garbage "
          f"collection ({sampler.live_samples} samples) heaps and ArrayBuffers at most "
          f"{sampler.live_max} bytes, {before_upload} before the upload")
    if engine == "postgresql":
        assert sampler.samples >= 2 and sampler.workers and sampler.live_samples >= 1
        # JSHeapUsedSize of the page plus the worker's heap, garbage and all: below 3 photos;
        # what the upload adds alive, ArrayBuffers included, is less than one photo (slices
        # and chunks in flight: the ciphertext is in the browser's blob store, the file on disk).
        assert sampler.page_max + sampler.worker_max < 3 * size
        assert sampler.live_max - before_upload < size
    sampler.throttle(-1)

    # The gallery shows the new photo's own thumbnail (the worker's JPEG, 320 px wide).
    listed = owner.list_photos(patient["id"])["items"]
    assert len(listed) == 2
    new = next(p for p in listed if p["id"] != earlier["id"])
    assert new["type"] == "AFTER" and new["thumbnail"] is not None and new["sizeBytes"] > size
    assert new["treatmentPlanId"] == plan["id"] and new["consentFormId"] == linked_consent["id"]
    owner.verify_photo(new)
    after_label = f"{app.t('treatment.photoTypes.AFTER')} · {app.t('treatment.regions.GLABELLA')}"
    new_tile = tile(page, app, after_label)
    new_image = new_tile.get_by_role("img")
    expect(new_image).to_be_visible(timeout=SLOW)
    assert thumbnail_width(new_image) == 320
    assert owner.read_photo_thumbnail(new)[:3] == b"\xff\xd8\xff"  # a JPEG
    expect(new_tile.get_by_text("zwei Wochen danach")).to_be_visible()

    # The original, decrypted in the browser, is the file; the reference client agrees.
    digest = hashlib.sha256(photo.read_bytes()).digest()
    name, data = downloaded(page, new_tile.get_by_role("button", name=app.t("photos.downloadOriginal")).click)
    assert name.endswith(".png") and hashlib.sha256(data).digest() == digest
    assert hashlib.sha256(owner.read_photo(new["id"])).digest() == digest

    # Filters by type and region, kept in the address.
    app.field("photos.filterType").select_option("AFTER")
    expect(grid.get_by_role("listitem")).to_have_count(1)
    assert "type=AFTER" in page.url
    app.field("photos.filterRegion").select_option("LIPS")
    expect(page.get_by_text(app.t("photos.noneFiltered"))).to_be_visible()
    app.field("photos.filterType").select_option("")
    app.field("photos.filterRegion").select_option("")
    expect(grid.get_by_role("listitem")).to_have_count(2)

    # Before/after side by side: the BEFORE first.
    for item in grid.get_by_role("listitem").all():
        item.get_by_label(app.t("photos.compareChoose")).check()
    comparison = page.get_by_role("region", name=app.t("photos.compareHeading"))
    expect(comparison.get_by_role("img")).to_have_count(2)
    expect(comparison.get_by_role("figure").first).to_contain_text(app.t("treatment.photoTypes.BEFORE"))
    comparison.get_by_role("button", name=app.t("photos.compareOriginals")).click()
    originals = comparison.get_by_role("button", name=app.t("photos.compareOriginals"))
    expect(originals).to_have_count(0, timeout=SLOW)
    expect(comparison.get_by_role("img").last).to_have_js_property("naturalWidth", side)
    app.view("03-compare", tablet=True)
    comparison.get_by_role("button", name=app.t("photos.compareClose")).click()

    # The marketing/teaching consent: signed in the worker, checked by the server, audited.
    consent = new_tile.get_by_label(app.t("photos.consentToggle"))
    consent.click()  # the box follows the server's answer, not the click
    expect(new_tile.get_by_text(app.t("photos.consentGranted"))).to_be_visible()
    expect(consent).to_be_checked()
    changed = owner.get_photo(new["id"])
    assert changed["photoConsentGranted"] is True
    owner.verify_photo(changed)  # the app signed the photo with the new flag
    assert audit_actions()["PHOTO_CONSENT_CHANGED"] == 1

    # Cancel: an upload stopped halfway stores nothing. The 20 MB photo for both engines: the
    # 2 MB one was at times stored although the cancel came while the bar still moved (2 of 5
    # runs), so it had reached the server whole despite the emulated slow line.
    large = photo if engine == "postgresql" else tmp_path / "gross.png"
    if large != photo:
        large.write_bytes(png.noise(SIDE["postgresql"], SIDE["postgresql"]))
    sampler.throttle(512 * 1024)
    app.field("photos.chooseFile").set_input_files(str(large))
    app.button("photos.upload").click()
    expect(uploading).to_be_visible(timeout=SLOW)
    # the bar first (the upload goes on meanwhile), then axe
    page.screenshot(path=str(artifact(request.node.name, "02-uploading-1366x768.png")))
    check_axe(page, "02-uploading")
    app.button("photos.cancel").click()
    expect(page.get_by_text(app.t("photos.cancelled"))).to_be_visible()
    sampler.throttle(-1)
    assert owner.list_photos(patient["id"])["total"] == 2

    # Delete, after a confirmation; its thumbnail goes with it.
    new_tile.get_by_role("button", name=app.t("photos.delete")).click()
    expect(new_tile.get_by_text(app.t("photos.deleteQuestion"))).to_be_visible()
    app.view("04-delete-confirm")
    new_tile.get_by_role("button", name=app.t("photos.deleteConfirm")).click()
    expect(grid.get_by_role("listitem")).to_have_count(1)
    assert [p["id"] for p in owner.list_photos(patient["id"])["items"]] == [earlier["id"]]
    with pytest.raises(ApiError) as gone:
        owner.call("GET", f"/api/photos/{new['id']}/thumbnail")
    assert gone.value.status == 404

    # The plan's page links here with the plan chosen (?plan=).
    app.within(f"/patients/{patient['id']}")
    expect(page.get_by_role("link", name=app.t("photos.open"))).to_be_visible(timeout=SLOW)
    app.within(f"/patients/{patient['id']}/photos?plan={plan['id']}")
    expect(app.field("photos.plan")).to_have_value(plan["id"], timeout=SLOW)
