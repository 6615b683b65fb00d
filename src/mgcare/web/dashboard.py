"""What a person's dashboard shows, built from one stored record and its magnesium history.

Pure (no HTTP, no SQL): the assessment comes from `mgcare.views.assessment`, statuses from
`mgcare.rules`, charts from `mgcare.charts`; this module only arranges their output for the
template, so the page, the API and the PDF say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from mgcare.diet.foods import FoodDatabase, UnknownFoodError
from mgcare.i18n import MAGNESIUM_STATUS, Lang
from mgcare.knowledge import Knowledge
from mgcare.model import Assessment, Item, LabResult, PatientRecord
from mgcare.rules.conditions import condition_groups
from mgcare.rules.labs import check_labs, magnesium_status
from mgcare.rules.medications import identify, is_current
from mgcare.views import ViewError
from mgcare.web.forms import unit_label
from mgcare.web.intake import IntakeCache


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    label: str
    title: str


@dataclass(frozen=True, slots=True)
class ItemView:
    """A finding or recommendation with links to its references and graded claims."""

    code: str
    severity: str
    summary: str
    detail: str
    references: tuple[Link, ...]
    claims: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class Named:
    """A medication or condition as entered, with what mgcare recognised in it, and its store
    row id (None when the record was not read from the store) for the Remove button."""

    name: str
    recognised: tuple[str, ...]
    since: date | None
    active: bool
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class FoodRow:
    """One food-log row: `amount` is how it was entered (e.g. "30 g", "200 mg")."""

    food: str
    name: str
    grams: float
    magnesium_mg: float | None
    entry_id: int | None = None
    day: str | None = None
    amount: str = ""


@dataclass(frozen=True, slots=True)
class LabRow:
    """One stored result of any test, as reported, for the table of all results."""

    entry_id: int | None
    analyte: str
    name: str
    value: str
    day: str


@dataclass(frozen=True)
class Dashboard:
    assessment: Assessment
    latest: LabResult | None
    """The newest magnesium result, when the assessment has none in its look-back window."""
    trend: tuple[tuple[date, float, str], ...]
    """(day, mmol/L, label as reported) of every convertible magnesium result, oldest first."""
    findings: tuple[ItemView, ...]
    recommendations: tuple[ItemView, ...]
    medications: tuple[Named, ...]
    conditions: tuple[Named, ...]
    food_day: str | None
    food_rows: tuple[FoodRow, ...]
    intake: Mapping[str, Any] | None
    intake_problem: str | None
    labs: tuple[LabRow, ...] = ()
    """Every stored result, newest first (what the Remove buttons act on)."""
    earlier_food: tuple[FoodRow, ...] = ()
    """Food-log rows of other days than `food_day`, newest first."""


def claims_by_code(knowledge: Knowledge) -> dict[str, tuple[str, ...]]:
    """Claim ids whose caveats concern each finding/recommendation code (built once)."""
    index: dict[str, list[str]] = {}
    for claim in knowledge.claims.claim:
        for code in claim.caveat_codes:
            index.setdefault(code, []).append(claim.id)
    return {code: tuple(ids) for code, ids in index.items()}


def item_view(
    item: Item, knowledge: Knowledge, claims: Mapping[str, tuple[str, ...]], lang: Lang
) -> ItemView:
    references = []
    for ref_id in item.evidence:
        reference = knowledge.references.get(ref_id)
        title = reference.citation if reference is not None else ref_id
        references.append(Link(f"/app/evidence#{ref_id}", ref_id, title))
    claim_links = []
    by_id = {c.id: c for c in knowledge.claims.claim}
    for claim_id in claims.get(item.code, ()):
        claim = by_id[claim_id]
        summary = claim.summary_zh if lang == "zh" else claim.summary_en
        claim_links.append(Link(f"/app/evidence/claims#{claim_id}", claim_id, summary))
    return ItemView(
        item.code, item.severity, item.summary, item.detail, tuple(references), tuple(claim_links)
    )


def latest_food_day(rows: Sequence[Mapping[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """The newest day of a stored food log and its rows. The record's food log is one day's
    log (DESIGN.md 7); the web form dates each row, so the dashboard evaluates the newest day.
    Rows without a date (imported logs) count as one undated day when no row has a date."""
    dated = [str(r["date"]) for r in rows if r.get("date")]
    if not dated:
        return None, [dict(r) for r in rows]
    day = max(dated)
    return day, [dict(r) for r in rows if str(r.get("date") or "") == day]


def listing_status(value: float, unit: str, effective: str, knowledge: Knowledge) -> str | None:
    """The status of one stored magnesium result as the rules classify it (None if unusable)."""
    try:
        lab = LabResult(analyte="magnesium", value=value, unit=unit, effective=effective[:10])
    except ValueError:
        return None
    checked = check_labs([lab], knowledge)
    if not checked or not checked[0].usable:
        return None
    return magnesium_status(checked[0], knowledge).status


def status_label(status: str, lang: Lang) -> str:
    label = MAGNESIUM_STATUS.get(status)
    return label.get(lang) if label is not None else status


def assess_record(
    record: PatientRecord, *, as_of: date, lang: Lang, intake: IntakeCache
) -> tuple[Assessment, str | None]:
    """The assessment the dashboard shows: with the newest food-log day, or without the food
    log (and the reason) when that day cannot be evaluated."""
    _, day_rows = latest_food_day(record.food_log)
    day_record = record.model_copy(update={"food_log": tuple(day_rows)})
    try:
        return intake.assessment(day_record, as_of, lang), None
    except ViewError as exc:
        bare = record.model_copy(update={"food_log": ()})
        return intake.assessment(bare, as_of, lang), str(exc)


def build_dashboard(
    record: PatientRecord,
    mg_history: Sequence[tuple[str, float, str, float | None]],
    knowledge: Knowledge,
    foods: FoodDatabase,
    *,
    as_of: date,
    lang: Lang,
    claims: Mapping[str, tuple[str, ...]],
    intake: IntakeCache,
    entry_ids: EntryIds | None = None,
) -> Dashboard:
    """Assess the record (with its newest food-log day) and arrange the result for the page.

    `mg_history` is (effective, value, unit, mmol/L or None) per stored magnesium result, oldest
    first, as `mgcare.store.repository.history` returns them. `entry_ids` are the store row ids
    of the record's entries, index for index, so each can offer a Remove button."""
    ids = entry_ids or EntryIds()
    food_day, _ = latest_food_day(record.food_log)
    result, intake_problem = assess_record(record, as_of=as_of, lang=lang, intake=intake)
    latest = None
    if result.serum_magnesium is None and mg_history:
        effective, value, unit, _ = mg_history[-1]
        latest = LabResult(analyte="magnesium", value=value, unit=unit, effective=effective[:10])
    trend = tuple(
        (date.fromisoformat(effective[:10]), mmol, f"{value:g} {unit_label(unit)}")
        for effective, value, unit, mmol in mg_history
        if mmol is not None
    )
    medications = tuple(
        Named(
            name=m.name or "-",
            recognised=tuple(
                (d.name_zh if lang == "zh" else d.name_en)
                + " · "
                + (d.class_zh if lang == "zh" else d.class_en)
                for d in identify(m, knowledge)
            ),
            since=m.start,
            active=is_current(m, as_of),
            entry_id=_nth(ids.medications, index),
        )
        for index, m in enumerate(record.medications)
    )
    conditions = tuple(
        Named(
            name=c.name or "-",
            recognised=tuple(
                sorted(
                    (
                        knowledge.condition_groups[g].name_zh
                        if lang == "zh"
                        else knowledge.condition_groups[g].name_en
                    )
                    for g in condition_groups(c, knowledge)
                )
            ),
            since=c.onset,
            active=c.active,
            entry_id=_nth(ids.conditions, index),
        )
        for index, c in enumerate(record.conditions)
    )
    food_rows: list[FoodRow] = []
    earlier_food: list[FoodRow] = []
    for index, row in enumerate(record.food_log):
        shown = _food_row(row, foods, lang, _nth(ids.food_log, index))
        if food_day is None or shown.day == food_day:
            food_rows.append(shown)
        else:
            earlier_food.append(shown)
    earlier_food.sort(key=lambda r: r.day or "", reverse=True)
    labs = sorted(
        ((lab.effective_date.isoformat(), index, lab) for index, lab in enumerate(record.labs)),
        key=lambda item: (item[0], item[1]),
        reverse=True,
    )
    return Dashboard(
        assessment=result,
        latest=latest,
        trend=trend,
        findings=tuple(item_view(i, knowledge, claims, lang) for i in result.findings),
        recommendations=tuple(
            item_view(i, knowledge, claims, lang) for i in result.recommendations
        ),
        medications=medications,
        conditions=conditions,
        food_day=food_day,
        food_rows=tuple(food_rows),
        intake=result.intake,
        intake_problem=intake_problem,
        labs=tuple(
            LabRow(
                entry_id=_nth(ids.labs, index),
                analyte=lab.analyte,
                name=_analyte_name(lab.analyte, knowledge, lang),
                value=f"{lab.value:g} {unit_label(lab.unit or '')}".strip(),
                day=day,
            )
            for day, index, lab in labs
        ),
        earlier_food=tuple(earlier_food),
    )


