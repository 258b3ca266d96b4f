"""The practice logo: managed by ADMINs in the settings, fetched by the patient consent page."""

from __future__ import annotations

import uuid

import falcon

from appliance.http.head import head_from_get
from appliance.http.operation import ADMIN, operation, roles
from appliance.models import LOGO_TYPES
from appliance.resources.auth import caller
from appliance.resources.consent import PUBLIC_RATE_LIMIT
from appliance.resources.schemas import TIMESTAMP, obj
from appliance.resources.uploads import UploadForm
from appliance.services.logo import MAX_LOGO_BYTES, Logo

TAGS = ("Settings",)
LOGO = obj(
    ["logoUrl", "contentType", "sizeBytes", "uploadedAt"],
    {"logoUrl": {"type": "string"}, "contentType": {"enum": list(LOGO_TYPES)},
     "sizeBytes": {"type": "integer"}, "uploadedAt": TIMESTAMP},
)
UNAVAILABLE = "the object store is unreachable (object_store_unavailable); nothing was written"
FULL = "the object store has no space left (storage_full); nothing was written"
#: Each logo id names one immutable image, so shared caches and browsers may keep it.
CACHE_FOREVER = "public, max-age=31536000, immutable"


class SettingsLogo:
    def __init__(self, logo: Logo):
        self._logo = logo

    @operation("The practice logo and its public URL", roles=roles(ADMIN), tags=TAGS, response=LOGO,
               errors={404: "the practice has no logo"})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._logo.get()

    @operation(
        "Upload or replace the practice logo", roles=roles(ADMIN), tags=TAGS,
        request_media="multipart/form-data", response=LOGO,
        errors={400: "not a PNG, JPEG or WebP image by its content (unsupported_image)",
                411: "no Content-Length", 413: "larger than 2 MiB", 415: "not multipart/form-data",
                503: UNAVAILABLE, 507: FULL},
        description="multipart/form-data with one part `file`: a PNG, JPEG or WebP image of at"
        " most 2 MiB. The type is recognised from the bytes; the declared type is ignored. The"
        " new logo gets a new public URL; the old image is removed.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = UploadForm(req, frozenset(), MAX_LOGO_BYTES)
        _, stream = form.fields_and_file()
        resp.media = self._logo.upload(req.context.principal, stream, caller(req), before_store=form.finish)

    @operation("Delete the practice logo", roles=roles(ADMIN), tags=TAGS,
               errors={404: "the practice has no logo"})
    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._logo.delete(req.context.principal, caller(req))
        resp.status = falcon.HTTP_204


class PublicLogo:
    def __init__(self, logo: Logo):
        self._logo = logo

    @operation(
        "A practice logo, for the patient consent page", auth="public", tags=TAGS,
        rate_limit=PUBLIC_RATE_LIMIT, response_media="image/*",
        errors={404: "no logo with this id", 503: UNAVAILABLE},
        description="Serves only logo images, named by the id in the `logoUrl` of the public"
        " consent response; the id changes with every upload, so the answer is cacheable.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        content, content_type = self._logo.public_get(id)
        resp.content_type = content_type
        resp.content_length = content.size
        resp.stream = content
        resp.set_header("Cache-Control", CACHE_FOREVER)
        # The consent page may be served from another origin than the API.
        resp.set_header("Cross-Origin-Resource-Policy", "cross-origin")

    on_head = head_from_get(on_get)
