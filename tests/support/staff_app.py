"""Drives the staff web app the way practice staff do: by roles and labels, with the texts of
the app's own catalogues (so one driver works in German and English), checking every view with
axe-core and photographing it at 1366x768 (test-artifacts/)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from appliance.client.api import StaffClient
from tests.support.browser import artifact, check_axe
from tests.support.consent_page import Texts

#: The staff app's screenshots: a common laptop screen of a practice.
LAPTOP = {"width": 1366, "height": 768}
#: A tablet upright, as in a consulting room.
TABLET = {"width": 768, "height": 1024}
#: zxcvbn's top score: random words, none of them the practice's.
VAULT_PASSWORD = "Mondschein Quittung Blaupause Kastanie 47"
ACCOUNT_PASSWORD = "sehr-geheimes-passwort"
#: Argon2id in the worker on a shared, slow machine.
SLOW = 60000


def founded(base_url: str, owner: tuple[str, str], practice: str = "Praxis Sonnenschein") -> StaffClient:
    """The owner's reference client: registered (name, e-mail), the practice founded with its
    vault (VAULT_PASSWORD), signed in and the keys at hand."""
    client = StaffClient(base_url)
    client.register(owner[1], ACCOUNT_PASSWORD, owner[0])
    client.create_practice(practice, owner[1], VAULT_PASSWORD)
    return client


def joined(owner: StaffClient, member: tuple[str, str], role: str = "ARZT") -> dict:
    """A new account (name, e-mail) joins the owner's practice through an invitation; the
    accept's answer (token and user)."""
    invite = owner.call("POST", "/api/team/invite", {"email": member[1], "role": role})
    return StaffClient(owner.base_url).call("POST", f"/api/team/invite/{invite['token']}/accept",
                                            {"name": member[0], "password": ACCOUNT_PASSWORD})


def staff_texts(locale: str = "de") -> Texts:
    """The app's texts in `locale`, merged as the app merges them (shared, then staff)."""
    return Texts(locale, ("shared", "staff"))


class StaffApp:
    """One staff member's browser tab."""

    def __init__(self, page: Page, base_url: str, test_name: str, locale: str = "de"):
        self.page = page
        self.base = base_url
        self.test_name = test_name
        self.t = staff_texts(locale)

    # --- looking ---------------------------------------------------------------------------

    def heading(self):
        return self.page.get_by_role("heading", level=1)

    def expect_heading(self, key: str, timeout: float = 15000, **params: Any) -> None:
        expect(self.heading()).to_have_text(self.t(key, **params), timeout=timeout)

    def view(self, step: str, *, tablet: bool = False) -> None:
        """axe-core on what the view shows, and its picture at 1366x768 (and with `tablet` at
        768x1024 too, checked with axe there as well)."""
        check_axe(self.page, step)
        self.page.screenshot(path=str(artifact(self.test_name, f"{step}-1366x768.png")), full_page=True)
        if tablet:
            original = self.page.viewport_size
            self.page.set_viewport_size(TABLET)
            check_axe(self.page, f"{step} at 768x1024")
            self.page.screenshot(path=str(artifact(self.test_name, f"{step}-768x1024.png")), full_page=True)
            if original:
                self.page.set_viewport_size(original)

    def field(self, key: str):
        return self.page.get_by_label(self.t(key), exact=True)

    def button(self, key: str, **params: Any):
        return self.page.get_by_role("button", name=self.t(key, **params), exact=True)

    def link(self, key: str, **params: Any):
        return self.page.get_by_role("link", name=self.t(key, **params), exact=True)

    def alert(self):
        return self.page.get_by_role("alert")

    def record_busy(self, key: str) -> None:
        """Records, in the page, whether the button `key` shows up disabled and how often the
        page's own timers run while it does. A busy state of half a second can come and go
        between two looks of a loaded test machine; recorded where it happens, it cannot."""
        self.page.evaluate("""(name) => {
          const record = { seen: false, ticks: 0 };
          const busy = () => [...document.querySelectorAll("button[disabled]")]
            .some((button) => button.textContent.trim() === name);
          const observer = new MutationObserver(() => { record.seen ||= busy(); });
          observer.observe(document.body,
                           { subtree: true, childList: true, attributes: true, characterData: true });
          const timer = setInterval(() => { if (busy()) record.ticks += 1; }, 5);
          window.busyRecord = { record, stop: () => { observer.disconnect(); clearInterval(timer); } };
        }""", self.t(key))

    def busy_recorded(self) -> dict:
        """What record_busy saw until now (`seen`, `ticks`); the recording stops."""
        return self.page.evaluate("() => { window.busyRecord.stop(); return window.busyRecord.record; }")

    def expect_loaded(self) -> None:
        """Waits until no part of the view still shows "loading": what arrives later moves the
        view's lower parts, and a click whose press and release land on different elements
        before and after such a move is no click at all."""
        expect(self.page.get_by_role("status").filter(has_text=self.t("common.loading"))).to_have_count(0)

    def open(self, path: str = "/") -> None:
        self.page.goto(self.base + path)

    def within(self, path: str) -> None:
        """Goes to `path` inside the app, as its links do (a reload would end the session, which
        lives in the page's memory only)."""
        self.page.evaluate("path => { history.pushState(null, '', path);"
                           " dispatchEvent(new PopStateEvent('popstate')); }", path)

    # --- doing -----------------------------------------------------------------------------

    def register(self, name: str, email: str, password: str = ACCOUNT_PASSWORD) -> None:
        self.page.get_by_role("button", name=self.t("login.toRegister")).click()
        self.expect_heading("login.registerTitle")
        self.field("login.name").fill(name)
        self.field("login.email").fill(email)
        self.field("login.password").fill(password)
        self.button("login.register").click()

    def sign_in(self, email: str, password: str = ACCOUNT_PASSWORD) -> None:
        self.field("login.email").fill(email)
        self.field("login.password").fill(password)
        self.button("login.submit").click()

    def unlock(self, password: str = VAULT_PASSWORD) -> None:
        self.field("vault.password").fill(password)
        self.button("vault.unlock").click()

    def nav(self, key: str) -> None:
        navigation = self.page.get_by_role("navigation", name=self.t("nav.label"))
        navigation.get_by_role("link", name=self.t(key)).click()
