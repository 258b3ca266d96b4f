"""Drives the patient consent page the way a patient does: by roles and labels, from the
texts of the page's own catalogues and the form document the API serves, so one driver works
for every form and locale. It also works out, from the same plan, the answers document the
practice must decrypt afterwards.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.support.browser import ROOT, check_axe, check_reflow, screenshot

WEB = ROOT / "appliance" / "web" / "src"


def catalogue(locale: str, areas: tuple[str, ...] = ("shared", "consent")) -> dict:
    """A page's texts in `locale` (shared, then the page's own, merged as the page merges them)."""
    merged: dict = {}
    for area in areas:
        _merge(merged, json.loads((WEB / area / "messages" / f"{locale}.json").read_text(encoding="utf-8")))
    return merged


def _merge(into: dict, more: dict) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


class Texts:
    def __init__(self, locale: str, areas: tuple[str, ...] = ("shared", "consent")):
        self.locale = locale
        self.messages = catalogue(locale, areas)

    def __call__(self, key: str, **params: Any) -> str:
        node: Any = self.messages
        for part in key.split("."):
            node = node[part]
        if isinstance(node, dict):
            node = node["one" if params.get("count") == 1 and "one" in node else "other"]
        return re.sub(r"\{(\w+)\}", lambda m: str(params.get(m[1], m[0])), node)


def exact(text: str, optional_suffix: str | None = None) -> re.Pattern:
    """A name pattern: the text, and for optional fields the " (optional)" after it."""
    tail = rf"( \({re.escape(optional_suffix)}\))?" if optional_suffix else ""
    return re.compile(rf"^\s*{re.escape(text)}{tail}\s*$")


# --- what a patient enters: a plan for any form document ---------------------------------

@dataclass
class Plan:
    """Values for every field of a form, chosen so that every `visibleWhen` opens its field."""

    identity: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    others: dict[str, str] = field(default_factory=dict)
    wrong_first: dict[str, str] = field(default_factory=dict)

    def visible(self, spec: dict) -> bool:
        condition = spec.get("visibleWhen")
        if not condition:
            return True
        value = self.values.get(condition["field"])
        return condition["equals"] in value if isinstance(value, list) else value == condition["equals"]

    def answers(self, form: dict) -> dict:
        """The `answers` object the page must put into the answers document."""
        answers: dict = {}
        for group in form["fieldGroups"]:
            for spec in group["fields"]:
                if not self.visible(spec):
                    continue
                answers[spec["id"]] = self.values[spec["id"]]
                if spec.get("other"):
                    answers[spec["other"]["id"]] = self.others.get(spec["id"], "")
        return answers


def plan_for(form: dict, identity: dict[str, str]) -> Plan:
    """Fills every field: conditions' fields get the value that opens what depends on them."""
    triggers = {spec["visibleWhen"]["field"]: spec["visibleWhen"]["equals"]
                for group in form["fieldGroups"] for spec in group["fields"] if spec.get("visibleWhen")}
    plan = Plan(identity)
    for group in form["fieldGroups"]:
        for spec in group["fields"]:
            kind, fid = spec["kind"], spec["id"]
            options = [o["value"] for o in spec.get("options", [])]
            if fid in triggers:
                wanted = triggers[fid]
                plan.values[fid] = [wanted] if kind == "multi" else wanted
            elif kind == "multi":
                chosen = [o for o in options if o != spec.get("exclusive")][:2] or options[:1]
                plan.values[fid] = chosen
                if spec.get("other"):
                    plan.others[fid] = "Pflaster (Kleber), Duftstoffe: ß"
            elif kind == "single":
                plan.values[fid] = options[min(1, len(options) - 1)]
            elif kind == "boolean":
                plan.values[fid] = False
            elif kind == "date":
                plan.values[fid] = "2024-03-15"
            elif kind == "list":
                plan.values[fid] = ["Ibuprofen 400 mg", "L-Thyroxin 50 µg"]
            else:
                plan.values[fid] = "Keine Besonderheiten, Größe 1,70 m"
    for question in form["comprehension"]:
        wrong = [c["id"] for c in question["choices"] if c["id"] != question["correct"]]
        plan.wrong_first[question["id"]] = wrong[0]
    return plan


