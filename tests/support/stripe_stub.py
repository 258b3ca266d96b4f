"""Stripe offline for the billing tests, driven through the real `stripe` SDK over HTTP.

Two servers on 127.0.0.1, both in one aiohttp event loop on a background thread:

* localstripe (PyPI), the stateful fake Stripe API: customers, plans, payment methods,
  subscriptions, invoices. Its state stays in memory: the pickle it would write after every
  change into the shared temp directory is switched off.
* a stand-in in front of it for what localstripe lacks, which is the address the app's
  `billing.stripe_api_base` points at:
  - Checkout Sessions (create, retrieve, list, expire) and Billing Portal sessions
    (`POST /v1/billing_portal/sessions`), checked against localstripe's customers and prices;
  - prices: a price id is a localstripe plan of the same id (in Stripe, plans are prices),
    so `items[n][price]` becomes `items[n][plan]` on the way to localstripe;
  - idempotency keys: a POST with a key seen before gets the stored answer, as from Stripe;
  - faults for the failure tests (`fault`): a path that is down (503), that hangs for `delay`
    seconds before it processes the request, or that processes it and answers only after
    `delay` seconds (a response lost on the way back).

`complete_checkout` plays the customer who pays on the Checkout page: a card, a real
localstripe subscription for the session's price, the session marked complete.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
import warnings
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import stripe
from aiohttp import ClientSession, web

with warnings.catch_warnings():  # localstripe registers plain functions as aiohttp handlers
    warnings.simplefilter("ignore", DeprecationWarning)
    import localstripe.resources
    import localstripe.server
    from localstripe.errors import UserError

ITEM_PRICE = re.compile(r"^items\[(\d+)\]\[price\]$")
API_VERSION = "2026-10-28.endive"


@dataclass
class Fault:
    path: str
    #: "down": 503 without processing; "hang": waits `delay` seconds, then processes;
    #: "lost": processes, then answers after `delay` seconds.
    mode: str
    times: int
    delay: float = 0.0


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    idempotency_key: str | None


def _stripe_error(status: int, message: str, param: str | None = None) -> web.Response:
    body = {"error": {"type": "invalid_request_error", "message": message, "param": param}}
    return web.json_response(body, status=status)


class StripeStub:
    def __init__(self) -> None:
        localstripe.resources.store.dump_to_disk = lambda: None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="stripe-stub", daemon=True)
        self._thread.start()
        self._runners: list[web.AppRunner] = []
        self._faults: list[Fault] = []
        self._replies: dict[str, tuple[int, bytes, str]] = {}
        self.requests: list[Seen] = []
        self.checkout_sessions: dict[str, dict] = {}
        self.portal_sessions: dict[str, dict] = {}
        self._localstripe = self._run(self._serve(localstripe.server.app))
        self._http: ClientSession = self._run(self._session())
        self.api_base = self._run(self._serve(self._front()))
        #: For test set-up and inspection: the SDK against the stand-in, no retries.
        self.client = stripe.StripeClient("sk_test_stub", base_addresses={"api": self.api_base})
        self._products: dict[str, str] = {}

    # ----- life cycle -----

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(15)

    @staticmethod
    async def _session() -> ClientSession:
        return ClientSession()

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._run(self._http.close())
        for runner in reversed(self._runners):
            self._run(runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # ----- test controls -----

    def fault(self, path: str, mode: str, *, times: int = 1, delay: float = 0.0) -> None:
        """The next `times` requests to `path` fail as `mode` says (see Fault)."""
        self._faults.append(Fault(path, mode, times, delay))

    def clear_faults(self) -> None:
        self._faults.clear()

    def seen(self, path: str, method: str = "POST") -> list[Seen]:
        return [r for r in self.requests if r.path == path and r.method == method]

    def ensure_price(self, price_id: str, amount: int, interval: str) -> None:
        """A recurring EUR price (a localstripe plan with the price's id), made once."""
        try:
            self.client.v1.plans.retrieve(price_id)
            return
        except stripe.InvalidRequestError:
            pass
        product = self._products.get("appliance")
        if product is None:
            product = self.client.v1.products.create({"name": "appliance"}).id
            self._products["appliance"] = product
        self.client.v1.plans.create({"id": price_id, "product": product, "amount": amount,
                                     "currency": "eur", "interval": interval})

    def customers(self, practice_id: str) -> list[dict]:
        """The Stripe customers made for a practice (by the metadata the app sets)."""
        listed = self.client.v1.customers.list({"limit": 100}).to_dict()["data"]
        return [c for c in listed if (c.get("metadata") or {}).get("practice_id") == practice_id]

    def complete_checkout(self, session_id: str) -> tuple[dict, dict]:
        """The customer pays: returns the completed session and the new subscription."""
        session = self.checkout_sessions[session_id]
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}: it cannot be paid")
        customer = session["customer"]
        card = self.client.v1.payment_methods.create({
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        })
        self.client.v1.payment_methods.attach(card.id, {"customer": customer})
        self.client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": card.id}})
        subscription = self.client.v1.subscriptions.create({
            "customer": customer,
            "items": [{"price": session["_price"]}],
            "metadata": session["_subscription_metadata"],
        })
        session.update(status="complete", payment_status="paid", subscription=subscription.id)
        return self.public(session), subscription.to_dict()

    def subscription(self, subscription_id: str) -> dict:
        return self.client.v1.subscriptions.retrieve(subscription_id).to_dict()

    def latest_invoice(self, subscription_id: str) -> dict:
        invoice_id = self.subscription(subscription_id)["latest_invoice"]
        return self.client.v1.invoices.retrieve(invoice_id).to_dict()

    @staticmethod
    def public(session: dict) -> dict:
        """A session as Stripe shows it (without the stand-in's own bookkeeping)."""
        return {k: v for k, v in session.items() if not k.startswith("_")}

    # ----- the stand-in -----

    def _front(self) -> web.Application:
        app = web.Application(middlewares=[self._fault_middleware, self._idempotency_middleware])
        app.router.add_post("/v1/checkout/sessions", self._create_checkout)
        app.router.add_get("/v1/checkout/sessions", self._list_checkouts)
        app.router.add_get("/v1/checkout/sessions/{id}", self._get_checkout)
        app.router.add_post("/v1/checkout/sessions/{id}/expire", self._expire_checkout)
        app.router.add_post("/v1/billing_portal/sessions", self._create_portal)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        return app

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler):
        self.requests.append(Seen(request.method, request.path, request.headers.get("Idempotency-Key")))
        fault = next((f for f in self._faults if f.path == request.path and f.times > 0), None)
        if fault is None:
            return await handler(request)
        fault.times -= 1
        if fault.mode == "down":
            return _stripe_error(503, "service unavailable (stub fault)")
        if fault.mode == "hang":
            await asyncio.sleep(fault.delay)
            return await handler(request)
        response = await handler(request)
        await asyncio.sleep(fault.delay)
        return response

    @web.middleware
    async def _idempotency_middleware(self, request: web.Request, handler):
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        if key in self._replies:
            status, body, content_type = self._replies[key]
            return web.Response(status=status, body=body, content_type=content_type,
                                headers={"Idempotent-Replayed": "true"})
        response = await handler(request)
        if response.status < 500 and isinstance(response.body, bytes):
            self._replies[key] = (response.status, response.body, response.content_type)
        return response

    @staticmethod
    async def _form(request: web.Request) -> dict:
        return localstripe.server.unflatten_data(await request.post()) or {}

    async def _create_checkout(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if form.get("mode") != "subscription":
            return _stripe_error(400, "this stand-in only makes subscription sessions", "mode")
        items = form.get("line_items")
        if not isinstance(items, list) or len(items) != 1 or not items[0].get("price"):
            return _stripe_error(400, "exactly one line item with a price", "line_items")
        for key in ("success_url", "cancel_url"):
            if not str(form.get(key, "")).startswith(("http://", "https://")):
                return _stripe_error(400, f"{key} must be a URL", key)
        try:
            localstripe.resources.Customer._api_retrieve(form.get("customer") or "")
            localstripe.resources.Plan._api_retrieve(items[0]["price"])
        except UserError as exc:
            return exc.to_response()
        session_id = "cs_test_" + secrets.token_hex(16)
        session = {
            "id": session_id, "object": "checkout.session", "mode": "subscription", "status": "open",
            "payment_status": "unpaid", "customer": form["customer"], "subscription": None,
            "client_reference_id": form.get("client_reference_id"), "metadata": form.get("metadata") or {},
            "success_url": form["success_url"], "cancel_url": form["cancel_url"],
            "url": f"https://checkout.stripe.test/c/pay/{session_id}", "created": int(time.time()),
            "livemode": False, "_price": items[0]["price"],
            "_subscription_metadata": (form.get("subscription_data") or {}).get("metadata") or {},
        }
        self.checkout_sessions[session_id] = session
        return web.json_response(self.public(session))

    async def _list_checkouts(self, request: web.Request) -> web.Response:
        """Newest first, filtered by customer and status, as Stripe lists them."""
        query = request.query
        found = [self.public(s) for s in self.checkout_sessions.values()
                 if query.get("customer") in (None, s["customer"])
                 and query.get("status") in (None, s["status"])]
        found.sort(key=lambda s: (s["created"], s["id"]), reverse=True)
        limit = int(query.get("limit", 10))
        return web.json_response({"object": "list", "url": "/v1/checkout/sessions", "data": found[:limit],
                                  "has_more": len(found) > limit})

    async def _expire_checkout(self, request: web.Request) -> web.Response:
        session = self.checkout_sessions.get(request.match_info["id"])
        if session is None:
            return _stripe_error(404, "no such checkout session", "id")
        if session["status"] != "open":
            return _stripe_error(400, f"the session is {session['status']}, not open")
        session["status"] = "expired"
        return web.json_response(self.public(session))

    async def _get_checkout(self, request: web.Request) -> web.Response:
        session = self.checkout_sessions.get(request.match_info["id"])
        if session is None:
            return _stripe_error(404, "no such checkout session", "id")
        return web.json_response(self.public(session))

    async def _create_portal(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        try:
            localstripe.resources.Customer._api_retrieve(form.get("customer") or "")
        except UserError as exc:
            return exc.to_response()
        session_id = "bps_" + secrets.token_hex(12)
        session = {"id": session_id, "object": "billing_portal.session", "customer": form["customer"],
                   "return_url": form.get("return_url"), "livemode": False, "created": int(time.time()),
                   "url": f"https://billing.stripe.test/p/session/{session_id}"}
        self.portal_sessions[session_id] = session
        return web.json_response(session)

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.path.startswith("/v1/subscriptions") and body:
            pairs = parse_qsl(body.decode(), keep_blank_values=True)
            body = urlencode([(ITEM_PRICE.sub(r"items[\1][plan]", k), v) for k, v in pairs]).encode()
        headers = {name: request.headers[name] for name in ("Authorization", "Content-Type")
                   if name in request.headers}
        async with self._http.request(request.method, self._localstripe + request.path_qs,
                                      data=body or None, headers=headers) as answer:
            return web.Response(status=answer.status, body=await answer.read(),
                                content_type=answer.content_type)


def event(kind: str, obj: dict, *, created: int | None = None, event_id: str | None = None) -> dict:
    """A Stripe event wrapping `obj` as its data.object."""
    return {
        "id": event_id or "evt_" + secrets.token_hex(12), "object": "event", "type": kind,
        "api_version": API_VERSION, "created": created if created is not None else int(time.time()),
        "livemode": False, "pending_webhooks": 1, "data": {"object": obj},
    }


def signed(payload: dict | bytes, secret: str, *,
           timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook delivery signed with `secret`, as Stripe sends it."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, indent=2).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp)
    return body, {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header}
