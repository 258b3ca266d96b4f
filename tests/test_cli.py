"""The operator's commands, run as clinic IT would run them."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def clean_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env["APPLIANCE_CONFIG"] = str(ROOT / "config" / "appliance.dev.toml")
    env["APPLIANCE_APP_DATA_DIR"] = str(tmp_path / "var")
    env.update(extra)
    return env


@pytest.mark.parametrize("engine_name", ["postgresql", "sqlite"])
def test_migrate_twice_on_both_engines(tmp_path, engine_name, request):
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    if engine_name == "postgresql":
        server = request.getfixturevalue("pg_server")
        name = f"appliance_cli_{secrets.token_hex(4)}"
        database_url = server.create_database(name)
        request.addfinalizer(lambda: server.drop_database(name))
    env = clean_env(tmp_path, APPLIANCE_DATABASE_URL=database_url)
    first = run("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_" in first.stdout
    second = run("migrate", env=env)
    assert second.returncode == 0 and "up to date" in second.stdout


def test_check_config_names_the_bad_key(tmp_path):
    ok = run("check-config", env=clean_env(tmp_path))
    assert ok.returncode == 0 and "configuration is valid" in ok.stdout
    bad = run("check-config", env=clean_env(tmp_path, APPLIANCE_SERVER_WORKERS="lots",
                                            APPLIANCE_APP_MODE="production"))
    assert bad.returncode == 2
    assert "server.workers: must be an integer" in bad.stderr
    prod = run("check-config", env=clean_env(tmp_path, APPLIANCE_APP_MODE="production"))
    assert prod.returncode == 2
    assert "auth.jwt_secret" in prod.stderr and "app.public_base_url" in prod.stderr
