"""The Falcon application factory: collaborators come in through one door."""

from __future__ import annotations

import falcon
import peewee

from appliance import openapi
from appliance.clock import Clock, SystemClock
from appliance.db import UNAVAILABLE_ERRORS
from appliance.http import errors
from appliance.http.assets import WebAssets
from appliance.http.client_ip import ClientIpResolver
from appliance.http.middleware import AccessControl, RequestContext
from appliance.http.operation import Operation, operation_of
from appliance.mail import Mailer, open_mailer
from appliance.models import database as database_proxy
from appliance.resources.openapi import OpenApi
from appliance.routes import Route, build_page_routes, build_routes
from appliance.services.container import Services, build_services
from appliance.settings import Settings

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def operations_of(routes: list[Route]) -> dict[tuple[str, str], Operation]:
    """(template, METHOD) -> Operation for every responder; refuses undeclared responders."""
    found: dict[tuple[str, str], Operation] = {}
    for route in routes:
        suffix = f"_{route.suffix}" if route.suffix else ""
        for method in HTTP_METHODS:
            responder = getattr(route.resource, f"on_{method.lower()}{suffix}", None)
            if responder is None:
                continue
            op = operation_of(responder)
            if op is None:
                raise RuntimeError(f"{method} {route.template} declares no @operation")
            found[(route.template, method)] = op
    return found


def create_app(
    settings: Settings,
    database: peewee.Database,
    *,
    store=None,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
    web_assets: WebAssets | None = None,
) -> falcon.App:
    database_proxy.initialize(database)
    services: Services = build_services(
        settings, database, clock or SystemClock(), store, mailer or open_mailer(settings)
    )
    routes = build_routes(services)
    operations = operations_of(routes)
    resolver = ClientIpResolver(settings.server.trusted_proxies)
    app = falcon.App(
        middleware=[
            RequestContext(resolver, database, settings.server.max_body_bytes),
            AccessControl(operations, services.sessions, services.limiter, settings.server.max_body_bytes,
                          plan_gate=services.plan_enforcement,
                          public_entry_header=settings.server.public_entry_header),
        ],
    )
    app.req_options.strip_url_path_trailing_slash = True
    app.resp_options.secure_cookies_by_default = True
    app.set_error_serializer(errors.serialize_error)
    app.add_error_handler(Exception, errors.handle_unexpected)
    for error_type in UNAVAILABLE_ERRORS:
        app.add_error_handler(error_type, errors.handle_unavailable)
    for route in routes:
        app.add_route(route.template, route.resource, **({"suffix": route.suffix} if route.suffix else {}))
        if isinstance(route.resource, OpenApi):
            route.resource.document = openapi.build_document(operations)
    for route in build_page_routes(web_assets or WebAssets()):
        app.add_route(route.template, route.resource)
    return app
