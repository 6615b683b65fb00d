"""Which knowledge-pack drugs a medication entry contains, and whether it is current."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import Drug
from mgcare.model import Medication

INACTIVE_STATUSES = frozenset(
    {"stopped", "completed", "cancelled", "entered-in-error", "not-taken", "revoked", "ended"}
)


def is_current(medication: Medication, as_of: date) -> bool:
    """Active on `as_of`: not stopped, started by then, not yet ended."""
    if medication.status is not None and medication.status.lower() in INACTIVE_STATUSES:
        return False
    if medication.start is not None and medication.start > as_of:
        return False
    return medication.end is None or medication.end >= as_of


def identify(medication: Medication, knowledge: Knowledge) -> list[Drug]:
    """Drugs by ATC code, ingredient RxCUI, then names found in the text and code displays
    (Synthea and most EHRs code products, not ingredients, so the text matters). The same
    name and codes recur across people, so answers are memoised on the pack."""
    key = ("drugs", medication.name, medication.codes)
    return list(knowledge.memo(key, lambda: _identify(medication, knowledge)))


def _identify(medication: Medication, knowledge: Knowledge) -> tuple[Drug, ...]:
    found: dict[str, Drug] = {}
    texts: list[str] = [medication.name or ""]
    for coding in medication.codes:
        if coding.system == "atc":
            drug = knowledge.drugs_by_atc.get(coding.code.upper())
            if drug is not None:
                found[drug.id] = drug
        elif coding.system == "rxnorm":
            drug = knowledge.drugs_by_rxcui.get(coding.code)
            if drug is not None:
                found[drug.id] = drug
        elif coding.system == "text":
            texts.append(coding.code)
        if coding.display:
            texts.append(coding.display)
    for text in texts:
        for drug in knowledge.drug_names.find(text):
            found.setdefault(drug.id, drug)
    return tuple(found.values())


def current_drugs(
    medications: Iterable[Medication], as_of: date, knowledge: Knowledge
) -> list[tuple[Medication, Drug]]:
    """Every (entry, drug) pair that is current on `as_of`, each drug once."""
    seen: set[str] = set()
    pairs = []
    for medication in medications:
        if not is_current(medication, as_of):
            continue
        for drug in identify(medication, knowledge):
            if drug.id not in seen:
                seen.add(drug.id)
                pairs.append((medication, drug))
    return pairs
