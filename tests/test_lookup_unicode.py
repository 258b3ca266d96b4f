"""The lookupHash normalisation is pinned (docs/crypto.md): the shipped tables are what
tools/lookup_unicode.py writes, the rules are closed (normalising twice changes nothing), and
Python and the browser's JavaScript spell every code point of Unicode the same way."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from appliance.client import lookup

ROOT = Path(__file__).parents[1]
BLOCK = 4096


def _result(code_point: int) -> str:
    try:
        return lookup.normalise_name(f"A{chr(code_point)}B")
    except ValueError:
        return "!"


def _block(block: int) -> list[str]:
    return [_result(block * BLOCK + i) for i in range(BLOCK)]


@pytest.mark.skipif(unicodedata.unidata_version != "14.0.0",
                    reason="the generator needs Python's Unicode 14.0")
def test_the_shipped_tables_are_what_the_generator_writes() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "lookup_unicode.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def test_the_tables_name_their_unicode_version_and_shape() -> None:
    version, allowed, ignorable, folding = lookup.tables()
    assert version == "14.0.0"
    assert 0x0041 in allowed and 0x0378 not in allowed and 0xE000 not in allowed and 0xD800 not in allowed
    assert 0x0009 in allowed and 0x0001 not in allowed
    assert all(code in ignorable for code in (0x00AD, 0x200B, 0xFEFF, 0x2060, 0xFE0F, 0x034F))
    assert folding[ord("ß")] == "ss" and folding[0x1E9E] == "ss" and folding[0x0130] == "i\u0307"


def test_normalising_twice_changes_nothing_for_any_code_point() -> None:
    """Closed: what the rules give is kept by them (no ignorable left, nothing refused)."""
    for code_point in range(0x110000):
        name = _result(code_point)
        if name != "!":
            assert lookup.normalise_name(name) == name, hex(code_point)


def test_python_and_javascript_agree_on_every_code_point() -> None:
    script = ROOT / "tests" / "web" / "normalise_codepoints.mjs"
    run = subprocess.run(["node", str(script)], capture_output=True, text=True, check=True, timeout=600)
    theirs = json.loads(run.stdout)
    assert len(theirs) == 0x110000 // BLOCK
    for block, digest in enumerate(theirs):
        ours = _block(block)
        if hashlib.sha256("\u0000".join(ours).encode("utf-8", "surrogatepass")).hexdigest() == digest:
            continue
        details = subprocess.run(["node", str(script), str(block)], capture_output=True, text=True,
                                 check=True)
        differ = [(hex(block * BLOCK + i), mine, js) for i, (mine, js)
                  in enumerate(zip(ours, json.loads(details.stdout), strict=True)) if mine != js]
        pytest.fail(f"Python and JavaScript disagree on {len(differ)} code points, e.g. {differ[:5]}")


@pytest.mark.parametrize(
    ("last", "first", "expected"),
    [
        ("Müller", "Anna", "müller|anna|1980-01-31"),
        ("  WEISS  ", "Anna", "weiss|anna|1980-01-31"),
        ("Weiß", "Anna", "weiss|anna|1980-01-31"),
        ("Mu\u0308ller", "Anna", "müller|anna|1980-01-31"),  # combining diaeresis
        ("\uff2d\u00dc\uff2c\uff2c\uff25\uff32", "\uff21\uff2e\uff2e\uff21", "müller|anna|1980-01-31"),
        ("von  der\tLeyen", "Anna\u00a0Lena", "von der leyen|anna lena|1980-01-31"),
        ("O'Neill\u2003-\u3000Smith", "\nAnna\r\n", "o'neill - smith|anna|1980-01-31"),
        ("ΣΟΦΊΑΣ", "Anna", "σοφίασ|anna|1980-01-31"),
        ("Mül\u00adler\u200b", "\ufeffAn\u2060na\u200d", "müller|anna|1980-01-31"),  # ignorables go
        ("Ma\u200bu\u0308rer", "Anna", "maürer|anna|1980-01-31"),  # removed before NFKC: ü composes
        ("\u0130nce", "Anna", "i\u0307nce|anna|1980-01-31"),  # full folding, not Turkic
        ("\u1e9e", "Anna", "ss|anna|1980-01-31"),
    ],
)
def test_identity_normalisation(last: str, first: str, expected: str) -> None:
    assert lookup.normalise_identity(last, first, "1980-01-31") == expected


@pytest.mark.parametrize(
    ("last", "first", "dob"),
    [
        ("", "Anna", "1980-01-31"),
        (" \t\u00a0", "Anna", "1980-01-31"),
        ("\u200b\u00ad\ufeff", "Anna", "1980-01-31"),  # only ignorables
        ("Müller|Anna", "Lena", "1980-01-31"),
        ("Müller", "Anna\uff5c", "1980-01-31"),  # fullwidth vertical line becomes '|'
        ("Müller", "An\u0378na", "1980-01-31"),  # unassigned in Unicode 14.0
        ("Müller", "Anna\U0001fae8", "1980-01-31"),  # assigned in 15.0 only (shaking face)
        ("Müller", "Anna\ue000", "1980-01-31"),  # private use
        ("Müller", "Anna\ud800", "1980-01-31"),  # a lone surrogate
        ("Müller", "Anna\x00", "1980-01-31"),
        ("Müller", "Anna", "1981-02-29"),
        ("Müller", "Anna", "1899-12-31"),
        ("Müller", "Anna", "2100-01-01"),
        ("Müller", "Anna", "1980-13-01"),
        ("Müller", "Anna", "1980-1-31"),
        ("Müller", "Anna", "31.01.1980"),
        ("Müller", "Anna", " 1980-01-31"),
        ("Müller", "Anna", "\uff11980-01-31"),  # fullwidth digit
        (None, "Anna", "1980-01-31"),
    ],
)
def test_identity_normalisation_refuses(last: object, first: str, dob: str) -> None:
    with pytest.raises(ValueError):
        lookup.normalise_identity(last, first, dob)


def test_lookup_hash_matches_for_equivalent_spellings_only() -> None:
    salt = "AAECAwQFBgcICQoLDA0ODw=="
    first = lookup.lookup_hash(salt, "Weiß", "Anna Lena", "1984-02-29")
    assert lookup.lookup_hash(salt, " WEISS\u00ad ", "anna\u00a0lena", "1984-02-29") == first
    assert lookup.lookup_hash("AAAAAAAAAAAAAAAAAAAAAA==", "Weiß", "Anna Lena", "1984-02-29") != first
