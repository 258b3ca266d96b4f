"""The Ansible inventory places the parts on different servers: appliance_servers (one or more),
database (one), object_store (one or more) and reverse_proxy (one); a group left out means the
first appliance server. The roles render what ties the servers together from the inventory:
nginx's upstreams, PostgreSQL's listen addresses and pg_hba allow-list, the object store's
address, layout and admitted peers, each appliance server's bind address, trusted proxy,
database and S3 endpoint.

Checked with Ansible itself (tests/support/deploy.render_inventory) for the three-appliance-server
example inventory and for the one-server example, whose output stays on localhost as before;
and the SeaweedFS units rendered for two store servers run as a working replicated cluster.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
import urllib3
import yaml
from minio import Minio

from tests.support.deploy import (
    ANSIBLE,
    VENV_BIN,
    render_inventory,
    render_template,
    run,
    tool_env,
    unit_command,
)
from tests.support.faketime import skip_where_s3_cannot_follow
from tests.support.ports import free_ports
from tests.support.s3 import _terminate, find_weed
from tests.test_deploy_ansible import ROLES

SCALE_OUT = ANSIBLE / "inventory.scale-out.example.yml"
TEMPLATES = [("appliance", "appliance.toml.j2", "appliance_servers"),
             ("postgresql", "pg_hba.conf.j2", "database"),
             ("postgresql", "appliance.conf.j2", "database"),
             ("object_store", "seaweedfs.service.j2", "object_store"),
             ("object_store", "minio.env.j2", "object_store"),
             ("object_store", "seaweedfs-s3.json.j2", "object_store"),
             ("reverse_proxy", "site.conf.j2", "reverse_proxy")]
APP_SERVERS = {f"app{i}.mvz.lan": f"192.168.10.2{i}" for i in (1, 2, 3)}


@pytest.fixture(scope="module")
def scale_out(tmp_path_factory) -> dict:
    return render_inventory(SCALE_OUT, TEMPLATES, tmp_path_factory.mktemp("scale-out-render"))


@pytest.fixture(scope="module")
def one_server(tmp_path_factory) -> dict:
    return render_inventory(ANSIBLE / "inventory.example.yml", TEMPLATES, tmp_path_factory.mktemp("one"))


def upstreams(site: str) -> list[str]:
    return re.findall(r"^\s+server (\S+);", re.search(r"upstream \w+ \{(.*?)\}", site, re.S)[1], re.M)


def hba_clients(block: str) -> list[str]:
    """The addresses pg_hba admits with a password (local socket aside)."""
    return [line.split()[3] for line in block.splitlines()
            if line.startswith("host") and line.endswith("scram-sha-256")]


def test_nginx_spreads_the_requests_over_every_appliance_server(scale_out):
    site = scale_out["proxy.mvz.lan"]["site.conf.j2"]
    assert upstreams(site) == [f"{address}:8000" for address in APP_SERVERS.values()]


def test_every_appliance_server_listens_for_nginx_and_shares_database_store_and_keys(scale_out):
    configs = {host: tomllib.loads(scale_out[host]["appliance.toml.j2"]) for host in APP_SERVERS}
    for host, address in APP_SERVERS.items():
        config = configs[host]
        assert config["server"]["bind"] == f"{address}:8000"
        assert config["server"]["trusted_proxies"] == ["192.168.10.10"]
        assert "@192.168.10.30:5432/appliance" in config["database"]["url"]
        assert "@192.168.10.30:5432/appliance" in config["database"]["owner_url"]
        assert config["storage"]["s3_endpoint"] == "192.168.10.31:9000"
        # The appliance's own S3 keys (limited to its bucket), never the store's root keys.
        assert (config["storage"]["s3_access_key"], config["storage"]["s3_secret_key"]) == ("app-access",
                                                                                            "app-secret")
    # Apart from the bind address, every server's configuration is the same: JWT key, S3 keys.
    for config in configs.values():
        del config["server"]["bind"]
    first = configs["app1.mvz.lan"]
    assert all(config == first for config in configs.values())


def test_every_secret_is_read_from_the_server_that_made_it(scale_out):
    """The JWT key from the first appliance server, the database passwords from the database
    server, the appliance's own S3 keys from the first store server (where the object_store
    role made them and, for SeaweedFS, gave them an identity limited to the bucket)."""
    expected = {"jwt_secret": "app1.mvz.lan", "postgresql_owner_password": "db.mvz.lan",
                "postgresql_app_password": "db.mvz.lan", "s3_app_access_key": "store1.mvz.lan",
                "s3_app_secret_key": "store1.mvz.lan"}
    assert all(scale_out[host]["secret hosts"] == expected for host in APP_SERVERS)
    identities = json.loads(scale_out["store1.mvz.lan"]["seaweedfs-s3.json.j2"])["identities"]
    assert [(i["credentials"][0]["accessKey"], i["actions"]) for i in identities] == [
        ("access", ["Admin", "Read", "List", "Tagging", "Write"]),
        ("app-access", ["Read:appliance", "Write:appliance", "List:appliance", "Tagging:appliance"])]


def test_the_database_listens_for_and_admits_exactly_the_appliance_servers(scale_out):
    rendered = scale_out["db.mvz.lan"]
    assert hba_clients(rendered["pg_hba.conf.j2"]) == ["127.0.0.1/32", "::1/128",
                                                       *(f"{a}/32" for a in APP_SERVERS.values())]
    assert rendered["pg_hba.conf.j2"].rstrip().endswith("all  ::/0       reject")
    assert "listen_addresses = 'localhost,192.168.10.30'" in rendered["appliance.conf.j2"]


def test_the_object_store_spans_its_servers_and_admits_only_the_installation(scale_out):
    first, second = (scale_out[h]["seaweedfs.service.j2"] for h in ("store1.mvz.lan", "store2.mvz.lan"))
    assert re.search(r"\bserver -dir=\S+ \\\n\s+-ip=192\.168\.10\.31 ", first)
    assert "-master.defaultReplication=001" in first and "-filer -s3 " in first
    assert re.search(r"\bvolume -dir=\S+ -max=0 \\\n\s+-ip=192\.168\.10\.32 ", second)
    assert "-mserver=192.168.10.31:9333.19333" in second
    peers = "192.168.10.21 192.168.10.22 192.168.10.23"
    assert f"IPAddressAllow=localhost {peers} 192.168.10.32\n" in first
    assert f"IPAddressAllow=localhost {peers} 192.168.10.31\n" in second
    volumes = ("MINIO_VOLUMES=http://192.168.10.31:9000/var/lib/seaweedfs "
               "http://192.168.10.32:9000/var/lib/seaweedfs\n")
    assert all(volumes in scale_out[h]["minio.env.j2"] for h in ("store1.mvz.lan", "store2.mvz.lan"))


def test_one_server_keeps_everything_on_localhost(one_server):
    (host,) = one_server
    rendered = one_server[host]
    config = tomllib.loads(rendered["appliance.toml.j2"])
    assert config["server"]["bind"] == "127.0.0.1:8000"
    assert config["server"]["trusted_proxies"] == ["127.0.0.1"]
    assert "@127.0.0.1:5432/appliance" in config["database"]["url"]
    assert config["storage"]["s3_endpoint"] == "127.0.0.1:9000"
    assert upstreams(rendered["site.conf.j2"]) == ["127.0.0.1:8000"]
    assert hba_clients(rendered["pg_hba.conf.j2"]) == ["127.0.0.1/32", "::1/128"]
    assert "listen_addresses = 'localhost'" in rendered["appliance.conf.j2"]
    unit = rendered["seaweedfs.service.j2"]
    assert " mini -dir=" in unit and "IPAddressAllow" not in unit
    assert "MINIO_VOLUMES=/var/lib/minio\n" in rendered["minio.env.j2"]


def test_the_scale_out_example_passes_the_syntax_check_and_names_only_known_variables():
    result = run([str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", SCALE_OUT.name, "site.yml"],
                 cwd=ANSIBLE, env=tool_env(ANSIBLE_NOCOLOR="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    inventory = yaml.safe_load(SCALE_OUT.read_text())["all"]
    assert set(inventory["children"]) == {"appliance_servers", "database", "object_store", "reverse_proxy"}
    known = {name for role in ROLES for name in yaml.safe_load(
        (ANSIBLE / "roles" / role / "defaults" / "main.yml").read_text())}
    named = set(inventory["vars"]) | {name for group in inventory["children"].values()
                                      for host in group["hosts"].values() for name in host}
    assert {name for name in named if not name.startswith("ansible_")} - known == set()


# --- the SeaweedFS units of two store servers, run -------------------------------------------------


def _store_unit(tmp_path: Path, host: str, ports: dict) -> list[str]:
    """The ExecStart of `host`'s seaweedfs.service for two store servers on 127.0.0.1, with the
    venv's weed, and its directories made as ExecStartPre makes them."""
    data = tmp_path / host
    unit = tmp_path / f"{host}.service"
    hosts = {"app": {"ansible_host": "127.0.0.1"}, "store1": {"ansible_host": "127.0.0.1"},
             "store2": {"ansible_host": "127.0.0.1"}}
    unit.write_text(render_template(
        "object_store", "seaweedfs.service.j2", inventory_hostname=host, hostvars=hosts, **hosts[host],
        groups={"all": list(hosts), "appliance_servers": ["app"], "object_store": ["store1", "store2"]},
        object_store_data_dir=str(data), object_store_config_dir=str(tmp_path), object_store_user="nobody",
        object_store_seaweedfs_ports=ports))
    command = unit_command(unit)
    for pre in command.start_pre:
        subprocess.run(pre, check=True)
    return [str(find_weed()), *command.argv[1:]]


