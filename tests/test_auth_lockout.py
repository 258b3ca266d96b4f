"""Account lockout: 5 consecutive failed logins lock the account for 15 minutes.

Every attempt comes from another client address (see tests.support.api.call), so what is
seen here is the per-account lockout, not the per-IP rate limit.
"""

from __future__ import annotations

from appliance.models import LoginLockout
from tests.support.api import (
    PASSWORD,
    assert_error,
    audit_actions,
    audit_entries,
    login,
    register,
)

WRONG = PASSWORD + "-vertippt"


def test_five_failures_lock_the_account_for_fifteen_minutes(client, clock):
    account = register(client)
    bystander = register(client)
    for _ in range(5):
        assert_error(login(client, account.email, WRONG), 401, "invalid_credentials")

    locked = login(client, account.email, PASSWORD)
    body = assert_error(locked, 429, "account_locked")
    assert body["error"]["details"]["retryAfterSeconds"] == int(locked.headers["Retry-After"])
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60 + 1
    assert login(client, bystander.email, PASSWORD).status_code == 200  # only that account

    clock.advance(minutes=14, seconds=59)
    assert_error(login(client, account.email, PASSWORD), 429, "account_locked")
    clock.advance(seconds=1)
    result = login(client, account.email, PASSWORD)
    assert result.status_code == 200, result.text
    assert "token" in result.json

    actions = audit_actions(account.user_id)
    assert actions["LOGIN_FAILED"] == 7  # 5 wrong passwords, 2 attempts while locked
    reasons = [e.metadata["reason"] for e in audit_entries("LOGIN_FAILED")
               if str(e.user_id) == account.user_id]
    assert sorted(reasons) == ["locked"] * 2 + ["password"] * 5
    assert actions["ACCOUNT_LOCKED"] == 1
    assert actions["LOGIN_SUCCESS"] == 1
    (lock,) = audit_entries("ACCOUNT_LOCKED")
    assert lock.metadata == {"minutes": 15}
    assert all(e.ip for e in audit_entries("LOGIN_FAILED"))


def test_only_consecutive_failures_count(client):
    account = register(client)
    for _ in range(4):
        assert_error(login(client, account.email, WRONG), 401, "invalid_credentials")
    assert login(client, account.email, PASSWORD).status_code == 200
    for _ in range(4):
        assert_error(login(client, account.email, WRONG), 401, "invalid_credentials")
    assert login(client, account.email, PASSWORD).status_code == 200
    assert audit_actions(account.user_id)["ACCOUNT_LOCKED"] == 0


def test_failed_logins_for_unknown_emails_are_audited_without_a_user(client):
    for _ in range(2):
        assert_error(login(client, "niemand@praxis.example", WRONG), 401, "invalid_credentials")
    failed = audit_entries("LOGIN_FAILED")
    assert len(failed) == 2
    assert all(e.user_id is None and e.metadata == {"reason": "unknown"} for e in failed)
    assert "niemand" not in str([e.metadata for e in failed])


def _attempts(client, email: str, count: int) -> list[tuple[int, str, str | None]]:
    answers = []
    for _ in range(count):
        result = login(client, email, WRONG)
        answers.append((result.status_code, result.json["error"]["code"], result.headers.get("Retry-After")))
    return answers


def test_an_address_without_an_account_locks_exactly_like_one_with_an_account(client, clock):
    """Otherwise 429 after five attempts would tell an attacker which addresses have accounts."""
    account = register(client)
    unknown = "niemand-hier@praxis.example"
    known_answers, unknown_answers = _attempts(client, account.email, 7), _attempts(client, unknown, 7)
    assert known_answers == unknown_answers
    assert [status for status, _, _ in unknown_answers] == [401] * 5 + [429] * 2
    assert unknown_answers[-1][1:] == ("account_locked", str(15 * 60 + 1))

    clock.advance(minutes=15)
    assert _attempts(client, account.email, 1) == _attempts(client, unknown, 1) == [
        (401, "invalid_credentials", None)]
    assert [e.metadata for e in audit_entries("LOGIN_FAILED") if e.user_id is None] == [
        {"reason": "unknown"}] * 8
    # The lockout table names no address: only keyed hashes.
    assert unknown not in str(list(LoginLockout.select().tuples()))


def test_a_day_without_failures_forgets_the_count_for_both(client, clock, settings, database):
    from appliance.mail import DisabledMailer
    from appliance.scheduler import jobs
    from appliance.services.container import build_services
    from appliance.storage import open_store

    account = register(client)
    unknown = "niemand-sonst@praxis.example"
    _attempts(client, account.email, 4)
    _attempts(client, unknown, 4)
    clock.advance(days=1, seconds=1)
    ctx = build_services(settings, database, clock, open_store(settings), DisabledMailer())
    assert jobs.prune(ctx)["loginLockouts"] == 2
    assert _attempts(client, account.email, 1) == _attempts(client, unknown, 1) == [
        (401, "invalid_credentials", None)]
    assert LoginLockout.select().count() == 2  # counting again, from one
