"""GDT with real practice software: files named by sequence number are read, every file the
import does not read is reported, requests without 8410 are answered by the practice's own
mapping, three common quirks are tolerated by default (and logged) while everything else is
rejected in words clinic IT understands, and `appliance jobs` counts what each run did."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from appliance.gdt.exchange import ImportResult
from appliance.scheduler import jobs
from tests.conftest import ROOT
from tests.support.api import assert_error, call, problem_fields
from tests.support.consent import consent_rows
from tests.support.gdt import (
    exchange_fixtures,
    import_fixtures,
    pvs_file,
    pvs_request,
    set_gdt,
    visible_files,
)

DATA = Path(__file__).parent / "data" / "gdt"
exchange_root, settings = exchange_fixtures()
app_database, app, services, directory, practice = import_fixtures()


def from_practice_software(directory: Path, fixture: str, name: str) -> Path:
    return pvs_file(directory, (DATA / fixture).read_bytes(), name)


def run(services, practice) -> ImportResult:
    return services.gdt.import_all()[uuid.UUID(practice.practice_id)]


def reason_of(directory: Path, name: str) -> str:
    [reason] = (directory / "rejected").glob(f"*_{name}.reason.txt")
    return reason.read_text(encoding="utf-8")


# --- 9: sequence numbers, and nothing skipped silently ------------------------------------------


def test_files_named_by_sequence_number_are_read(services, practice, directory):
    for number in (1, 2, 999):
        pvs_file(directory, pvs_request("EW-BOTOX", first_name=f"Anna{number}"), f"EINWPVS.{number:03d}")
    assert run(services, practice) == ImportResult(imported=3, rejected=0)
    assert visible_files(directory) == set() and len(consent_rows()) == 3


def test_every_file_the_import_does_not_read_is_reported_once(services, practice, directory, tmp_path,
                                                             caplog):
    pvs_file(directory, pvs_request("EW-BOTOX"), "EINWPVS.txt")        # ours, not a GDT suffix
    pvs_file(directory, pvs_request("EW-BOTOX"), "EINWPVS.01")         # two digits: no sequence number
    pvs_file(directory, pvs_request("EW-BOTOX"), "EKG1PVS.gdt")        # for another device
    pvs_file(directory, pvs_request("EW-BOTOX"), "Befund Müller.pdf")  # a name that may name someone
    pvs_file(directory, pvs_request("EW-BOTOX"), "PVSEINW.gdt")        # ours, waiting for the PVS
    secret = tmp_path / "secret.gdt"
    secret.write_bytes(pvs_request("EW-BOTOX"))
    (directory / "EINWLINK.gdt").symlink_to(secret)
    caplog.set_level(logging.INFO, logger="appliance.gdt")

    first = run(services, practice)
    assert (first.imported, first.rejected) == (0, 0)
    reported = {item.name: item.reason for item in first.skipped}
    assert set(reported) == {"EINWPVS.txt", "EINWPVS.01", "EKG1PVS.gdt", "(a name that is not shown)",
                             "EINWLINK.gdt"}
    assert "symbolic link" in reported["EINWLINK.gdt"]
    assert "<id>*.gdt or <id>*.001" in reported["EINWPVS.txt"]
    warnings = [r for r in caplog.records if r.getMessage() == "GDT import skips a file"]
    assert sorted(r.file for r in warnings) == sorted(reported)
    assert "Müller" not in caplog.text

    caplog.clear()
    assert len(run(services, practice).skipped) == 5  # still there, still counted ...
    assert not [r for r in caplog.records if r.getMessage() == "GDT import skips a file"]  # ... logged once
    assert consent_rows() == []


# --- 10: requests without 8410 ---------------------------------------------------------------


def test_a_turbomed_request_without_8402_and_8410_needs_the_default_type(client, services, practice,
                                                                          directory):
    from_practice_software(directory, "turbomed-6302.gdt", "EINWTURB.gdt")
    assert run(services, practice) == ImportResult(imported=0, rejected=1)
    assert "set a default consent type in the practice's GDT settings" in reason_of(directory, "EINWTURB.gdt")

    assert set_gdt(client, practice, defaultConsentType="FILLER").status_code == 200
    from_practice_software(directory, "turbomed-6302.gdt", "EINWTURB.gdt")
    assert run(services, practice) == ImportResult(imported=1, rejected=0)
    [consent] = consent_rows()
    assert (consent.type, consent.status) == ("FILLER", "PENDING")


def test_the_practice_maps_its_own_procedure_and_test_values(client, services, practice, directory):
    mapping = [{"procedure": "AESTH", "test": "BTX-AUFKL", "consentType": "BOTOX"},
               {"test": "LASER-1", "consentType": "LASER"},
               {"procedure": "PEEL", "consentType": "CHEMICAL_PEEL"}]
    result = set_gdt(client, practice, requestMapping=mapping, defaultConsentType=None)
    assert result.status_code == 200, result.text
    assert result.json["requestMapping"] == mapping
    call(client, "PATCH", "/api/settings", token=practice.token(),
         json={"enabledConsentTypes": ["BOTOX", "LASER", "CHEMICAL_PEEL"]})
    from_practice_software(directory, "qpcnet-6302-lf-ctrlz.001", "EINWQPC.001")  # AESTH / BTX-AUFKL
    pvs_file(directory, pvs_request("laser-1"), "EINWPVS.002")  # a test under any procedure, any case
    peel = pvs_request(first_name="Petra").replace(b"0138402EINW", b"0138402PEEL")  # procedure, no test
    pvs_file(directory, peel, "EINWPVS.003")
    pvs_file(directory, pvs_request("BTX-AUFKL"), "EINWPVS.004")  # the test only under AESTH
    result = run(services, practice)
    assert (result.imported, result.rejected) == (3, 1)
    assert sorted(c.type for c in consent_rows()) == ["BOTOX", "CHEMICAL_PEEL", "LASER"]
    assert "8410 'BTX-AUFKL' is not a consent test id" in reason_of(directory, "EINWPVS.004")


@pytest.mark.parametrize(("mapping", "field"), [
    ([{"consentType": "BOTOX"}], "requestMapping.0"),
    ([{"test": "A", "consentType": "BOTOX"}, {"test": " a ", "consentType": "LASER"}], "requestMapping.1"),
    ([{"test": "A\r\nB", "consentType": "BOTOX"}], "requestMapping.0.test"),
    ([{"test": "A", "consentType": "TATTOO"}], "requestMapping.0.consentType"),
])
def test_a_mapping_that_cannot_work_is_refused(client, practice, mapping, field):
    result = set_gdt(client, practice, requestMapping=mapping)
    assert_error(result, 400, "validation_failed")
    assert field in problem_fields(result)


# --- 11: tolerated quirks, and words IT understands -------------------------------------------


def test_lf_line_ends_a_ctrl_z_and_a_wrong_8100_are_tolerated_by_default_and_logged(
        client, services, practice, directory, caplog):
    set_gdt(client, practice, requestMapping=[{"procedure": "AESTH", "test": "BTX-AUFKL",
                                               "consentType": "BOTOX"}])
    from_practice_software(directory, "qpcnet-6302-lf-ctrlz.001", "EINWQPC.001")
    from_practice_software(directory, "spec-6302-wrong-8100.gdt", "EINWSPEC.gdt")
    caplog.set_level(logging.INFO, logger="appliance.gdt")
    assert run(services, practice) == ImportResult(imported=2, rejected=0, tolerated=2)
    assert sorted(c.type for c in consent_rows()) == ["BOTOX", "FILLER"]
    tolerated = {r.file: r.tolerated for r in caplog.records
                 if r.getMessage() == "GDT import tolerated a quirk"}
    assert tolerated == {
        "EINWQPC.001": ["a Ctrl-Z (0x1A) after the last line", "LF line ends instead of CR LF"],
        "EINWSPEC.gdt": ["8100 says 165 bytes but the record has 183"],
    }


@pytest.mark.parametrize(("fixture", "tolerate", "message"), [
    ("qpcnet-6302-lf-ctrlz.001", ["LF_LINE_ENDS"],
     "line 14: the file ends with Ctrl-Z (0x1A, a DOS end-of-file mark) after its last line"),
    ("qpcnet-6302-lf-ctrlz.001", ["TRAILING_CTRL_Z"], "line 1: LF line ends, GDT needs CR LF"),
    ("spec-6302-wrong-8100.gdt", [], "line 2: 8100 says 165 bytes but the record has 183"),
    ("windows-1252-6302.002", ["LF_LINE_ENDS", "TRAILING_CTRL_Z", "WRONG_RECORD_LENGTH"],
     "line 8: byte 0x92: not ISO 8859-1, the file looks like Windows-1252"),
])
def test_strict_where_the_practice_says_so_and_for_everything_else(client, services, practice, directory,
                                                                   fixture, tolerate, message):
    set_gdt(client, practice, tolerate=tolerate, defaultConsentType="BOTOX",
            requestMapping=[{"test": "BTX-AUFKL", "consentType": "BOTOX"}])
    from_practice_software(directory, fixture, "EINWPVS.gdt")
    assert run(services, practice) == ImportResult(imported=0, rejected=1)
    assert message in reason_of(directory, "EINWPVS.gdt")
    assert consent_rows() == []


# --- 12: what a run did ---------------------------------------------------------------------


def test_the_jobs_table_counts_imported_rejected_and_tolerated_files(
        client, services, practice, directory, tmp_path, app_database_url, exchange_root):
    from_practice_software(directory, "spec-6302-wrong-8100.gdt", "EINWSPEC.gdt")
    from_practice_software(directory, "windows-1252-6302.002", "EINWWIN.002")
    from_practice_software(directory, "turbomed-6302.gdt", "EINWTURB.gdt")
    pvs_file(directory, pvs_request("EW-BOTOX"), "EINWPVS.txt")
    counts = jobs.gdt_import(services)
    assert counts == {"practices": 1, "problems": 0, "imported": 1, "rejected": 2, "tolerated": 1,
                      "skipped": 1}
    from appliance.scheduler.runner import JobRunner

    JobRunner(services.database, services.clock, "test").run("gdt-import", "2026-12-01T10:00",
                                                             lambda: counts)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update(APPLIANCE_CONFIG=str(ROOT / "config" / "appliance.dev.toml"),
               APPLIANCE_APP_DATA_DIR=str(tmp_path / "var"), APPLIANCE_DATABASE_URL=app_database_url,
               APPLIANCE_GDT_EXCHANGE_ROOT=str(exchange_root))
    shown = subprocess.run([sys.executable, "-m", "appliance", "jobs"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    header, row = shown.stdout.splitlines()[:2]
    assert header.split() == ["started", "(UTC)", "job", "run", "outcome", "attempts", "counts"]
    assert row.split()[1:5] == ["gdt-import", "2026-12-01T10:00", "ok", "1"]
    assert row.endswith("imported=1 practices=1 problems=0 rejected=2 skipped=1 tolerated=1")
    assert header.index("job") == row.index("gdt-import") and header.index("outcome") == row.index("ok")
    assert "{" not in shown.stdout
