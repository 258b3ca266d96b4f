"""`appliance demo` gives a newcomer a working practice, vault and consent link in one step."""

from __future__ import annotations

import re
import subprocess
import sys

from appliance.client.api import Identity, PatientClient, StaffClient
from tests.conftest import ROOT, LiveServer, free_port
from tests.test_cli import clean_env


def test_demo_output_drives_the_whole_flow(tmp_path):
    port = free_port()
    env = clean_env(tmp_path, APPLIANCE_SERVER_BIND=f"127.0.0.1:{port}",
                    APPLIANCE_APP_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    result = subprocess.run([sys.executable, "-m", "appliance", "demo"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    values = dict(re.findall(r"^  (staff login|password|vault password|consent token)\s+(\S+)",
                             result.stdout, re.M))
    consent_id = re.search(r'read_answers\("([0-9a-f-]{36})"\)', result.stdout)[1]
    server = LiveServer(env, port, tmp_path / "serve.log")
    try:
        PatientClient(server.url).submit(values["consent token"],
                                         Identity("Erika", "Mustermann", "1985-04-12"),
                                         {"allergies": "keine"}, b"signature")
        staff = StaffClient(server.url)
        staff.login(values["staff login"], values["password"])
        staff.unlock_vault(values["vault password"])
        assert staff.read_answers(consent_id)["answers"] == {"allergies": "keine"}
    finally:
        server.stop()


def test_demo_refuses_production(tmp_path):
    env = clean_env(tmp_path, APPLIANCE_APP_MODE="production",
                    APPLIANCE_APP_PUBLIC_BASE_URL="https://x.example",
                    APPLIANCE_AUTH_JWT_SECRET="j" * 40)
    result = subprocess.run([sys.executable, "-m", "appliance", "demo"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "production" in result.stderr
