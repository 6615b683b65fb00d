"""A stored person as a FHIR R4 `collection` Bundle: Patient, Observations, medications and
Conditions, built as JSON and validated with the fhir.resources R4B models before it leaves.

It carries what `mgcare.fhir` reads, so import -> export -> import gives the same record for
FHIR-sourced data: resource ids come from each item's `source` ("Observation/abc"), and a
medication first read from a MedicationRequest goes out as one (a MedicationStatement
otherwise). Clinical context, pregnancy and food logs have no FHIR home here: the mgcare JSON
export keeps them.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from mgcare.knowledge import Knowledge
from mgcare.model import Coding, Condition, LabResult, Medication, PatientRecord
from mgcare.store import repository as repo
from mgcare.units import UnitError, parse_unit

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
EXTERNAL_ID_SYSTEM = "urn:mgcare:external-id"
SYSTEM_URIS = {
    "loinc": LOINC,
    "snomed": "http://snomed.info/sct",
    "icd10": "http://hl7.org/fhir/sid/icd-10",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "atc": "http://www.whocc.no/atc",
}
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
NAMESPACE = uuid.UUID("5f0e2c1a-8d7b-4b7e-9a51-6d2f0c3e9b10")


class _Ids:
    """Resource ids: the source's own id when it is a valid, unused FHIR id, else generated."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, source: str | None, resource_type: str, fallback: str) -> str:
        prefix = f"{resource_type}/"
        candidate = source[len(prefix) :] if source and source.startswith(prefix) else None
        if candidate is None or not FHIR_ID.match(candidate) or candidate in self.used:
            candidate = fallback
            while candidate in self.used:
                candidate += "-x"
        self.used.add(candidate)
        return candidate


def _full_url(resource_type: str, resource_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{resource_type}/{resource_id}')}"


def _concept(codes: tuple[Coding, ...], name: str | None) -> dict[str, Any]:
    """A CodeableConcept that `mgcare.fhir` reads back to the same codes and name: text
    codings become `text`; a name that is not the first display is kept as text too."""
    codings: list[dict[str, Any]] = []
    text: str | None = None
    for code in codes:
        if code.system == "text":
            text = text or code.code
            continue
        coding: dict[str, Any] = {"code": code.code}
        if code.system in SYSTEM_URIS:
            coding["system"] = SYSTEM_URIS[code.system]
        if code.display:
            coding["display"] = code.display
        codings.append(coding)
    first_display = next((c.display for c in codes if c.system != "text" and c.display), None)
    if text is None and name and name != first_display:
        text = name
    concept: dict[str, Any] = {}
    if codings:
        concept["coding"] = codings
    if text:
        concept["text"] = text
    return concept


def _patient(record: PatientRecord, listing: repo.PersonListing) -> dict[str, Any]:
    """The Patient. Its id is the external id when that is a valid FHIR id (else the external
    id goes into an identifier); a person without one gets no id, so it reads back as none."""
    person = record.person
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if person.id and FHIR_ID.match(person.id):
        patient["id"] = person.id
    elif person.id:
        patient["identifier"] = [{"system": EXTERNAL_ID_SYSTEM, "value": person.id}]
    if listing.display_name:
        *given, family = listing.display_name.split()
        name: dict[str, Any] = {"use": "official", "text": listing.display_name, "family": family}
        if given:
            name["given"] = given
        patient["name"] = [name]
    if person.sex:
        patient["gender"] = person.sex
    if person.birth_date:
        patient["birthDate"] = person.birth_date.isoformat()
    if person.deceased:
        patient["deceasedDateTime"] = person.deceased.isoformat()
    return patient


def _quantity(value: float, unit: str, analyte: str, knowledge: Knowledge) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit}
    # a unit mgcare does not know is kept as reported, with no UCUM code claimed
    with contextlib.suppress(UnitError, KeyError):
        quantity.update(system=UCUM, code=parse_unit(unit, analyte, knowledge))
    return quantity


def _loinc(lab: LabResult, knowledge: Knowledge) -> dict[str, Any] | None:
    rows = [row for row in knowledge.codes.loinc if row.analyte == lab.analyte]
    chosen = next((row for row in rows if row.code == lab.loinc), None)
    if chosen is None:
        try:
            ucum = parse_unit(lab.unit, lab.analyte, knowledge)
        except (UnitError, KeyError):
            ucum = None
        chosen = next((row for row in rows if row.unit == ucum), rows[0] if rows else None)
    if chosen is None:
        return None
    return {"system": LOINC, "code": chosen.code, "display": chosen.display}


