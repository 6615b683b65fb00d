"""The loaded, validated knowledge pack and the lookups the rules need.

Loaded once (start-up), then read-only: the rules never touch files. Cross-references
(source ids, fact ids, codes of the DESIGN.md contract) are checked at load so that a broken
pack fails loudly before any patient is assessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Generic, TypeVar

from pydantic import BaseModel

from mgcare.knowledge.models import (
    MECHANISM_END,
    MECHANISM_START,
    Analyte,
    Claim,
    Claims,
    Codes,
    CodeText,
    ConditionGroup,
    CtcaeGrade,
    Drug,
    Drugs,
    Evidence,
    Fact,
    Intakes,
    LoincCode,
    Mechanisms,
    Reference,
    Renal,
    Salt,
    Salts,
    Texts,
    Thresholds,
    Treatment,
    TreatmentFact,
    Units,
)

FINDING_CODES: tuple[str, ...] = (
    "hypomagnesemia-severe",
    "hypomagnesemia",
    "low-normal-magnesium",
    "hypermagnesemia",
    "hypermagnesemia-severe",
    "magnesium-not-measured",
    "ca-mg-ratio-high",
    "depleting-medication",
    "magnesium-raising-medication",
    "renal-impairment",
    "intake-below-reference",
    "supplement-above-upper-limit",
    "supplement-interaction",
    "hypokalemia-with-low-magnesium",
    "digoxin-with-low-magnesium",
    "rapid-atrial-fibrillation",
    "implausible-unit",
)
"""The finding codes of the DESIGN.md section 4 contract."""

RECOMMENDATION_CODES: tuple[str, ...] = (
    "iv-magnesium-sulfate",
    "oral-magnesium",
    "increase-dietary-magnesium",
    "check-serum-magnesium",
    "recheck-serum-magnesium",
    "stop-magnesium-products",
    "iv-calcium",
    "consider-dialysis",
    "no-routine-supplementation",
    "avoid-supplement-renal",
    "separate-dosing",
    "magnesium-adjunct-rapid-af",
)
"""The recommendation codes of the DESIGN.md section 4 contract."""

SITE_SOURCE = "SITE"
T = TypeVar("T")


class KnowledgeError(ValueError):
    """The knowledge pack or a site override is invalid."""


_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-case Latin/digit words; punctuation separates ('Mg(OH)2' -> mg, oh, 2)."""
    return _TOKEN.findall(text.lower())


class PhraseIndex(Generic[T]):
    """Find known phrases in free text: whole-word n-grams for Latin phrases, substrings for CJK
    phrases (Chinese is written without spaces). Built once; a lookup is a few dict probes."""

    def __init__(self, phrases: Mapping[str, T]) -> None:
        self._latin: dict[tuple[str, ...], T] = {}
        self._cjk: list[tuple[str, T]] = []
        for phrase, value in phrases.items():
            if not phrase.strip():
                continue
            if phrase.isascii():
                key = tuple(tokens(phrase))
                if key:
                    self._latin.setdefault(key, value)
            else:
                self._cjk.append((phrase.strip(), value))
        self._longest = max((len(k) for k in self._latin), default=0)

    def find(self, text: str) -> list[T]:
        """Values of every phrase in `text`, in order of first appearance, each once."""
        found: list[T] = []
        words = tokens(text)
        for start in range(len(words)):
            for size in range(min(self._longest, len(words) - start), 0, -1):
                value = self._latin.get(tuple(words[start : start + size]))
                if value is not None and value not in found:
                    found.append(value)
        if self._cjk and not text.isascii():
            for phrase, value in self._cjk:
                if phrase in text and value not in found:
                    found.append(value)
        return found


