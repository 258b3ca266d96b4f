"""Prints the test vectors of docs/crypto.md ("Test vectors"), made with the Python reference
client. Sealed boxes and secretstream headers are random, so every run prints other bytes:
run it when the contract changes, paste the output into the document, and let
tests/test_crypto_vectors.py and tests/web/vectors.test.mjs check it.

    .venv/bin/python tools/crypto_vectors.py > /tmp/vectors.md
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path

from nacl import bindings
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance import envelopes as env
from appliance.client import answers, crypto, lookup
from tests.support.forms import FILLED, FORM, SIGNATURE

SALT = "AAECAwQFBgcICQoLDA0ODw=="
RECORD = "6f3b0c2e-4c1a-4f7e-9d2b-8a5e1c0f7d31"
OTHER_RECORD = "0b9d7a52-1e3f-4c8a-b6d0-2f4e8c9a1b75"
TOKEN = "q3X8nV0c7sJ2mRk5tLw9yPzA1bC4dE6fG8hI0jK2lMn"  # noqa: S105 (a link token of the vectors)
SEED = bytes(range(32, 64))
BOX = bytes(range(32))
KEYS = crypto.PracticeKeys(PrivateKey(BOX), SigningKey(SEED))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def block(title: str, text: str, vector: dict) -> str:
    body = json.dumps(vector, indent=2, ensure_ascii=True)
    return f"#### {title}\n\n{text}\n\n```json test-vector\n{body}\n```\n"


def stream(key: bytes, ad: bytes, frames: list[tuple[bytes, int]]) -> bytes:
    """A secretstream ciphertext with the frames (plaintext, tag) exactly as given."""
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    out = bindings.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    for plain, tag in frames:
        out += bindings.crypto_secretstream_xchacha20poly1305_push(state, plain, ad, tag)
    return out


def payload_vectors() -> list[str]:
    final = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    message = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
    cases = [
        ("empty", "An empty payload: one empty final chunk, 41 bytes in all.", 0, [(b"", final)]),
        ("exactly 64 KiB", "One full chunk that is the final one (a writer that knows the length).",
         65536, [(pattern(65536), final)]),
        ("a final empty chunk", "64 KiB as a full chunk, then an empty final chunk (a writer that did"
         " not know the length): readers accept it. Cut after the first chunk it is truncated.",
         65536, [(pattern(65536), message), (b"", final)]),
    ]
    out = []
    for title, text, size, frames in cases:
        key = bindings.crypto_secretstream_xchacha20poly1305_keygen()
        ciphertext = stream(key, env.payload_ad("photo", RECORD), frames)
        out.append(block(f"Payload: {title}", text + " Open with `purpose` and `record`; the same bytes"
                         " must fail for `otherRecord` and for purpose `treatment.plan`.", {
            "kind": "payload", "secretKey": b64(BOX), "purpose": "photo", "record": RECORD,
            "otherRecord": OTHER_RECORD, "wrappedKey": b64(SealedBox(KEYS.box.public_key).encrypt(key)),
            "plaintextLength": size, "plaintextSha256": hashlib.sha256(pattern(size)).hexdigest(),
            "ciphertext": b64(ciphertext),
        }))
    out.append(thumbnail_vector())
    key = bindings.crypto_secretstream_xchacha20poly1305_keygen()
    ciphertext = stream(key, env.payload_ad("photo", RECORD), [(pattern(100), message), (pattern(50), final)])
    wrapped = b64(SealedBox(KEYS.box.public_key).encrypt(key))
    refused = {
        "truncated at a chunk boundary": ciphertext[: 24 + 117],
        "truncated inside the header": ciphertext[:20],
        "trailing data after the final chunk": ciphertext + b"\x00",
        "one bit flipped": ciphertext[:30] + bytes([ciphertext[30] ^ 1]) + ciphertext[31:],
    }
    for title, spoiled in refused.items():
        out.append(block(f"Payload refused: {title}", "A reader must refuse it (the intact stream is two"
                         " chunks of 100 and 50 bytes).", {
            "kind": "payload_refused", "secretKey": b64(BOX), "purpose": "photo", "record": RECORD,
            "wrappedKey": wrapped, "ciphertext": b64(spoiled),
        }))
    return out


def thumbnail_vector() -> str:
    """A photo's thumbnail: its own purpose, bound to the photo's id; it must not open as the
    photo itself."""
    final = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    key = bindings.crypto_secretstream_xchacha20poly1305_keygen()
    size = 1000
    ciphertext = stream(key, env.payload_ad(env.PURPOSE_PHOTO_THUMBNAIL, RECORD), [(pattern(size), final)])
    return block("Payload: a photo's thumbnail", "Open with `purpose` and `record`; the same bytes must"
                 " fail for `otherRecord`, for purpose `treatment.plan` and for `otherPurpose` (the"
                 " photo itself).", {
        "kind": "payload", "secretKey": b64(BOX), "purpose": env.PURPOSE_PHOTO_THUMBNAIL, "record": RECORD,
        "otherRecord": OTHER_RECORD, "otherPurpose": env.PURPOSE_PHOTO,
        "wrappedKey": b64(SealedBox(KEYS.box.public_key).encrypt(key)),
        "plaintextLength": size, "plaintextSha256": hashlib.sha256(pattern(size)).hexdigest(),
        "ciphertext": b64(ciphertext),
    })


def main() -> None:
    parts = []
    lookups = [
        ("  Wei\u00df-M\u00fcller ", "Anna\u00a0\tLena", "1984-02-29",
         "Folding (ß to ss), no-break space and tab collapsed, spaces trimmed."),
        ("WEISS-MU\u0308LLER", "\uff21\uff2e\uff2e\uff21\u2003 LENA\n", "1984-02-29",
         "The same identity: a combining diaeresis, fullwidth letters, an em space."),
        ("M\u00fc\u00adller\u200b", "\ufeffAnna\u2060", "1984-02-29",
         "Default-ignorable characters (soft hyphen, zero width space, BOM, word joiner) are removed."),
        ("\u1e9eTRA\u00dfE", "\u0130lker", "2000-01-01",
         "Capital sharp s folds to ss; dotted capital I folds to i + combining dot (full folding)."),
        ("\ufb00o \u2163", "\u03a3\u039f\u03a6\u0399\u0391\u03a3", "1900-01-01",
         "NFKC turns the ligature ff and the Roman numeral IV into letters; final sigma folds to sigma."),
    ]
    for last, first, dob, text in lookups:
        parts.append(block("lookupHash", text, {
            "kind": "lookup_hash", "lookupSalt": SALT, "lastName": last, "firstName": first,
            "dateOfBirth": dob,
            "normalised": lookup.normalise_identity(last, first, dob),
            "lookupHash": lookup.lookup_hash(SALT, last, first, dob),
        }))
    refused = [
        ("M\u00fcller", "Anna|Lena", "1980-01-31", "`|` in a name"),
        ("M\u00fcller", "Anna\uff5c", "1980-01-31", "fullwidth vertical line: `|` after NFKC"),
        ("\u200b\u00ad", "Anna", "1980-01-31", "empty once the ignorable characters are removed"),
        ("M\u00fcller", "An\u0378na", "1980-01-31", "U+0378 is unassigned in Unicode 14.0"),
        ("M\u00fcller", "Anna\ue000", "1980-01-31", "private use"),
        ("M\u00fcller", "Anna\u0001", "1980-01-31", "a control character that is not white space"),
        ("M\u00fcller", "Anna", "1899-12-31", "a year before 1900"),
        ("M\u00fcller", "Anna", "2100-01-01", "a year after 2099"),
        ("M\u00fcller", "Anna", "1900-02-29", "1900 was no leap year"),
        ("M\u00fcller", "Anna", "1980-1-31", "not YYYY-MM-DD"),
        ("M\u00fcller", "Anna", "\uff11980-01-31", "a fullwidth digit in the date"),
    ]
    for last, first, dob, reason in refused:
        parts.append(block("lookupHash refused", reason + ".", {
            "kind": "lookup_refused", "lastName": last, "firstName": first, "dateOfBirth": dob}))

    envelope = crypto.make_vault_envelope(KEYS, "Korrekt Pferd Batterie Heftklammer \u00c4\u00d6\u00dc\u00df")
    parts.append(block("Vault unlock",
                       "Unlock `envelope` with `password` (it contains ÄÖÜß); the keys must be"
                       " `publicKey` and `signingKey`. The password with a space appended must fail.", {
        "kind": "vault_unlock", "password": "Korrekt Pferd Batterie Heftklammer \u00c4\u00d6\u00dc\u00df",
        "envelope": envelope, "publicKey": KEYS.public_key, "signingKey": KEYS.signing_key}))
    spoiled = {
        "version 1": {"v": 1}, "version as text": {"v": "2"}, "version as a fraction": {"v": 2.5},
        "an unknown key": {"hint": "Katze"}, "opslimit 5": {"opslimit": 5},
        "memlimit over 256 MiB": {"memlimit": 268435457}, "memlimit under 64 MiB": {"memlimit": 67108863},
        "a ciphertext of one key (48 bytes)": {"ciphertext": b64(bytes(48))},
        "salt with non-canonical padding bits": {"salt": envelope["salt"][:21] + "B=="},
        "kdf scrypt": {"kdf": "scrypt"},
    }
    for title, change in spoiled.items():
        parts.append(block(f"Vault refused: {title}", "Refuse it before running any KDF.", {
            "kind": "vault_refused", "envelope": {**envelope, **change}}))

    sealed = crypto.seal_field(KEYS.public_key, "patient.lastName", RECORD, "Wei\u00df-M\u00fcller")
    parts.append(block("Sealed field", "Open `sealed` with `secretKey` as `field` of `record`. Opening it as"
                       " `otherField` or for `otherRecord` must fail.", {
        "kind": "sealed_field", "secretKey": b64(BOX), "field": "patient.lastName", "record": RECORD,
        "otherField": "patient.firstName", "otherRecord": OTHER_RECORD, "sealed": sealed,
        "value": "Wei\u00df-M\u00fcller"}))
    parts.extend(payload_vectors())

    for title, value in {"non-canonical padding bits": "AB==", "urlsafe alphabet": "-_8A",
                         "no padding": "AAAAAA", "a line break": "AAAA\n", "a space": "AA AA"}.items():
        parts.append(block(f"Base64 refused: {title}", "Every base64 field is refused with it.", {
            "kind": "base64_refused", "value": value}))
    prime = 2**255 - 19
    good = KEYS.public_key
    u = int.from_bytes(base64.b64decode(good), "little")
    keys_refused = {
        "all zero": bytes(32), "01 00..00 (order 1)": b"\x01" + bytes(31),
        "order 8": bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        "p - 1 (order 2)": (prime - 1).to_bytes(32, "little"), "p (not canonical)": prime.to_bytes(32,
                                                                                                   "little"),
        "a point of the twist": b"\x02" + bytes(31),
        "a point of order 2l (key + order-2 point)": pow(u, prime - 2, prime).to_bytes(32, "little"),
        "the top bit set": base64.b64decode(good)[:31] + bytes([base64.b64decode(good)[31] | 0x80]),
    }
    parts.append(block("Public key accepted", "A key a client generated.", {
        "kind": "public_key", "publicKey": good, "fingerprint": env.key_fingerprint(good)}))
    for title, raw in keys_refused.items():
        parts.append(block(f"Public key refused: {title}", "The server refuses it, and a patient page does"
                           " not encrypt to it.", {"kind": "public_key_refused", "publicKey": b64(raw)}))

    statements = {
        "patient": {"id": RECORD, "lookupHash": "ab" * 32, "encryptedFirstName": sealed,
                    "encryptedLastName": sealed, "encryptedDateOfBirth": sealed, "encryptedEmail": None,
                    "encryptedPhone": None},
        "consent": {"id": RECORD, "type": "BOTOX", "patientId": None,
                    "linkCommitment": env.link_commitment(TOKEN)},
        "treatment.plan": {"id": RECORD, "patientId": OTHER_RECORD, "consentType": "BOTOX",
                           "consentFormId": None, "performedAt": "2026-11-28T13:30:00.000Z", "version": 2,
                           "wrappedKey": b64(bytes(80))},
        "photo": {"id": RECORD, "patientId": OTHER_RECORD, "consentFormId": None, "type": "BEFORE",
                  "bodyRegion": "GLABELLA", "takenAt": "2026-11-28T13:30:00.000Z",
                  "photoConsentGranted": False, "wrappedKey": b64(bytes(80)), "encryptedMetadata": None},
        "consent.countersignature": {"consentId": RECORD, "answersSha256": "cd" * 32,
                                     "wrappedKey": b64(bytes(80))},
        "consent.archive": {"consentId": RECORD, "wrappedKey": b64(bytes(80))},
        "photo.thumbnail": {"photoId": RECORD, "wrappedKey": b64(bytes(80))},
    }
    for kind, fields in statements.items():
        parts.append(block(f"Signature: {kind}", "`statement` is the canonical JSON of the fields; the"
                           " signature verifies with `signingKey`, and fails once any field changes.", {
            "kind": "signature", "signingKey": KEYS.signing_key, "statementKind": kind, "fields": fields,
            "statement": env.statement(kind, fields).decode("utf-8"),
            "signature": crypto.sign_statement(KEYS, kind, fields)}))
    parts.append(block("Link proof", "From the link token: the proof the answers carry and the commitment"
                       " staff sign.", {"kind": "link", "token": TOKEN, "linkProof": env.link_proof(TOKEN),
                                        "linkCommitment": env.link_commitment(TOKEN)}))

    consent = {"id": RECORD, "publicKey": KEYS.public_key, "lookupSalt": SALT, "form": FORM}
    identity = {"firstName": "J\u00fcrgen", "lastName": "M\u00fcller-L\u00fcdenscheidt",
                "dateOfBirth": "1980-02-29"}
    body = answers.build_submission(consent, TOKEN, identity, FILLED["answers"], FILLED["comprehension"],
                                    FILLED["declaration"], SIGNATURE)
    document = json.loads(crypto.decrypt_payload(KEYS, body["wrappedKey"],
                                                 base64.b64decode(body["encryptedAnswers"]),
                                                 env.PURPOSE_CONSENT_ANSWERS, RECORD))
    parts.append(block("The answers document", "A submission to the consent `record` (the form is `form`,"
                       " the link token `token`): the answers open with `secretKey` and equal `document`,"
                       " which passes every check against `form`; the sealed identity opens as"
                       " consent.firstName ... of `record`. The same ciphertext must not open for"
                       " `otherRecord`.", {
        "kind": "answers", "secretKey": b64(BOX), "record": RECORD, "otherRecord": OTHER_RECORD,
        "token": TOKEN,
        "form": FORM, "submit": body, "document": document}))
    changes = {
        "a field the form does not have": {"answers": {**document["answers"], "tattoo": True}},
        "a required field missing": {"answers": {k: v for k,
                                                 v in document["answers"].items() if k != "pregnant"}},
        "an answer to a hidden field": {"answers": {**document["answers"], "previousTreatment": False}},
        "NONE with another option": {"answers": {**document["answers"], "allergies": ["NONE", "LATEX"]}},
        "passed that does not match the attempts": {"comprehension": [{"id": "duration", "attempts": ["a"],
                                                                       "passed": True}]},
        "a statement of the declaration missing": {"declaration": ["talk", "copy"]},
        "another formHash": {"formHash": "0" * 64},
        "a signature image of another size": {"signature": {**document["signature"], "width": 61}},
        "a typed signature the form does not allow": {"signature": {"format": "typed", "text": "J. M."}},
        "an identity that cannot be normalised": {"identity": {**identity, "lastName": "M\u00fcller|X"}},
        "an unknown key": {"submittedAt": "2026-01-01"},
        "version 1": {"v": 1},
    }
    for title, change in changes.items():
        parts.append(block(f"Answers refused: {title}", "The document (the vector's `document` with this"
                           " change) must fail the checks against the form of the answers vector.", {
            "kind": "answers_refused", "change": change}))
    print("\n".join(parts))


if __name__ == "__main__":
    main()
