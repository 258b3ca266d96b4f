"""Runs the app under gunicorn, configured from the appliance settings (not gunicorn's CLI)."""

from __future__ import annotations

import ipaddress
import logging

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from appliance import logs
from appliance.http_worker import SlowClientWorker
from appliance.settings import Settings

log = logging.getLogger("appliance.serve")


def application_for(settings: Settings):
    """Builds one app in each worker: every worker opens its own database pool."""
    from appliance.app import create_app
    from appliance.db import open_database
    from appliance.storage import open_store

    logs.configure(settings.log.level, library_debug=settings.log.library_debug)
    database = open_database(
        settings.database_url,
        pool_size=settings.database.pool_size,
        connect_timeout=settings.database.connect_timeout,
    )
    return create_app(settings, database, store=open_store(settings))


class JsonLogger(Logger):
    """gunicorn's own lines (start, workers, timeouts) as JSON lines like the appliance's."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(logs.formatter(getattr(handler, "stream", None)))


def gunicorn_level(settings: Settings) -> str:
    """gunicorn is a library too: at DEBUG it logs every request's raw path, link tokens
    included, so it follows log.level below INFO only with log.library_debug."""
    level = settings.log.level.lower()
    return level if settings.log.library_debug or level != "debug" else "info"


class Server(BaseApplication):
    def __init__(self, settings: Settings):
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        server = self._settings.server
        options = {
            "bind": server.bind,
            "workers": server.workers,
            "threads": server.threads,
            "worker_class": type("ApplianceWorker", (SlowClientWorker,), {
                "header_timeout": server.header_timeout, "body_timeout": server.body_timeout}),
            "timeout": server.timeout,
            "keepalive": server.keepalive,
            "graceful_timeout": 20,
            "accesslog": None,  # the app logs one JSON line per request itself
            "errorlog": "-",
            "loglevel": gunicorn_level(self._settings),
            "logger_class": JsonLogger,
            "proc_name": "appliance-api",
            "forwarded_allow_ips": "",  # client IPs come from our own trusted-proxy logic
            "limit_request_line": 8190,
            "control_socket_disable": True,  # it would live in $HOME, which units protect
            # Files go out by sendall, which the worker's send timeout bounds; Python's
            # sendfile on a blocking socket would wait for a stalled client for ever.
            "sendfile": False,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        return application_for(self._settings)


def exposed_without_proxy(settings: Settings) -> bool:
    """Whether the server listens beyond loopback with no reverse proxy named in front."""
    host = settings.server.bind.rpartition(":")[0].strip("[]") or settings.server.bind
    if host.startswith("unix") or settings.server.trusted_proxies:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


def serve(settings: Settings) -> None:
    if exposed_without_proxy(settings):
        log.warning(
            "serving on a non-loopback address without a reverse proxy in front"
            " (server.trusted_proxies is empty): clients reach gunicorn directly; put the"
            " nginx role in front, which buffers requests and cuts slow clients off",
            extra={"bind": settings.server.bind})
    Server(settings).run()
