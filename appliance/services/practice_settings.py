"""Per-practice settings: consent types, link expiry, branding, time zone, locale, base URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import peewee

from appliance.clock import Clock, is_iana_zone
from appliance.http.errors import bad_request
from appliance.models import Practice
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit

#: API name -> column.
FIELDS = {
    "enabledConsentTypes": "enabled_consent_types",
    "defaultConsentExpiry": "default_consent_expiry_days",
    "brandColor": "brand_color",
    "timezone": "timezone",
    "locale": "locale",
    "publicBaseUrl": "public_base_url",
}
#: JSON Schema's `$` lets "#aabbcc\n" through in Python (it matches before a final newline).
BRAND_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
#: Whitespace or control characters would break the link in a mail or on a page.
_UNPRINTABLE = re.compile(r"[\s\x00-\x1f\x7f]")


def settings_view(practice: Practice) -> dict:
    return {api: getattr(practice, column) for api, column in FIELDS.items()}


def _check(body: dict) -> None:
    """Rules JSON Schema cannot say: real time zones and usable base URLs."""
    problems = []
    if "timezone" in body and not is_iana_zone(body["timezone"]):
        problems.append({"field": "timezone", "problem": "is not an IANA time zone"})
    if "brandColor" in body and not BRAND_COLOR.fullmatch(body["brandColor"]):
        problems.append({"field": "brandColor", "problem": "must be #rrggbb"})
    url = body.get("publicBaseUrl")
    if url is not None and not _usable_base_url(url):
        problems.append({"field": "publicBaseUrl", "problem": "must be an absolute http(s) URL"})
    if problems:
        raise bad_request("the settings are invalid", problems)


def _usable_base_url(url: str) -> bool:
    """An http(s) URL that links can be appended to, without credentials or stray characters."""
    if _UNPRINTABLE.search(url):
        return False
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc
            and not parts.query and not parts.fragment)


class PracticeSettings:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock):
        self._db = database
        self._audit = audit
        self._clock = clock

    def get(self, principal: Principal) -> dict:
        return settings_view(Practice.get_by_id(principal.practice_id))

    def update(self, principal: Principal, body: dict, caller: Caller) -> dict:
        _check(body)
        changes = {FIELDS[api]: value for api, value in body.items()}
        if "enabled_consent_types" in changes:
            changes["enabled_consent_types"] = sorted(set(changes["enabled_consent_types"]))
        if "brand_color" in changes:
            changes["brand_color"] = changes["brand_color"].lower()
        if changes.get("public_base_url"):
            changes["public_base_url"] = changes["public_base_url"].rstrip("/")
        with self._db.atomic():
            Practice.update({**changes, "updated_at": self._clock.now()}).where(
                Practice.id == principal.practice_id
            ).execute()
            self._audit.record(
                "PRACTICE_SETTINGS_UPDATED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="settings",
                entity_id=principal.practice_id, metadata={"fields": sorted(body)},
            )
            return settings_view(Practice.get_by_id(principal.practice_id))
