"""Checks on write of the staff signatures of contract v2 (docs/crypto.md, "Signatures").

Readers verify every staff record with the signing key in their vault; the server checks the
same signature with the practice's public copy when the record is written, so that a client
bug is a 400 now instead of a record that no reader accepts later.
"""

from __future__ import annotations

import base64
from typing import Any

from appliance import envelopes
from appliance.http.errors import bad_request
from appliance.models import Practice


def check_signature(practice: Practice, kind: str, fields: dict[str, Any], signature: Any) -> None:
    """A 400 (invalid_signature) unless `signature` signs exactly this record."""
    try:
        envelopes.verify_statement(base64.b64decode(practice.signing_key), kind, fields, signature)
    except envelopes.EnvelopeError as exc:
        raise bad_request(f"the signature does not sign this {kind}",
                          [{"field": "signature", "problem": exc.problem}],
                          code="invalid_signature") from exc
