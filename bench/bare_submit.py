"""The baseline for bench/submit.py: a bare Falcon app whose submit is one INSERT in one
transaction (psycopg2, a thread-safe pool per worker), no middleware, no checks, no audit.

Run it with `gunicorn --chdir bench bare_submit:app` and BARE_DATABASE_URL naming a database
that has the table `bare_submit (id uuid, token text, body text)`.
"""

from __future__ import annotations

import json
import os
import uuid

import falcon
from psycopg2.pool import ThreadedConnectionPool

POOL = ThreadedConnectionPool(1, 8, os.environ["BARE_DATABASE_URL"])


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Submit:
    def on_post(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        body = req.get_media()
        connection = POOL.getconn()
        try:
            with connection, connection.cursor() as cursor:  # one transaction, committed
                cursor.execute("INSERT INTO bare_submit (id, token, body) VALUES (%s, %s, %s)",
                               (str(uuid.uuid4()), token, json.dumps(body)))
        finally:
            POOL.putconn(connection)
        resp.media = {"status": "SIGNED"}


app = falcon.App()
app.add_route("/api/health", Health())
app.add_route("/api/consent/{token}/submit", Submit())
