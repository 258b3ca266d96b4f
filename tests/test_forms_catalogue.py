"""The form catalogue as data: every file valid, published versions unchanged, the content the
field expects (domain.md), and formHash as a browser computes it (RFC 8785, docs/forms.md)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance import cli
from appliance.app import create_app
from appliance.forms import catalogue as catalogue_module
from appliance.forms.canonical import NotCanonicalisable, canonical_json, form_hash
from appliance.forms.catalogue import Catalogue, CatalogueError, _texts, document, packaged
from appliance.models import CONSENT_TYPES
from tests.conftest import ROOT, make_settings
from tests.test_cli import clean_env

CATALOGUE_DIR = Path(catalogue_module.__file__).parent / "catalogue"
PUBLISHED = Path(catalogue_module.__file__).parent / "published.txt"

# --- published versions are immutable ------------------------------------------------------


def published_lines() -> set[str]:
    lines = PUBLISHED.read_text(encoding="utf-8").splitlines()
    return {line for line in lines if line.strip() and not line.startswith("#")}


def catalogue_lines(catalogue: Catalogue) -> set[str]:
    return {
        f"{v.form_id} {v.version} {locale} {document(v, locale, None)['formHash']}"
        for v in catalogue.versions()
        for locale in v.locales
    }


def published_problems(catalogue: Catalogue, published: set[str]) -> list[str]:
    """What breaks immutability: a published line the catalogue no longer hashes to (an edited
    or removed version), and a catalogue version not yet in the list (new: add its line)."""
    current = catalogue_lines(catalogue)
    changed = [
        f"published, but the catalogue no longer has it unchanged: {line}"
        for line in sorted(published - current)
    ]
    published_keys = {line.rsplit(" ", 1)[0] for line in published}
    new = [
        f"not in published.txt (add it if this is a new version): {line}"
        for line in sorted(current - published)
        if line.rsplit(" ", 1)[0] not in published_keys
    ]
    return changed + new


def test_every_published_version_is_in_the_catalogue_unchanged():
    problems = published_problems(packaged(), published_lines())
    assert not problems, "\n".join(problems)


def test_editing_a_published_version_fails_the_published_check(tmp_path):
    """Editing v1 instead of adding v2 is caught, even for a single character."""
    edited = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, edited)
    path = edited / "botox.v1.de.json"
    path.write_text(
        path.read_text(encoding="utf-8").replace("3 bis 6 Monaten", "4 bis 6 Monaten", 1), encoding="utf-8"
    )
    problems = published_problems(Catalogue.load(edited), published_lines())
    assert len(problems) == 1 and "botox 1 de" in problems[0], problems

    # The same wording as a new version is fine: v1 is untouched, v2 gets new lines.
    shutil.copy(CATALOGUE_DIR / "botox.v1.de.json", path)
    for locale in ("de", "en"):
        v2 = json.loads((CATALOGUE_DIR / f"botox.v1.{locale}.json").read_text(encoding="utf-8"))
        v2["version"] = 2
        (edited / f"botox.v2.{locale}.json").write_text(json.dumps(v2, ensure_ascii=False), encoding="utf-8")
    extended = Catalogue.load(edited)
    assert extended.current("BOTOX").version == 2 and extended.get("botox", 1) is not None
    problems = published_problems(extended, published_lines())
    assert [p.split(": ")[1].rsplit(" ", 1)[0] for p in problems] == ["botox 2 de", "botox 2 en"]


# --- a broken file stops the appliance -----------------------------------------------------


def _edit(document: dict, path: str, value) -> None:
    *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
    target = document
    for part in parents:
        target = target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value


BREAKAGES = [
    ("fieldGroups/0/fields/0/kind", "checkbox", "$.fieldGroups[0].fields[0]"),
    ("title", KeyError, "$: 'title' is a required property"),
    ("sections/1/blocks/0/text", "", "$.sections[1].blocks[0].text"),
    ("sections/1/blocks/0/text", "<b>Zeile</b>\nzwei", "$.sections[1].blocks[0].text"),
    (
        "privacy/blocks/0/text",
        "Verantwortlich ist {praxisName}.",
        "$.privacy.blocks[0].text: unknown placeholder",
    ),
    ("fieldGroups/0/fields/0/exclusive", "NOTHING", "$.fieldGroups[0].fields[0].exclusive"),
    (
        "fieldGroups/0/fields/2/visibleWhen/field",
        "takesMedicine",
        "$.fieldGroups[0].fields[2].visibleWhen.field",
    ),
    ("fieldGroups/0/fields/2/visibleWhen/equals", "YES", "$.fieldGroups[0].fields[2].visibleWhen.equals"),
    ("comprehension/0/correct", "d", "$.comprehension[0].correct"),
    ("comprehension", [], "$.comprehension"),
    ("declaration/statements/1/id", "talk", "$.declaration.statements: the id 'talk' occurs twice"),
    ("fieldGroups/1/fields/0/id", "allergies", "$.fieldGroups[1].fields[0].id: the field id 'allergies'"),
    ("version", 2, "$.version: is 2, but the file name says 1"),
    ("signature/typedAlternative", "no", "$.signature.typedAlternative"),
]


@pytest.mark.parametrize(("path", "value", "message"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_a_broken_file_is_refused_naming_the_file_and_the_place(tmp_path, path, value, message):
    broken = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, broken)
    data = json.loads((broken / "botox.v1.de.json").read_text(encoding="utf-8"))
    _edit(data, path, value)
    (broken / "botox.v1.de.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CatalogueError) as refused:
        Catalogue.load(broken)
    assert str(refused.value).startswith("form catalogue file botox.v1.de.json: "), refused.value
    assert message in str(refused.value), refused.value


def test_a_translation_must_keep_the_structure_and_every_locale_must_exist(tmp_path):
    broken = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, broken)
    english = json.loads((broken / "filler.v1.en.json").read_text(encoding="utf-8"))
    english["fieldGroups"][1]["fields"][0]["options"].pop()  # "JAWLINE" dropped in English only
    (broken / "filler.v1.en.json").write_text(json.dumps(english), encoding="utf-8")
    with pytest.raises(
        CatalogueError, match=r"filler\.v1\.en\.json: \$\.fieldGroups\[1\]\.fields\[0\]\.options\[5\]"
    ):
        Catalogue.load(broken)
    (broken / "filler.v1.en.json").unlink()
    with pytest.raises(CatalogueError, match="filler v1 has no file for en"):
        Catalogue.load(broken)
    (broken / "filler.v1.de.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"filler\.v1\.de\.json: not UTF-8 JSON"):
        Catalogue.load(broken)
    (broken / "filler.v1.de.json").unlink()
    (broken / "Filler v1.json").write_text("{}", encoding="utf-8")
    with pytest.raises(CatalogueError, match="the name is not <formId>.v<version>.<locale>.json"):
        Catalogue.load(broken)


def test_the_app_refuses_to_start_with_a_broken_catalogue(tmp_path, monkeypatch, capsys):
    """create_app (each gunicorn worker) refuses it, and `appliance serve` says why before it
    starts any worker."""
    broken = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, broken)
    (broken / "prp.v1.en.json").unlink()
    (broken / "prp.v1.de.json").unlink()
    monkeypatch.setattr(catalogue_module, "packaged_directory", lambda: broken)
    catalogue_module.packaged.cache_clear()
    try:
        settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'app.db'}")
        with pytest.raises(CatalogueError, match="no form for PRP"):
            create_app(settings, None)
        for key, value in clean_env(tmp_path).items():
            monkeypatch.setenv(key, value)
        assert cli.main(["serve"]) == 2
        assert "appliance: form catalogue: no form for PRP" in capsys.readouterr().err
        (broken / "botox.v1.de.json").write_text("[]", encoding="utf-8")
        catalogue_module.packaged.cache_clear()
        with pytest.raises(CatalogueError, match=r"botox\.v1\.de\.json: \$: \[\] is not of type 'object'"):
            create_app(settings, None)
    finally:
        catalogue_module.packaged.cache_clear()


# --- the content the field expects (shared/spec/domain.md) ---------------------------------

COMMON_OPTIONS = {
    "allergies": [
        "NONE",
        "PENICILLIN",
        "LATEX",
        "NICKEL",
        "FRAGRANCES",
        "PRESERVATIVES",
        "LOCAL_ANAESTHETICS",
        "SULFONAMIDES",
        "NSAIDS",
    ],
    "medicalHistory": [
        "NONE",
        "HYPERTENSION",
        "HEART_DISEASE",
        "DIABETES",
        "THYROID_DISEASE",
        "ECZEMA",
        "PSORIASIS",
        "ROSACEA",
        "KELOIDS",
        "HERPES",
        "LUPUS",
        "RHEUMATOID_ARTHRITIS",
        "IMMUNOSUPPRESSION",
        "CANCER",
        "CLOTTING_DISORDER",
    ],
}
TYPE_FIELDS = {
    "BOTOX": {
        "treatmentAreas": ["FOREHEAD", "GLABELLA", "CROWS_FEET", "BUNNY_LINES", "CHIN", "MASSETER"],
        "previousTreatment": "boolean",
    },
    "FILLER": {
        "treatmentAreas": ["LIPS", "NASOLABIAL_FOLDS", "CHEEKS", "CHIN", "TEAR_TROUGH", "JAWLINE"],
        "material": ["HYALURONIC_ACID", "CALCIUM_HYDROXYLAPATITE", "OTHER"],
    },
    "LASER": {
        "treatmentAreas": ["FACE", "NECK", "DECOLLETE", "HANDS", "OTHER"],
        "fitzpatrick": ["I", "II", "III", "IV", "V", "VI"],
        "recentSunExposure": "boolean",
    },
    "CHEMICAL_PEEL": {
        "treatmentAreas": ["FACE", "NECK", "HANDS"],
        "peelDepth": ["SUPERFICIAL", "MEDIUM", "DEEP"],
    },
    "MICRONEEDLING": {"treatmentAreas": ["FACE", "NECK", "DECOLLETE", "SCALP"], "activeInfection": "boolean"},
    "PRP": {"treatmentAreas": ["FACE", "SCALP", "JOINTS"], "bloodDisorder": "boolean"},
}
#: What the privacy notice must name, per locale (controller, legal bases, retention, withdrawal).
PRIVACY = {
    "de": [
        "{practiceName}",
        "Art. 9 Abs. 2 lit. a DSGVO",
        "Art. 9 Abs. 2 lit. h DSGVO",
        "10 Jahre",
        "§ 630f",
        "Art. 7 Abs. 3 DSGVO",
        "über den Link",
    ],
    "en": [
        "{practiceName}",
        "Art. 9(2)(a) GDPR",
        "Art. 9(2)(h) GDPR",
        "10 years",
        "Section 630f",
        "Art. 7(3) GDPR",
        "through the link",
    ],
}
#: Topics the comprehension checks cover (domain.md): a distinctive word of the correct answer.
COMPREHENSION = {
    "BOTOX": ["3 bis 6 Monate", "Blutergüsse"],
    "FILLER": ["6 bis 18 Monate", "Hyaluronsäure", "Sofort"],
    "LASER": ["Lichtschutzfaktor 50", "In Ruhe lassen"],
    "CHEMICAL_PEEL": ["4 bis 6 Wochen", "Von selbst"],
    "MICRONEEDLING": ["1 bis 3 Tage"],
    "PRP": ["eigenen Blut", "3 bis 4 Sitzungen im Abstand von 4 bis 6 Wochen"],
}


def _fields(doc: dict) -> dict[str, dict]:
    return {field["id"]: field for group in doc["fieldGroups"] for field in group["fields"]}


@pytest.mark.parametrize("consent_type", CONSENT_TYPES)
def test_each_form_asks_what_the_field_expects_and_checks_understanding(consent_type):
    version = packaged().current(consent_type)
    for locale in ("de", "en"):
        doc = version.documents[locale]
        fields = _fields(doc)
        for field_id, values in {**COMMON_OPTIONS, **TYPE_FIELDS[consent_type]}.items():
            if values == "boolean":
                assert fields[field_id]["kind"] == "boolean", field_id
            else:
                assert [o["value"] for o in fields[field_id]["options"]] == values, field_id
        assert (
            fields["allergies"]["exclusive"] == "NONE"
            and fields["allergies"]["other"]["id"] == "allergiesOther"
        )
        assert fields["medications"]["kind"] == "list"
        assert fields["medications"]["visibleWhen"] == {"field": "takesMedications", "equals": True}
        for required in ("pregnant", "anticoagulants", "medicalHistoryNotes"):
            assert required in fields
        assert [s["id"] for s in doc["sections"]] == [
            "about",
            "treatment",
            "procedure",
            "alternatives",
            "risks",
            "aftercare",
            "tellUs",
        ]
        assert {"talk", "questions", "copy"} <= {s["id"] for s in doc["declaration"]["statements"]}
        privacy = " ".join(text for _, text in _texts(doc["privacy"]))
        for needed in PRIVACY[locale]:
            assert needed in privacy, (locale, needed)
        assert 3 <= len(doc["comprehension"]) <= 5
    correct = " ".join(
        next(c["label"] for c in q["choices"] if c["id"] == q["correct"])
        for q in version.documents["de"]["comprehension"]
    )
    for topic in COMPREHENSION[consent_type]:
        assert topic in correct, topic


def test_the_german_is_written_with_umlauts_and_addresses_the_patient_formally():
    transliterated = re.compile(
        r"\b(fuer|ueber|koennen|muessen|moeglich\w*|Aerzt\w*|Gefaess\w*|haeufig|"
        r"Behandlungsflaeche|waehrend|Haut(?:ae|oe)\w*|ausser|gross\w*)\b",
        re.I,
    )
    informal = re.compile(r"\b(du|dich|dir|dein\w*|Du|Dich|Dir|Dein\w*)\b")
    for version in packaged().versions():
        for path, text in _texts(version.documents["de"]):
            assert not transliterated.search(text), (version.form_id, path, text)
            assert not informal.search(text), (version.form_id, path, text)


# --- the canonical serialisation and formHash ----------------------------------------------


def test_canonical_json_is_rfc_8785():
    # RFC 8785 3.2.3: keys sorted by UTF-16 code units (U+1F600 before U+FB33, unlike code points).
    keys = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    assert [
        json.loads("{" + pair + "}") for pair in re.findall(r'"[^"]*":"[^"]*"', canonical_json(keys).decode())
    ] == [
        {"\r": "Carriage Return"},
        {"1": "One"},
        {"\u0080": "Control"},
        {"\u00f6": "Latin Small Letter O With Diaeresis"},
        {"\u20ac": "Euro Sign"},
        {"\U0001f600": "Emoji: Grinning Face"},
        {"\ufb33": "Hebrew Letter Dalet With Dagesh"},
    ]
    # RFC 8785 3.2.2.2: string escaping as ECMAScript's JSON.stringify.
    assert canonical_json('\u20ac$\u000f\nA\'B"\\\\"/') == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()
    assert (
        canonical_json({"b": [1, True, None], "a": {"y": -7, "x": False}})
        == b'{"a":{"x":false,"y":-7},"b":[1,true,null]}'
    )
    for refused in (1.5, 2**53, -(2**53), "\ud800", {1: "x"}):
        with pytest.raises(NotCanonicalisable):
            canonical_json(refused)


def _worked_example() -> tuple[dict, bytes, str]:
    text = (ROOT / "docs" / "forms.md").read_text(encoding="utf-8")
    section = text.split("### Worked example", 1)[1]
    blocks = re.findall(r"```(?:json|text)\n(.*?)\n```", section, re.S)
    return json.loads(blocks[0]), blocks[1].encode("utf-8"), blocks[2]


def test_the_worked_example_in_the_docs_is_what_the_implementation_computes():
    example, canonical, digest = _worked_example()
    content = {key: value for key, value in example.items() if key != "formHash"}
    assert canonical_json(content) == canonical
    assert form_hash(example) == digest
    assert len(canonical) == 275  # as the docs say


def test_a_browser_computes_the_same_form_hash_for_every_catalogue_form():
    """The JavaScript of docs/forms.md, run in Node, on every form and the worked example."""
    snippet = re.search(r"```js\n(.*?)\n```", (ROOT / "docs" / "forms.md").read_text(encoding="utf-8"), re.S)[
        1
    ]
    documents = [document(v, locale, None) for v in packaged().versions() for locale in v.locales]
    documents.append(
        document(
            packaged().current("FILLER"),
            "de",
            {"title": "Preise „Filler“", "blocks": [{"kind": "paragraph", "text": "ab 290 €"}]},
        )
    )
    documents.append(_worked_example()[0] | {"formHash": _worked_example()[2]})
    script = (
        "const docs = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n(async () => {\nconst out = [];\n"
        "for (const form of docs) {\n" + snippet + "\nout.push(Buffer.from(digest).toString('hex'));\n}\n"
        "console.log(JSON.stringify(out));\n})();\n"
    )
    result = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(documents),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout) == [doc["formHash"] for doc in documents]