# --- the page --------------------------------------------------------------------------------

class ConsentPage:
    def __init__(self, page: Page, locale: str, form: dict):
        self.page = page
        self.t = Texts(locale)
        self.form = form

    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    def next(self, label: str | None = None) -> None:
        self.page.get_by_role("button", name=label or self.t("common.next"), exact=True).click()

    def expect_step(self, title: str) -> None:
        expect(self.heading()).to_have_text(title)

    def group(self, label: str, required: bool) -> Locator:
        return self.page.get_by_role("group", name=self.name(label, required))

    def textbox(self, label: str, required: bool) -> Locator:
        return self.page.get_by_role("textbox", name=self.name(label, required))

    def name(self, label: str, required: bool) -> re.Pattern:
        """A field's accessible name: its label, with "(optional)" after optional ones."""
        return exact(label, None if required else self.t("common.optional"))

    def fill_date(self, label: str, required: bool, iso: str) -> None:
        year, month, day = iso.split("-")
        group = self.group(label, required)
        group.get_by_role("textbox", name=self.t("date.day"), exact=True).fill(day)
        group.get_by_role("textbox", name=self.t("date.month"), exact=True).fill(month)
        group.get_by_role("textbox", name=self.t("date.year"), exact=True).fill(year)

    def fill_identity(self, identity: dict[str, str]) -> None:
        for name in ("firstName", "lastName"):
            self.textbox(self.t(f"consent.identity.{name}"), True).fill(identity[name])
        self.fill_date(self.t("consent.identity.dateOfBirth"), True, identity["dateOfBirth"])
        for name in ("email", "phone"):
            if name in identity:
                self.textbox(self.t(f"consent.identity.{name}"), False).fill(identity[name])

    def fill_field(self, spec: dict, plan: Plan) -> None:
        label, required, value = spec["label"], spec.get("required", False), plan.values[spec["id"]]
        labels = {o["value"]: o["label"] for o in spec.get("options", [])}
        if spec["kind"] in ("text",):
            self.textbox(label, required).fill(value)
        elif spec["kind"] == "single":
            self.group(label, required).get_by_role("radio", name=labels[value], exact=True).check()
        elif spec["kind"] == "boolean":
            self.group(label, required).get_by_role(
                "radio", name=self.t("common.yes" if value else "common.no"), exact=True).check()
        elif spec["kind"] == "multi":
            group = self.group(label, required)
            for option in value:
                group.get_by_role("checkbox", name=labels[option], exact=True).check()
            if spec.get("other") and spec["id"] in plan.others:
                other = group.get_by_role("textbox", name=spec["other"]["label"], exact=True)
                other.fill(plan.others[spec["id"]])
        elif spec["kind"] == "date":
            self.fill_date(label, required, value)
        elif spec["kind"] == "list":
            group = self.group(label, required)
            for number, item in enumerate(value, start=1):
                name = self.t("consent.fields.item", label=label, number=number)
                entry = group.get_by_role("textbox", name=name)
                if not entry.count():  # a required list starts with one box
                    group.get_by_role("button", name=self.t("consent.fields.addItem")).click()
                entry.fill(item)

    def fill_groups(self, plan: Plan, on_step=None) -> None:
        for group in self.form["fieldGroups"]:
            self.expect_step(group["title"])
            for spec in group["fields"]:
                if plan.visible(spec):
                    self.fill_field(spec, plan)
            if on_step:
                on_step(f"group-{group['id']}")
            self.next()

    def answer_comprehension(self, plan: Plan, on_wrong=None) -> None:
        """Every question wrong first (the explanation must show), then right."""
        questions = self.form["comprehension"]
        for question in questions:
            label = {c["id"]: c["label"] for c in question["choices"]}[plan.wrong_first[question["id"]]]
            self.page.get_by_role("group", name=re.compile(re.escape(question["question"]))).get_by_role(
                "radio", name=label, exact=True).check()
        self.next()
        for question in questions:
            expect(self.page.get_by_text(question["explanation"], exact=True)).to_be_visible()
        if on_wrong:
            on_wrong()
        for question in questions:
            label = {c["id"]: c["label"] for c in question["choices"]}[question["correct"]]
            self.page.get_by_role("group", name=re.compile(re.escape(question["question"]))).get_by_role(
                "radio", name=label, exact=True).check()
        self.next()

    def draw_signature(self) -> list[tuple[float, float]]:
        """Two strokes like a hand-written name; returns the points in the pad's 600x200 space."""
        pad = self.page.get_by_role("img", name=self.t("consent.signature.padLabel"))
        box = stable_box(pad)
        strokes = [[(0.1, 0.6), (0.15, 0.3), (0.2, 0.7), (0.27, 0.35), (0.33, 0.65), (0.4, 0.4)],
                   [(0.45, 0.55), (0.55, 0.3), (0.62, 0.6), (0.7, 0.45), (0.85, 0.5)]]
        points = []
        for stroke in strokes:
            x0, y0 = stroke[0]
            self.page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
            self.page.mouse.down()
            for x, y in stroke[1:]:
                self.page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=6)
            self.page.mouse.up()
            points += [(x * 600, y * 200) for x, y in stroke]
        return points

    def confirm_declaration(self) -> None:
        """Ticks every statement once the page holds still: a refused submit scrolls smoothly to
        its message, and a click while the page still moves can land beside the box (seen on
        a loaded machine)."""
        for statement in self.form["declaration"]["statements"]:
            box = self.page.get_by_role("checkbox", name=statement["text"], exact=True)
            stable_box(box)
            box.check()

    def submit(self) -> None:
        self.page.get_by_role("button", name=self.t("consent.review.submit"), exact=True).click()


