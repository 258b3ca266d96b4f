"""Typed settings: a TOML file plus `APPLIANCE_<SECTION>_<KEY>` environment overrides.

Everything is validated once at start-up so that a misconfigured clinic server refuses to
start with a message naming the key, instead of failing on the first patient request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import secrets
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from appliance.clock import is_iana_zone

DEFAULT_CONFIG_PATH = "/etc/appliance/appliance.toml"
ENV_PREFIX = "APPLIANCE_"
#: Variables with the prefix that are not settings: the configuration file's path and the
#: test suite's own switches. Every other APPLIANCE_* variable must name a setting.
ENV_NOT_SETTINGS = ("APPLIANCE_CONFIG",)
ENV_NOT_SETTINGS_PREFIX = "APPLIANCE_TEST_"
MIN_SECRET_LENGTH = 32
HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


class ConfigError(Exception):
    """Raised with one line per problem, each naming `section.key`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class AppSection:
    mode: str = "development"
    data_dir: str = "var"
    public_base_url: str = "http://127.0.0.1:8000"
    timezone: str = "Europe/Berlin"
    #: The operator's Impressum and privacy notice: the patient pages of practices that set no
    #: links of their own link these (German law wants both reachable).
    impressum_url: str = ""
    privacy_url: str = ""


@dataclass(frozen=True)
class ServerSection:
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    threads: int = 4
    trusted_proxies: list[str] = field(default_factory=list)
    max_body_bytes: int = 1_048_576
    timeout: int = 60
    #: Seconds a client may take to send a request's head (from its first byte), and may stall
    #: while sending its body: slow clients end there instead of holding a worker thread.
    header_timeout: int = 10
    body_timeout: int = 30
    #: Seconds an idle HTTP connection stays open. Longer than the reverse proxy's idle upstream
    #: timeout (60 s in the nginx role): a connection the proxy is about to reuse must not be
    #: closed under it, or that request (a POST is not retried) fails with 502.
    keepalive: int = 75
    #: Header the reverse proxy sets to "public" on its internet-facing server block; such
    #: requests reach only the patient operations (appliance.http.entry). Empty: no check.
    public_entry_header: str = "X-Appliance-Entry"


@dataclass(frozen=True)
class DatabaseSection:
    url: str = ""
    owner_url: str = ""
    pool_size: int = 10
    connect_timeout: int = 5
    #: A streaming replica of the database (as the owner role) that `appliance backup` reads, so
    #: the nightly dump does not load the primary. Empty: backups read owner_url.
    backup_url: str = ""
    #: Seconds the backup replica may trail the primary: beyond, readiness names it and
    #: `appliance backup` refuses it.
    backup_max_lag: int = 300


@dataclass(frozen=True)
class AuthSection:
    jwt_secret: str = ""
    access_token_ttl: int = 8 * 3600
    sync_secret: str = ""
    #: Sign-in requests (login, register, 2FA, sync) per minute from one address on the LAN
    #: entry, where a terminal server puts the whole staff behind one IP; logins there are
    #: limited per account and address as well. Elsewhere it is 5 per address.
    lan_requests_per_minute: int = 60


@dataclass(frozen=True)
class StorageSection:
    backend: str = "directory"
    directory: str = ""
    s3_endpoint: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "appliance"
    s3_secure: bool = True
    s3_region: str = ""
    s3_timeout: int = 10
    max_photo_bytes: int = 25 * 1024 * 1024
    #: Largest encrypted archive copy of a consent (a PDF with the signature image).
    max_archive_bytes: int = 20 * 1024 * 1024
    #: Readiness fails below this much free space for the directory store (MiB; 0: never).
    min_free_mb: int = 1024


@dataclass(frozen=True)
class SmtpSection:
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    sender: str = ""
    timeout: int = 10


@dataclass(frozen=True)
class LogSection:
    level: str = "INFO"
    #: Libraries (the database driver, gunicorn) stay at INFO unless this is set: at DEBUG
    #: they log SQL parameters and raw request paths, i.e. personal data and link tokens.
    library_debug: bool = False


@dataclass(frozen=True)
class GdtSection:
    #: Practices may only use GDT exchange directories below this one; empty: none at all.
    exchange_root: str = ""


