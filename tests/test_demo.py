"""`appliance demo` gives a newcomer a working practice, vault and consent link in one step."""

from __future__ import annotations

import re
import subprocess
import sys

from appliance.client import answers
from appliance.client.api import Identity, PatientClient, StaffClient
from tests.conftest import ROOT, LiveServer
from tests.support.ports import free_port
from tests.test_cli import clean_env


def test_demo_output_drives_the_whole_flow(tmp_path):
    port = free_port()
    env = clean_env(tmp_path, APPLIANCE_SERVER_BIND=f"127.0.0.1:{port}",
                    APPLIANCE_APP_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    result = subprocess.run([sys.executable, "-m", "appliance", "demo"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names = "staff login|password|vault password|consent link|consent token|consent form"
    values = dict(re.findall(rf"^  ({names})\s+(\S+(?: v\d+)?)", result.stdout, re.M))
    assert values["consent form"] == "botox v1"
    consent_id = re.search(r'read_consent\("([0-9a-f-]{36})"\)', result.stdout)[1]
    link = rf"http://127\.0\.0\.1:{port}/consent/{values['consent token']}#k=[A-Za-z0-9_-]{{22}}"
    assert re.fullmatch(link, values["consent link"])
    server = LiveServer(env, port, tmp_path / "serve.log")
    try:
        patient = PatientClient(server.url)
        shown = patient.open(values["consent token"], "en")["form"]
        filled = answers.sample_answers(shown)
        patient.submit(values["consent link"], Identity("Erika", "Mustermann", "1985-04-12"), filled,
                       answers.png_signature(answers.sample_png()), locale="en")
        staff = StaffClient(server.url)
        staff.login(values["staff login"], values["password"])
        staff.unlock_vault(values["vault password"])
        assert staff.read_consent(consent_id)["answers"] == filled["answers"]
        stored = staff.call("GET", f"/api/consent/practice/{consent_id}")
        assert (stored["formId"], stored["formVersion"], stored["formLocale"], stored["formHash"]) == (
            "botox", 1, "en", shown["formHash"])
    finally:
        server.stop()


def test_demo_refuses_production(tmp_path):
    env = clean_env(tmp_path, APPLIANCE_APP_MODE="production",
                    APPLIANCE_APP_PUBLIC_BASE_URL="https://x.example",
                    APPLIANCE_AUTH_JWT_SECRET="j" * 40)
    result = subprocess.run([sys.executable, "-m", "appliance", "demo"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "production" in result.stderr