def test_the_seaweedfs_units_of_two_store_servers_form_a_replicated_cluster(tmp_path):
    skip_where_s3_cannot_follow()
    free = iter(free_ports(12))
    common = {name: [next(free), next(free)] for name in ("master", "filer", "s3", "admin")}
    ports = {"store1": {**common, "volume": [next(free), next(free)]},
             "store2": {**common, "volume": [next(free), next(free)]}}
    access, secret = "unit-test-key", secrets.token_urlsafe(24)
    (tmp_path / "s3.json").write_text(json.dumps({"identities": [{
        "name": "appliance", "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
    processes = []
    try:
        for host in ("store1", "store2"):
            argv = _store_unit(tmp_path, host, ports[host])
            env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path / host / "tmp")}
            with open(tmp_path / f"{host}.log", "wb") as log:
                processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                                  cwd=tmp_path / host, start_new_session=True))
        http = urllib3.PoolManager(timeout=urllib3.util.Timeout(connect=3, read=10), retries=False)
        client = Minio(f"127.0.0.1:{common['s3'][0]}", access_key=access, secret_key=secret, secure=False,
                       http_client=http)
        deadline, data = time.monotonic() + 90, secrets.token_bytes(100_000)
        while True:
            try:
                if not client.bucket_exists("units"):
                    client.make_bucket("units")
                client.put_object("units", "photo", io.BytesIO(data), length=len(data))
                break
            except Exception:
                logs = "".join((tmp_path / f"{name}.log").read_text()[-3000:] for name in ports)
                assert time.monotonic() < deadline and all(p.poll() is None for p in processes), logs
                time.sleep(0.5)
        assert client.get_object("units", "photo").read() == data
        status = json.loads(http.request("GET", f"http://127.0.0.1:{common['master'][0]}/vol/status").data)
        racks = status["Volumes"]["DataCenters"]["DefaultDataCenter"]["DefaultRack"]
        held = {server: sorted(v["Id"] for v in volumes if v["Collection"] == "units")
                for server, volumes in racks.items()}
        assert len(held) == 2 and held[f"127.0.0.1:{ports['store1']['volume'][0]}"] == \
            held[f"127.0.0.1:{ports['store2']['volume'][0]}"] != []  # every volume on both servers
    finally:
        for process in reversed(processes):
            _terminate(process, timeout=5)
        for pair in [*common.values(), ports["store1"]["volume"], ports["store2"]["volume"]]:
            for kind in ("master", "volume", "filer", "s3", "admin"):
                (Path("/tmp") / f"seaweedfs-{kind}-grpc-{pair[1]}.sock").unlink(missing_ok=True)
