"""Consent form content: the catalogue's published versions plus each practice's own text.

What a patient reads is fixed when the link is made: the consent form row names the catalogue
form and version and the practice-text revision current at that moment. The patient's page
shows that content in any of the catalogue's locales, each with its formHash; a submit must
name one of exactly those hashes. Practice texts are never changed in place: saving one adds a
revision, so a form sent earlier still shows what it named.
"""

from __future__ import annotations

import datetime as dt
import uuid

from appliance.clock import isoformat
from appliance.forms.catalogue import Catalogue, CatalogueError, FormVersion, document
from appliance.http.errors import ApiError, bad_request, not_found
from appliance.models import CONSENT_TYPES, ConsentForm, Practice, PracticeFormText
from appliance.principal import Principal


def unknown_form_hash(field: str, problem: str) -> ApiError:
    return bad_request("the form named is not the one published for this consent",
                       [{"field": field, "problem": problem}], code="unknown_form_hash")


def practice_block(row: PracticeFormText | None) -> dict | None:
    """The practice's text as the form document carries it (`practiceText`), or None."""
    if row is None or row.title is None:
        return None
    return {"title": row.title, "blocks": [{"kind": "paragraph", "text": text} for text in row.paragraphs]}


def _text_view(row: PracticeFormText) -> dict:
    return {"title": row.title, "paragraphs": row.paragraphs, "revision": row.revision,
            "createdAt": isoformat(row.created_at)}


#: Published formHashes kept per process: (form, version, locale, practice-text revision).
PUBLISHED_CACHE = 4096


