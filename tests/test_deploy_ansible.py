"""The Ansible side of the deployment, without applying it: the playbook parses, ansible-lint's
production profile passes, every role documents its variables, the example inventory names
only variables the roles know, the public server block forwards exactly the patient routes
the appliance allows on its public entry, and the bucket script works against real S3."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest
import yaml

from appliance.http.entry import PATIENT_PAGES, PATIENT_ROUTES
from appliance.services.link_tokens import new_token
from appliance.settings import ServerSection
from tests.support.api import declared_operations, declared_pages
from tests.support.deploy import ANSIBLE, VENV_BIN, render_template, role_variables, run, tool_env

ROLES = ["postgresql", "object_store", "appliance", "reverse_proxy", "backup"]


def test_the_playbook_passes_the_syntax_check():
    result = run([str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", "inventory.example.yml",
                  "site.yml"], cwd=ANSIBLE, env=tool_env(ANSIBLE_NOCOLOR="1"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_passes_the_production_profile():
    result = run([str(VENV_BIN / "ansible-lint"), "--profile", "production", "--nocolor"], cwd=ANSIBLE,
                 env=tool_env(ANSIBLE_LINT_SKIP_VERSION_CHECK="1", NO_COLOR="1"), timeout=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_defaults_handlers_and_a_readme_listing_its_variables(role):
    folder = ANSIBLE / "roles" / role
    for part in ("defaults/main.yml", "handlers/main.yml", "tasks/main.yml", "meta/main.yml", "README.md"):
        assert (folder / part).is_file(), part
    readme = (folder / "README.md").read_text()
    defaults = yaml.safe_load((folder / "defaults" / "main.yml").read_text())
    missing = [name for name in defaults if f"`{name}`" not in readme]
    assert missing == []
    assert all(name.startswith(f"{role}_") for name in role_variables(role))


def test_the_example_inventory_only_names_variables_the_roles_know():
    inventory = yaml.safe_load((ANSIBLE / "inventory.example.yml").read_text())
    group = inventory["all"]["children"]["appliance_servers"]
    known = {name for role in ROLES for name in yaml.safe_load(
        (ANSIBLE / "roles" / role / "defaults" / "main.yml").read_text())}
    named = set(group["vars"]) | {name for host in group["hosts"].values() for name in host}
    assert {name for name in named if not name.startswith("ansible_")} - known == set()
    assert {"appliance_wheel", "reverse_proxy_lan_allow"} <= named  # what the roles require


def _public_locations() -> list[tuple[str, str, str]]:
    """(kind, pattern, allowed method) of the public server block's locations."""
    site = render_template("reverse_proxy", "site.conf.j2", reverse_proxy_lan_allow=["192.168.10.0/24"])
    public = site.split("# --- public")[1].split("# --- plain HTTP")[0]
    found = re.findall(r'location (~|=) "?([^"\s]+)"? \{\s*(?:limit_except (\w+))?', public)
    return [(kind, pattern, method) for kind, pattern, method in found]


def _forwarded(path: str, method: str) -> bool:
    for kind, pattern, allowed in _public_locations():
        hit = path == pattern if kind == "=" else re.search(pattern, path) is not None
        if hit:
            return allowed == method or (allowed == "GET" and method == "HEAD")
    return False


def _sample(template: str) -> str:
    """A path for a route template: a real link token for {token}, a UUID for {id:uuid}."""
    return re.sub(r"\{(\w+)(?::(\w+))?\}", lambda m: str(uuid.uuid4()) if m[2] == "uuid" else new_token(),
                  template)


def test_the_public_block_forwards_exactly_the_patient_routes():
    for (template, method), _ in declared_operations().items():
        assert _forwarded(_sample(template), method) == (template in PATIENT_ROUTES), f"{method} {template}"
    for template, method in declared_pages():
        sample = _sample(template.replace("{name}", "main-ABCD1234.js"))
        assert _forwarded(sample, method) == (template in PATIENT_PAGES), f"{method} {template}"
        assert not _forwarded(sample, "POST"), template
    assert not _forwarded("/assets/../api/auth/me", "GET")
    assert not _forwarded("/api/consent/practice", "GET")
    assert not _forwarded(_sample("/api/consent/{token}") + "/revoke", "PATCH")


