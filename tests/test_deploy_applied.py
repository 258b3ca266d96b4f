"""The roles applied to this machine: postgresql (on the machine's own cluster), object_store
(SeaweedFS), appliance, reverse_proxy and backup, through site.yml with a local connection.

A second run changes nothing; nginx accepts the rendered site; the rendered units pass the unit
checks. systemd does not run here, so the roles skip starting services (and say so); the test
starts SeaweedFS and the API from their rendered units (user, environment, NoNewPrivileges and
MemoryDenyWriteExecute applied) and nginx itself. Then the appliance answers through the LAN
entry, the public entry serves a consent link and refuses the staff API, and `appliance backup`
works with the deployed configuration.

It installs Debian packages (nginx) and changes the machine's PostgreSQL configuration for the
time it runs, so it is skipped with APPLIANCE_TEST_SKIP_DEPLOY=1, except in CI (CI=true), where
it always runs. Everything it made is removed afterwards.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import ssl
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from appliance.client import answers
from appliance.client.api import ApiError, Identity, PatientClient, StaffClient
from appliance.http.assets import PAGE_CSP
from tests.support.browser import DESKTOP
from tests.support.consent_page import Flow, plan_for
from tests.support.deploy import (
    ANSIBLE,
    MachineDeployment,
    build_wheel,
    exposure,
    recap,
    render_template,
    run,
    verify_units,
)
from tests.support.faketime import skip_where_s3_cannot_follow

IN_CI = os.environ.get("CI", "").lower() == "true"
SKIPPED = os.environ.get("APPLIANCE_TEST_SKIP_DEPLOY", "").lower() in ("1", "true", "yes")
CAN_RUN = os.geteuid() == 0 and all(shutil.which(tool) for tool in ("apt-get", "pg_lsclusters"))

pytestmark = pytest.mark.skipif(
    not IN_CI and (SKIPPED or not CAN_RUN),
    reason="APPLIANCE_TEST_SKIP_DEPLOY is set, or this is no Debian machine run as root with PostgreSQL",
)
UNITS = ["appliance-api.service", "appliance-scheduler.service", "appliance-backup.service",
         "appliance-backup.timer", "seaweedfs.service"]


@pytest.fixture(scope="module")
def deployed():
    prefix = Path(tempfile.mkdtemp(prefix="appliance-deploy-"))
    prefix.chmod(0o755)  # the service users reach their directories below it
    deployment = MachineDeployment(prefix)
    try:
        wheel = build_wheel(prefix / "dist")
        first = deployment.playbook(wheel)
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
        deployment.first_run = first.stdout
        second = deployment.playbook(wheel)
        assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
        deployment.second_run = second.stdout
        yield deployment
    finally:
        deployment.cleanup()


@pytest.fixture(scope="module")
def serving(deployed):
    """SeaweedFS and the API started from their units, nginx serving the site."""
    deployed.start("seaweedfs.service")
    # What the role does once the store runs under systemd: the bucket, made with the root keys
    # (the appliance's own keys may not create buckets).
    made = run([sys.executable, str(ANSIBLE / "roles" / "object_store" / "files" / "s3_bucket.py"),
                "--endpoint", f"127.0.0.1:{deployed.s3_port}", "--bucket", "appliance", "--wait", "60"],
               env={"PATH": "/usr/bin:/bin", "S3_ACCESS_KEY": deployed.secret("s3_access_key"),
                    "S3_SECRET_KEY": deployed.secret("s3_secret_key")})
    assert made.returncode == 0, made.stderr + deployed.log("seaweedfs.service")
    deployed.start("appliance-api.service")
    deployed.serve_nginx()
    deadline = time.monotonic() + 90
    answer: object = None
    while time.monotonic() < deadline:
        try:
            answer = lan(deployed).get(lan_url(deployed, "/api/health/ready"), timeout=5)
            if answer.status_code == 200:
                return deployed
            answer = answer.text
        except requests.RequestException as exc:
            answer = exc
        time.sleep(0.5)
    pytest.fail(f"not ready through the LAN entry: {answer}\n"
                f"api: {deployed.log('appliance-api.service')}\nweed: {deployed.log('seaweedfs.service')}")


def lan(deployment: MachineDeployment) -> requests.Session:
    """A session that trusts the deployment's self-signed certificate (and no CA bundle or
    proxy from the environment, which would win over `verify`)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(deployment.certificate)
    return session


def lan_url(deployment: MachineDeployment, path: str = "") -> str:
    return f"https://127.0.0.1:{deployment.lan_port}{path}"


def public_url(deployment: MachineDeployment, path: str = "") -> str:
    return f"https://127.0.0.1:{deployment.public_port}{path}"


