"""Consent forms in GDT terms: the 6310 record that reports one, and what a PVS asks for.

The table below is the contract with the PVS: the practice sets up the consent "device" in its
PVS with procedure id 8402 `EINW` and one test per consent type (8410 id, 8411 name). A 6310
names the test of its consent; a 6302 asks for a consent by naming that test id in 8410.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from appliance.gdt.record import Charset, GdtError, Record, write_record

PROCEDURE_ID = "EINW"
#: Consent type -> (8410 test id, 8411 test name).
TESTS = {
    "BOTOX": ("EW-BOTOX", "Einwilligung Botulinumtoxin"),
    "FILLER": ("EW-FILLER", "Einwilligung Filler"),
    "LASER": ("EW-LASER", "Einwilligung Laserbehandlung"),
    "CHEMICAL_PEEL": ("EW-PEEL", "Einwilligung chemisches Peeling"),
    "MICRONEEDLING": ("EW-NEEDLING", "Einwilligung Microneedling"),
    "PRP": ("EW-PRP", "Einwilligung PRP-Eigenbluttherapie"),
}
TYPES_BY_TEST = {test_id: consent_type for consent_type, (test_id, _) in TESTS.items()}
#: The statuses a signed consent can have -> what 6220 adds after the signature.
SIGNED_SUFFIX = {"SIGNED": "", "PAID": ", bezahlt", "COMPLETED": ", abgeschlossen", "REVOKED": ", widerrufen"}
#: 3110 in GDT 2.1.
SEX = {"M": "1", "W": "2"}
EXAMINATION_DATA, REQUEST_EXAMINATION, MASTER_DATA = "6310", "6302", "6301"


@dataclass(frozen=True)
class PatientFields:
    """What the PVS knows the patient by; used for one record and never stored."""

    number: str
    last_name: str
    first_name: str
    date_of_birth: dt.date
    sex: str | None = None


@dataclass(frozen=True)
class ConsentFacts:
    consent_id: str
    consent_type: str
    status: str
    #: Local wall-clock times in the practice's time zone.
    signed_at: dt.datetime
    revoked_at: dt.datetime | None = None


def examination_record(
    patient: PatientFields, consent: ConsentFacts, *, receiver: str, sender: str, charset: Charset
) -> bytes:
    """The 6310 "transmit examination data" record for one signed consent."""
    test_id, test_name = TESTS[consent.consent_type]
    findings = f"{test_name} elektronisch unterschrieben am {consent.signed_at:%d.%m.%Y um %H:%M} Uhr"
    findings += SIGNED_SUFFIX[consent.status]
    if consent.revoked_at is not None:
        findings += f" am {consent.revoked_at:%d.%m.%Y um %H:%M} Uhr"
    fields = [
        ("3000", patient.number),
        ("3101", patient.last_name),
        ("3102", patient.first_name),
        ("3103", f"{patient.date_of_birth:%d%m%Y}"),
    ]
    if patient.sex is not None:
        fields.append(("3110", SEX[patient.sex]))
    fields += [
        ("6200", f"{consent.signed_at:%d%m%Y}"),
        ("6201", f"{consent.signed_at:%H%M%S}"),
        ("8402", PROCEDURE_ID),
        ("8410", test_id),
        ("8411", test_name),
        ("8420", consent.status),
        ("6220", findings + "."),
        ("6227", consent.consent_id),
    ]
    return write_record(EXAMINATION_DATA, fields, charset=charset, receiver=receiver, sender=sender)


class RequestError(GdtError):
    """A well-formed record the import cannot act on (wrong type, addressee or content)."""


@dataclass(frozen=True)
class Request:
    """What an incoming 6301 or 6302 asks for: a patient, and for 6302 consent types."""

    record_type: str
    last_name: str
    first_name: str
    #: ISO 8601, as the crypto contract's lookupHash wants it.
    date_of_birth: str
    consent_types: tuple[str, ...]


def _required(record: Record, field_id: str, what: str) -> str:
    value = (record.value(field_id) or "").strip()
    if not value:
        raise RequestError(f"field {field_id} ({what}) is missing")
    return value


def _norm(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    return value or None


@dataclass(frozen=True)
class RequestRule:
    """A practice's own mapping: requests naming this 8402 procedure and/or 8410 test ask for
    this consent type (at least one of the two is set)."""

    procedure: str | None
    test: str | None
    consent_type: str


@dataclass(frozen=True)
class RequestMapping:
    """How a practice's PVS asks for consents, beyond the `TESTS` table: its own rules, and a
    default type for a 6302 that names no test at all (as TurboMed's does)."""

    rules: tuple[RequestRule, ...] = ()
    default_type: str | None = None

    def for_test(self, procedure: str | None, test: str) -> str | None:
        """Rule for procedure and test, rule for the test alone, then the `TESTS` table."""
        procedure, test = _norm(procedure), _norm(test)
        by_key = {(_norm(rule.procedure), _norm(rule.test)): rule.consent_type for rule in self.rules}
        return by_key.get((procedure, test)) or by_key.get((None, test)) or TYPES_BY_TEST.get(test)

    def without_test(self, procedure: str | None) -> str | None:
        """Rule for the procedure alone, then the default type."""
        by_procedure = {_norm(rule.procedure): rule.consent_type for rule in self.rules if rule.test is None}
        return (by_procedure.get(_norm(procedure)) if procedure else None) or self.default_type


#: Only the `TESTS` table, no default: what a practice has before it maps anything.
NO_MAPPING = RequestMapping()


def read_request(record: Record, own_id: str, mapping: RequestMapping = NO_MAPPING) -> Request:
    """Interprets a parsed record from the PVS; refuses anything it cannot act on."""
    if record.record_type not in (MASTER_DATA, REQUEST_EXAMINATION):
        raise RequestError(f"record type {record.record_type} is not handled (only 6301 and 6302)")
    receiver = record.value("8315")
    if receiver is not None and receiver.strip().upper() != own_id.upper():
        raise RequestError(f"8315 addresses {receiver.strip()!r}, not this practice's GDT id {own_id!r}")
    last_name = _required(record, "3101", "surname")
    first_name = _required(record, "3102", "first name")
    birth = _required(record, "3103", "date of birth")
    try:
        if len(birth) != 8 or not birth.isdigit():
            raise ValueError
        date_of_birth = dt.date(int(birth[4:]), int(birth[2:4]), int(birth[:2]))
    except ValueError:
        raise RequestError("field 3103 (date of birth) is not a real date written DDMMYYYY") from None
    types = _requested_types(record, mapping) if record.record_type == REQUEST_EXAMINATION else []
    return Request(record.record_type, last_name, first_name, date_of_birth.isoformat(), tuple(types))


def _requested_types(record: Record, mapping: RequestMapping) -> list[str]:
    procedure = record.value("8402")
    types: list[str] = []
    tests = [field for field in record.fields if field.field_id == "8410"]
    for field in tests:
        consent_type = mapping.for_test(procedure, field.content)
        if consent_type is None:
            raise RequestError(f"line {field.line}: 8410 {field.content.strip()!r} is not a consent"
                               f" test id ({', '.join(TYPES_BY_TEST)}) and the practice's GDT"
                               " settings map it to no consent type")
        if consent_type not in types:
            types.append(consent_type)
    if not tests:
        consent_type = mapping.without_test(procedure)
        if consent_type is None:
            named = f" and its 8402 {procedure.strip()!r} is mapped to none" if procedure else ""
            raise RequestError(f"a 6302 needs an 8410 test id naming the consent type{named}; or set a"
                               " default consent type in the practice's GDT settings")
        types.append(consent_type)
    return types
