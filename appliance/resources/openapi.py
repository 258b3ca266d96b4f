"""Serves the OpenAPI document that the app builds from its own routes at start-up."""

from __future__ import annotations

import falcon

from appliance.http.operation import operation


class OpenApi:
    def __init__(self) -> None:
        self.document: dict = {}

    @operation(
        "This API's OpenAPI 3.1 document", auth="public", tags=("Meta",),
        response={"type": "object"}, database=False,
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.document