def test_a_second_run_changes_nothing(deployed):
    assert recap(deployed.first_run)["changed"] > 0
    counts = recap(deployed.second_run)
    assert counts["changed"] == 0 and counts["failed"] == 0, deployed.second_run[-6000:]


def test_the_roles_say_that_they_did_not_start_services(deployed):
    said = [line for line in deployed.first_run.splitlines() if "systemd does not run here" in line]
    for service in ("start PostgreSQL", "seaweedfs.service", "appliance-api.service", "reloaded nginx",
                    "appliance-backup.timer"):
        assert any(service in line for line in said), service


def test_nginx_accepts_the_rendered_configuration(deployed):
    result = run(["nginx", "-t"])
    assert result.returncode == 0, result.stderr
    site = Path("/etc/nginx/sites-enabled") / f"{deployed.name}.conf"
    assert "set $appliance_entry public;" in site.read_text()


def test_the_rendered_units_pass_the_unit_checks(deployed):
    paths = [deployed.unit(name) for name in UNITS]
    assert verify_units(paths) == ""
    for name in ("appliance-api.service", "appliance-scheduler.service"):
        assert exposure(deployed.unit(name)) <= 2.5
    # The test's rendering of the templates is Ansible's (test_deploy_units relies on it).
    role_vars = {k: v for k, v in deployed.variables.items() if k.startswith("appliance_")}
    assert deployed.unit("appliance-api.service").read_text() == render_template(
        "appliance", "appliance-api.service.j2", **role_vars)


def test_secrets_stay_on_the_server_for_root_and_the_service(deployed):
    secrets_dir = deployed.etc / "appliance" / "secrets"
    assert secrets_dir.stat().st_mode & 0o777 == 0o700
    names = {path.name for path in secrets_dir.iterdir()}
    assert names == {"jwt_secret", "postgresql_owner_password", "postgresql_app_password",
                     "s3_access_key", "s3_secret_key", "s3_app_access_key", "s3_app_secret_key"}
    config = deployed.config
    assert config.stat().st_mode & 0o777 == 0o640
    assert deployed.secret("jwt_secret") in config.read_text()
    # The appliance gets its own S3 keys, limited to its bucket; the store's root keys stay with root.
    assert deployed.secret("s3_app_secret_key") in config.read_text()
    assert deployed.secret("s3_secret_key") not in config.read_text()
    inventory = (deployed.prefix / "inventory.json").read_text()
    assert not any(deployed.secret(name) in inventory for name in names)


def test_the_appliance_answers_through_the_lan_entry(serving):
    answer = lan(serving).get(lan_url(serving, "/api/health/ready"), timeout=10)
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"database": "ok", "objectStore": "ok"}
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_lan_entry_admits_only_the_staff_networks(serving):
    context = ssl.create_default_context(cafile=str(serving.certificate))
    connection = http.client.HTTPSConnection("127.0.0.1", serving.lan_port, context=context,
                                             source_address=("127.0.0.2", 0), timeout=10)
    try:
        connection.request("GET", "/api/health")
        assert connection.getresponse().status == 403
    finally:
        connection.close()


def test_patients_reach_a_consent_link_and_staff_nothing_on_the_public_entry(serving):
    staff = StaffClient(lan_url(serving), session=lan(serving))
    staff.register(f"admin-{serving.name}@praxis.example", "Korrekt-Pferd-Batterie-42", "Dr. Anna Berger")
    staff.create_practice("Praxis Berger", "kontakt@praxis.example", "Tresor im Keller, 2026!")
    consent = staff.create_consent("BOTOX")

    patient = PatientClient(public_url(serving), session=lan(serving))
    page = patient.open(consent["token"])
    assert page["status"] == "PENDING"
    filled = answers.sample_answers(page["form"])
    patient.submit(consent["link"], Identity("Erika", "Mustermann", "1985-04-12"), filled,
                   answers.png_signature(answers.sample_png()))
    assert staff.read_consent(consent["id"])["answers"] == filled["answers"]

    public = lan(serving)
    headers = {"Authorization": f"Bearer {staff.token}"}
    for method, path in [("GET", "/api/patients"), ("GET", "/api/auth/me"), ("POST", "/api/auth/login"),
                         ("GET", "/api/consent/practice"), ("GET", "/api/health/ready"),
                         ("PATCH", f"/api/consent/{consent['token']}/revoke")]:
        answer = public.request(method, public_url(serving, path), headers=headers, json={}, timeout=10)
        assert answer.status_code == 404, (method, path, answer.status_code)
    # The appliance itself refuses the staff API to requests marked as public, should the
    # proxy forward one.
    direct = requests.get(f"http://127.0.0.1:{serving.app_port}/api/auth/me", timeout=10,
                          headers={**headers, "X-Appliance-Entry": "public"})
    assert direct.status_code == 404
    with pytest.raises(ApiError) as refused:
        StaffClient(public_url(serving), session=lan(serving)).login(
            f"admin-{serving.name}@praxis.example", "Korrekt-Pferd-Batterie-42")
    assert refused.value.status == 404


