"""Password hashing with Argon2id (libsodium through PyNaCl) and the password policy."""

from __future__ import annotations

import functools

import nacl.exceptions
import nacl.pwhash

MIN_LENGTH, MAX_LENGTH = 10, 256
_OPS = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
_MEM = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE


@functools.cache
def _dummy() -> bytes:
    """Verified against when an e-mail is unknown, so that both cases cost the same work.
    Made on first use, not at import: every worker and CLI call would pay an Argon2 hash."""
    return nacl.pwhash.argon2id.str(b"appliance-dummy-password", opslimit=_OPS, memlimit=_MEM)


def policy_problem(password: str, email: str) -> str | None:
    """Why a new password is not acceptable, or None."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"must be {MIN_LENGTH} to {MAX_LENGTH} characters long"
    if password.strip().casefold() == email.strip().casefold():
        return "must not be the e-mail address"
    return None


def hash_password(password: str) -> str:
    return nacl.pwhash.argon2id.str(password.encode(), opslimit=_OPS, memlimit=_MEM).decode()


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not an account (or a password) exists."""
    try:
        return nacl.pwhash.verify((stored or "").encode() or _dummy(), password.encode()) and bool(
            stored
        )
    except nacl.exceptions.InvalidkeyError:
        return False
