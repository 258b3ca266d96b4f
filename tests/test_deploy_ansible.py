"""The Ansible side of the deployment, without applying it: the playbook parses, ansible-lint's
production profile passes, every role documents its variables, the example inventory names
only variables the roles know, the public server block forwards exactly the patient routes
the appliance allows on its public entry, and the bucket script works against real S3."""

from __future__ import annotations

import re
import sys
import uuid

import pytest
import yaml

from appliance.http.entry import PATIENT_ROUTES
from appliance.services.link_tokens import new_token
from appliance.settings import ServerSection
from tests.support.api import declared_operations
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
