"""Settings come from a TOML file plus APPLIANCE_<SECTION>_<KEY>, validated with named keys."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from appliance import settings as s
from tests.conftest import ROOT

STRONG = "k" * 40


def build(tmp_path, data=None, env=None):
    data = data or {}
    data.setdefault("app", {}).setdefault("data_dir", str(tmp_path))
    return s.build(data, env or {})


def test_environment_overrides_the_file_with_types(tmp_path):
    cfg = build(tmp_path, {"server": {"workers": 4}}, {
        "APPLIANCE_SERVER_WORKERS": "3",
        "APPLIANCE_SERVER_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/24",
        "APPLIANCE_STORAGE_S3_SECURE": "false",
        "APPLIANCE_CONFIG": "/ignored/here",
        "APPLIANCE_TEST_DATABASE_URL": "not a setting",
    })
    assert cfg.server.workers == 3
    assert cfg.server.trusted_proxies == ["10.0.0.1", "192.168.0.0/24"]
    assert cfg.storage.s3_secure is False


def test_problems_name_the_key(tmp_path):
    with pytest.raises(s.ConfigError) as caught:
        build(tmp_path, {"server": {"workers": "many", "bogus": 1}, "nope": {}},
              {"APPLIANCE_AUTH_TYPO": "x", "APPLIANCE_DATABASE_POOL_SIZE": "ten"})
    text = str(caught.value)
    for expected in ("server.workers: must be an integer", "server.bogus: unknown key",
                     "nope: unknown section", "auth.typo: unknown key",
                     "database.pool_size: must be an integer"):
        assert expected in text


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"app": {"timezone": "Mars/Olympus"}}, "app.timezone"),
        ({"app": {"timezone": "localtime"}}, "app.timezone"),
        ({"server": {"bind": "nowhere"}}, "server.bind"),
        ({"server": {"keepalive": 0}}, "server.keepalive"),
        ({"server": {"public_entry_header": "X Entry:"}}, "server.public_entry_header"),
        ({"server": {"trusted_proxies": ["10.0.0.0/33"]}}, "server.trusted_proxies"),
        ({"database": {"url": "mysql://x"}}, "database.url"),
        ({"database": {"backup_url": "postgresql://replica/appliance"}}, "database.backup_url"),
        ({"database": {"url": "postgresql://db/a", "backup_url": "sqlite:///x.db"}}, "database.backup_url"),
        ({"database": {"backup_max_lag": 0}}, "database.backup_max_lag"),
        ({"storage": {"backend": "ftp"}}, "storage.backend"),
        ({"smtp": {"host": "mail.local"}}, "smtp.sender"),
        ({"auth": {"sync_secret": "short"}}, "auth.sync_secret"),
        ({"gdt": {"exchange_root": "relative/gdt"}}, "gdt.exchange_root"),
        # A consent submit takes up to about 700 KB (docs/crypto.md): the limit cannot be lower.
        ({"server": {"max_body_bytes": 1024 * 1024 - 1}}, "server.max_body_bytes"),
        ({"server": {"max_body_bytes": 64 * 1024 * 1024 + 1}}, "server.max_body_bytes"),
        ({"gdt": {"exchange_root": "/nonexistent/gdt"}}, "/nonexistent/gdt does not exist"),
        ({"database": {"connect_timeout": 0}}, "database.connect_timeout"),
        ({"app": {"impressum_url": "http://praxis.de/impressum"}}, "app.impressum_url"),
        ({"app": {"privacy_url": "https://praxis.de/\"><script>"}}, "app.privacy_url"),
    ],
)
def test_invalid_values_are_refused(tmp_path, data, problem):
    with pytest.raises(s.ConfigError, match=problem):
        build(tmp_path, data)


@pytest.mark.parametrize("name", ["APPLIANCE_DATABSE_URL", "APPLIANCE_SMPT_HOST", "APPLIANCE_LOGLEVEL"])
def test_a_misspelt_section_in_the_environment_is_refused_by_its_name(tmp_path, name):
    """A typo in the section must not leave the setting at its default without a word."""
    with pytest.raises(s.ConfigError) as caught:
        build(tmp_path, env={name: "postgresql://appliance@db/appliance"})
    assert f"{name}: unknown environment variable" in str(caught.value)


def test_an_exchange_root_that_is_a_file_is_refused(tmp_path):
    afile = tmp_path / "gdt"
    afile.write_text("")
    with pytest.raises(s.ConfigError, match="is not a directory"):
        build(tmp_path, {"gdt": {"exchange_root": str(afile)}})
    (tmp_path / "share").mkdir()
    assert build(tmp_path, {"gdt": {"exchange_root": str(tmp_path / "share")}}).gdt.exchange_root


def test_production_refuses_missing_secrets(tmp_path):
    with pytest.raises(s.ConfigError) as caught:
        build(tmp_path, {"app": {"mode": "production", "public_base_url": "https://x.de"},
                         "storage": {"backend": "s3", "s3_endpoint": "127.0.0.1:9000"}})
    text = str(caught.value)
    assert "auth.jwt_secret" in text and "storage.s3_access_key" in text
    assert "storage.s3_secret_key" in text
    assert not (tmp_path / "dev-secrets.json").exists()
    with pytest.raises(s.ConfigError, match="auth.sync_secret: must differ"):
        build(tmp_path, {"app": {"mode": "production", "public_base_url": "https://x.de"},
                         "auth": {"jwt_secret": STRONG, "sync_secret": STRONG}})


def test_development_generates_and_keeps_a_secret(tmp_path):
    first = build(tmp_path)
    second = build(tmp_path)
    assert len(first.auth.jwt_secret) >= s.MIN_SECRET_LENGTH
    assert first.auth.jwt_secret == second.auth.jwt_secret
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def test_load_reads_the_named_file_and_refuses_a_missing_one(tmp_path):
    path = tmp_path / "appliance.toml"
    path.write_text(f'[app]\ndata_dir = "{tmp_path}"\n[server]\nworkers = 5\n')
    assert s.load({"APPLIANCE_CONFIG": str(path)}).server.workers == 5
    with pytest.raises(s.ConfigError, match="does not exist"):
        s.load({"APPLIANCE_CONFIG": str(tmp_path / "missing.toml")})
    path.write_text("[app\n")
    with pytest.raises(s.ConfigError, match="not valid TOML"):
        s.load({"APPLIANCE_CONFIG": str(path)})


def test_example_config_documents_every_key_and_validates(tmp_path):
    example = tomllib.loads((ROOT / "config" / "appliance.example.toml").read_text())
    declared = {name: {f.name for f in dataclasses.fields(kind)} for name, kind in s.SECTIONS.items()}
    assert {name: set(values) for name, values in example.items()} == declared
    example["app"]["data_dir"] = str(tmp_path)
    cfg = s.build(example, {"APPLIANCE_AUTH_JWT_SECRET": STRONG})
    assert cfg.production


def test_dev_config_needs_no_secrets(tmp_path):
    dev = tomllib.loads((ROOT / "config" / "appliance.dev.toml").read_text())
    dev["app"]["data_dir"] = str(tmp_path)
    cfg = s.build(dev, {})
    assert not cfg.production and cfg.database_url.startswith("sqlite:///")
