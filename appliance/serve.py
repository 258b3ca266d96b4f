"""Runs the app under gunicorn, configured from the appliance settings (not gunicorn's CLI)."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from appliance import logs
from appliance.settings import Settings


def application_for(settings: Settings):
    """Builds one app in each worker: every worker opens its own database pool."""
    from appliance.app import create_app
    from appliance.db import open_database
    from appliance.storage import open_store

    logs.configure(settings.log.level)
    database = open_database(
        settings.database_url,
        pool_size=settings.database.pool_size,
        connect_timeout=settings.database.connect_timeout,
    )
    return create_app(settings, database, store=open_store(settings))


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
            "worker_class": "gthread",
            "timeout": server.timeout,
            "keepalive": server.keepalive,
            "graceful_timeout": 20,
            "accesslog": None,  # the app logs one JSON line per request itself
            "errorlog": "-",
            "loglevel": self._settings.log.level.lower(),
            "proc_name": "appliance-api",
            "forwarded_allow_ips": "",  # client IPs come from our own trusted-proxy logic
            "limit_request_line": 8190,
            "control_socket_disable": True,  # it would live in $HOME, which units protect
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        return application_for(self._settings)


def serve(settings: Settings) -> None:
    Server(settings).run()
