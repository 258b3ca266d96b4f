"""Loads and checks the form catalogue: one JSON file per form, version and locale.

A file `catalogue/<formId>.v<version>.<locale>.json` holds the form document of that locale
without `practiceText` and `formHash`; the server adds both when it serves the form (the
practice's own text block for the type, then the hash over everything). A broken file stops
the appliance at start-up with a message naming the file and the place in it: a consent form
that cannot be shown correctly must never reach a patient.

Published versions are immutable. `published.json` lists the hash of every published
(formId, version, locale) without a practice text; the tests refuse a catalogue whose files
do not hash to it, so a new wording has to become a new version.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from appliance.forms.canonical import form_hash
from appliance.http.body import Validator

FILE_NAME = re.compile(
    r"^(?P<form>[a-z][a-z0-9-]{1,39})\.v(?P<version>[1-9][0-9]{0,3})\.(?P<locale>[a-z]{2})\.json$"
)
PLACEHOLDER = re.compile(r"\{[^}]*\}")
ALLOWED_PLACEHOLDERS = {"{practiceName}"}
#: Keys whose string values are wording (translated), not structure.
TEXT_KEYS = {"title", "text", "label", "help", "question", "explanation"}
LOCALES = ("de", "en")


class CatalogueError(RuntimeError):
    """The catalogue cannot be used; the message names the file and the JSON path."""


def _path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@functools.cache
def _validator() -> Any:
    schema = json.loads(resources.files("appliance.forms").joinpath("form.schema.json").read_text("utf-8"))
    Validator.check_schema(schema)
    return Validator(schema)


def skeleton(value: Any, key: str | None = None) -> Any:
    """The document with its wording blanked: what every locale of a version shares."""
    if isinstance(value, dict):
        return {k: skeleton(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if key == "items":
            return len(value)
        return [skeleton(item) for item in value]
    if key in TEXT_KEYS and isinstance(value, str):
        return "…"
    return value


def first_difference(a: Any, b: Any, path: tuple = ()) -> tuple | None:
    """The path of the first place where two skeletons differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return (*path, key)
            found = first_difference(a[key], b[key], (*path, key))
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, (*path, index))
            if found is not None:
                return found
        return None if len(a) == len(b) else (*path, min(len(a), len(b)))
    return None if a == b else path