def test_nginx_stops_reusing_an_idle_upstream_connection_before_the_appliance_closes_it():
    site = render_template("reverse_proxy", "site.conf.j2", reverse_proxy_lan_allow=["192.168.10.0/24"])
    upstream = re.search(r"upstream \w+ \{(.*?)\}", site, re.S)[1]
    assert "keepalive 16;" in upstream
    assert int(re.search(r"keepalive_timeout (\d+)s;", upstream)[1]) < ServerSection.keepalive


def test_the_bucket_script_creates_a_bucket_once(s3_server):
    script = ANSIBLE / "roles" / "object_store" / "files" / "s3_bucket.py"
    bucket = f"deploy-{uuid.uuid4().hex[:12]}"
    env = tool_env(S3_ACCESS_KEY=s3_server.access_key, S3_SECRET_KEY=s3_server.secret_key)
    command = [sys.executable, str(script), "--endpoint", s3_server.endpoint, "--bucket", bucket,
               "--wait", "5"]
    first, second = run(command, env=env), run(command, env=env)
    assert (first.returncode, first.stdout.strip()) == (0, "created"), first.stderr
    assert (second.returncode, second.stdout.strip()) == (0, "exists"), second.stderr
    assert s3_server.client().bucket_exists(bucket)
    refused = run(command, env={**env, "S3_SECRET_KEY": "wrong-secret-key"})
    assert refused.returncode == 1 and "HTTP 403" in refused.stderr


# --- the reverse_proxy role's checks (issue 21.4, 21.5) ----------------------------------------
#
# Decision: a public entry with a self-signed certificate is refused unless the operator sets
# reverse_proxy_self_signed_accepted (patients' browsers refuse such a certificate); a real one
# comes from the clinic's CA or Let's Encrypt (certbot --webroot with reverse_proxy_acme_webroot).

REVERSE_PROXY_BASICS = {"reverse_proxy_lan_allow": ["192.168.10.0/24"],
                        "reverse_proxy_operator_name": "Praxis Dr. Beispiel",
                        "reverse_proxy_impressum_url": "https://praxis-beispiel.de/impressum",
                        "reverse_proxy_privacy_url": "https://praxis-beispiel.de/datenschutz"}


def _checks(tmp_path, **variables) -> subprocess.CompletedProcess:
    playbook = tmp_path / "checks.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_role:\n"
                        "        name: reverse_proxy\n        tasks_from: checks\n")
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"ansible_python_interpreter": sys.executable, **variables}))
    return run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", f"@{extra}",
                str(playbook)], cwd=ANSIBLE, env=tool_env(ANSIBLE_NOCOLOR="1",
                                                          ANSIBLE_ROLES_PATH=str(ANSIBLE / "roles")))


def test_without_a_certificate_the_role_stops_and_says_why(tmp_path):
    refused = _checks(tmp_path, **REVERSE_PROXY_BASICS)
    assert refused.returncode != 0
    assert "self-signed one on the public entry" in refused.stdout and "browsers refuse" in refused.stdout
    accepted = _checks(tmp_path, **REVERSE_PROXY_BASICS, reverse_proxy_self_signed_accepted=True)
    assert accepted.returncode == 0, accepted.stdout
    real = _checks(tmp_path, **REVERSE_PROXY_BASICS, reverse_proxy_tls_certificate="/etc/ssl/p/chain.pem",
                   reverse_proxy_tls_certificate_key="/etc/ssl/p/key.pem")
    assert real.returncode == 0, real.stdout


@pytest.mark.parametrize(("name", "value"), [("reverse_proxy_impressum_url", ""),
                                             ("reverse_proxy_privacy_url", "http://praxis-beispiel.de/ds"),
                                             ("reverse_proxy_privacy_url", 'https://x.de/"><script>'),
                                             ("reverse_proxy_operator_name", " ")])
def test_the_public_root_page_needs_the_operator_and_both_links(tmp_path, name, value):
    refused = _checks(tmp_path, **{**REVERSE_PROXY_BASICS, name: value},
                      reverse_proxy_self_signed_accepted=True)
    assert refused.returncode != 0 and "Impressum" in refused.stdout


