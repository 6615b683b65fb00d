"""Record validation: one clear reason for records that cannot be assessed."""

from __future__ import annotations

from datetime import date

import pytest

from mgcare.inputs import InputError, record_from_document
from mgcare.knowledge import Knowledge

TODAY = date(2026, 11, 25)


def test_deceased_person_cannot_be_assessed_after_death(knowledge: Knowledge) -> None:
    document = {"person": {"id": "p", "deceased": "2006-07-21"}}
    record_from_document(document, knowledge, TODAY, as_of=date(2006, 7, 1))
    with pytest.raises(InputError, match="died on 2006-07-21"):
        record_from_document(document, knowledge, TODAY, as_of=TODAY)


@pytest.mark.parametrize("effective", [2026, "2026", "2026-11", 1.7e9])
def test_record_dates_must_be_iso_days(effective: object, knowledge: Knowledge) -> None:
    """A bare year or a number would be read as a Unix timestamp: refused."""
    document = {
        "labs": [{"analyte": "magnesium", "value": 0.8, "unit": "mmol/L", "effective": effective}]
    }
    with pytest.raises(InputError, match=r"labs\[0\]\.effective"):
        record_from_document(document, knowledge, TODAY)


def test_fhir_partial_dates_take_first_day(knowledge: Knowledge) -> None:
    """FHIR allows YYYY and YYYY-MM; mgcare reads them as the period's first day."""
    observation = {
        "resourceType": "Observation",
        "id": "mg",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2601-3"}]},
        "effectiveDateTime": "2026-11",
        "valueQuantity": {"value": 0.8, "unit": "mmol/L"},
    }
    record = record_from_document(observation, knowledge, TODAY)
    assert record.labs[0].effective == date(2026, 11, 1)
