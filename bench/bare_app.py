"""The baseline for bench/health.py: a bare Falcon app with one resource and nothing else.

It answers `GET /api/health` with the same JSON body as the appliance (no middleware, no
database, no logging), so the difference to `appliance serve` is what the appliance adds.
Run it with `gunicorn --chdir bench bare_app:app`.
"""

from __future__ import annotations

import falcon

from appliance import __version__


class Health:
    """Liveness, exactly the body of appliance.resources.health.Health."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok", "version": __version__}


app = falcon.App()
app.add_route("/api/health", Health())
