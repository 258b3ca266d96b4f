"""The answers document of a consent (docs/crypto.md, "The answers document"): what the
patient page encrypts, and what a staff reader checks after decrypting it.

The document is checked against the form document it names (fields, options, comprehension
questions, declaration), so a reader shows only answers that the form could have produced.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import struct
import zlib
from typing import Any

from appliance import envelopes as env
from appliance.client import crypto, lookup
from appliance.forms.canonical import canonical_json, form_hash

DOCUMENT_KEYS = frozenset({"v", "formId", "version", "formHash", "locale", "answers", "comprehension",
                           "declaration", "signature", "identity", "linkProof"})
IDENTITY_FIELDS = ("firstName", "lastName", "dateOfBirth", "email", "phone")
IDENTITY_REQUIRED = frozenset({"firstName", "lastName", "dateOfBirth"})
IDENTITY_MAX = {"firstName": 200, "lastName": 200, "dateOfBirth": 10, "email": 254, "phone": 40}
#: API name of the sealed copy of each identity field, in a submit and a consent.
SEALED_IDENTITY = {name: "encrypted" + name[0].upper() + name[1:] for name in IDENTITY_FIELDS}
MAX_ATTEMPTS = 20
SIGNATURE_MAX_BYTES = 256 * 1024
SIGNATURE_MAX_SIDE = 2048
TYPED_SIGNATURE_MAX = 200
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class AnswersInvalid(crypto.DecryptionError):
    """The answers document breaks the contract or does not fit the form it names."""


def identity_field(name: str) -> str:
    """The sealed-value field name of an identity part a patient submits with a consent."""
    return f"consent.{name}"


def _fail(where: str, problem: str) -> AnswersInvalid:
    return AnswersInvalid(f"{where}: {problem}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, where: str, max_length: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise _fail(where, "must be a string")
    if len(value) > max_length:
        raise _fail(where, f"must be at most {max_length} characters")
    if required and not value.strip():
        raise _fail(where, "must not be empty")
    return value


def _date(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _fail(where, "must be a date YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(where, "is not a real date") from None


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (which must come first)."""
    if len(data) < 24 or not data.startswith(_PNG_MAGIC) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    return struct.unpack(">II", data[16:24])


# --- answers against the form --------------------------------------------------------------


def _visible(field: dict, answers: dict) -> bool:
    condition = field.get("visibleWhen")
    return condition is None or answers.get(condition["field"]) == condition["equals"]


def _check_field(field: dict, value: Any, where: str) -> None:
    kind = field["kind"]
    if kind == "text":
        _text(value, where, field["maxLength"], required=field["required"])
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(where, "must be true or false")
    elif kind == "date":
        _date(value, where)
    elif kind == "single":
        if value not in [option["value"] for option in field["options"]]:
            raise _fail(where, "is not one of the options")
    elif kind == "multi":
        options = [option["value"] for option in field["options"]]
        if not isinstance(value, list) or any(item not in options for item in value):
            raise _fail(where, "must be a list of the options")
        if len(set(value)) != len(value):
            raise _fail(where, "names an option twice")
        if field["required"] and not value:
            raise _fail(where, "must name at least one option")
        if field.get("exclusive") in value and len(value) > 1:
            raise _fail(where, f"{field['exclusive']} excludes every other option")
    elif kind == "list":
        if not isinstance(value, list) or len(value) > field["maxItems"]:
            raise _fail(where, f"must be a list of at most {field['maxItems']} entries")
        for index, item in enumerate(value):
            _text(item, f"{where}[{index}]", field["maxLength"], required=True)
        if field["required"] and not value:
            raise _fail(where, "must hold at least one entry")
    else:
        raise _fail(where, f"has an unknown kind {kind!r} in the form")


def check_answers(form: dict, answers: Any) -> None:
    """The answers name only the form's fields, each answered as its kind allows; every
    visible required field is answered, hidden fields are not."""
    if not isinstance(answers, dict):
        raise _fail("answers", "must be an object")
    fields = [field for group in form["fieldGroups"] for field in group["fields"]]
    known: set[str] = set()
    for field in fields:
        known.add(field["id"])
        where = f"answers.{field['id']}"
        visible = _visible(field, answers)
        if field["id"] in answers:
            if not visible:
                raise _fail(where, "answers a field the form hides")
            _check_field(field, answers[field["id"]], where)
        elif visible and field["required"]:
            raise _fail(where, "is required")
        other = field.get("other")
        if other:
            known.add(other["id"])
            if other["id"] in answers:
                if field["id"] not in answers:
                    raise _fail(f"answers.{other['id']}", "belongs to an unanswered field")
                _text(answers[other["id"]], f"answers.{other['id']}", other["maxLength"])
    unknown = sorted(set(answers) - known)
    if unknown:
        raise _fail(f"answers.{unknown[0]}", "is not a field of the form")