def stable_box(locator: Locator) -> dict:
    """The element's box once it stopped moving (a smooth scroll may still be under way)."""
    previous = None
    for _ in range(50):
        box = locator.bounding_box()
        if box is not None and box == previous:
            return box
        previous = box
        locator.page.wait_for_timeout(100)
    raise AssertionError(f"{locator} does not hold still")


def spinner_animation(page: Page) -> str:
    """The animation the page's CSS gives its spinner (shown while sending)."""
    return page.evaluate("""() => {
        const probe = document.createElement("div");
        probe.className = "spinner";
        document.body.append(probe);
        const name = getComputedStyle(probe).animationName;
        probe.remove();
        return name;
    }""")


def consent_url(base: str, link: str) -> str:
    """The link the practice sent, on the test server: its path and fragment."""
    path = link.split("://", 1)[1].split("/", 1)[1]
    return f"{base}/{path}"


class Flow:
    """One patient's way through the page, photographed and checked with axe at every step."""

    def __init__(self, page: Page, locale: str, form: dict, test_name: str | None, checks: bool = True):
        self.page = page
        self.ui = ConsentPage(page, locale, form)
        self.test_name = test_name
        self.checks = checks

    def step(self, name: str) -> None:
        if self.checks:
            check_axe(self.page, name)
            check_reflow(self.page, name)
        if self.test_name:
            screenshot(self.page, self.test_name, name)

    def to_review(self, plan: Plan) -> str:
        """Start to review; returns the signature image the review page shows (base64 PNG)."""
        ui, form = self.ui, self.ui.form
        expect(ui.heading()).to_have_text(form["title"])
        self.step("01-start")
        ui.page.get_by_role("button", name=ui.t("consent.start.begin")).click()
        ui.expect_step(ui.t("consent.steps.info"))
        expect(ui.page.get_by_role("heading", name=form["sections"][0]["title"])).to_be_visible()
        self.step("02-information")
        ui.next(ui.t("consent.info.continue"))

        ui.expect_step(ui.t("consent.steps.identity"))
        ui.next()  # nothing entered: the messages are shown next to the fields and above
        expect(ui.page.get_by_text(ui.t("validation.summary", count=3))).to_be_visible()
        expect(ui.page.get_by_text(ui.t("validation.required")).first).to_be_visible()
        self.step("03-identity-errors")
        ui.fill_identity(plan.identity)
        self.step("04-identity")
        ui.next()

        ui.fill_groups(plan, on_step=lambda name: self.step(f"05-{name}"))

        if form["comprehension"]:
            ui.expect_step(ui.t("consent.steps.comprehension"))
            ui.answer_comprehension(plan, on_wrong=lambda: self.step("06-comprehension-wrong"))

        ui.expect_step(ui.t("consent.steps.signature"))
        ui.next()  # an empty pad is refused
        expect(ui.page.get_by_text(ui.t("consent.signature.empty"))).to_be_visible()
        self.points = ui.draw_signature()
        self.step("07-signature")
        ui.next()

        ui.expect_step(ui.t("consent.steps.review"))
        preview = ui.page.get_by_role("img", name=ui.t("consent.review.signatureAlt"))
        source = preview.get_attribute("src") or ""
        assert source.startswith("data:image/png;base64,")
        for value in plan.identity.values():
            if "-" not in value[4:]:  # dates show in words
                expect(ui.page.get_by_text(value, exact=True).first).to_be_visible()
        ui.submit()  # without the declaration: refused, nothing sent
        expect(ui.page.get_by_text(ui.t("consent.review.declarationMissing"))).to_be_visible()
        ui.confirm_declaration()
        self.step("08-review")
        return source.split(",", 1)[1]


