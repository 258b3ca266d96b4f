"""Per-practice settings: consent types, link expiry, branding, time zone, locale, base URL."""

from __future__ import annotations

import re

import peewee

from appliance.clock import Clock, is_iana_zone
from appliance.http.errors import bad_request
from appliance.models import Practice
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.forms import Forms
from appliance.settings import is_https_link, link_parts

#: API name -> column.
FIELDS = {
    "enabledConsentTypes": "enabled_consent_types",
    "defaultConsentExpiry": "default_consent_expiry_days",
    "brandColor": "brand_color",
    "timezone": "timezone",
    "locale": "locale",
    "publicBaseUrl": "public_base_url",
    "impressumUrl": "impressum_url",
    "privacyUrl": "privacy_url",
    "vaultIdleMinutes": "vault_idle_minutes",
}
#: The practice's own text block per consent type: kept apart, as immutable revisions.
PRACTICE_TEXTS = "practiceTexts"
#: JSON Schema's `$` lets "#aabbcc\n" through in Python (it matches before a final newline).
BRAND_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def settings_view(practice: Practice) -> dict:
    return {api: getattr(practice, column) for api, column in FIELDS.items()}


#: A practice text longer than this (title and paragraphs together) is no longer a short
#: addition to the consent form, e.g. prices or the physician's name.
MAX_PRACTICE_TEXT_CHARS = 6000


def _check(body: dict) -> None:
    """Rules JSON Schema cannot say: real time zones, usable base URLs, practice text sizes."""
    problems = []
    for consent_type, text in (body.get(PRACTICE_TEXTS) or {}).items():
        size = 0 if text is None else len(text["title"]) + sum(map(len, text["paragraphs"]))
        if size > MAX_PRACTICE_TEXT_CHARS:
            problems.append({"field": f"{PRACTICE_TEXTS}.{consent_type}",
                             "problem": f"is longer than {MAX_PRACTICE_TEXT_CHARS} characters in all"})
    if "timezone" in body and not is_iana_zone(body["timezone"]):
        problems.append({"field": "timezone", "problem": "is not an IANA time zone"})
    if "brandColor" in body and not BRAND_COLOR.fullmatch(body["brandColor"]):
        problems.append({"field": "brandColor", "problem": "must be #rrggbb"})
    url = body.get("publicBaseUrl")
    if url is not None and not _usable_base_url(url):
        problems.append({"field": "publicBaseUrl", "problem": "must be an absolute http(s) URL"})
    for field in ("impressumUrl", "privacyUrl"):
        if body.get(field) is not None and not is_https_link(body[field]):
            problems.append({"field": field, "problem": "must be an https URL"})
    if problems:
        raise bad_request("the settings are invalid", problems)


def _usable_base_url(url: str) -> bool:
    """An http(s) URL that links can be appended to, without credentials or stray characters."""
    parts = link_parts(url)
    return (parts is not None and parts.scheme in ("http", "https")
            and not parts.query and not parts.fragment)


class PracticeSettings:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, forms: Forms):
        self._db = database
        self._audit = audit
        self._clock = clock
        self._forms = forms

    def _view(self, principal: Principal) -> dict:
        return {**settings_view(Practice.get_by_id(principal.practice_id)),
                PRACTICE_TEXTS: self._forms.current_texts()}

    def get(self, principal: Principal) -> dict:
        return self._view(principal)

    def update(self, principal: Principal, body: dict, caller: Caller) -> dict:
        _check(body)
        changes = {FIELDS[api]: value for api, value in body.items() if api != PRACTICE_TEXTS}
        if "enabled_consent_types" in changes:
            changes["enabled_consent_types"] = sorted(set(changes["enabled_consent_types"]))
        if "brand_color" in changes:
            changes["brand_color"] = changes["brand_color"].lower()
        if changes.get("public_base_url"):
            changes["public_base_url"] = changes["public_base_url"].rstrip("/")
        now = self._clock.now()
        with self._db.atomic():
            Practice.update({**changes, "updated_at": now}).where(
                Practice.id == principal.practice_id
            ).execute()
            metadata: dict = {"fields": sorted(body)}
            if PRACTICE_TEXTS in body:
                metadata["practiceTextTypes"] = self._forms.save_texts(principal, body[PRACTICE_TEXTS], now)
            self._audit.record(
                "PRACTICE_SETTINGS_UPDATED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="settings",
                entity_id=principal.practice_id, metadata=metadata,
            )
            return self._view(principal)
