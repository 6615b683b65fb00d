"""FHIR R4 input: a Bundle (collection, transaction, searchset, batch) or a single resource to a
`PatientRecord`.

Resources mgcare reads are parsed with fhir.resources (the R4B models, which accept R4 4.0.1
content for these resource types); other resources are only checked to be real FHIR types, so a
large Synthea bundle is not validated claim by claim. Every error names the offending resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from mgcare.knowledge import Knowledge
from mgcare.model import Coding, Condition, LabResult, Medication, PatientRecord, Person

SYSTEMS: Mapping[str, str] = {
    "http://loinc.org": "loinc",
    "http://snomed.info/sct": "snomed",
    "http://hl7.org/fhir/sid/icd-10-cm": "icd10",
    "http://hl7.org/fhir/sid/icd-10": "icd10",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxnorm",
    "http://www.whocc.no/atc": "atc",
}
UCUM = "http://unitsofmeasure.org"
BUNDLE_TYPES = frozenset({"collection", "transaction", "searchset", "batch", "document", "message"})
READ_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "MedicationRequest",
        "MedicationStatement",
        "Condition",
        "Medication",
    }
)
SKIPPED_OBSERVATION_STATUSES = frozenset({"entered-in-error", "cancelled", "registered"})
OBSERVATION_STATUSES = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
ABSTRACT_TYPES = frozenset({"Resource", "DomainResource"})
INACTIVE_CONDITION = frozenset({"inactive", "remission", "resolved"})
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})


class FhirInputError(ValueError):
    """The FHIR content cannot be read; the message names the resource."""


def _model_class(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def _label(resource: Mapping[str, Any]) -> str:
    resource_id = resource.get("id", "?")
    shown = resource_id if isinstance(resource_id, str) else "?"
    return f"{resource.get('resourceType', 'resource')}/{shown}"


def _parse(resource: Mapping[str, Any]) -> Any:
    try:
        return _model_class(str(resource["resourceType"])).model_validate(resource)
    except (KeyError, TypeError, ValueError) as exc:
        if not isinstance(exc, ValidationError):
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise FhirInputError(f"{_label(resource)}: invalid FHIR ({reason})") from None
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = " ".join(str(first.get("msg")).split())
        raise FhirInputError(f"{_label(resource)}: invalid FHIR ({where}: {message})") from None


def _codings(concept: Any) -> tuple[Coding, ...]:
    if concept is None:
        return ()
    codings = []
    for coding in concept.coding or ():
        if coding.code is None:
            continue
        system = SYSTEMS.get(coding.system or "", "other")
        codings.append(Coding(system=system, code=str(coding.code), display=coding.display))
    if concept.text:
        codings.append(Coding(system="text", code=concept.text))
    return tuple(codings)


def _as_date(value: Any) -> date | None:
    """A FHIR date/dateTime as a date; partial dates (YYYY, YYYY-MM) take their first day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        if len(text) >= len("YYYY-MM-DD"):
            return date.fromisoformat(text[: len("YYYY-MM-DD")])
        year, _, month = text.partition("-")
        return date(int(year), int(month) if month else 1, 1)
    except ValueError:
        return None


def _as_moment(value: Any, label: str) -> datetime | date:
    """An effective time for a lab: full date-times kept; partial dates as their first day."""
    if isinstance(value, datetime | date):
        return value
    day = _as_date(value)
    if day is None:
        raise FhirInputError(f"{label}: unreadable date {value!r}")
    return day


def _resources(document: Mapping[str, Any]) -> list[tuple[str | None, Mapping[str, Any]]]:
    """(fullUrl, resource) of each Bundle entry (checked envelope), or the single resource."""
    resource_type = document.get("resourceType")
    if not isinstance(resource_type, str):
        raise FhirInputError("input has no resourceType: not a FHIR resource or Bundle")
    if resource_type != "Bundle":
        return [(None, document)]
    bundle_type = document.get("type")
    if not isinstance(bundle_type, str) or bundle_type not in BUNDLE_TYPES:
        raise FhirInputError(f"{_label(document)}: unsupported Bundle type {bundle_type!r}")
    entries = document.get("entry", [])
    if not isinstance(entries, list):
        raise FhirInputError(f"{_label(document)}: entry must be a list")
    resources: list[tuple[str | None, Mapping[str, Any]]] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            if (
                isinstance(entry, dict)
                and "request" in entry
                and bundle_type in ("batch", "transaction")
            ):
                continue  # a DELETE or GET entry carries no resource
            raise FhirInputError(f"{_label(document)}: entry[{index}] has no resource")
        full_url = entry.get("fullUrl")
        resources.append((full_url if isinstance(full_url, str) else None, resource))
    return resources


