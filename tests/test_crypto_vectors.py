"""The test vectors in docs/crypto.md open with the reference client, so the document that
other clients implement against cannot drift from the code."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from nacl.public import PrivateKey

from appliance.client import crypto

DOC = Path(__file__).parents[1] / "docs" / "crypto.md"
_VECTOR_BLOCK = re.compile(r"^```json test-vector\n(.*?)^```$", re.MULTILINE | re.DOTALL)
KINDS = {"lookup_hash", "vault_unlock", "sealed_field", "payload"}


def load_vectors() -> list[dict]:
    return [json.loads(block) for block in _VECTOR_BLOCK.findall(DOC.read_text("utf-8"))]


VECTORS = load_vectors()


def test_document_holds_vectors_of_every_kind() -> None:
    assert len(VECTORS) >= 4
    assert {vector["kind"] for vector in VECTORS} == KINDS


def check_lookup_hash(vector: dict) -> None:
    names = (vector["lastName"], vector["firstName"], vector["dateOfBirth"])
    assert crypto.normalise_identity(*names) == vector["normalised"]
    assert crypto.lookup_hash(vector["lookupSalt"], *names) == vector["lookupHash"]


def check_vault_unlock(vector: dict) -> None:
    private_key = crypto.unlock_vault(vector["envelope"], vector["password"])
    public_key = base64.b64encode(bytes(private_key.public_key)).decode("ascii")
    assert public_key == vector["publicKey"]
    with pytest.raises(crypto.VaultLocked):
        crypto.unlock_vault(vector["envelope"], vector["password"] + " ")


def check_sealed_field(vector: dict) -> None:
    private_key = PrivateKey(base64.b64decode(vector["secretKey"]))
    value = crypto.open_field(private_key, vector["field"], vector["sealed"])
    assert value == vector["value"]
    with pytest.raises(crypto.FieldMismatch):
        crypto.open_field(private_key, vector["field"] + "X", vector["sealed"])


def check_payload(vector: dict) -> None:
    private_key = PrivateKey(base64.b64decode(vector["secretKey"]))
    ciphertext = base64.b64decode(vector["ciphertext"])
    wrapped, purpose = vector["wrappedKey"], vector["purpose"]
    plaintext = crypto.decrypt_payload(private_key, wrapped, ciphertext, purpose)
    assert len(plaintext) == vector["plaintextLength"]
    assert hashlib.sha256(plaintext).hexdigest() == vector["plaintextSha256"]
    pieces = (ciphertext[i : i + 1000] for i in range(0, len(ciphertext), 1000))
    streamed = crypto.decrypt_payload_stream(private_key, wrapped, pieces, purpose)
    assert b"".join(streamed) == plaintext


CHECKS: dict[str, Callable[[dict], None]] = {
    "lookup_hash": check_lookup_hash,
    "vault_unlock": check_vault_unlock,
    "sealed_field": check_sealed_field,
    "payload": check_payload,
}


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[f"{v.get('kind')}-{i}" for i, v in enumerate(VECTORS)]
)
def test_vector(vector: dict) -> None:
    assert vector.get("kind") in CHECKS, f"unknown vector kind {vector.get('kind')!r}"
    CHECKS[vector["kind"]](vector)
