"""GDT 2.1 records as bytes: a writer and a strict parser.

A record is a sequence of lines `LLLFFFFcontent<CR><LF>`: LLL is the length of the whole line
in bytes (LLL, FFFF and CR LF included), FFFF the field id. Line 1 is 8000 (record type),
line 2 is 8100 (the record's length in bytes, five digits, so that line is always 14 bytes).
9206 names the character set the bytes are in (1 = 7-bit DIN 66003, 2 = IBM CP437, the
default when absent, 3 = ISO 8859-1), 9218 the GDT version.

Everything here counts bytes, never characters, and refuses rather than repairs: a PVS that
reads a record with a wrong length or mangled umlauts files it under the wrong patient or
not at all. Error messages name the line or field, never its content (it is patient data),
in terms clinic IT can act on ("LF line ends, GDT needs CR LF").

Three quirks of real PVS files can be tolerated when reading (`QUIRKS`, a practice setting):
LF instead of CR LF, a DOS end-of-file mark (Ctrl-Z) after the last line, and an 8100 that
does not match the record's length. Nothing else is repaired; what was tolerated is reported
in `Record.tolerated`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass

VERSION = "02.10"
CRLF = b"\r\n"
#: LLL + FFFF + CR LF.
LINE_OVERHEAD = 9
MAX_LINE_BYTES = 999
MAX_CONTENT_BYTES = MAX_LINE_BYTES - LINE_OVERHEAD
#: 8100 has five digits.
MAX_RECORD_BYTES = 99_999
LENGTH_LINE_BYTES = 14
MAX_ID_LENGTH = 8
#: Fields the writer sets itself, so that they always agree with the bytes it writes.
HEADER_FIELDS = frozenset({"8000", "8100", "8315", "8316", "9206", "9218"})
_DIGITS = frozenset(b"0123456789")
#: The quirks a reader may be told to tolerate.
LF_LINE_ENDS, TRAILING_CTRL_Z, WRONG_RECORD_LENGTH = "LF_LINE_ENDS", "TRAILING_CTRL_Z", "WRONG_RECORD_LENGTH"
QUIRKS = (LF_LINE_ENDS, TRAILING_CTRL_Z, WRONG_RECORD_LENGTH)
CTRL_Z = b"\x1a"


class GdtError(ValueError):
    """A record that cannot be written or read as GDT 2.1."""


class GdtEncodeError(GdtError):
    """The writer refused a field; `field_id` names it."""

    def __init__(self, field_id: str, problem: str):
        super().__init__(f"field {field_id}: {problem}")
        self.field_id = field_id
        self.problem = problem


class GdtParseError(GdtError):
    """The parser refused a record; `line` is the 1-based number of the first bad line."""

    def __init__(self, line: int, problem: str):
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Charset:
    name: str
    #: The value of field 9206.
    code: str
    codec: str


SEVEN_BIT = Charset("7-bit DIN 66003", "1", "ascii")
CP437 = Charset("CP437", "2", "cp437")
ISO_8859_1 = Charset("ISO-8859-1", "3", "latin-1")
#: What a practice may choose for the records it sends (by name).
WRITABLE = {charset.name: charset for charset in (ISO_8859_1, CP437)}
#: What 9206 may declare in a record we read; without 9206 the set is CP437.
READABLE = {charset.code: charset for charset in (SEVEN_BIT, CP437, ISO_8859_1)}
#: DIN 66003, the German 7-bit set: these ASCII positions carry umlauts, sharp s and section.
_DIN_66003 = str.maketrans("@[\\]{|}~", "§ÄÖÜäöüß")


# --- writer --------------------------------------------------------------------------------


def _encode_line(field_id: str, content: str, charset: Charset) -> bytes:
    if len(field_id) != 4 or not field_id.isascii() or not field_id.isdigit():
        raise GdtEncodeError(field_id, "a field id has four digits")
    # NFC: "ü" typed as u + combining diaeresis is the same letter and must encode as one byte.
    content = unicodedata.normalize("NFC", content)
    for position, char in enumerate(content, 1):
        if unicodedata.category(char) == "Cc":
            raise GdtEncodeError(field_id, f"control character U+{ord(char):04X} at position {position}")
    try:
        raw = content.encode(charset.codec)
    except UnicodeEncodeError as exc:
        char = content[exc.start]
        raise GdtEncodeError(
            field_id,
            f"character {char!r} (U+{ord(char):04X}) at position {exc.start + 1}"
            f" cannot be written in {charset.name}",
        ) from None
    length = LINE_OVERHEAD + len(raw)
    if length > MAX_LINE_BYTES:
        raise GdtEncodeError(field_id, f"the line would be {length} bytes; GDT allows {MAX_LINE_BYTES}")
    return f"{length:03d}{field_id}".encode("ascii") + raw + CRLF


def check_id(value: str, field_id: str) -> str:
    """A GDT id (8315 receiver, 8316 sender): 1 to 8 characters."""
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        raise GdtEncodeError(field_id, f"a GDT id has 1 to {MAX_ID_LENGTH} characters")
    return value


def write_record(
    record_type: str,
    fields: Iterable[tuple[str, str]],
    *,
    charset: Charset = ISO_8859_1,
    receiver: str | None = None,
    sender: str | None = None,
) -> bytes:
    """One record: 8000, 8100, 8315/8316 (when given), 9206, 9218, then `fields` in order.

    The header fields are the writer's own, so that 8100 and 9206 always describe the bytes.
    """
    if len(record_type) != 4 or not record_type.isascii() or not record_type.isdigit():
        raise GdtEncodeError("8000", "a record type has four digits")
    if charset not in WRITABLE.values():
        raise GdtEncodeError("9206", f"records are written in {' or '.join(WRITABLE)}")
    head = []
    if receiver is not None:
        head.append(("8315", check_id(receiver, "8315")))
    if sender is not None:
        head.append(("8316", check_id(sender, "8316")))
    head += [("9206", charset.code), ("9218", VERSION)]
    body = []
    for field_id, content in fields:
        if field_id in HEADER_FIELDS:
            raise GdtEncodeError(field_id, "is set by the writer itself")
        body.append((field_id, content))
    first = _encode_line("8000", record_type, charset)
    rest = [_encode_line(field_id, content, charset) for field_id, content in head + body]
    total = len(first) + LENGTH_LINE_BYTES + sum(map(len, rest))
    if total > MAX_RECORD_BYTES:
        raise GdtEncodeError("8100", f"the record would be {total} bytes; 8100 allows {MAX_RECORD_BYTES}")
    return first + _encode_line("8100", f"{total:05d}", charset) + b"".join(rest)


# --- parser --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    line: int
    field_id: str
    content: str


@dataclass(frozen=True)
class Record:
    record_type: str
    charset: Charset
    #: Every line in order, 8000 and 8100 included.
    fields: tuple[Field, ...]
    #: What was accepted although GDT 2.1 does not allow it (only quirks the caller tolerates).
    tolerated: tuple[str, ...] = ()

    def values(self, field_id: str) -> list[str]:
        return [f.content for f in self.fields if f.field_id == field_id]

    def value(self, field_id: str) -> str | None:
        """The first occurrence of a field, or None."""
        return next((f.content for f in self.fields if f.field_id == field_id), None)


def _split_lines(data: bytes) -> list[bytes]:
    """The lines without their CR LF; every line must end with CR LF and contain no other."""
    lines = data.split(CRLF)
    for number, line in enumerate(lines, 1):
        if b"\n" in line:
            raise GdtParseError(number, "has an LF without CR (mixed line ends); GDT lines end with CR LF")
        inside = line[:-1] if number == len(lines) else line  # the last piece: a cut-off CR LF
        if b"\r" in inside:
            raise GdtParseError(number, "contains a CR or LF that does not end the line")
    if lines[-1]:
        raise GdtParseError(len(lines), "does not end with CR LF")
    return lines[:-1]


def _check_structure(number: int, line: bytes, lf_counted_once: bool = False) -> str:
    """Checks LLL against the line's real byte length; returns the field id. A file that came
    with LF line ends may count its line end as one byte (what it had) or two (CR LF)."""
    actual = len(line) + len(CRLF)
    if actual < LINE_OVERHEAD:
        raise GdtParseError(number, f"is {actual} bytes, too short for length and field id")
    if not set(line[:7]) <= _DIGITS:
        raise GdtParseError(number, "does not start with a 3-digit length and a 4-digit field id")
    declared = int(line[:3])
    if actual > MAX_LINE_BYTES:
        raise GdtParseError(number, f"is {actual} bytes; GDT allows {MAX_LINE_BYTES}")
    if declared != actual and not (lf_counted_once and declared == actual - 1):
        raise GdtParseError(number, f"declares {declared:03d} bytes but has {actual}")
    return line[3:7].decode("ascii")


#: Bytes 0x80-0x9F are C1 control codes in ISO 8859-1 but letters and signs in Windows-1252:
#: the usual sign that a PVS wrote Windows text and declared ISO 8859-1.
def _not_latin_1(byte: int) -> str:
    try:
        seen = bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return f"byte 0x{byte:02X}: not ISO 8859-1 text (a C1 control code), as 9206 declares"
    return (f"byte 0x{byte:02X}: not ISO 8859-1, the file looks like Windows-1252 (where it is {seen!r});"
            " 9206 declares 3 = ISO 8859-1")


def _decode(number: int, raw: bytes, charset: Charset) -> str:
    if charset is SEVEN_BIT:
        high = next((byte for byte in raw if byte > 0x7F), None)
        if high is not None:
            raise GdtParseError(number, f"byte 0x{high:02X} is above 0x7F although 9206 declares 7-bit")
    if charset is ISO_8859_1:
        c1 = next((byte for byte in raw if 0x80 <= byte <= 0x9F), None)
        if c1 is not None:
            raise GdtParseError(number, _not_latin_1(c1))
    text = raw.decode(charset.codec)
    if charset is SEVEN_BIT:
        text = text.translate(_DIN_66003)
    for char in text:
        if unicodedata.category(char) == "Cc":
            raise GdtParseError(number, f"contains control character U+{ord(char):04X}")
    return text


def parse_record(data: bytes, tolerate: Collection[str] = ()) -> Record:
    """Parses exactly one record, refusing it at the first line that is not GDT 2.1 (except
    for the `QUIRKS` in `tolerate`, which are accepted and reported in `Record.tolerated`).

    Every line on its own first (its length, field id, and 8000, 8100 only as lines 1 and 2),
    so that a damaged line is named rather than the 8100 it throws off; then 8100 against the
    record's real byte length; then the bytes against the character set 9206 declares.
    Raises only `GdtParseError`.
    """
    data = bytes(data)
    tolerated: list[str] = []
    if data.endswith(CTRL_Z):
        if TRAILING_CTRL_Z not in tolerate:
            raise GdtParseError(data.count(b"\n") + 1, "the file ends with Ctrl-Z (0x1A, a DOS end-of-file"
                                " mark) after its last line; GDT files end with CR LF")
        data = data.rstrip(CTRL_Z)
        tolerated.append("a Ctrl-Z (0x1A) after the last line")
    if not data:
        raise GdtParseError(1, "the record is empty")
    lf_only = b"\n" in data and b"\r" not in data
    lengths = [len(data)]  # what 8100 may say: the bytes as they came ...
    if lf_only:
        if LF_LINE_ENDS not in tolerate:
            raise GdtParseError(1, "LF line ends, GDT needs CR LF")
        data = data.replace(b"\n", CRLF)
        lengths.append(len(data))  # ... or as they would be with CR LF
        tolerated.append("LF line ends instead of CR LF")
    lines = _split_lines(data)
    ids = [_check_line(number, line, lf_only) for number, line in enumerate(lines, 1)]
    if len(lines) < 2:
        raise GdtParseError(2, "is missing; line 2 must be 8100")
    declared_length = int(lines[1][7:])
    if declared_length not in lengths:
        problem = f"8100 says {declared_length} bytes but the record has {lengths[-1]}"
        if WRONG_RECORD_LENGTH not in tolerate:
            raise GdtParseError(2, problem)
        tolerated.append(problem)
    charset = CP437
    declared = [(number, line[7:]) for number, line in enumerate(lines, 1) if ids[number - 1] == "9206"]
    for number, value in declared:
        known = READABLE.get(value.decode("latin-1"))
        if known is None:
            raise GdtParseError(number, "9206 must be 1, 2 or 3")
        if number != declared[0][0] and known is not charset:
            raise GdtParseError(number, "a second 9206 declares another character set")
        charset = known
    fields = tuple(
        Field(number, ids[number - 1], _decode(number, line[7:], charset))
        for number, line in enumerate(lines, 1)
    )
    return Record(fields[0].content, charset, fields, tuple(tolerated))


def _check_line(number: int, line: bytes, lf_counted_once: bool = False) -> str:
    """One line on its own: its length and field id, and the rules for its position."""
    field_id = _check_structure(number, line, lf_counted_once)
    content = line[7:]
    if number == 1:
        if field_id != "8000":
            raise GdtParseError(1, f"is field {field_id}; a record starts with 8000")
        if len(content) != 4 or not set(content) <= _DIGITS:
            raise GdtParseError(1, "8000 must hold a 4-digit record type")
    elif number == 2:
        if field_id != "8100":
            raise GdtParseError(2, f"is field {field_id}; line 2 must be 8100")
        if len(content) != 5 or not set(content) <= _DIGITS:
            raise GdtParseError(2, "8100 must hold five digits")
    elif field_id in ("8000", "8100"):
        raise GdtParseError(number, f"a second {field_id}; a file holds one record")
    return field_id