@dataclass(frozen=True)
class Knowledge:
    """Everything the rules read. Build with `mgcare.knowledge.load_knowledge()`."""

    thresholds: Thresholds
    ctcae: tuple[CtcaeGrade, ...]
    units: Units
    codes: Codes
    renal: Renal
    intakes: Intakes
    drugs: Drugs
    salts: Salts
    treatment: Treatment
    texts: Texts
    evidence: Evidence
    claims: Claims
    mechanisms: Mechanisms
    version: str
    site_rule: str | None = None
    _cache: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    # --- lookups, computed once -------------------------------------------------------------
    @cached_property
    def analytes(self) -> dict[str, Analyte]:
        return {a.id: a for a in self.units.analyte}

    @cached_property
    def loinc(self) -> dict[str, LoincCode]:
        return {row.code: row for row in self.codes.loinc}

    @cached_property
    def references(self) -> dict[str, Reference]:
        return {ref.id: ref for ref in self.evidence.reference}

    @cached_property
    def claims_by_id(self) -> dict[str, Claim]:
        return {claim.id: claim for claim in self.claims.claim}

    @cached_property
    def facts(self) -> dict[str, TreatmentFact]:
        return {fact.id: fact for fact in self.treatment.fact}

    @cached_property
    def drugs_by_id(self) -> dict[str, Drug]:
        return {drug.id: drug for drug in self.drugs.drug}

    @cached_property
    def drugs_by_atc(self) -> dict[str, Drug]:
        index: dict[str, Drug] = {}
        for drug in self.drugs.drug:
            for atc in drug.atc:
                index.setdefault(atc.upper(), drug)
        return index

    @cached_property
    def drugs_by_rxcui(self) -> dict[str, Drug]:
        return {drug.rxcui: drug for drug in self.drugs.drug if drug.rxcui}

    @cached_property
    def drug_names(self) -> PhraseIndex[Drug]:
        """Every drug name and synonym, for free-text medication names."""
        names: dict[str, Drug] = {}
        for drug in self.drugs.drug:
            for name in (drug.name_en, drug.name_zh, *drug.synonyms):
                if name:
                    names.setdefault(name.lower(), drug)
        return PhraseIndex(names)

    @cached_property
    def salts_by_name(self) -> dict[str, Salt]:
        index: dict[str, Salt] = {}
        for salt in self.salts.salt:
            for name in (salt.id, salt.name_en, salt.name_zh, *salt.synonyms):
                index.setdefault(name.strip().lower(), salt)
        return index

    @cached_property
    def condition_groups(self) -> dict[str, ConditionGroup]:
        return {group.id: group for group in self.codes.condition}

    @cached_property
    def condition_phrases(self) -> PhraseIndex[str]:
        """Phrase -> condition group id (a phrase may name one group only)."""
        phrases: dict[str, str] = {}
        for group in self.codes.condition:
            for phrase in group.phrases:
                phrases.setdefault(phrase.lower(), group.id)
        return PhraseIndex(phrases)

    @cached_property
    def condition_exclusions(self) -> PhraseIndex[str]:
        return PhraseIndex({p.lower(): p for p in self.codes.condition_exclusions.phrases})

    @cached_property
    def unit_aliases(self) -> dict[str, str]:
        """Normalised spelling -> UCUM code."""
        index: dict[str, str] = {}
        for ucum, aliases in self.units.unit_aliases.items():
            for alias in (ucum, *aliases):
                index[_normalise_unit_spelling(alias)] = ucum
        return index

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A value derived from the pack, computed once per key (the pack never changes)."""
        try:
            return self._cache[key]  # type: ignore[return-value]
        except KeyError:
            value = self._cache[key] = compute()
            return value

    def threshold_facts(self) -> Iterator[tuple[str, Fact | None]]:
        """Every threshold as ("section.name", fact); None where the pack sets no default."""
        for section_name, section in self.thresholds:
            if isinstance(section, BaseModel):
                for fact_name, fact in section:
                    yield f"{section_name}.{fact_name}", fact

    def ctcae_bounds(self, term: str, unit: str) -> tuple[CtcaeGrade, ...]:
        """Grades for a term in one unit, most severe first."""
        return self.memo(
            ("ctcae", term, unit),
            lambda: tuple(
                sorted(
                    (g for g in self.ctcae if g.term == term and g.unit == unit),
                    key=lambda g: -g.grade,
                )
            ),
        )

    def finding_text(self, code: str) -> CodeText:
        return self.texts.finding[code]

    def recommendation_text(self, code: str) -> CodeText:
        return self.texts.recommendation[code]


def _normalise_unit_spelling(unit: str) -> str:
    return unit.strip().lower().replace(" ", "").replace("µ", "u").replace("μ", "u")


def normalise_unit_spelling(unit: str) -> str:
    """Public form of the unit spelling normaliser (used by the units module)."""
    return _normalise_unit_spelling(unit)


def validate_cross_references(knowledge: Knowledge) -> None:
    """Fail loudly if any row points at something that does not exist."""
    problems: list[str] = []
    source_ids = set(knowledge.references) | {SITE_SOURCE}
    fact_ids = set(knowledge.facts)

    def need_source(where: str, source: str) -> None:
        if source and source not in source_ids:
            problems.append(f"{where}: unknown source {source!r}")

    for name, threshold in knowledge.threshold_facts():
        if threshold is not None:
            need_source(f"thresholds.{name}", threshold.source)
    for grade in knowledge.ctcae:
        need_source(f"ctcae grade {grade.term}/{grade.grade}", grade.source)
    for row in knowledge.codes.loinc:
        need_source(f"loinc {row.code}", row.source)
        if row.analyte not in knowledge.analytes and not row.analyte.endswith("-ionized"):
            problems.append(f"loinc {row.code}: unknown analyte {row.analyte!r}")
    for group in knowledge.codes.condition:
        need_source(f"condition {group.id}", group.source)
    for intake in knowledge.intakes.intake:
        need_source(f"intake {intake.standard}/{intake.age_min}", intake.source)
    for drug in knowledge.drugs.drug:
        for source in drug.sources:
            need_source(f"drug {drug.id}", source)
        if drug.spacing is not None:
            need_source(f"drug {drug.id} spacing", drug.spacing.source)
    for salt in knowledge.salts.salt:
        need_source(f"salt {salt.id}", salt.source)
    for fact in knowledge.treatment.fact:
        need_source(f"treatment {fact.id}", fact.source)
    for kind, table, contract in (
        ("finding", knowledge.texts.finding, FINDING_CODES),
        ("recommendation", knowledge.texts.recommendation, RECOMMENDATION_CODES),
    ):
        missing = set(contract) - set(table)
        extra = set(table) - set(contract)
        if missing:
            problems.append(f"texts: {kind} codes without text: {sorted(missing)}")
        if extra:
            problems.append(f"texts: {kind} codes outside the DESIGN.md contract: {sorted(extra)}")
        for code, text in table.items():
            for source in text.evidence:
                need_source(f"{kind} {code}", source)
            for fact_id in text.facts:
                if fact_id not in fact_ids:
                    problems.append(f"{kind} {code}: unknown treatment fact {fact_id!r}")
    for claim in knowledge.claims.claim:
        for source in claim.references:
            need_source(f"claim {claim.id}", source)
    problems.extend(
        mechanism_problems(knowledge.mechanisms, source_ids, set(knowledge.claims_by_id))
    )
    for analyte in knowledge.units.analyte:
        for unit in analyte.units:
            if unit not in knowledge.units.unit_aliases:
                problems.append(f"analyte {analyte.id}: unit {unit!r} has no alias entry")
        if analyte.plausible_low >= analyte.plausible_high:
            problems.append(f"analyte {analyte.id}: empty plausible range")
    serum = knowledge.thresholds.serum_magnesium
    ordered = [
        serum.deficiency_below.value,
        serum.normal_lower.value,
        serum.normal_upper.value,
        serum.severe_excess_from.value,
    ]
    if ordered != sorted(ordered):
        problems.append(f"thresholds.serum_magnesium are not in increasing order: {ordered}")
    for unique_name, ids in (
        ("drug", [d.id for d in knowledge.drugs.drug]),
        ("salt", [s.id for s in knowledge.salts.salt]),
        ("reference", [r.id for r in knowledge.evidence.reference]),
        ("claim", [c.id for c in knowledge.claims.claim]),
    ):
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            problems.append(f"duplicate {unique_name} ids: {sorted(duplicates)}")
    if problems:
        raise KnowledgeError("knowledge pack is invalid:\n  " + "\n  ".join(problems))


def mechanism_problems(
    mechanisms: Mechanisms, source_ids: set[str], claim_ids: set[str]
) -> list[str]:
    """What is wrong with the Figure 1 graph: unknown sources or claim, duplicate or dangling
    node ids, cycles, and steps that magnesium does not reach or that do not reach the outcome
    (a figure with a loose end would misdraw the review)."""
    problems: list[str] = []
    where = "mechanisms"
    if mechanisms.source not in source_ids:
        problems.append(f"{where}: unknown source {mechanisms.source!r}")
    if mechanisms.claim not in claim_ids:
        problems.append(f"{where}: unknown claim {mechanisms.claim!r}")
    seen_nodes: set[str] = set()
    pathway_ids = [p.id for p in mechanisms.pathway]
    if len(set(pathway_ids)) != len(pathway_ids):
        problems.append(f"{where}: duplicate pathway ids")
    for pathway in mechanisms.pathway:
        at = f"{where} pathway {pathway.id}"
        for source in pathway.sources:
            if source not in source_ids:
                problems.append(f"{at}: unknown source {source!r}")
        ids = [node.id for node in pathway.node]
        for node in pathway.node:
            if node.source not in source_ids:
                problems.append(f"{at} node {node.id}: unknown source {node.source!r}")
            if node.id in seen_nodes or node.id in (MECHANISM_START, MECHANISM_END):
                problems.append(f"{at}: duplicate or reserved node id {node.id!r}")
            seen_nodes.add(node.id)
        known = {*ids, MECHANISM_START, MECHANISM_END}
        successors: dict[str, list[str]] = {key: [] for key in known}
        for edge in pathway.edge:
            label = f"{at} edge {edge.source_node}->{edge.target_node}"
            if edge.source not in source_ids:
                problems.append(f"{label}: unknown source {edge.source!r}")
            if edge.source_node not in known or edge.source_node == MECHANISM_END:
                problems.append(f"{label}: unknown start {edge.source_node!r}")
            elif edge.target_node not in known or edge.target_node == MECHANISM_START:
                problems.append(f"{label}: unknown end {edge.target_node!r}")
            else:
                successors[edge.source_node].append(edge.target_node)
        problems.extend(f"{at}: {p}" for p in _graph_problems(successors, ids))
    return problems


def _graph_problems(successors: dict[str, list[str]], ids: list[str]) -> list[str]:
    """Cycles, and nodes off the path from magnesium to the outcome."""
    problems: list[str] = []
    state: dict[str, int] = {}  # absent: unvisited; 1: on the stack; 2: done

    def visit(node: str) -> bool:
        state[node] = 1
        for nxt in successors[node]:
            if state.get(nxt) == 1 or (nxt not in state and not visit(nxt)):
                return False
        state[node] = 2
        return True

    if not all(visit(n) for n in [MECHANISM_START, *ids] if n not in state):
        return ["the graph has a cycle"]
    reached = _reach(MECHANISM_START, successors)
    predecessors: dict[str, list[str]] = {key: [] for key in successors}
    for node, nexts in successors.items():
        for nxt in nexts:
            predecessors[nxt].append(node)
    leads_out = _reach(MECHANISM_END, predecessors)
    for node in ids:
        if node not in reached:
            problems.append(f"node {node!r} is not reached from magnesium")
        if node not in leads_out:
            problems.append(f"node {node!r} does not lead to the outcome")
    return problems


def _reach(start: str, graph: dict[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