def test_acme_challenges_are_answered_on_plain_http_and_everything_else_redirected():
    site = render_template("reverse_proxy", "site.conf.j2", reverse_proxy_lan_allow=["192.168.10.0/24"],
                           reverse_proxy_acme_webroot="/var/www/acme")
    plain = site.split("# --- plain HTTP")[1]
    assert "location /.well-known/acme-challenge/ {\n        root /var/www/acme;" in plain
    assert "return 301 https://$host$request_uri;" in plain
    without = render_template("reverse_proxy", "site.conf.j2", reverse_proxy_lan_allow=["192.168.10.0/24"])
    assert "acme-challenge" not in without


# --- the appliance's own S3 keys, limited to its bucket (issue 21.6) ----------------------------

STORE_KEYS = {"object_store_access_key": "root-key-0123456789", "object_store_secret_key": "r" * 40,
              "object_store_app_access_key": "app-key-0123456789a", "object_store_app_secret_key": "a" * 40,
              "object_store_bucket": "appliance"}


@pytest.fixture(scope="module")
def scoped_store():
    """SeaweedFS with the identities the role writes (root first, so the fixture's client is root)."""
    from tests.support.faketime import skip_where_s3_cannot_follow
    from tests.support.s3 import start_seaweed

    skip_where_s3_cannot_follow()
    server = start_seaweed(render_template("object_store", "seaweedfs-s3.json.j2", **STORE_KEYS))
    yield server
    server.close()


def _app_client(server):
    import urllib3
    from minio import Minio

    http = urllib3.PoolManager(retries=urllib3.util.Retry(total=0))
    return Minio(server.endpoint, access_key=STORE_KEYS["object_store_app_access_key"],
                 secret_key=STORE_KEYS["object_store_app_secret_key"], secure=False, http_client=http)


def test_the_appliance_keys_reach_its_bucket_and_nothing_else(scoped_store):
    import io

    from minio.error import S3Error

    script = ANSIBLE / "roles" / "object_store" / "files" / "s3_bucket.py"
    for bucket in ("appliance", "other-data"):  # as the role makes its bucket: with the root keys
        made = run([sys.executable, str(script), "--endpoint", scoped_store.endpoint, "--bucket", bucket],
                   env=tool_env(S3_ACCESS_KEY=scoped_store.access_key, S3_SECRET_KEY=scoped_store.secret_key))
        assert made.returncode == 0, made.stderr
    scoped_store.client().put_object("other-data", "secret", io.BytesIO(b"x"), length=1)

    app = _app_client(scoped_store)
    assert app.bucket_exists("appliance")  # what the appliance checks at start and for readiness
    app.put_object("appliance", "p/photos/1", io.BytesIO(b"ciphertext"), length=10)
    assert app.get_object("appliance", "p/photos/1").read() == b"ciphertext"
    assert [o.object_name for o in app.list_objects("appliance", recursive=True)] == ["p/photos/1"]
    app.remove_object("appliance", "p/photos/1")
    refused = [
        lambda: app.make_bucket("appliance-2"),
        lambda: app.get_object("other-data", "secret").read(),
        lambda: list(app.list_objects("other-data")),
        lambda: app.put_object("other-data", "planted", io.BytesIO(b"x"), length=1),
        lambda: app.remove_bucket("appliance"),
    ]
    for number, attempt in enumerate(refused):
        with pytest.raises(S3Error) as caught:
            attempt()
        assert caught.value.code == "AccessDenied", number
    assert not scoped_store.client().bucket_exists("appliance-2")


def test_the_minio_policy_names_only_the_bucket_and_object_actions():
    policy = json.loads(render_template("object_store", "minio-appliance-policy.json.j2",
                                        object_store_bucket="b"))
    resources = {r for statement in policy["Statement"] for r in statement["Resource"]}
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert resources == {"arn:aws:s3:::b", "arn:aws:s3:::b/*"}
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])
    assert not any(action.startswith(("s3:Create", "s3:DeleteBucket", "s3:PutBucket", "admin:"))
                   or "*" in action for action in actions)


def test_the_appliance_is_configured_with_its_own_keys_not_the_stores_root():
    config = render_template("appliance", "appliance.toml.j2", appliance_secrets={
        "jwt_secret": "j" * 64, "postgresql_owner_password": "o", "postgresql_app_password": "p",
        "s3_access_key": "ROOT-KEY", "s3_secret_key": "ROOT-SECRET",
        "s3_app_access_key": "APP-KEY", "s3_app_secret_key": "APP-SECRET"})
    assert 's3_access_key = "APP-KEY"' in config and 's3_secret_key = "APP-SECRET"' in config
    assert "ROOT" not in config
