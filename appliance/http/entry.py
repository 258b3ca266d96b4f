"""The public (internet) entry: what patients may reach through the reverse proxy.

The proxy has two server blocks. The LAN one serves the whole API to staff networks; the
public one forwards only the patient paths (API routes and pages) and marks each request with
`server.public_entry_header: public`. The app checks that mark itself, so a proxy that forwards
too much still does not expose the staff API: on the public entry only these operations exist,
everything else answers 404 like an unknown route.

The mark only ever takes rights away, so it is honoured from any sender: a client that sets it
hides the staff API from itself, and the proxy overwrites whatever a client sent.
"""

from __future__ import annotations

from appliance.http.operation import Operation

PUBLIC = "public"
LAN = "lan"

#: Route templates patients use: the consent link, the team invite link, the Stripe webhook
#: and the practice logo on the consent page. Each must be an auth="public" operation (a test
#: checks it); the reverse proxy's public server block forwards the same paths.
PATIENT_ROUTES = frozenset({
    "/api/consent/{token}",
    "/api/consent/{token}/submit",
    "/api/consent/{token}/withdraw",
    "/api/team/invite/{token}",
    "/api/team/invite/{token}/accept",
    "/api/billing/webhook",
    "/api/public/logo/{id:uuid}",
})


#: The pages patients open (GET and HEAD only): the consent page, the staff app's invitation
#: page (an invited person may open the mail at home) and the bundles they load. They are no API
#: operations; the reverse proxy's public server block forwards the same paths. The rest of the
#: staff app is on the LAN entry only.
PATIENT_PAGES = frozenset({"/consent/{token}", "/invite/{token}", "/assets/{name}"})
PAGE_METHODS = ("GET", "HEAD")


def is_public_entry(header_value: str | None) -> bool:
    return (header_value or "").strip().lower() == PUBLIC


def is_lan_entry(header_value: str | None, from_trusted_proxy: bool) -> bool:
    """The staff entry. Unlike the public mark this one gives something (a larger sign-in
    budget for terminal servers), so it counts only when our own proxy set it."""
    return from_trusted_proxy and (header_value or "").strip().lower() == LAN


def allowed_on_public_entry(template: str | None, method: str, op: Operation | None) -> bool:
    """Only public operations of the patient routes and the patient pages; a method a route
    lacks is refused too."""
    if op is None:
        return template in PATIENT_PAGES and method in PAGE_METHODS
    return op.auth == "public" and template in PATIENT_ROUTES
