"""What each hook answers, always from `mgcare.rules.assess`.

patient-view: one card per finding and recommendation of the assessment.

order-select / order-sign: the assessment is run without and with the draft medication orders;
the items that the drafts add or change are the order's cards (so every threshold stays in the
core). Kept: monitoring (check serum Mg, with the depleting-drug findings folded in),
magnesium-product warnings (hypermagnesaemia, low eGFR), dosing separation, and anything the
drafts raise to warning or critical. Info-level items the drafts merely add are left out to
spare alert fatigue.

When magnesium results could not be had, conclusions drawn from their absence
(`magnesium-not-measured`, `check-serum-magnesium`) are dropped: missing data is not a
negative result.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mgcare.fhir import FhirInputError, record_from_fhir
from mgcare.i18n import Lang
from mgcare.knowledge import Knowledge
from mgcare.model import Assessment, Item, Medication, PatientRecord
from mgcare.rules import assess
from mgcare.rules.medications import identify
from mgcare.service.cds.cards import (
    CardBuilder,
    CardSpec,
    ResponseTemplate,
    remove_draft,
    render,
    serum_magnesium_order,
)
from mgcare.service.cds.definitions import MAGNESIUM_KEY, CdsService
from mgcare.service.cds.models import CdsRequest
from mgcare.service.cds.prefetch import Gathered, Gatherer, HookError, fingerprint

LANG_EXTENSION = "org.mgcare.lang"
ABSENCE_CODES = frozenset({"magnesium-not-measured", "check-serum-magnesium"})
ORDER_MG_CODES = frozenset({"check-serum-magnesium", "recheck-serum-magnesium"})
ORDER_KEEP_INFO = frozenset({"check-serum-magnesium", "separate-dosing", "supplement-interaction"})
FOLD: dict[str, tuple[str, ...]] = {
    "check-serum-magnesium": ("depleting-medication",),
    "separate-dosing": ("supplement-interaction",),
    "stop-magnesium-products": ("magnesium-raising-medication",),
    "avoid-supplement-renal": ("magnesium-raising-medication",),
}
"""Recommendation code -> finding codes shown inside its card (order hooks)."""
PER_DRUG = frozenset({"separate-dosing"})
PRODUCT_CODES = frozenset(
    {"stop-magnesium-products", "avoid-supplement-renal", "magnesium-raising-medication"}
)


def request_lang(request: CdsRequest, default: Lang) -> Lang:
    """`extension: {"org.mgcare.lang": "zh"}` on the request, else the service's language."""
    value = (request.extension or {}).get(LANG_EXTENSION)
    if value is None:
        return default
    if value not in ("en", "zh"):
        raise HookError(400, f"extension.{LANG_EXTENSION} must be en or zh")
    return value  # type: ignore[no-any-return]


def _key(item: Item) -> tuple[str, str, str]:
    return (item.code, item.summary, item.detail)