def test_the_patient_page_loads_and_submits_through_the_public_entry(serving, browser):
    """The consent page through nginx's public block: the shell and its bundles with the
    appliance's headers (one CSP, nginx adds none), then a patient signs in Chromium and the
    practice reads the answers; staff paths stay 404 there."""
    staff = StaffClient(lan_url(serving), session=lan(serving))
    staff.register(f"page-{serving.name}@praxis.example", "Korrekt-Pferd-Batterie-42", "Dr. Anna Berger")
    staff.create_practice("Praxis Berger", "kontakt@praxis.example", "Tresor im Keller, 2026!")
    consent = staff.create_consent("BOTOX")
    form = PatientClient(public_url(serving), session=lan(serving)).open(consent["token"])["form"]
    link = public_url(serving, "/" + consent["link"].split("://", 1)[1].split("/", 1)[1])

    shell = lan(serving).get(link.split("#")[0], timeout=10)
    assert shell.status_code == 200 and shell.headers["Cache-Control"] == "no-store"
    assert shell.headers["Content-Security-Policy"] == PAGE_CSP  # one policy: nginx adds none
    assert shell.headers["Strict-Transport-Security"].startswith("max-age=")
    script = re.search(r'<script type="module" src="(/assets/[^"]+)"', shell.text)[1]
    bundle = lan(serving).get(public_url(serving, script), timeout=10, headers={"Accept-Encoding": "gzip"})
    assert bundle.status_code == 200 and bundle.headers["Content-Encoding"] == "gzip"
    assert bundle.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # (`/` is the operator's legal page there: test_the_public_root_is_the_operators_legal_page)
    for path in ("/assets/manifest.json", "/api/openapi.json", "/api/practice", "/consent/" + "x" * 10):
        assert lan(serving).get(public_url(serving, path), timeout=10).status_code == 404, path

    page = browser.page(DESKTOP, ignore_https_errors=True)
    page.goto(link)
    flow = Flow(page, "de", form, None)
    # A practice without legal links of its own: the footer links the operator's.
    expect(page.get_by_role("contentinfo").get_by_role("link", name=flow.ui.t("consent.footer.impressum"))
           ).to_have_attribute("href", "https://consent.example.test/impressum")
    patient = {"firstName": "Erika", "lastName": "Mustermann", "dateOfBirth": "1985-04-12"}
    flow.to_review(plan_for(form, patient))
    flow.ui.submit()
    expect(flow.ui.heading()).to_have_text(flow.ui.t("consent.done.title"), timeout=30000)
    staff.unlock_vault("Tresor im Keller, 2026!")
    document = staff.read_consent(consent["id"], form=form)
    assert document["identity"]["lastName"] == "Mustermann"
    assert document["formHash"] == form["formHash"]


def test_the_public_entry_limits_requests_per_client(serving):
    context = ssl.create_default_context(cafile=str(serving.certificate))
    statuses = []
    for _ in range(40):
        connection = http.client.HTTPSConnection("127.0.0.1", serving.public_port, context=context,
                                                 source_address=("127.0.0.3", 0), timeout=10)
        try:
            connection.request("GET", "/api/consent/" + "x" * 43)
            statuses.append(connection.getresponse().status)
        finally:
            connection.close()
    assert 429 in statuses and statuses[0] != 429


def test_backup_and_scheduler_run_with_the_deployed_configuration(serving):
    backup = serving.run_as_user("backup", "--to", serving.variables["backup_dir"], "--keep-days", "14")
    assert backup.returncode == 0, backup.stderr
    (made,) = Path(serving.variables["backup_dir"]).iterdir()
    assert (made / "manifest.json").is_file() and (made / "database.dump").stat().st_size > 0
    jobs = serving.run_as_user("scheduler", "--once")
    assert jobs.returncode == 0, jobs.stderr


def test_the_appliance_keys_cannot_create_buckets_or_reach_others(serving):
    from minio import Minio
    from minio.error import S3Error

    skip_where_s3_cannot_follow()
    endpoint = f"127.0.0.1:{serving.s3_port}"
    app = Minio(endpoint, access_key=serving.secret("s3_app_access_key"),
                secret_key=serving.secret("s3_app_secret_key"), secure=False)
    assert app.bucket_exists("appliance")
    with pytest.raises(S3Error) as refused:
        app.make_bucket("appliance-other")
    assert refused.value.code == "AccessDenied"


def test_the_public_root_is_the_operators_legal_page(serving):
    answer = lan(serving).get(public_url(serving, "/"), timeout=10)
    assert answer.status_code == 200
    assert "https://consent.example.test/impressum" in answer.text
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
