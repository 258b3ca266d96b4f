"""Helpers for the analytics tests: hand-built consent forms, patients and payments written
straight into a practice (test setup: the API cannot backdate a form or record a payment),
and the analytics calls.

Times are naive UTC, as the appliance stores them; the tests say which local time each is.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

import falcon.testing

from appliance import tenancy
from appliance.models import ConsentForm, Patient, Payment
from tests.support.api import call


def add_form(practice_id: str, created_at: dt.datetime, *, status: str = "PENDING", kind: str = "BOTOX",
             signed_at: dt.datetime | None = None, expires_in: dt.timedelta = dt.timedelta(days=7),
             revoked_at: dt.datetime | None = None) -> uuid.UUID:
    """One consent form of `practice_id` as the consent flow would have left it."""
    form_id = uuid.uuid4()
    with tenancy.practice_scope(uuid.UUID(practice_id)):
        ConsentForm.insert(
            id=form_id, type=kind, status=status, token_hash=secrets.token_hex(32), locale="de",
            created_at=created_at, expires_at=created_at + expires_in, signed_at=signed_at,
            revoked_at=revoked_at, revoked_by="PRACTICE" if revoked_at else None,
            updated_at=signed_at or revoked_at or created_at,
        ).execute()
    return form_id


def add_signed(practice_id: str, created_at: dt.datetime, after: dt.timedelta, *, status: str = "SIGNED",
               kind: str = "BOTOX") -> uuid.UUID:
    """A form the patient signed `after` its creation (status SIGNED, PAID or COMPLETED)."""
    return add_form(practice_id, created_at, status=status, kind=kind, signed_at=created_at + after)


def add_patient(practice_id: str, created_at: dt.datetime) -> None:
    with tenancy.practice_scope(uuid.UUID(practice_id)):
        Patient.insert(
            id=uuid.uuid4(), lookup_hash=secrets.token_hex(32), encrypted_first_name="x",
            encrypted_last_name="x", encrypted_date_of_birth="x", created_at=created_at,
            updated_at=created_at,
        ).execute()


def add_payment(practice_id: str, paid_at: dt.datetime, amount_cents: int, *, refunded_cents: int = 0,
                currency: str = "eur") -> None:
    with tenancy.practice_scope(uuid.UUID(practice_id)):
        Payment.insert(
            id=uuid.uuid4(), stripe_invoice_id=f"in_{secrets.token_hex(8)}", plan="STARTER",
            amount_cents=amount_cents, refunded_cents=refunded_cents, currency=currency,
            paid_at=paid_at, created_at=paid_at,
        ).execute()


def analytics(client: falcon.testing.TestClient, token: str | None, what: str,
              **params: Any) -> falcon.testing.Result:
    """GET /api/analytics/<what> with query parameters (`from_` stands for `from`)."""
    query = "&".join(f"{key.rstrip('_')}={value}" for key, value in params.items())
    return call(client, "GET", f"/api/analytics/{what}" + (f"?{query}" if query else ""), token=token)


def figures(client: falcon.testing.TestClient, token: str, what: str, **params: Any) -> dict:
    result = analytics(client, token, what, **params)
    assert result.status_code == 200, result.text
    return result.json
