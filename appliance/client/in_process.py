"""Lets the reference client talk to an app in the same process (for `appliance demo`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import falcon
import falcon.testing


class _Response:
    """`requests.Response`-like: status_code, content, text and a json() method."""

    def __init__(self, result: falcon.testing.Result):
        self.status_code = result.status_code
        self.content = result.content
        self.text = result.text
        self._result = result

    def json(self) -> Any:
        return self._result.json


class InProcessSession:
    """The slice of `requests.Session` the reference client uses, served by a Falcon app."""

    def __init__(self, app: falcon.App):
        self._client = falcon.testing.TestClient(app)

    def request(self, method: str, url: str, *, json: Any = None, headers: dict | None = None,
                params: dict | None = None, timeout: float | None = None) -> _Response:
        path = urlsplit(url).path
        return _Response(
            self._client.simulate_request(method, path, json=json, headers=headers, params=params)
        )