def _observation(
    lab: LabResult, index: int, subject: str, ids: _Ids, knowledge: Knowledge
) -> dict[str, Any]:
    analyte = knowledge.analytes.get(lab.analyte)
    code: dict[str, Any] = {"text": analyte.name_en if analyte else lab.analyte}
    loinc = _loinc(lab, knowledge)
    if loinc is not None:
        code["coding"] = [loinc]
    unit = lab.unit or ""
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": ids.take(lab.source, "Observation", f"mgcare-lab-{index}"),
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]},
        ],
        "code": code,
        "subject": {"reference": subject},
        "effectiveDateTime": lab.effective.isoformat(),
        "valueQuantity": _quantity(lab.value, unit, lab.analyte, knowledge),
    }
    if lab.reference_low is not None or lab.reference_high is not None:
        bounds: dict[str, Any] = {}
        if lab.reference_low is not None:
            bounds["low"] = _quantity(lab.reference_low, unit, lab.analyte, knowledge)
        if lab.reference_high is not None:
            bounds["high"] = _quantity(lab.reference_high, unit, lab.analyte, knowledge)
        observation["referenceRange"] = [bounds]
    if lab.interpretation:
        observation["interpretation"] = [
            {"coding": [{"system": INTERPRETATION, "code": lab.interpretation}]}
        ]
    if lab.method:
        observation["method"] = {"text": lab.method}
    return observation


def _medication(medication: Medication, index: int, subject: str, ids: _Ids) -> dict[str, Any]:
    as_request = bool(medication.source and medication.source.startswith("MedicationRequest/"))
    resource_type = "MedicationRequest" if as_request else "MedicationStatement"
    resource: dict[str, Any] = {
        "resourceType": resource_type,
        "id": ids.take(medication.source, resource_type, f"mgcare-med-{index}"),
        "status": medication.status or "unknown",
        "subject": {"reference": subject},
    }
    if medication.codes:
        resource["medicationCodeableConcept"] = _concept(medication.codes, medication.name)
    elif medication.name:  # a name alone reads back as a reference display, no codes invented
        resource["medicationReference"] = {"display": medication.name}
    else:  # nothing known: a contained Medication without a code says exactly that
        resource["contained"] = [{"resourceType": "Medication", "id": "unspecified"}]
        resource["medicationReference"] = {"reference": "#unspecified"}
    if as_request:
        resource["intent"] = "order"
        if medication.start:
            resource["authoredOn"] = medication.start.isoformat()
        if medication.end:
            resource["dispenseRequest"] = {"validityPeriod": {"end": medication.end.isoformat()}}
    elif medication.start or medication.end:
        period: dict[str, str] = {}
        if medication.start:
            period["start"] = medication.start.isoformat()
        if medication.end:
            period["end"] = medication.end.isoformat()
        resource["effectivePeriod"] = period
    return resource


def _condition(condition: Condition, index: int, subject: str, ids: _Ids) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": ids.take(condition.source, "Condition", f"mgcare-condition-{index}"),
        "clinicalStatus": {
            "coding": [
                {
                    "system": CONDITION_CLINICAL,
                    "code": "active" if condition.active else "inactive",
                }
            ]
        },
        "subject": {"reference": subject},
    }
    concept = _concept(condition.codes, condition.name)
    if concept:
        resource["code"] = concept
    if condition.onset:
        resource["onsetDateTime"] = condition.onset.isoformat()
    return resource


def bundle_of(
    record: PatientRecord,
    listing: repo.PersonListing,
    knowledge: Knowledge,
    *,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The FHIR collection Bundle for one person, validated against the R4B models (a
    ValueError from them would be a bug here, not bad input)."""
    from fhir.resources.R4B import get_fhir_model_class

    ids = _Ids()
    patient = _patient(record, listing)
    patient_key = patient.get("id") or f"mgcare-{listing.person_id}"
    subject = _full_url("Patient", patient_key)
    resources = [_observation(lab, i, subject, ids, knowledge) for i, lab in enumerate(record.labs)]
    resources += [_medication(m, i, subject, ids) for i, m in enumerate(record.medications)]
    resources += [_condition(c, i, subject, ids) for i, c in enumerate(record.conditions)]
    bundle = {
        "resourceType": "Bundle",
        "id": f"mgcare-export-{listing.person_id}",
        "type": "collection",
        "timestamp": (timestamp or datetime.now(UTC)).isoformat(timespec="seconds"),
        "entry": [
            {"fullUrl": subject, "resource": patient},
            *({"fullUrl": _full_url(r["resourceType"], r["id"]), "resource": r} for r in resources),
        ],
    }
    model = get_fhir_model_class("Bundle").model_validate(bundle)
    validated: dict[str, Any] = json.loads(model.model_dump_json())
    return validated


def export_fhir(
    engine: Engine, person_id: int, knowledge: Knowledge, *, timestamp: datetime | None = None
) -> dict[str, Any]:
    """The stored person as a FHIR collection Bundle (StoreError if unknown)."""
    listing = repo.person_listing(engine, person_id)
    record = repo.person_record(engine, person_id)
    return bundle_of(record, listing, knowledge, timestamp=timestamp)