@dataclass(frozen=True, slots=True)
class EntryIds:
    """Store row ids of a record's entries, index for index with the record's lists."""

    labs: Sequence[int] = ()
    medications: Sequence[int] = ()
    conditions: Sequence[int] = ()
    food_log: Sequence[int] = ()


def _nth(ids: Sequence[int], index: int) -> int | None:
    return ids[index] if index < len(ids) else None


def _analyte_name(analyte: str, knowledge: Knowledge, lang: Lang) -> str:
    info = knowledge.analytes.get(analyte)
    if info is None:
        return analyte
    return info.name_zh if lang == "zh" else info.name_en


def _food_row(
    row: Mapping[str, Any], foods: FoodDatabase, lang: Lang, entry_id: int | None
) -> FoodRow:
    """A food-log row named in the reader's language, with its magnesium where known."""
    name = str(row.get("food") or row.get("supplement") or "")
    grams = _grams(row)
    magnesium = None
    try:
        food = foods.get(name)
        name = (food.name_zh if lang == "zh" else None) or food.name_en
        if food.magnesium_mg_per_100g is not None and grams is not None:
            magnesium = round(grams * food.magnesium_mg_per_100g / 100, 1)
    except (UnknownFoodError, ValueError):
        pass
    return FoodRow(
        str(row.get("food") or ""),
        name,
        grams or 0.0,
        magnesium,
        entry_id=entry_id,
        day=str(row["date"]) if row.get("date") else None,
        amount=food_amount(row),
    )


def food_amount(row: Mapping[str, Any]) -> str:
    """How much, as entered: "30 g" for a food, "200 mg" for a supplement."""
    if row.get("supplement"):
        dose = row.get("elemental_mg") or row.get("dose_mg")
        return f"{dose} mg" if dose not in (None, "") else ""
    amount, unit = row.get("amount"), row.get("unit")
    if amount in (None, ""):
        return ""
    text = f"{amount:g}" if isinstance(amount, float) else str(amount)
    return f"{text} {unit or ''}".strip()


def _grams(row: Mapping[str, Any]) -> float | None:
    """Grams of a web-entered row (`unit` g); other units are shown by the intake totals."""
    if str(row.get("unit") or "").lower() != "g":
        return None
    try:
        return float(row.get("amount") or 0)
    except (TypeError, ValueError):
        return None