def _texts(value: Any, path: tuple = ()) -> Iterable[tuple[tuple, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, (*path, index))
    elif isinstance(value, str):
        yield path, value


class _Checker:
    """Rules JSON Schema cannot say: unique ids and the references between parts."""

    def __init__(self, name: str, document: dict):
        self.name, self.document = name, document

    def fail(self, path: Iterable[Any], problem: str) -> None:
        raise CatalogueError(f"form catalogue file {self.name}: {_path(path)}: {problem}")

    def run(self, form_id: str, version: int, locale: str) -> None:
        doc = self.document
        for key, expected in (("formId", form_id), ("version", version), ("locale", locale)):
            if doc[key] != expected:
                self.fail([key], f"is {doc[key]!r}, but the file name says {expected!r}")
        for path, text in _texts(doc):
            for found in PLACEHOLDER.findall(text):
                if found not in ALLOWED_PLACEHOLDERS:
                    self.fail(path, f"unknown placeholder {found} (only {{practiceName}} exists)")
        self._unique("sections", [s["id"] for s in doc["sections"]])
        self._unique("fieldGroups", [g["id"] for g in doc["fieldGroups"]])
        self._unique("declaration.statements", [s["id"] for s in doc["declaration"]["statements"]])
        self._unique("comprehension", [q["id"] for q in doc["comprehension"]])
        self._fields()
        for index, question in enumerate(doc["comprehension"]):
            choices = [c["id"] for c in question["choices"]]
            self._unique(f"comprehension[{index}].choices", choices)
            if question["correct"] not in choices:
                self.fail(["comprehension", index, "correct"],
                          f"{question['correct']!r} is not one of its choices")

    def _unique(self, where: str, ids: list[str]) -> None:
        seen = set()
        for value in ids:
            if value in seen:
                self.fail([where], f"the id {value!r} occurs twice")
            seen.add(value)

    def _fields(self) -> None:
        known: dict[str, dict] = {}
        for g, group in enumerate(self.document["fieldGroups"]):
            for f, field in enumerate(group["fields"]):
                path = ["fieldGroups", g, "fields", f]
                ids = [field["id"]] + ([field["other"]["id"]] if "other" in field else [])
                for value in ids:
                    if value in known:
                        self.fail([*path, "id"], f"the field id {value!r} occurs twice")
                values = [o["value"] for o in field.get("options", [])]
                if len(set(values)) != len(values):
                    self.fail([*path, "options"], "an option value occurs twice")
                if "exclusive" in field and field["exclusive"] not in values:
                    self.fail([*path, "exclusive"], f"{field['exclusive']!r} is not one of its options")
                if "visibleWhen" in field:
                    self._visible_when([*path, "visibleWhen"], field["visibleWhen"], known)
                for value in ids:
                    known[value] = field

    def _visible_when(self, path: list, rule: dict, known: dict[str, dict]) -> None:
        """A condition names an earlier yes/no or single-choice field and a value it can take."""
        target = known.get(rule["field"])
        if target is None:
            self.fail([*path, "field"], f"{rule['field']!r} is not a field before this one")
        if target["kind"] == "boolean":
            ok = isinstance(rule["equals"], bool)
        elif target["kind"] == "single":
            ok = rule["equals"] in [o["value"] for o in target["options"]]
        else:
            ok = False
        if not ok:
            self.fail([*path, "equals"], f"{rule['equals']!r} is not a value of {rule['field']!r}")


@dataclass(frozen=True)
class FormVersion:
    form_id: str
    version: int
    type: str
    #: locale -> the document from the file (no practiceText, no formHash).
    documents: dict[str, dict]

    @property
    def locales(self) -> list[str]:
        return [locale for locale in LOCALES if locale in self.documents]


class Catalogue:
    """Every form version of the catalogue, checked; immutable once loaded."""

    def __init__(self, versions: list[FormVersion]):
        self._versions = {(v.form_id, v.version): v for v in versions}
        self._current: dict[str, FormVersion] = {}
        for version in sorted(versions, key=lambda v: v.version):
            self._current[version.type] = version

    @classmethod
    def load(cls, directory: Path | Any) -> Catalogue:
        """Reads and checks every file; raises CatalogueError naming the file and the path."""
        documents: dict[tuple[str, int], dict[str, dict]] = {}
        names: dict[tuple[str, int, str], str] = {}
        for entry in sorted(directory.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".json"):
                continue
            match = FILE_NAME.match(entry.name)
            if not match:
                raise CatalogueError(f"form catalogue file {entry.name}: the name is not"
                                     " <formId>.v<version>.<locale>.json")
            try:
                document = json.loads(entry.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CatalogueError(f"form catalogue file {entry.name}: not UTF-8 JSON: {exc}") from exc
            error = jsonschema.exceptions.best_match(_validator().iter_errors(document))
            if error is not None:
                raise CatalogueError(f"form catalogue file {entry.name}: {_path(error.absolute_path)}:"
                                     f" {error.message[:300]}")
            form_id, version, locale = match["form"], int(match["version"]), match["locale"]
            _Checker(entry.name, document).run(form_id, version, locale)
            documents.setdefault((form_id, version), {})[locale] = document
            names[(form_id, version, locale)] = entry.name
        return cls(cls._versions_of(documents, names))

    @staticmethod
    def _versions_of(documents: dict, names: dict) -> list[FormVersion]:
        versions, types = [], {}
        for (form_id, version), by_locale in sorted(documents.items()):
            missing = [locale for locale in LOCALES if locale not in by_locale]
            if missing:
                raise CatalogueError(f"form catalogue: {form_id} v{version} has no file for"
                                     f" {', '.join(missing)}")
            reference = skeleton({**by_locale[LOCALES[0]], "locale": None})
            for locale in LOCALES[1:]:
                where = first_difference(reference, skeleton({**by_locale[locale], "locale": None}))
                if where is not None:
                    name = names[(form_id, version, locale)]
                    reference_name = names[(form_id, version, LOCALES[0])]
                    raise CatalogueError(
                        f"form catalogue file {name}: {_path(where)}: its structure (ids, kinds,"
                        f" options, limits) differs from {reference_name}")
            form_type = by_locale[LOCALES[0]]["type"]
            if types.setdefault(form_id, form_type) != form_type:
                raise CatalogueError(f"form catalogue: {form_id} v{version} changes its type")
            versions.append(FormVersion(form_id, version, form_type, by_locale))
        missing = [kind for kind in _validator().schema["properties"]["type"]["enum"]
                   if kind not in {v.type for v in versions}]
        if missing:
            raise CatalogueError(f"form catalogue: no form for {', '.join(missing)}")
        return versions

    def get(self, form_id: str, version: int) -> FormVersion | None:
        return self._versions.get((form_id, version))

    def current(self, consent_type: str) -> FormVersion | None:
        """The newest version for a consent type: what a new consent link is made with."""
        return self._current.get(consent_type)

    def versions(self) -> list[FormVersion]:
        return [self._versions[key] for key in sorted(self._versions)]

    def types(self) -> set[str]:
        return set(self._current)


def document(version: FormVersion, locale: str, practice_text: dict | None) -> dict:
    """The form document a client gets: the file's content, the practice's block, the hash."""
    content = {**version.documents[locale], "practiceText": practice_text}
    return {**content, "formHash": form_hash(content)}


def packaged_directory() -> Any:
    return resources.files("appliance.forms").joinpath("catalogue")


@functools.cache
def packaged() -> Catalogue:
    """The catalogue shipped in the package, loaded once per process."""
    return Catalogue.load(packaged_directory())
