"""The three CDS services and their prefetch templates (DESIGN.md section 5).

Observation templates are built from the knowledge pack's LOINC rows, so a code added to
codes.toml is prefetched without touching this file. Built once at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mgcare.knowledge import Knowledge

PATIENT_KEY = "patient"
MEDICATIONS_KEY = "medications"
CONDITIONS_KEY = "conditions"
OBSERVATION_ANALYTES = ("magnesium", "calcium", "potassium", "creatinine", "egfr", "heart-rate")
"""Analytes prefetched, one key each (heart rate: rapid atrial fibrillation, same day)."""
MAGNESIUM_KEY = "magnesium"
OBSERVATIONS_PER_ANALYTE = 5
"""Newest results per analyte: the latest, and a few before it for the 'latest on record' text."""

Hook = Literal["patient-view", "order-select", "order-sign"]


@dataclass(frozen=True)
class Template:
    key: str
    query: str
    kind: Literal["read", "search"]


@dataclass(frozen=True)
class CdsService:
    id: str
    hook: Hook
    title: str
    description: str
    prefetch: tuple[Template, ...]

    def discovery(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": {t.key: t.query for t in self.prefetch},
        }


def prefetch_templates(knowledge: Knowledge) -> tuple[Template, ...]:
    """Patient; Observations by LOINC per analyte, newest first; active MedicationRequests and
    Conditions. Only the spec's recommended query subset (token equality, _sort, _count)."""
    patient = "{{context.patientId}}"
    templates = [Template(PATIENT_KEY, f"Patient/{patient}", "read")]
    for analyte in OBSERVATION_ANALYTES:
        codes = [row.code for row in knowledge.codes.loinc if row.analyte == analyte]
        if not codes:
            continue
        code_param = ",".join(f"http://loinc.org|{code}" for code in codes)
        templates.append(
            Template(
                analyte,
                f"Observation?patient={patient}&code={code_param}"
                f"&_sort=-date&_count={OBSERVATIONS_PER_ANALYTE}",
                "search",
            )
        )
    templates.append(
        Template(MEDICATIONS_KEY, f"MedicationRequest?patient={patient}&status=active", "search")
    )
    templates.append(
        Template(CONDITIONS_KEY, f"Condition?patient={patient}&clinical-status=active", "search")
    )
    return tuple(templates)


def cds_services(knowledge: Knowledge) -> dict[str, CdsService]:
    templates = prefetch_templates(knowledge)
    services = (
        CdsService(
            "mgcare-patient-view",
            "patient-view",
            "mgcare: magnesium status",
            "Serum magnesium status, magnesium-depleting medicines, kidney function and "
            "interactions, with cited evidence.",
            templates,
        ),
        CdsService(
            "mgcare-order-select",
            "order-select",
            "mgcare: magnesium checks for selected orders",
            "For selected medication orders: serum magnesium monitoring for depleting drugs, "
            "magnesium products with high magnesium or low eGFR, and dosing separation.",
            templates,
        ),
        CdsService(
            "mgcare-order-sign",
            "order-sign",
            "mgcare: magnesium checks before signing",
            "Before orders are signed: serum magnesium monitoring for depleting drugs, "
            "magnesium products with high magnesium or low eGFR, and dosing separation.",
            templates,
        ),
    )
    return {service.id: service for service in services}
