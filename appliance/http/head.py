"""HEAD for the patient links: answered as GET is, without the body.

Mail scanners and link previews check a link with HEAD before anyone clicks it, and nginx
forwards HEAD wherever it forwards GET; without a responder it was a 404 on the public entry.
Only for GET operations without side effects (no audit entry, no state change).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import falcon


def head_from_get(get: Callable) -> Callable:
    """An `on_head` that runs `get` (declaration included) and drops a streamed body unread."""

    @functools.wraps(get)
    def on_head(self, req: falcon.Request, resp: falcon.Response, **params) -> None:
        get(self, req, resp, **params)
        stream = resp.stream
        if stream is not None:
            resp.stream = None  # Falcon sends no body for HEAD, but would leave it open
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    return on_head