def _check_type(resource: Mapping[str, Any]) -> None:
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise FhirInputError(f"{_label(resource)}: resource has no resourceType")
    try:
        _model_class(resource_type)
    except ValueError:
        raise FhirInputError(
            f"{_label(resource)}: unknown FHIR resource type {resource_type!r}"
        ) from None


def _observation(resource: Mapping[str, Any], knowledge: Knowledge) -> LabResult | None:
    """A lab result for the LOINC codes mgcare reads; other observations are ignored."""
    codes = (
        resource.get("code", {}).get("coding", []) if isinstance(resource.get("code"), dict) else []
    )
    loinc_row = None
    for coding in codes if isinstance(codes, list) else []:
        if isinstance(coding, dict) and coding.get("system") == "http://loinc.org":
            loinc_row = knowledge.loinc.get(str(coding.get("code")))
            if loinc_row is not None:
                break
    if loinc_row is None or loinc_row.analyte not in knowledge.analytes:
        return None
    observation = _parse(resource)
    label = _label(resource)
    if observation.status in SKIPPED_OBSERVATION_STATUSES:
        return None
    quantity = observation.valueQuantity
    if quantity is None:
        if observation.dataAbsentReason is not None or observation.valueString is None:
            return None  # no value reported: nothing to use, nothing lost
        raise FhirInputError(f"{label}: {loinc_row.analyte} value is not a Quantity")
    if quantity.value is None:
        raise FhirInputError(f"{label}: Quantity has no value")
    unit = quantity.code if quantity.system == UCUM and quantity.code else quantity.unit
    if not unit:
        raise FhirInputError(f"{label}: {loinc_row.analyte} value {quantity.value} has no unit")
    effective = (
        observation.effectiveDateTime
        or (observation.effectivePeriod.start if observation.effectivePeriod else None)
        or observation.effectiveInstant
        or observation.issued
    )
    if effective is None:
        raise FhirInputError(f"{label}: observation has no effective date")
    if observation.status not in OBSERVATION_STATUSES:
        raise FhirInputError(
            f"{label}: status {observation.status!r} is not an R4 Observation status"
        )
    low = high = None
    if observation.referenceRange:
        first = observation.referenceRange[0]
        low = float(first.low.value) if first.low and first.low.value is not None else None
        high = float(first.high.value) if first.high and first.high.value is not None else None
        if low is not None and high is not None and low >= high:
            low = high = None
    interpretation = None
    for concept in observation.interpretation or ():
        for coding in concept.coding or ():
            if coding.system and coding.system.endswith("v3-ObservationInterpretation"):
                interpretation = coding.code
    return LabResult(
        analyte=loinc_row.analyte,
        value=float(quantity.value),
        unit=str(unit),
        effective=_as_moment(effective, label),
        reference_low=low,
        reference_high=high,
        interpretation=interpretation,
        loinc=loinc_row.code,
        source=label,
    )


def _medication_concept(
    resource: Any, label: str, medications_by_ref: Mapping[str, Any]
) -> tuple[str | None, tuple[Coding, ...]]:
    concept = resource.medicationCodeableConcept
    if concept is None and resource.medicationReference is not None:
        reference = resource.medicationReference.reference or ""
        medication = None
        if reference.startswith("#"):
            for contained in resource.contained or ():
                if getattr(contained, "id", None) == reference[1:]:
                    if contained.get_resource_type() != "Medication":
                        raise FhirInputError(
                            f"{label}: medication reference {reference!r} points to a "
                            f"{contained.get_resource_type()}, not a Medication"
                        )
                    medication = contained
        else:
            medication = medications_by_ref.get(reference)
        if medication is None and resource.medicationReference.display:
            return resource.medicationReference.display, ()
        if medication is None:
            raise FhirInputError(f"{label}: medication reference {reference!r} cannot be resolved")
        concept = medication.code
    codings = _codings(concept)
    name = concept.text if concept is not None and concept.text else None
    if name is None:
        name = next((c.display for c in codings if c.display), None)
    return name, codings


