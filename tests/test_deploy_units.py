"""The systemd units: what `systemd/` ships is what the roles render with their defaults, every
unit passes `systemd-analyze verify` without a word, and the long-running services are
hardened (`systemd-analyze security` rates the API and the scheduler at most 2.5)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.consent import app_client, team
from tests.support.deploy import SYSTEMD, UNITS, exposure, render_template, sandboxed, verify_units
from tests.support.gdt import exchange_dir, pvs_file, pvs_request, set_gdt

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed")
OBJECT_STORES = {"minio.service": "minio", "seaweedfs.service": "seaweedfs"}


def test_systemd_holds_the_role_templates_rendered_with_their_defaults():
    shipped = {path.name for path in SYSTEMD.glob("appliance-*")}
    appliance_units = {name for role, _, name in UNITS if role != "object_store"}
    assert shipped == appliance_units
    for role, template, name in UNITS:
        if role != "object_store":
            assert (SYSTEMD / name).read_text() == render_template(role, template), name


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Every unit rendered with its program paths on this machine (verify checks that they
    exist): the appliance of this venv, SeaweedFS's `weed` of this venv, a stand-in MinIO."""
    folder = tmp_path_factory.mktemp("units")
    programs = folder / "programs"
    (programs / "minio").mkdir(parents=True)
    fake_minio = programs / "minio" / "minio"
    fake_minio.write_text("#!/bin/sh\n")
    fake_minio.chmod(0o755)
    (programs / "seaweedfs").mkdir()
    os.symlink(sys.prefix, programs / "seaweedfs" / "venv")
    paths = {"appliance_venv_dir": sys.prefix, "backup_appliance_venv_dir": sys.prefix}
    units = {}
    for role, template, name in UNITS:
        engine = OBJECT_STORES.get(name)
        extra = {"object_store_engine": engine,
                 "object_store_install_dir": str(programs / engine)} if engine else {}
        units[name] = folder / name
        units[name].write_text(render_template(role, template, **paths, **extra))
    return units


def test_every_unit_passes_systemd_analyze_verify(rendered):
    assert verify_units(list(rendered.values())) == ""


def test_verify_speaks_up_about_a_broken_unit(rendered, tmp_path):
    """The check above means something: a typo in a directive is reported."""
    broken = tmp_path / "appliance-api.service"
    broken.write_text(rendered["appliance-api.service"].read_text().replace("ProtectHome=", "ProtectHomes="))
    assert "ProtectHomes" in verify_units([broken])


@pytest.mark.parametrize("name", ["appliance-api.service", "appliance-scheduler.service"])
def test_the_api_and_the_scheduler_are_rated_at_most_2_5(rendered, name):
    assert exposure(rendered[name]) <= 2.5


@pytest.mark.parametrize("name", ["appliance-backup.service", "minio.service", "seaweedfs.service"])
def test_the_backup_and_the_object_stores_are_hardened_as_well(rendered, name):
    assert exposure(rendered[name]) <= 2.5


def test_an_ip_allow_list_limits_the_services(tmp_path):
    unit = tmp_path / "appliance-api.service"
    unit.write_text(render_template("appliance", "appliance-api.service.j2", appliance_venv_dir=sys.prefix,
                                    appliance_ip_address_allow=["localhost", "192.168.10.0/24"]))
    text = unit.read_text()
    assert "IPAddressDeny=any\nIPAddressAllow=localhost 192.168.10.0/24\n" in text
    assert verify_units([unit]) == ""
    assert exposure(unit) < 1.2


CAN_SANDBOX = os.geteuid() == 0 and shutil.which("unshare") is not None


@pytest.mark.skipif(not CAN_SANDBOX, reason="needs root and unshare for the unit's file system rules")
def test_the_import_reads_and_writes_the_exchange_root_under_the_units_rules(
        tmp_path, tmp_path_factory, app_database_url, database, clock):
    """ProtectSystem=strict leaves only ReadWritePaths writable: the configured GDT exchange
    root must be among them, and what the import creates there keeps the share's modes
    under the unit's UMask=0077 (issue 21.1, 21.2)."""
    root = tmp_path_factory.mktemp("gdt-share")  # outside the data directory
    directory = exchange_dir(root)
    client = app_client(tmp_path, app_database_url, database, clock, gdt={"exchange_root": str(root)})
    practice = team(client)
    assert set_gdt(client, practice, exchangeDirectory=str(directory)).status_code == 200
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "APPLIANCE_CONFIG": str(ROOT / "config" / "appliance.dev.toml"),
           "APPLIANCE_APP_DATA_DIR": str(tmp_path / "var"), "APPLIANCE_DATABASE_URL": app_database_url,
           "APPLIANCE_GDT_EXCHANGE_ROOT": str(root)}
    command = [sys.executable, "-m", "appliance", "gdt", "import"]

    def unit(**variables) -> Path:
        path = tmp_path / "appliance-scheduler.service"
        path.write_text(render_template("appliance", "appliance-scheduler.service.j2",
                                        appliance_venv_dir=sys.prefix, appliance_data_dir=str(tmp_path),
                                        **variables))
        return path

    pvs_file(directory, pvs_request("EW-BOTOX"), "EINWPVS.001")
    pvs_file(directory, pvs_request(), "EINWPVS.002")  # no 8410: rejected
    refused = sandboxed(unit(), command, env, ROOT)  # as the units were: the root not writable
    assert refused.returncode == 1 and "may not read and write it" in refused.stdout, refused.stderr

    done = sandboxed(unit(appliance_gdt_exchange_root=str(root)), command, env, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 imported" in done.stdout and "1 rejected" in done.stdout
    for folder in ("processed", "rejected"):
        assert (directory / folder).stat().st_mode & 0o7777 == 0o2770, folder
    [reason] = (directory / "rejected").glob("*.reason.txt")
    assert reason.stat().st_mode & 0o777 == 0o660