# --- keyboard only ---------------------------------------------------------------------------

class Keyboard:
    """Moves through the page with Tab and operates controls with Space, Enter, arrow keys and
    typing, as someone without a mouse does; `tab_to` fails if Tab never reaches the control."""

    def __init__(self, page: Page):
        self.page = page

    def focused(self, locator: Locator) -> bool:
        return locator.evaluate("element => element === document.activeElement")

    def tab_to(self, locator: Locator, limit: int = 80) -> None:
        for _ in range(limit):
            if self.focused(locator):
                return
            self.page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {locator}")

    def type_into(self, locator: Locator, text: str) -> None:
        self.tab_to(locator)
        self.page.keyboard.type(text)

    def press(self, locator: Locator, key: str = "Enter") -> None:
        self.tab_to(locator)
        self.page.keyboard.press(key)

    def choose(self, group: Locator, name: str) -> None:
        """A radio button: Tab into the group, Space on the first, arrows to the one wanted."""
        radios = group.get_by_role("radio")
        target = group.get_by_role("radio", name=name, exact=True)
        self.tab_to(radios.first)
        self.page.keyboard.press("Space")
        for _ in range(radios.count()):
            if target.is_checked():
                return
            self.page.keyboard.press("ArrowDown")
        raise AssertionError(f"the arrows never chose {name}")


def fill_by_keyboard(ui: ConsentPage, keys: Keyboard, spec: dict, plan: Plan) -> None:
    """One field of the form, by keyboard only."""
    label, required, value = spec["label"], spec.get("required", False), plan.values[spec["id"]]
    labels = {o["value"]: o["label"] for o in spec.get("options", [])}
    kind = spec["kind"]
    if kind == "text":
        keys.type_into(ui.textbox(label, required), value)
    elif kind == "single":
        keys.choose(ui.group(label, required), labels[value])
    elif kind == "boolean":
        keys.choose(ui.group(label, required), ui.t("common.yes" if value else "common.no"))
    elif kind == "multi":
        group = ui.group(label, required)
        for option in value:
            keys.press(group.get_by_role("checkbox", name=labels[option], exact=True), "Space")
        if spec.get("other") and spec["id"] in plan.others:
            keys.type_into(group.get_by_role("textbox", name=spec["other"]["label"], exact=True),
                           plan.others[spec["id"]])
    elif kind == "date":
        keyboard_date(ui, keys, ui.group(label, required), value)
    elif kind == "list":
        group = ui.group(label, required)
        for number, item in enumerate(value, start=1):
            entry = group.get_by_role("textbox", name=ui.t("consent.fields.item", label=label, number=number))
            if entry.count():
                keys.type_into(entry, item)
            else:
                keys.press(group.get_by_role("button", name=ui.t("consent.fields.addItem")))
                ui.page.keyboard.type(item)  # the new entry has the focus


def keyboard_date(ui: ConsentPage, keys: Keyboard, group: Locator, iso: str) -> None:
    year, month, day = iso.split("-")
    for part, text in (("day", day), ("month", month), ("year", year)):
        keys.type_into(group.get_by_role("textbox", name=ui.t(f"date.{part}"), exact=True), text)
