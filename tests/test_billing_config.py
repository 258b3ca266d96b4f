"""The `[billing]` settings, and an appliance without Stripe keys: billing disabled, no limits,
no subscription checks, and billing endpoints that say so."""

from __future__ import annotations

import pytest

from appliance import settings as s
from tests.support.api import assert_error, call, founder, fresh_email
from tests.support.billing import SECRET_KEY, WEBHOOK_SECRET, deliver
from tests.support.consent import create_consent, team
from tests.support.team import invite, joined_member

TOGETHER = "billing.stripe_webhook_secret: stripe_secret_key and"
PRODUCTION = {"mode": "production", "public_base_url": "https://x.de"}
HTTPS = {"success_url": "https://x.de/ok", "cancel_url": "https://x.de/no", "portal_return_url": "https://x.de/b"}
ENABLED = {"stripe_secret_key": SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET,
           "price_starter_monthly": "price_1", **HTTPS}


def build(tmp_path, billing: dict, **app):
    data = {"app": {"data_dir": str(tmp_path), **app}, "billing": billing}
    if app.get("mode") == "production":
        data["auth"] = {"jwt_secret": "k" * 40}
    return s.build(data, {})


def test_without_a_secret_key_billing_is_disabled(tmp_path):
    assert not build(tmp_path, {}).billing.enabled
    enabled = build(tmp_path, ENABLED).billing
    assert enabled.enabled and enabled.prices == {"price_starter_monthly": "price_1"}
    from_env = s.build({"app": {"data_dir": str(tmp_path)}}, {
        "APPLIANCE_BILLING_STRIPE_SECRET_KEY": SECRET_KEY,
        "APPLIANCE_BILLING_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "APPLIANCE_BILLING_PRICE_PROFESSIONAL_YEARLY": "price_9", "APPLIANCE_BILLING_REQUEST_TIMEOUT": "5",
        **{f"APPLIANCE_BILLING_{k.upper()}": v for k, v in HTTPS.items()},
    })
    assert from_env.billing.enabled and from_env.billing.request_timeout == 5


@pytest.mark.parametrize(
    ("billing", "app", "problem"),
    [
        ({"stripe_secret_key": SECRET_KEY}, {}, TOGETHER),
        ({"stripe_webhook_secret": WEBHOOK_SECRET}, {}, TOGETHER),
        ({**ENABLED, "stripe_secret_key": "pk_live_publishable"}, {}, "billing.stripe_secret_key"),
        ({**ENABLED, "stripe_webhook_secret": "secret"}, {}, "billing.stripe_webhook_secret: must be"),
        ({**ENABLED, "success_url": ""}, {}, "billing.success_url: required"),
        ({**ENABLED, "cancel_url": "/relative"}, {}, "billing.cancel_url: must be an absolute"),
        ({**ENABLED, "price_starter_monthly": ""}, {}, "billing needs at least one price id"),
        ({**ENABLED, "price_starter_yearly": "price_1"}, {}, "billing.price_starter_yearly: this price id"),
        ({**ENABLED, "request_timeout": 0}, {}, "billing.request_timeout"),
        ({"stripe_api_base": "localhost:12111"}, {}, "billing.stripe_api_base: must be an absolute"),
        ({**ENABLED, "portal_return_url": "http://x.de/b"}, PRODUCTION, "portal_return_url: must use https"),
        ({**ENABLED, "stripe_api_base": "http://127.0.0.1:1"}, PRODUCTION, "stripe_api_base: must use https"),
    ],
)
def test_wrong_billing_settings_are_refused_by_name(tmp_path, billing, app, problem):
    with pytest.raises(s.ConfigError, match=problem):
        build(tmp_path, billing, **app)


def test_production_takes_https_billing_urls(tmp_path):
    cfg = build(tmp_path, ENABLED, mode="production", public_base_url="https://x.de")
    assert cfg.production and cfg.billing.enabled


# --- an appliance without Stripe keys (the default test settings) ---------------------------


def test_disabled_billing_endpoints_answer_billing_disabled(client):
    admin = founder(client)
    for method, path, body in [("GET", "/api/billing/subscription", None),
                               ("POST", "/api/billing/checkout", {"plan": "STARTER", "interval": "monthly"}),
                               ("POST", "/api/billing/portal", None)]:
        assert_error(call(client, method, path, token=admin.token, json=body), 404, "billing_disabled")
    paid = {"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": {}}}
    assert_error(deliver(client, paid), 404, "billing_disabled")


def test_disabled_billing_imposes_no_limits_and_no_trial(client, clock, settings):
    practice = team(client, "ARZT")
    joined_member(client, practice.token(), "EMPFANG")
    assert invite(client, practice.token(), fresh_email()).status_code == 201
    clock.advance(days=45)
    practice.renew(settings, clock)
    for _ in range(26):
        create_consent(client, practice, role="ARZT")
    assert call(client, "GET", "/api/patients", token=practice.token("ARZT")).status_code == 200