class Forms:
    def __init__(self, catalogue: Catalogue):
        self._catalogue = catalogue
        self._published: dict[tuple, str] = {}

    @property
    def catalogue(self) -> Catalogue:
        return self._catalogue

    # ----- practice texts (inside the caller's practice scope) -----

    @staticmethod
    def _latest(consent_type: str) -> PracticeFormText | None:
        return (PracticeFormText.select().where(PracticeFormText.type == consent_type)
                .order_by(PracticeFormText.revision.desc()).first())

    def current_texts(self) -> dict[str, dict]:
        """Type -> the practice's current text with its revision, for types that have one."""
        latest = {}
        for row in PracticeFormText.select().order_by(PracticeFormText.revision):
            latest[row.type] = row
        return {kind: _text_view(row) for kind, row in sorted(latest.items()) if row.title is not None}

    def save_texts(self, principal: Principal, texts: dict[str, dict | None], now: dt.datetime) -> list[str]:
        """Adds a revision for every type whose text changes (None removes it); returns those
        types. Call inside the settings transaction, after the practice row was updated: that
        row lock serialises concurrent saves of one practice on PostgreSQL."""
        changed = []
        for consent_type, text in sorted(texts.items()):
            latest = self._latest(consent_type)
            title = None if text is None else text["title"].strip()
            paragraphs = None if text is None else [p.strip() for p in text["paragraphs"]]
            if latest is None and title is None:
                continue
            if latest is not None and (latest.title, latest.paragraphs) == (title, paragraphs):
                continue
            PracticeFormText.insert(
                id=uuid.uuid4(), type=consent_type, revision=(latest.revision + 1) if latest else 1,
                title=title, paragraphs=paragraphs, created_by=principal.user_id, created_at=now,
            ).execute()
            changed.append(consent_type)
        return changed

    # ----- what a consent form names -----

    def for_new_consent(self, consent_type: str) -> dict:
        """The columns a new consent form gets: the newest catalogue version of its type and the
        practice's text revision current now (none if the practice removed it)."""
        version = self._catalogue.current(consent_type)
        latest = self._latest(consent_type)
        return {"form_id": version.form_id, "form_version": version.version,
                "practice_text_id": latest.id if latest is not None and latest.title is not None else None}

    def _version_of(self, form: ConsentForm) -> FormVersion:
        version = self._catalogue.get(form.form_id, form.form_version)
        if version is None:  # a catalogue version is never removed; the tests keep it so
            raise CatalogueError(f"form catalogue: {form.form_id} v{form.form_version} is missing")
        return version

    @staticmethod
    def _practice_text(form: ConsentForm) -> dict | None:
        if form.practice_text_id is None:
            return None
        return practice_block(PracticeFormText.get_by_id(form.practice_text_id))

    def consent_document(self, form: ConsentForm, locale: str) -> tuple[dict, list[str]]:
        """The document a consent's link shows in `locale` (the link's own if the catalogue
        lacks it), and the locales it can be shown in. Inside the form's practice scope."""
        version = self._version_of(form)
        shown = locale if locale in version.documents else version.locales[0]
        return document(version, shown, self._practice_text(form)), version.locales

    @staticmethod
    def revision_of(form: ConsentForm) -> int | None:
        """The number of the practice-text revision a consent form names, or None."""
        if form.practice_text_id is None:
            return None
        return (PracticeFormText.select(PracticeFormText.revision)
                .where(PracticeFormText.id == form.practice_text_id).scalar())

    def check_submitted(self, form: ConsentForm, body: dict) -> None:
        """400 unknown_form_hash unless the submit names this consent's form, version and a
        formHash published for it in the locale it names. Changes nothing."""
        if body["formId"] != form.form_id:
            raise unknown_form_hash("formId", "is not the form of this consent")
        if body["version"] != form.form_version:
            raise unknown_form_hash("version", "is not the form version of this consent")
        version = self._version_of(form)
        if body["locale"] not in version.documents:
            raise unknown_form_hash("locale", "is not a locale of this form")
        if body["formHash"] != self._published_hash(form, version, body["locale"]):
            raise unknown_form_hash("formHash", "is not a hash published for this consent's form version")

    def _published_hash(self, form: ConsentForm, version: FormVersion, locale: str) -> str:
        """Remembered: catalogue versions and practice-text revisions never change, and a
        busy practice's submits name the same few, so most submits neither read the
        practice's text nor hash the document again."""
        key = (version.form_id, version.version, locale, form.practice_text_id)
        published = self._published.get(key)
        if published is None:
            published = document(version, locale, self._practice_text(form))["formHash"]
            if len(self._published) < PUBLISHED_CACHE:
                self._published[key] = published
        return published

    # ----- staff: the practice's forms -----

    def list(self, principal: Principal) -> dict:
        """The practice's enabled types, each with its current version and hash per locale."""
        practice = Practice.get_by_id(principal.practice_id)
        items = []
        for consent_type in CONSENT_TYPES:
            if consent_type not in practice.enabled_consent_types:
                continue
            version = self._catalogue.current(consent_type)
            latest = self._latest(consent_type)
            text = practice_block(latest)
            documents = {locale: document(version, locale, text) for locale in version.locales}
            items.append({
                "type": consent_type, "formId": version.form_id, "version": version.version,
                "locales": version.locales,
                "titles": {locale: doc["title"] for locale, doc in documents.items()},
                "formHashes": {locale: doc["formHash"] for locale, doc in documents.items()},
                "practiceTextRevision": latest.revision if text is not None else None,
            })
        return {"items": items}

    def get(self, principal: Principal, form_id: str, version_number: int, locale: str | None,
            revision: int | None) -> dict:
        """One form document: with the practice's current text, or with the given revision of
        it (0: without any), as a consent form that named it shows it."""
        version = self._catalogue.get(form_id, version_number)
        if version is None:
            raise not_found("form")
        if locale is None:
            practice_locale = Practice.get_by_id(principal.practice_id).locale
            locale = practice_locale if practice_locale in version.documents else version.locales[0]
        if revision is None:
            row = self._latest(version.type)
        elif revision == 0:
            row = None
        else:
            row = PracticeFormText.get_or_none((PracticeFormText.type == version.type)
                                               & (PracticeFormText.revision == revision))
            if row is None:
                raise not_found("practice text revision")
        return document(version, locale, practice_block(row))
