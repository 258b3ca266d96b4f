"""The suite under libfaketime (`make test-dates`): whether it is on, and what a child process
needs to share the test's clock."""

from __future__ import annotations

import os

import pytest


def under_faketime() -> bool:
    return "faketime" in os.environ.get("LD_PRELOAD", "")


def clock_environment() -> dict[str, str]:
    """The variables that carry libfaketime's shifted clock. A child started with a cleared
    environment would judge times by the real clock while the test judges them by the shifted
    one (a file backdated a minute by the test lies a year in the child's future)."""
    return {name: value for name, value in os.environ.items()
            if name in ("LD_PRELOAD", "TZ") or name.startswith("FAKETIME")}


def skip_where_s3_cannot_follow() -> None:
    """Skips the calling test (or fixture) under faketime: SeaweedFS's static Go binaries keep the
    real clock, and S3 signatures refuse more than 15 minutes of skew."""
    if under_faketime():
        pytest.skip("under faketime: SeaweedFS is a static Go binary whose clock libfaketime cannot"
                    " shift, and S3 signatures refuse more than 15 minutes of skew")
