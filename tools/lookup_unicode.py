"""Writes appliance/data/lookup_unicode.json: the Unicode tables of the lookupHash
normalisation (docs/crypto.md, "lookupHash"), for clients whose runtime lacks them.

Browsers normalise (NFKC) themselves, but have no full case folding (`toLowerCase` keeps
`ß`) and no way to ask which code points a given Unicode version assigns. This script takes
both from Python's own Unicode database, which must be the pinned version, so run it with a
Python whose `unicodedata.unidata_version` is UNICODE_VERSION (Python 3.11):

    python3.11 tools/lookup_unicode.py            # rewrite the file
    python3.11 tools/lookup_unicode.py --check    # exit 1 if the file is not what it writes

`tests/test_lookup_unicode.py` runs the check, and checks Python and JavaScript against each
other on every code point.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path

UNICODE_VERSION = "14.0.0"
OUTPUT = Path(__file__).resolve().parents[1] / "appliance" / "data" / "lookup_unicode.json"

#: White_Space (PropList.txt): the controls among them stay allowed.
WHITE_SPACE = frozenset(
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
     0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)
#: Other_Default_Ignorable_Code_Point and Variation_Selector of PropList.txt 14.0.0 that are
#: assigned; with General_Category Cf they make up every assigned Default_Ignorable_Code_Point.
OTHER_IGNORABLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0,
     *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
)
REFUSED_CATEGORIES = frozenset({"Cn", "Cs", "Co"})


def allowed(code_point: int) -> bool:
    """Assigned in UNICODE_VERSION, not a surrogate or private use, and not a control other
    than the white-space ones."""
    category = unicodedata.category(chr(code_point))
    if category in REFUSED_CATEGORIES:
        return False
    return category != "Cc" or code_point in WHITE_SPACE


def ignorable(code_point: int) -> bool:
    return unicodedata.category(chr(code_point)) == "Cf" or code_point in OTHER_IGNORABLE


def ranges(code_points: list[int]) -> list[list[int]]:
    """Sorted code points as inclusive [first, last] runs."""
    runs: list[list[int]] = []
    for code_point in code_points:
        if runs and runs[-1][1] == code_point - 1:
            runs[-1][1] = code_point
        else:
            runs.append([code_point, code_point])
    return runs


def tables() -> dict:
    every = [c for c in range(0x110000) if allowed(c)]
    folding = [[c, [ord(x) for x in chr(c).casefold()]] for c in every if chr(c).casefold() != chr(c)]
    return {
        "about": "lookupHash normalisation tables (docs/crypto.md), written by tools/lookup_unicode.py",
        "unicodeVersion": UNICODE_VERSION,
        "allowed": ranges(every),
        "ignorable": ranges([c for c in every if ignorable(c)]),
        "caseFolding": folding,
    }


def render() -> str:
    data = tables()
    # One table entry per line keeps diffs readable and the file compact.
    lines = ["{"]
    for index, (key, value) in enumerate(data.items()):
        comma = "," if index < len(data) - 1 else ""
        if isinstance(value, list):
            items = ",\n".join("  " + json.dumps(item, separators=(",", ":")) for item in value)
            lines.append(f"{json.dumps(key)}: [\n{items}\n]{comma}")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    if unicodedata.unidata_version != UNICODE_VERSION:
        print(f"error: this Python has Unicode {unicodedata.unidata_version}, the contract pins "
              f"{UNICODE_VERSION}: run the script with Python 3.11", file=sys.stderr)
        return 2
    text = render()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text("utf-8") != text:
            print(f"{OUTPUT} is not what {Path(__file__).name} writes: run it again", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