class CardMemo:
    """Serialised responses (uuids left as slots) by (hook, exact data, draft orders, day, language, base
    URL). `assess` is pure and deterministic, so the same inputs give the same cards, and an
    EHR repeats the same patient's data on every hook of a visit. Cards still get fresh uuids
    on every call. Size 0 disables it."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], ResponseTemplate] = OrderedDict()

    def get(self, key: tuple[Any, ...] | None) -> ResponseTemplate | None:
        if key is None or self._size <= 0:
            return None
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...] | None, template: ResponseTemplate) -> None:
        if key is None or self._size <= 0:
            return
        self._items[key] = template
        if len(self._items) > self._size:
            self._items.popitem(last=False)


@dataclass(frozen=True)
class HookRunner:
    """Runs one hook call end to end: gather data, assess, build cards."""

    knowledge: Knowledge
    gatherer: Gatherer
    builder: CardBuilder
    default_lang: Lang
    as_of: date | None
    memo: CardMemo = field(default_factory=lambda: CardMemo(0))

    async def run(self, service: CdsService, request: CdsRequest, base_url: str) -> bytes:
        """The response body (JSON): `{"cards": [...]}` with fresh uuids."""
        if request.hook != service.hook:
            raise HookError(
                400, f"service {service.id} answers hook {service.hook}, not {request.hook!r}"
            )
        lang = request_lang(request, self.default_lang)
        day = self.as_of or date.today()
        today = max(day, date.today())
        plan = self.gatherer.plan(request, today)
        key: tuple[Any, ...] | None = None
        if plan.fingerprint is not None:
            orders = None
            if service.hook != "patient-view":
                context = request.context
                orders = fingerprint(
                    (request.hook, context.get("draftOrders"), context.get("selections"))
                )
            key = (service.hook, plan.fingerprint, orders, day, lang, base_url)
        template = self.memo.get(key)
        if template is None:
            drafts: list[Medication] = []
            if service.hook != "patient-view":
                drafts = draft_medications(request, self.knowledge)
            gathered = await self.gatherer.complete(request, plan, today)
            specs = self._specs(service, gathered, drafts, request, day, lang)
            template = ResponseTemplate(render(self.builder, specs, lang, base_url))
            self.memo.put(key, template)
        return template.fill()

    def _specs(
        self,
        service: CdsService,
        gathered: Gathered,
        drafts: Sequence[Medication],
        request: CdsRequest,
        day: date,
        lang: Lang,
    ) -> list[CardSpec]:
        mg_missing = MAGNESIUM_KEY in gathered.unavailable
        patient = request.context.get("patientId")
        pid = patient if isinstance(patient, str) else None
        if service.hook == "patient-view":
            assessment = assess(gathered.record, self.knowledge, as_of=day, lang=lang)
            specs = patient_view_specs(assessment, mg_missing)
        else:
            specs = self.order_specs(gathered.record, drafts, day, lang, mg_missing)
        for spec in specs:
            if spec.lead.code in ORDER_MG_CODES:
                spec.suggestions.append(serum_magnesium_order(self.knowledge, pid, lang))
        return specs

    def order_specs(
        self,
        record: PatientRecord,
        drafts: Sequence[Medication],
        day: date,
        lang: Lang,
        mg_missing: bool,
    ) -> list[CardSpec]:
        if not drafts:
            return []
        draft_sources = {d.source for d in drafts if d.source}
        current = tuple(m for m in record.medications if m.source not in draft_sources)
        base = record.model_copy(update={"medications": current})
        with_drafts = record.model_copy(update={"medications": current + tuple(drafts)})
        before = assess(base, self.knowledge, as_of=day, lang=lang)
        after = assess(with_drafts, self.knowledge, as_of=day, lang=lang)
        seen = {_key(i) for i in (*before.findings, *before.recommendations)}
        findings = _present([f for f in after.findings if _key(f) not in seen], mg_missing)
        recommendations = _present(
            [r for r in after.recommendations if _key(r) not in seen], mg_missing
        )
        specs = [
            s
            for s in fold(findings, recommendations)
            if s.indicator != "info" or s.lead.code in ORDER_KEEP_INFO
        ]
        removals = self._product_removals(drafts, lang)
        for spec in specs:
            if spec.lead.code in PRODUCT_CODES and spec.indicator != "info":
                spec.suggestions.extend(removals)
        return specs

    def _product_removals(self, drafts: Sequence[Medication], lang: Lang) -> list[dict[str, Any]]:
        """Delete suggestions for draft orders of magnesium products (pack effect)."""
        removals = []
        for draft in drafts:
            if not draft.source or draft.source.endswith("/?"):
                continue
            drugs = identify(draft, self.knowledge)
            if any("magnesium-product" in d.effects for d in drugs):
                name = draft.name or (drugs[0].name_zh if lang == "zh" else drugs[0].name_en)
                removals.append(remove_draft(draft.source, name, lang))
        return removals


def _present(items: list[Item], mg_missing: bool) -> list[Item]:
    return [i for i in items if not (mg_missing and i.code in ABSENCE_CODES)]


def patient_view_specs(assessment: Assessment, mg_missing: bool) -> list[CardSpec]:
    items = _present([*assessment.findings, *assessment.recommendations], mg_missing)
    return [CardSpec(item) for item in items]


def fold(findings: Iterable[Item], recommendations: Iterable[Item]) -> list[CardSpec]:
    """Recommendation cards with their related findings inside (per drug for spacing advice);
    findings left over get their own card."""
    remaining = list(findings)
    specs: list[CardSpec] = []
    for recommendation in recommendations:
        spec = CardSpec(recommendation)
        wanted = FOLD.get(recommendation.code, ())
        for finding in list(remaining):
            if finding.code in wanted:
                spec.folded.append(finding)
                remaining.remove(finding)
                if recommendation.code in PER_DRUG:
                    break
        specs.append(spec)
    return specs + [CardSpec(finding) for finding in remaining]


def draft_medications(request: CdsRequest, knowledge: Knowledge) -> list[Medication]:
    """The draft MedicationRequests of `context.draftOrders` (for order-select, only the
    `selections` when given), read by the core FHIR reader."""
    bundle = request.context.get("draftOrders")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise HookError(400, "context.draftOrders must be a FHIR Bundle")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise HookError(400, "context.draftOrders.entry must be a list")
    selections = request.context.get("selections")
    if request.hook == "order-select" and selections is not None:
        if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
            raise HookError(400, "context.selections must be a list of references")
        chosen = set(selections)
    else:
        chosen = None
    kept: list[dict[str, Any]] = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise HookError(400, "context.draftOrders: every entry needs a resource")
        kind = resource.get("resourceType")
        selected = chosen is None or f"MedicationRequest/{resource.get('id')}" in chosen
        if kind == "Medication":
            kept.append({"resource": resource, **_full_url(entry)})
        elif kind == "MedicationRequest" and selected:
            kept.append({"resource": _order_essentials(resource), **_full_url(entry)})
    if not any(e["resource"].get("resourceType") == "MedicationRequest" for e in kept):
        return []
    document = {"resourceType": "Bundle", "type": "collection", "entry": kept}
    try:
        record = record_from_fhir(document, knowledge)
    except FhirInputError as exc:
        raise HookError(400, f"context.draftOrders: {' '.join(str(exc).split())}") from None
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise HookError(400, f"context.draftOrders: invalid FHIR ({type(exc).__name__})") from None
    return [m.model_copy(update={"draft": True}) for m in record.medications]


DRAFT_FIELDS = (
    "resourceType",
    "id",
    "status",
    "intent",
    "medicationCodeableConcept",
    "medicationReference",
    "subject",
    "authoredOn",
    "contained",
)


def _order_essentials(resource: dict[str, Any]) -> dict[str, Any]:
    """Only the fields that say which medicine is ordered, when: draft orders are in-progress
    data, and even the spec's own R4 examples carry Dosage content that is not valid R4
    (`doseAndRate` as an object, `doseQuantity` on Dosage). What mgcare does not read must not
    reject the order."""
    kept = {key: resource[key] for key in DRAFT_FIELDS if key in resource}
    dispense = resource.get("dispenseRequest")
    if isinstance(dispense, dict) and "validityPeriod" in dispense:
        kept["dispenseRequest"] = {"validityPeriod": dispense["validityPeriod"]}
    return kept


def _full_url(entry: dict[str, Any]) -> dict[str, Any]:
    full_url = entry.get("fullUrl")
    return {"fullUrl": full_url} if isinstance(full_url, str) else {}