def _medication(resource: Mapping[str, Any], medications_by_ref: Mapping[str, Any]) -> Medication:
    parsed = _parse(resource)
    label = _label(resource)
    name, codings = _medication_concept(parsed, label, medications_by_ref)
    if resource["resourceType"] == "MedicationRequest":
        start = _as_date(parsed.authoredOn)
        end = None
        if parsed.dispenseRequest and parsed.dispenseRequest.validityPeriod:
            end = _as_date(parsed.dispenseRequest.validityPeriod.end)
    else:
        period = parsed.effectivePeriod
        start = _as_date(period.start if period else parsed.effectiveDateTime)
        end = _as_date(period.end) if period else None
    if start and end and end < start:
        end = None
    return Medication(
        name=name,
        codes=codings,
        status=parsed.status,
        start=start,
        end=end,
        draft=parsed.status == "draft",
        source=label,
    )


def _condition(resource: Mapping[str, Any]) -> Condition | None:
    parsed = _parse(resource)
    verification = _first_code(parsed.verificationStatus)
    if verification in EXCLUDED_VERIFICATION:
        return None
    clinical = _first_code(parsed.clinicalStatus)
    active = (
        clinical not in INACTIVE_CONDITION
        and parsed.abatementDateTime is None
        and (parsed.abatementPeriod is None)
    )
    codings = _codings(parsed.code)
    name = parsed.code.text if parsed.code and parsed.code.text else None
    return Condition(
        name=name or next((c.display for c in codings if c.display), None),
        codes=codings,
        onset=_as_date(parsed.onsetDateTime),
        active=active,
        source=_label(resource),
    )


def _first_code(concept: Any) -> str | None:
    if concept is None:
        return None
    for coding in concept.coding or ():
        if coding.code:
            return str(coding.code)
    return None


def _person(resource: Mapping[str, Any]) -> Person:
    parsed = _parse(resource)
    sex = parsed.gender if parsed.gender in ("male", "female") else None
    return Person(
        id=parsed.id,
        birth_date=_as_date(parsed.birthDate),
        sex=sex,
        deceased=_as_date(parsed.deceasedDateTime),
    )


def record_from_fhir(document: Mapping[str, Any], knowledge: Knowledge) -> PatientRecord:
    """Read one person's record from FHIR JSON. Raises FhirInputError with a one-line reason."""
    entries = _resources(document)
    resources = [resource for _, resource in entries]
    for resource in resources:
        _check_type(resource)
    medications_by_ref: dict[str, Any] = {}
    for full_url, resource in entries:
        if resource.get("resourceType") == "Medication":
            parsed = _parse(resource)
            if parsed.id:
                medications_by_ref[f"Medication/{parsed.id}"] = parsed
            if full_url:
                medications_by_ref[full_url] = parsed
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if any(patient != patients[0] for patient in patients[1:]):
        raise FhirInputError(f"{_label(patients[1])}: the input holds more than one Patient")
    person = _person(patients[0]) if patients else Person()
    labs: list[LabResult] = []
    medications: list[Medication] = []
    conditions: list[Condition] = []
    for resource in resources:
        resource_type = resource.get("resourceType")
        if resource_type == "Observation":
            lab = _observation(resource, knowledge)
            if lab is not None:
                labs.append(lab)
        elif resource_type in ("MedicationRequest", "MedicationStatement"):
            medications.append(_medication(resource, medications_by_ref))
        elif resource_type == "Condition":
            condition = _condition(resource)
            if condition is not None:
                conditions.append(condition)
    return PatientRecord(
        person=person,
        labs=tuple(labs),
        medications=tuple(medications),
        conditions=tuple(conditions),
    )