def check_comprehension(form: dict, comprehension: Any) -> None:
    questions = form["comprehension"]
    if not isinstance(comprehension, list) or len(comprehension) != len(questions):
        raise _fail("comprehension", "must hold one entry per question of the form")
    for index, (entry, question) in enumerate(zip(comprehension, questions, strict=True)):
        where = f"comprehension[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"id", "attempts", "passed"}:
            raise _fail(where, "must hold exactly id, attempts and passed")
        if entry["id"] != question["id"]:
            raise _fail(where, f"must answer question {question['id']!r}")
        choices = [choice["id"] for choice in question["choices"]]
        attempts = entry["attempts"]
        if (not isinstance(attempts, list) or not 1 <= len(attempts) <= MAX_ATTEMPTS
                or any(attempt not in choices for attempt in attempts)):
            raise _fail(where, f"attempts must be 1..{MAX_ATTEMPTS} of the question's choices")
        if entry["passed"] is not (attempts[-1] == question["correct"]):
            raise _fail(where, "passed must say whether the last attempt is the correct choice")


def check_declaration(form: dict, declaration: Any) -> None:
    statements = [statement["id"] for statement in form["declaration"]["statements"]]
    if declaration != statements:
        raise _fail("declaration", "must confirm every statement of the form, in its order")


def check_signature(form: dict, signature: Any) -> None:
    if not isinstance(signature, dict):
        raise _fail("signature", "must be an object")
    if signature.get("format") == "typed":
        if not form["signature"].get("typedAlternative"):
            raise _fail("signature", "this form needs a drawn signature")
        if set(signature) != {"format", "text"}:
            raise _fail("signature", "a typed signature holds exactly format and text")
        _text(signature["text"], "signature.text", TYPED_SIGNATURE_MAX, required=True)
        return
    if signature.get("format") != "image/png" or set(signature) != {"format", "width", "height", "data"}:
        raise _fail("signature", "must be an image/png with width, height and data (or typed)")
    width, height = signature["width"], signature["height"]
    if not (_is_int(width) and _is_int(height) and 1 <= width <= SIGNATURE_MAX_SIDE
            and 1 <= height <= SIGNATURE_MAX_SIDE):
        raise _fail("signature", f"width and height must be integers 1..{SIGNATURE_MAX_SIDE}")
    try:
        data = env.b64decode_strict(signature["data"], "data", min_len=1, max_len=SIGNATURE_MAX_BYTES)
        size = png_size(data)
    except (env.EnvelopeError, ValueError) as exc:
        raise _fail("signature.data", f"must be a base64 PNG of at most {SIGNATURE_MAX_BYTES} bytes") from exc
    if size != (width, height):
        raise _fail("signature", "width and height must be the PNG's")


def check_identity(identity: Any) -> None:
    if not isinstance(identity, dict) or not IDENTITY_REQUIRED <= set(identity) <= set(IDENTITY_FIELDS):
        raise _fail("identity", "must hold firstName, lastName, dateOfBirth and optionally email, phone")
    for name, value in identity.items():
        _text(value, f"identity.{name}", IDENTITY_MAX[name], required=True)
    try:
        lookup.normalise_identity(identity["lastName"], identity["firstName"], identity["dateOfBirth"])
    except ValueError as exc:
        raise _fail("identity", str(exc)) from None


def check_document(document: Any, form: dict) -> dict:
    """Every rule of the answers document, against the form document it names (whose hash the
    caller has recomputed, or lets this function recompute)."""
    if not isinstance(document, dict) or set(document) != DOCUMENT_KEYS:
        raise _fail("document", f"must hold exactly the keys {sorted(DOCUMENT_KEYS)}")
    if type(document["v"]) is not int or document["v"] != env.CONTRACT_VERSION:
        raise _fail("v", f"must be {env.CONTRACT_VERSION}")
    if form_hash(form) != form.get("formHash"):
        raise _fail("form", "the form document does not hash to its formHash")
    for key in ("formId", "version", "formHash", "locale"):
        if document[key] != form[key] or type(document[key]) is not type(form[key]):
            raise _fail(key, "does not name the form document")
    if not isinstance(document["linkProof"], str) or not _HEX64.fullmatch(document["linkProof"]):
        raise _fail("linkProof", "must be 64 lowercase hex characters")
    check_answers(form, document["answers"])
    check_comprehension(form, document["comprehension"])
    check_declaration(form, document["declaration"])
    check_signature(form, document["signature"])
    check_identity(document["identity"])
    return document


