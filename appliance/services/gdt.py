"""GDT with the practice management system (PVS): the 6310 record of a signed consent, the
exchange directory, and the import of the PVS's 6301/6302 records.

GDT speaks in clear names, so the identity passes through here: for an export the staff
client sends what it decrypted, for an import the PVS writes it into the exchange directory.
Either way it lives in memory for one call only; the import seals it to the practice public
key before anything is stored, and neither path logs or audits it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
import zoneinfo
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import peewee

from appliance import tenancy
from appliance.client import crypto, lookup
from appliance.clock import Clock
from appliance.gdt import exchange
from appliance.gdt.consent import (
    EXAMINATION_DATA,
    SIGNED_SUFFIX,
    ConsentFacts,
    PatientFields,
    Request,
    RequestError,
    RequestMapping,
    RequestRule,
    examination_record,
)
from appliance.gdt.exchange import DirectoryRefused, ExchangeBusy, ExchangeUnavailable, ImportResult
from appliance.gdt.record import WRITABLE, GdtEncodeError
from appliance.http.errors import ApiError, bad_request, conflict, not_found
from appliance.models import ConsentForm, GdtImport, Patient, Practice, PracticeGdt
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.consents import Consents
from appliance.services.patients import Patients

log = logging.getLogger("appliance.gdt")
#: API name -> column of the practice's GDT settings.
SETTINGS_FIELDS = {
    "exchangeDirectory": "gdt_exchange_dir",
    "senderId": "gdt_sender_id",
    "defaultReceiverId": "gdt_receiver_id",
    "charset": "gdt_charset",
    "requestMapping": "gdt_request_map",
    "defaultConsentType": "gdt_default_type",
    "tolerate": "gdt_tolerate",
}
#: Skipped files already reported by this process: each is logged once, not every minute.
MAX_REPORTED = 10_000
#: GDT field -> request field, so that a refused character is reported where it was typed.
API_FIELDS = {"3000": "patientNumber", "3101": "lastName", "3102": "firstName", "8315": "receiverId"}
UNSAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
IMPORT_ACTOR = "GDT import"


@dataclass(frozen=True)
class GdtFile:
    name: str
    data: bytes
    #: The name it got in the exchange directory, when it was written there.
    exchange_name: str | None = None


def _ids_problem(sender: str, receiver: str) -> str | None:
    """Files are named receiver + sender and ours are found by their prefix: the ids must
    not be confusable, or the import would read our own files."""
    if receiver.upper().startswith(sender.upper()) or sender.upper().startswith(receiver.upper()):
        return "the receiver and sender ids must differ and neither may begin with the other"
    return None


def _check_mapping(rules: list[dict]) -> None:
    """Each (8402, 8410) pair once; the schema already made sure each rule names one of them."""
    seen: set[tuple[str | None, str | None]] = set()
    for number, rule in enumerate(rules):
        key = ((rule.get("procedure") or "").strip().upper() or None,
               (rule.get("test") or "").strip().upper() or None)
        if key in seen:
            raise bad_request("the GDT settings are invalid", [{
                "field": f"requestMapping.{number}",
                "problem": "maps the same 8402 and 8410 as a rule before it"}])
        seen.add(key)


def _mapping(row: PracticeGdt) -> RequestMapping:
    rules = tuple(RequestRule(rule.get("procedure"), rule.get("test"), rule["consentType"])
                  for rule in row.gdt_request_map)
    return RequestMapping(rules, row.gdt_default_type)


def _local(moment: dt.datetime, timezone: str) -> dt.datetime:
    """Naive UTC -> the practice's wall-clock time, as the PVS shows it."""
    return moment.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None)


def _unavailable(problem: str) -> ApiError:
    return ApiError(503, "gdt_exchange_unavailable",
                    f"the GDT exchange directory cannot be used right now: {problem}",
                    headers={"Retry-After": "60"})