@dataclass(frozen=True)
class BillingSection:
    """Stripe subscriptions; without stripe_secret_key billing is off (no limits, no checks)."""

    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    #: Empty: Stripe's own API address. Tests and proxies point it elsewhere.
    stripe_api_base: str = ""
    price_starter_monthly: str = ""
    price_starter_yearly: str = ""
    price_professional_monthly: str = ""
    price_professional_yearly: str = ""
    price_enterprise_monthly: str = ""
    price_enterprise_yearly: str = ""
    success_url: str = ""
    cancel_url: str = ""
    portal_return_url: str = ""
    request_timeout: int = 10

    @property
    def enabled(self) -> bool:
        return bool(self.stripe_secret_key)

    @property
    def prices(self) -> dict[str, str]:
        """Configured price ids by setting name (`price_starter_monthly` -> `price_...`)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name.startswith("price_") and getattr(self, f.name)}


@dataclass(frozen=True)
class Settings:
    app: AppSection = field(default_factory=AppSection)
    server: ServerSection = field(default_factory=ServerSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    auth: AuthSection = field(default_factory=AuthSection)
    storage: StorageSection = field(default_factory=StorageSection)
    smtp: SmtpSection = field(default_factory=SmtpSection)
    log: LogSection = field(default_factory=LogSection)
    gdt: GdtSection = field(default_factory=GdtSection)
    billing: BillingSection = field(default_factory=BillingSection)

    @property
    def production(self) -> bool:
        return self.app.mode == "production"

    @property
    def database_url(self) -> str:
        """The configured URL, or the embedded SQLite file inside the data directory."""
        return self.database.url or f"sqlite:///{Path(self.app.data_dir) / 'appliance.db'}"

    @property
    def storage_directory(self) -> Path:
        return Path(self.storage.directory or Path(self.app.data_dir) / "objects")

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp.host)


SECTIONS: dict[str, type] = typing.get_type_hints(Settings)
KEY_TYPES: dict[str, dict[str, type]] = {
    name: typing.get_type_hints(section) for name, section in SECTIONS.items()
}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _coerce(raw: object, kind: type, where: str, problems: list[str]) -> object:
    """Turns a TOML value or an environment string into the declared type."""
    if typing.get_origin(kind) is list:
        if isinstance(raw, str):
            return [item.strip() for item in raw.split(",") if item.strip()]
        if isinstance(raw, list) and all(isinstance(i, str) for i in raw):
            return raw
        problems.append(f"{where}: must be a list of strings")
        return None
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in TRUE_WORDS + FALSE_WORDS:
            return raw.lower() in TRUE_WORDS
        problems.append(f"{where}: must be true or false")
        return None
    if kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            try:
                return int(raw)
            except ValueError:
                pass
        problems.append(f"{where}: must be an integer")
        return None
    if isinstance(raw, str):
        return raw
    problems.append(f"{where}: must be a string")
    return None


def _gather(file_data: dict, environ: typing.Mapping[str, str]) -> tuple[dict, list[str]]:
    values: dict[str, dict[str, object]] = {name: {} for name in KEY_TYPES}
    problems: list[str] = []
    for section, content in file_data.items():
        if section not in KEY_TYPES:
            problems.append(f"{section}: unknown section")
            continue
        if not isinstance(content, dict):
            problems.append(f"{section}: must be a table")
            continue
        for key, raw in content.items():
            if key not in KEY_TYPES[section]:
                problems.append(f"{section}.{key}: unknown key")
                continue
            where = f"{section}.{key}"
            values[section][key] = _coerce(raw, KEY_TYPES[section][key], where, problems)
    for name, raw in environ.items():
        if (not name.startswith(ENV_PREFIX) or name in ENV_NOT_SETTINGS
                or name.startswith(ENV_NOT_SETTINGS_PREFIX)):
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("_")
        if section not in KEY_TYPES:
            # A misspelt section would otherwise leave the setting at its default unnoticed.
            problems.append(f"{name}: unknown environment variable (no section {section!r};"
                            f" sections are {', '.join(KEY_TYPES)})")
            continue
        if key not in KEY_TYPES[section]:
            problems.append(f"{section}.{key}: unknown key (from environment variable {name})")
            continue
        values[section][key] = _coerce(raw, KEY_TYPES[section][key], f"{section}.{key}", problems)
    return values, problems


def link_parts(url: str) -> SplitResult | None:
    """The parts of a URL a page can link as is: a host, a valid port, no credentials, nothing
    that would end an HTML attribute or break a line; None for anything else."""
    if any(char.isspace() or char in '"<>\\\x7f' or ord(char) < 0x20 for char in url):
        return None
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        return None
    return parts if parts.hostname and "@" not in parts.netloc else None


def is_https_link(url: str) -> bool:
    """An https URL a page can link as is (`link_parts`)."""
    parts = link_parts(url)
    return parts is not None and parts.scheme == "https"


def _validate(settings: Settings) -> list[str]:
    problems: list[str] = []
    app, server, auth, storage, smtp = (
        settings.app, settings.server, settings.auth, settings.storage, settings.smtp,
    )
    if app.mode not in ("development", "production"):
        problems.append("app.mode: must be 'development' or 'production'")
    url = urlsplit(app.public_base_url)
    if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
        problems.append("app.public_base_url: must be an absolute http(s) URL without query")
    elif settings.production and url.scheme != "https":
        problems.append("app.public_base_url: must use https in production (patients open it)")
    for key in ("impressum_url", "privacy_url"):
        if getattr(app, key) and not is_https_link(getattr(app, key)):
            problems.append(f"app.{key}: must be an https URL")
    if not is_iana_zone(app.timezone):
        problems.append(f"app.timezone: unknown IANA time zone {app.timezone!r}")
    host, _, port = server.bind.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        problems.append("server.bind: must be HOST:PORT")
    if not 1 <= server.workers <= 64:
        problems.append("server.workers: must be between 1 and 64")
    if not 1 <= server.threads <= 64:
        problems.append("server.threads: must be between 1 and 64")
    if not 1 <= server.keepalive <= 3600:
        problems.append("server.keepalive: must be between 1 and 3600 seconds")
    # The floor is what the largest JSON body of the crypto contract needs (a consent submit:
    # 512 KiB of answers in base64 and the sealed identity, docs/crypto.md).
    if not 1024 * 1024 <= server.max_body_bytes <= 64 * 1024 * 1024:
        problems.append("server.max_body_bytes: must be between 1048576 and 67108864")
    if server.public_entry_header and not HEADER_NAME.fullmatch(server.public_entry_header):
        problems.append("server.public_entry_header: must be an HTTP header name (letters, digits, '-')")
    for proxy in server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(f"server.trusted_proxies: {proxy!r} is not an IP address or CIDR")
    scheme = urlsplit(settings.database_url).scheme
    if scheme not in ("sqlite", "postgresql", "postgres"):
        problems.append("database.url: must start with sqlite:// or postgresql://")
    owner = settings.database.owner_url
    if owner and (scheme not in ("postgresql", "postgres")
                  or urlsplit(owner).scheme not in ("postgresql", "postgres")):
        problems.append("database.owner_url: only for PostgreSQL, with a postgresql:// database.url")
    backup = settings.database.backup_url
    if backup and (scheme not in ("postgresql", "postgres")
                   or urlsplit(backup).scheme not in ("postgresql", "postgres")):
        problems.append("database.backup_url: only for PostgreSQL, with a postgresql:// database.url")
    if not 1 <= settings.database.backup_max_lag <= 86400:
        problems.append("database.backup_max_lag: must be between 1 and 86400 seconds")
    if not 1 <= settings.database.pool_size <= 200:
        problems.append("database.pool_size: must be between 1 and 200")
    if not 1 <= settings.database.connect_timeout <= 300:
        # 0 would mean "wait forever" to the driver: a down database would hang every request.
        problems.append("database.connect_timeout: must be between 1 and 300 seconds")
    if not 5 <= auth.lan_requests_per_minute <= 10_000:
        problems.append("auth.lan_requests_per_minute: must be between 5 and 10000")
    if not 60 <= auth.access_token_ttl <= 7 * 24 * 3600:
        problems.append("auth.access_token_ttl: must be between 60 and 604800 seconds")
    if len(auth.jwt_secret) < MIN_SECRET_LENGTH:
        problems.append(f"auth.jwt_secret: must be at least {MIN_SECRET_LENGTH} characters")
    if auth.sync_secret:
        if len(auth.sync_secret) < MIN_SECRET_LENGTH:
            problems.append(f"auth.sync_secret: must be at least {MIN_SECRET_LENGTH} characters")
        elif auth.sync_secret == auth.jwt_secret:
            problems.append("auth.sync_secret: must differ from auth.jwt_secret")
    if storage.backend not in ("directory", "s3"):
        problems.append("storage.backend: must be 'directory' or 's3'")
    if storage.backend == "s3":
        if not storage.s3_endpoint:
            problems.append("storage.s3_endpoint: required when storage.backend is 's3'")
        if not storage.s3_access_key:
            problems.append("storage.s3_access_key: required when storage.backend is 's3'")
        if len(storage.s3_secret_key) < 8:
            problems.append("storage.s3_secret_key: required (8+ characters) with backend 's3'")
    if not 1 <= storage.s3_timeout <= 300:
        problems.append("storage.s3_timeout: must be between 1 and 300 seconds")
    if not 1 <= settings.server.header_timeout <= 300:
        problems.append("server.header_timeout: must be between 1 and 300 seconds")
    if not 1 <= settings.server.body_timeout <= 3600:
        problems.append("server.body_timeout: must be between 1 and 3600 seconds")
    if storage.min_free_mb < 0:
        problems.append("storage.min_free_mb: must be 0 or more")
    if not 64 * 1024 <= storage.max_photo_bytes <= 1024 * 1024 * 1024:
        problems.append("storage.max_photo_bytes: must be between 65536 and 1073741824")
    if not 64 * 1024 <= storage.max_archive_bytes <= 1024 * 1024 * 1024:
        problems.append("storage.max_archive_bytes: must be between 65536 and 1073741824")
    if smtp.security not in ("starttls", "tls", "none"):
        problems.append("smtp.security: must be 'starttls', 'tls' or 'none'")
    if not (smtp.username + smtp.password).isascii():
        problems.append("smtp.username: username and password must be ASCII (SMTP AUTH limit)")
    if smtp.host and not smtp.sender:
        problems.append("smtp.sender: required when smtp.host is set")
    if settings.log.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append("log.level: must be DEBUG, INFO, WARNING or ERROR")
    root = settings.gdt.exchange_root
    if root and not os.path.isabs(root):
        problems.append("gdt.exchange_root: must be an absolute path")
    elif root and not os.path.isdir(root):
        problems.append(f"gdt.exchange_root: {root} does not exist or is not a directory")
    problems += _billing_problems(settings.billing, settings.production)
    return problems


def _billing_problems(billing: BillingSection, production: bool) -> list[str]:
    problems: list[str] = []
    if bool(billing.stripe_secret_key) != bool(billing.stripe_webhook_secret):
        problems.append("billing.stripe_webhook_secret: stripe_secret_key and stripe_webhook_secret"
                        " are set together or not at all")
    if billing.stripe_secret_key and not billing.stripe_secret_key.startswith(("sk_", "rk_")):
        problems.append("billing.stripe_secret_key: must be a Stripe secret key (sk_... or rk_...)")
    if billing.stripe_webhook_secret and not billing.stripe_webhook_secret.startswith("whsec_"):
        problems.append("billing.stripe_webhook_secret: must be a webhook signing secret (whsec_...)")
    urls = ["stripe_api_base", "success_url", "cancel_url", "portal_return_url"]
    for key in urls:
        value = getattr(billing, key)
        if not value:
            if billing.enabled and key != "stripe_api_base":
                problems.append(f"billing.{key}: required when billing is enabled")
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"billing.{key}: must be an absolute http(s) URL")
        elif production and parts.scheme != "https":
            problems.append(f"billing.{key}: must use https in production")
    if billing.enabled and not billing.prices:
        problems.append("billing.price_starter_monthly: billing needs at least one price id")
    seen: set[str] = set()
    for key, price in billing.prices.items():
        if price in seen:
            problems.append(f"billing.{key}: this price id is already used for another plan or interval")
        seen.add(price)
    if not 1 <= billing.request_timeout <= 120:
        problems.append("billing.request_timeout: must be between 1 and 120 seconds")
    return problems


def _development_secrets(data_dir: Path) -> dict[str, str]:
    """Random secrets kept in the data directory so that a development server works out of the box.

    Production never uses this: there the operator must provide real secrets.
    """
    path = data_dir / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {"jwt_secret": secrets.token_urlsafe(48)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(generated, handle)
    return generated


def build(file_data: dict, environ: typing.Mapping[str, str]) -> Settings:
    """Builds and validates settings from parsed TOML data and an environment mapping."""
    values, problems = _gather(file_data, environ)
    if problems:
        raise ConfigError(problems)
    sections = {name: SECTIONS[name](**values[name]) for name in SECTIONS}
    settings = Settings(**sections)
    if not settings.production and not settings.auth.jwt_secret:
        generated = _development_secrets(Path(settings.app.data_dir))
        settings = dataclasses.replace(
            settings, auth=dataclasses.replace(settings.auth, jwt_secret=generated["jwt_secret"])
        )
    problems = _validate(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def load(environ: typing.Mapping[str, str] | None = None) -> Settings:
    """Reads the file named by APPLIANCE_CONFIG (or the default path) and applies overrides.

    A missing file is fine at the default path (environment-only configuration), but an
    explicitly named file that does not exist is an error.
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get("APPLIANCE_CONFIG")
    path = Path(explicit or DEFAULT_CONFIG_PATH)
    file_data: dict = {}
    if path.exists():
        try:
            file_data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{path}: not valid TOML ({exc})"]) from exc
    elif explicit:
        raise ConfigError([f"APPLIANCE_CONFIG: file {path} does not exist"])
    return build(file_data, environ)