# --- writing and reading -------------------------------------------------------------------


def serialise(document: dict) -> bytes:
    """Canonical JSON, within the size the contract allows."""
    data = canonical_json(document)
    if len(data) > env.ANSWERS_MAX_PLAIN:
        raise ValueError(f"the answers document exceeds {env.ANSWERS_MAX_PLAIN} bytes")
    return data


def png_signature(png: bytes) -> dict:
    width, height = png_size(png)
    return {"format": "image/png", "width": width, "height": height,
            "data": base64.b64encode(png).decode("ascii")}


def build_submission(consent: dict, token: str, identity: dict, answers: dict, comprehension: list,
                     declaration: list, signature: dict, *, key_fingerprint: str | None = None) -> dict:
    """The submit body for a consent as `GET /api/consent/{token}` answered it: everything
    encrypted and sealed to the practice key, bound to the consent and its link."""
    form = consent["form"]
    public_key = consent["publicKey"]
    if key_fingerprint is not None and env.key_fingerprint(public_key) != key_fingerprint:
        raise crypto.KeyMismatch("the served public key does not match the link's fingerprint")
    env.validate_public_key(public_key)
    document = {
        "v": env.CONTRACT_VERSION, "formId": form["formId"], "version": form["version"],
        "formHash": form["formHash"], "locale": form["locale"], "answers": answers,
        "comprehension": comprehension, "declaration": declaration, "signature": signature,
        "identity": identity, "linkProof": env.link_proof(token),
    }
    check_document(document, form)
    consent_id = consent["id"]
    wrapped_key, ciphertext = crypto.encrypt_payload(
        public_key, serialise(document), env.PURPOSE_CONSENT_ANSWERS, consent_id
    )
    return {
        "encryptedAnswers": base64.b64encode(ciphertext).decode("ascii"),
        "wrappedKey": wrapped_key,
        "formId": form["formId"], "version": form["version"], "formHash": form["formHash"],
        "locale": form["locale"],
        "identity": {
            SEALED_IDENTITY[name]: crypto.seal_field(public_key, identity_field(name), consent_id, value)
            for name, value in identity.items()
        },
        "lookupHash": lookup.lookup_hash(consent["lookupSalt"], identity["lastName"],
                                         identity["firstName"], identity["dateOfBirth"]),
    }


def submission_digest(encrypted_answers_b64: str) -> str:
    """SHA-256 of the answers ciphertext: on the patient's copy and in a countersignature."""
    try:
        return hashlib.sha256(base64.b64decode(encrypted_answers_b64, validate=True)).hexdigest()
    except binascii.Error as exc:
        raise ValueError("encryptedAnswers is not base64") from exc


# --- samples, for the demo and the tests ---------------------------------------------------


def sample_answers(form: dict) -> dict:
    """Answers a patient could give to any form document: every visible field answered (the
    last option of a multiple choice, the first of a single one, no, a date, a short text),
    each comprehension question wrong once, then right; every statement confirmed."""
    given: dict = {}
    for field in (f for group in form["fieldGroups"] for f in group["fields"]):
        condition = field.get("visibleWhen")
        if condition and given.get(condition["field"]) != condition["equals"]:
            continue
        kind, name = field["kind"], field["id"]
        if kind == "boolean":
            given[name] = False
        elif kind == "single":
            given[name] = field["options"][0]["value"]
        elif kind == "multi":
            given[name] = [field["options"][-1]["value"]]
            if field.get("other"):
                given[field["other"]["id"]] = "Jod"[: field["other"]["maxLength"]]
        elif kind == "date":
            given[name] = "2025-03-14"
        elif kind == "list":
            given[name] = ["Ibuprofen 400"[: field["maxLength"]]]
        elif kind == "text":
            given[name] = "Keine Anmerkungen"[: field["maxLength"]]
    comprehension = []
    for question in form["comprehension"]:
        wrong = [choice["id"] for choice in question["choices"] if choice["id"] != question["correct"]]
        comprehension.append({"id": question["id"], "attempts": [*wrong[:1], question["correct"]],
                              "passed": True})
    declaration = [statement["id"] for statement in form["declaration"]["statements"]]
    return {"answers": given, "comprehension": comprehension, "declaration": declaration}


def sample_png(width: int = 60, height: int = 20) -> bytes:
    """A real PNG (8-bit grey, a diagonal stroke on white), as a signature pad makes one."""
    rows = b"".join(
        b"\x00" + bytes(0 if abs(x * height - y * width) < width else 255 for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return _PNG_MAGIC + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