class Gdt:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, consents: Consents,
                 patients: Patients, exchange_root: str):
        self._db = database
        self._audit = audit
        self._clock = clock
        self._consents = consents
        self._patients = patients
        self._root = exchange_root
        self._reported: set[str] = set()

    # ----- settings (ADMIN) -----

    def _view(self, row: PracticeGdt) -> dict:
        view = {api: getattr(row, column) for api, column in SETTINGS_FIELDS.items()}
        return {**view, "exchangeRoot": self._root or None}

    def settings(self, principal: Principal) -> dict:
        return self._view(PracticeGdt.get_by_id(principal.practice_id))

    def _directory(self, practice_id: uuid.UUID, path: str) -> str:
        """The real path of a new exchange directory; it must not overlap another practice's,
        whose PVS files would otherwise be imported here."""
        try:
            real = exchange.resolve_directory(path, self._root)
        except DirectoryRefused as exc:
            raise bad_request("the exchange directory cannot be used",
                              [{"field": "exchangeDirectory", "problem": str(exc)}]) from None
        with tenancy.unscoped("an exchange directory must not overlap another practice's"):
            others = list(PracticeGdt.select(PracticeGdt.gdt_exchange_dir).where(
                PracticeGdt.id != practice_id, PracticeGdt.gdt_exchange_dir.is_null(False)
            ))
        for other in others:
            used = Path(other.gdt_exchange_dir)
            if used == real or used in real.parents or real in used.parents:
                raise bad_request("the exchange directory cannot be used",
                                  [{"field": "exchangeDirectory",
                                    "problem": "overlaps an exchange directory already in use"}])
        return str(real)

    def update_settings(self, principal: Principal, body: dict, caller: Caller) -> dict:
        _check_mapping(body.get("requestMapping") or [])
        changes = {SETTINGS_FIELDS[api]: value for api, value in body.items()}
        if "gdt_tolerate" in changes:
            changes["gdt_tolerate"] = sorted(set(changes["gdt_tolerate"]))
        try:
            with self._db.atomic():
                row = PracticeGdt.get_by_id(principal.practice_id)
                problem = _ids_problem(changes.get("gdt_sender_id", row.gdt_sender_id),
                                       changes.get("gdt_receiver_id", row.gdt_receiver_id))
                if problem:
                    field = "senderId" if "senderId" in body else "defaultReceiverId"
                    raise bad_request("the GDT ids are invalid", [{"field": field, "problem": problem}])
                if changes.get("gdt_exchange_dir") is not None:
                    changes["gdt_exchange_dir"] = self._directory(principal.practice_id,
                                                                  changes["gdt_exchange_dir"])
                PracticeGdt.update({**changes, "updated_at": self._clock.now()}).where(
                    PracticeGdt.id == principal.practice_id
                ).execute()
                self._audit.record(
                    "PRACTICE_SETTINGS_UPDATED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="settings",
                    entity_id=principal.practice_id, metadata={"fields": sorted(body), "section": "gdt"},
                )
        except peewee.IntegrityError as exc:  # lost a race for the same directory
            raise bad_request("the exchange directory cannot be used",
                              [{"field": "exchangeDirectory",
                                "problem": "overlaps an exchange directory already in use"}]) from exc
        return self.settings(principal)

    # ----- export (any member) -----

    def generate(self, principal: Principal, body: dict, caller: Caller) -> GdtFile:
        """The 6310 record of one signed consent, for download and optionally the exchange
        directory. The identity in `body` is used for these bytes only."""
        with self._db.atomic():
            form = ConsentForm.get_or_none(ConsentForm.id == uuid.UUID(body["consentId"]))
            if form is None:
                raise not_found("consent")
            if form.signed_at is None or form.status not in SIGNED_SUFFIX:
                raise conflict("consent_not_signed", "only a consent the patient has signed has a GDT record")
            practice = Practice.get_by_id(principal.practice_id)
            gdt = PracticeGdt.get_by_id(principal.practice_id)
            sender = gdt.gdt_sender_id
            receiver = body.get("receiverId") or gdt.gdt_receiver_id
            problem = _ids_problem(sender, receiver)
            if problem:
                raise bad_request("the receiver id is invalid", [{"field": "receiverId", "problem": problem}])
            data = self._record(body, form, practice.timezone, receiver, sender, gdt.gdt_charset)
            self._audit.record(
                "GDT_EXPORTED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="consent", entity_id=form.id,
                metadata={"type": form.type, "recordType": EXAMINATION_DATA, "charset": gdt.gdt_charset,
                          "receiverId": receiver, "exchange": bool(body.get("exchange"))},
            )
            # Last, inside the transaction: a file that cannot be written leaves no audit entry.
            written = self._deliver(gdt, receiver, data) if body.get("exchange") else None
        stamp = _local(self._clock.now(), practice.timezone)
        name = UNSAFE_FILE_NAME.sub("_", f"EINW_{receiver}_{sender}_{stamp:%Y%m%d%H%M%S}.gdt")
        return GdtFile(name, data, written)

    @staticmethod
    def _record(body: dict, form: ConsentForm, timezone: str, receiver: str, sender: str,
                charset: str) -> bytes:
        patient = PatientFields(
            number=body["patientNumber"], last_name=body["lastName"], first_name=body["firstName"],
            date_of_birth=dt.date.fromisoformat(body["dateOfBirth"]), sex=body.get("sex"),
        )
        consent = ConsentFacts(
            consent_id=str(form.id), consent_type=form.type, status=form.status,
            signed_at=_local(form.signed_at, timezone),
            revoked_at=_local(form.revoked_at, timezone) if form.status == "REVOKED" else None,
        )
        try:
            return examination_record(patient, consent, receiver=receiver, sender=sender,
                                      charset=WRITABLE[charset])
        except GdtEncodeError as exc:
            raise bad_request(
                "the GDT record cannot be written",
                [{"field": API_FIELDS.get(exc.field_id, f"gdt:{exc.field_id}"), "problem": exc.problem}],
                code="gdt_not_encodable",
            ) from None

    def _deliver(self, gdt: PracticeGdt, receiver: str, data: bytes) -> str:
        if gdt.gdt_exchange_dir is None:
            raise conflict("gdt_exchange_off", "no GDT exchange directory is configured for this practice")
        try:
            directory = exchange.resolve_directory(gdt.gdt_exchange_dir, self._root)
            name = exchange.outgoing_name(receiver, gdt.gdt_sender_id)
            return exchange.write_file(directory, name, data).name
        except DirectoryRefused as exc:
            raise _unavailable(str(exc)) from None
        except ExchangeUnavailable as exc:
            raise _unavailable(exc.strerror or "it cannot be written") from None
        except ExchangeBusy:
            raise conflict("gdt_exchange_busy",
                           "the PVS has not picked up the previous file yet; try again shortly") from None

    # ----- import (scheduler or `appliance gdt import`) -----

    def import_all(self, practice_id: uuid.UUID | None = None,
                   settle_seconds: float = exchange.SETTLE_SECONDS) -> dict[uuid.UUID, ImportResult | str]:
        """Runs the import for every practice with an exchange directory (or for one);
        a practice whose directory cannot be used is reported and does not stop the others."""
        query = PracticeGdt.select(PracticeGdt.id).where(PracticeGdt.gdt_exchange_dir.is_null(False))
        if practice_id is not None:
            query = query.where(PracticeGdt.id == practice_id)
        with tenancy.unscoped("the import visits every practice with an exchange directory"):
            practice_ids = [row.id for row in query]
        results: dict[uuid.UUID, ImportResult | str] = {}
        for each in practice_ids:
            try:
                results[each] = self.import_practice(each, settle_seconds)
            except (DirectoryRefused, OSError) as exc:
                log.warning("GDT import skipped a practice",
                            extra={"practice_id": str(each), "problem": str(exc)})
                results[each] = str(exc)
        return results

    def import_practice(self, practice_id: uuid.UUID,
                        settle_seconds: float = exchange.SETTLE_SECONDS) -> ImportResult:
        with tenancy.practice_scope(practice_id):
            gdt = PracticeGdt.get_by_id(practice_id)
            if gdt.gdt_exchange_dir is None:
                raise DirectoryRefused("no exchange directory is configured")
            directory = exchange.resolve_directory(gdt.gdt_exchange_dir, self._root)
            practice = Practice.get_by_id(practice_id)
            result = exchange.run_import(
                directory, gdt.gdt_sender_id, partial(self._apply, practice),
                stamp=f"{self._clock.now():%Y%m%dT%H%M%SZ}", mapping=_mapping(gdt),
                tolerate=gdt.gdt_tolerate, settle_seconds=settle_seconds,
            )
        self._report_skipped(practice_id, result.skipped)
        if result.imported or result.rejected:
            log.info("GDT import", extra={"practice_id": str(practice_id), "imported": result.imported,
                                          "rejected": result.rejected, "tolerated": result.tolerated})
        return result

    def _report_skipped(self, practice_id: uuid.UUID, skipped: list[exchange.Skipped]) -> None:
        """Each file the import does not read is logged once per process (it stays there)."""
        if len(self._reported) > MAX_REPORTED:
            self._reported.clear()
        for item in skipped:
            key = f"{practice_id}|{item.key}"
            if key in self._reported:
                continue
            self._reported.add(key)
            log.warning("GDT import skips a file", extra={
                "practice_id": str(practice_id), "file": item.name, "reason": item.reason})

    def _apply(self, practice: Practice, item: exchange.Incoming, tolerated: tuple[str, ...],
               request: Request) -> None:
        """One request: patient found or created by lookupHash, one PENDING consent per type."""
        patient_id = uuid.uuid4()
        try:
            # Sealed before the transaction: Argon2 is slow and needs no lock.
            sealed = self._seal(practice, request, str(patient_id))
        except ValueError as exc:
            raise RequestError(f"the patient identity cannot be used: {exc}") from None
        principal = Principal(user_id=None, session_id=None, practice_id=practice.id, role=None,
                              email="", name=IMPORT_ACTOR)
        caller = Caller(ip=None)
        try:
            with self._db.atomic():
                GdtImport.insert(
                    id=uuid.uuid4(), file_key=item.key, file_name=item.name[:255],
                    record_type=request.record_type, consent_count=len(request.consent_types),
                    created_at=self._clock.now(),
                ).execute()
                patient_id, created = self._patient(principal, patient_id, sealed, caller)
                for consent_type in request.consent_types:
                    self._consents.create_unlinked(principal, consent_type, patient_id, caller)
                self._audit.record(
                    "GDT_IMPORTED", ip=None, practice_id=practice.id, entity_type="patient",
                    entity_id=patient_id,
                    metadata={"recordType": request.record_type, "patientCreated": created,
                              "consentTypes": list(request.consent_types)},
                )
        except peewee.IntegrityError:
            if GdtImport.select().where(GdtImport.file_key == item.key).exists():
                return  # another run acted on this very file; it only has to be moved aside
            raise
        except ApiError as exc:
            if 400 <= exc.status_code < 500:  # refused, e.g. consent_type_disabled: not worth retrying
                raise RequestError(exc.message) from None
            raise
        if tolerated:
            log.info("GDT import tolerated a quirk", extra={
                "practice_id": str(practice.id), "file": exchange.shown_name(item.name),
                "tolerated": list(tolerated)})

    @staticmethod
    def _seal(practice: Practice, request: Request, patient_id: str) -> dict:
        """The identity as a client would seal it for a new patient: each value bound to its
        field and to the patient's id (the columns of an unsigned patient row)."""
        def seal(field: str, value: str) -> str:
            return crypto.seal_field(practice.public_key, f"patient.{field}", patient_id, value)

        return {
            "encrypted_first_name": seal("firstName", request.first_name),
            "encrypted_last_name": seal("lastName", request.last_name),
            "encrypted_date_of_birth": seal("dateOfBirth", request.date_of_birth),
            "lookup_hash": lookup.lookup_hash(practice.lookup_salt, request.last_name, request.first_name,
                                              request.date_of_birth),
        }

    def _patient(self, principal: Principal, patient_id: uuid.UUID, sealed: dict,
                 caller: Caller) -> tuple[uuid.UUID, bool]:
        """The practice's own system names the patient: the one with this lookupHash, or a
        new, unsigned one (staff confirm it)."""
        existing = Patient.get_or_none(Patient.lookup_hash == sealed["lookup_hash"])
        if existing is not None:
            return existing.id, False
        try:
            self._patients.create_imported(principal, patient_id, sealed, caller)
            return patient_id, True
        except ApiError as exc:
            if exc.code != "duplicate_patient":
                raise
        # Created by a concurrent import or a staff client in the meantime.
        return Patient.get(Patient.lookup_hash == sealed["lookup_hash"]).id, False
