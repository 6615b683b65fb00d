"""One screening run: register the tables, validate them, build the lookups, run the shared SQL on
the chosen engine, write persons.parquet, then count everything for the summary.

Every input row ends up in exactly one place: used, or excluded with a reason. The summary holds
these counts so that nothing is dropped silently.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from mgcare import __version__
from mgcare.knowledge import Knowledge
from mgcare.screen import lookups
from mgcare.screen.engines import ColumnType, Engine, FileFormat
from mgcare.screen.errors import ScreenInputError
from mgcare.screen.progress import Steps
from mgcare.screen.schema import SPECS, TableName, typed_view
from mgcare.screen.sql import (
    FINDINGS_IN_BATCH,
    LAB_ROW_REASONS,
    MG_STATUSES,
    ScreenSQL,
    Statement,
    flag_column,
    reason_column,
)
from mgcare.screen.survey import Estimate, StratumMoments, estimate_from_moments

DUPLICATE_CHECK_MAX_ROWS = 20_000_000
"""Labs with more rows than this are not checked for exact duplicates unless asked: the check is a
full hash aggregation (about as costly as the screening itself), and duplicates cannot change
any per-person result. The summary says whether it ran."""
TOP_SPELLINGS = 10
DEPLETING_WITHOUT_CHECK = "depleting-medication-without-magnesium-check"


@dataclass(frozen=True, slots=True)
class Table:
    path: Path
    fmt: FileFormat


@dataclass(frozen=True, slots=True)
class Inputs:
    persons: Table
    labs: Table
    medications: Table | None = None
    conditions: Table | None = None


@dataclass
class RunInfo:
    engine: str
    as_of: date
    today: date
    timings: dict[str, float] = field(default_factory=dict)


EMPTY_COLUMNS: dict[TableName, list[tuple[str, ColumnType]]] = {
    "medications": [("person_id", "text"), ("code", "text"), ("system", "text")],
    "conditions": [("person_id", "text"), ("code", "text"), ("system", "text")],
}


class Run:
    """State of one run on one engine."""

    def __init__(
        self,
        engine: Engine,
        knowledge: Knowledge,
        as_of: date,
        today: date,
        steps: Steps,
    ) -> None:
        self.engine = engine
        self.k = knowledge
        self.q = ScreenSQL(knowledge, engine.dialect, as_of, today)
        self.info = RunInfo(engine.dialect.name, as_of, today)
        self.steps = steps
        self.checks: dict[TableName, dict[str, str]] = {}
        self.present: dict[TableName, frozenset[str]] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        with self.steps.step(name):
            yield
        self.info.timings[name] = round(time.perf_counter() - started, 3)

    def create(self, statement: Statement) -> None:
        self.engine.create(statement.name, statement.sql, statement.materialise)

    def one(self, sql: str) -> tuple[Any, ...]:
        rows = self.engine.fetch(sql)
        return rows[0] if rows else ()

    # --- inputs -----------------------------------------------------------------------------------
    def register(self, inputs: Inputs) -> None:
        tables: dict[TableName, Table | None] = {
            "persons": inputs.persons,
            "labs": inputs.labs,
            "medications": inputs.medications,
            "conditions": inputs.conditions,
        }
        for name, table in tables.items():
            raw = f"in_{name}"
            if table is None:
                self.engine.register_rows(raw, EMPTY_COLUMNS[name], [])
            else:
                self.engine.register_file(raw, table.path, table.fmt)
            view = typed_view(SPECS[name], raw, self.engine.columns(raw), self.engine.dialect)
            self.engine.create(f"t_{name}", view.sql, False)
            self.checks[name] = dict(view.parse_checks)
            self.present[name] = view.present

    def _bad(self, table: TableName, *columns: str) -> str:
        flags = [self.checks[table][c] for c in columns if c in self.checks[table]]
        return "(" + " OR ".join(flags) + ")" if flags else "FALSE"

    # --- persons --------------------------------------------------------------------------------------
    def persons(self) -> dict[str, Any]:
        self.create(
            self.q.persons_distinct(
                self._bad("persons", "birth_date"),
                self._bad("persons", "age_years"),
                self._bad("persons", "deceased_date"),
            )
        )
        (rows,) = self.one("SELECT count(*) FROM t_persons")
        if rows == 0:
            raise ScreenInputError("persons: the table has no rows")
        conflicts = self.engine.fetch(
            "SELECT person_id, count(*) AS n FROM p_distinct WHERE person_id IS NOT NULL "
            "GROUP BY person_id HAVING count(*) > 1 ORDER BY person_id LIMIT 3"
        )
        if conflicts:
            (total,) = self.one(
                "SELECT count(*) FROM (SELECT person_id FROM p_distinct WHERE person_id IS NOT NULL "
                "GROUP BY person_id HAVING count(*) > 1) c"
            )
            shown = ", ".join(f"{pid!r} ({n} rows)" for pid, n in conflicts)
            raise ScreenInputError(
                f"persons: {total} person_id value(s) appear on rows with different values, e.g. "
                f"{shown}; give one row per person"
            )
        self.create(self.q.persons_ok())
        (distinct,) = self.one("SELECT count(*) FROM p_distinct")
        reasons = dict(
            self.engine.fetch(
                "SELECT reason, count(*) FROM p_distinct WHERE reason IS NOT NULL GROUP BY reason"
            )
        )
        unknown_sex, unknown_age = self.one(
            "SELECT count(*) FILTER (WHERE sex IS NULL), count(*) FILTER (WHERE age_years IS NULL) "
            "FROM p_ok"
        )
        (odd_sex,) = self.one(
            "SELECT count(*) FROM p_distinct WHERE reason IS NULL AND sex IS NULL AND sex_raw IS NOT NULL"
        )
        excluded = {"duplicate-row": int(rows - distinct)}
        excluded.update({str(k): int(v) for k, v in reasons.items()})
        return {
            "rows": int(rows),
            "screened": int(distinct - sum(reasons.values())),
            "excluded": _nonzero(excluded),
            "notes": _nonzero(
                {
                    "sex-unknown (no CKD-EPI eGFR)": int(unknown_sex),
                    "sex-value-not-male-female (read as unknown)": int(odd_sex),
                    "age-unknown (no CKD-EPI eGFR)": int(unknown_age),
                }
            ),
        }

    # --- labs -----------------------------------------------------------------------------------------
    def labs(self, check_duplicates: bool | None) -> dict[str, Any]:
        self.create(self.q.lab_values())
        profile = self.engine.fetch(self.q.lab_profile())
        pairs = [(loinc, unit) for loinc, unit, _ in profile]
        rows, rejected = lookups.lab_map(pairs, self.k)
        self.engine.register_rows(
            "lab_map",
            [(n, _column_type(t)) for n, t in lookups.lab_map_columns(self.k)],
            lookups.lab_map_tuples(rows, self.k),
        )
        total = sum(int(n) for _, _, n in profile)
        by_reason: dict[str, int] = {}
        spellings: dict[str, list[dict[str, Any]]] = {}
        for loinc, unit, n in profile:
            rejection = rejected.get((loinc, unit))
            if rejection is None:
                continue
            by_reason[rejection] = by_reason.get(rejection, 0) + int(n)
            spellings.setdefault(rejection, []).append(
                {"loinc": loinc, "unit": unit, "rows": int(n)}
            )
        spellings = {
            reason: sorted(found, key=lambda r: (-r["rows"], str(r["loinc"]), str(r["unit"])))[
                :TOP_SPELLINGS
            ]
            for reason, found in sorted(spellings.items())
        }
        for statement in (self.q.lab_value_map(), *self.q.lab_statements()):
            self.create(statement)
        counts = ["n_rows", "n_impl", "n_mislabel", "n_interval_ignored"] + [
            reason_column(r) for r in LAB_ROW_REASONS
        ]
        sums = ", ".join(f"{self.engine.dialect.as_bigint(f'sum(l.{c})')}" for c in counts)
        who = self._who("l")
        grouped = self.engine.fetch(
            f"SELECT {who} AS who, {sums} FROM lab_person l {self._who_joins('l')} GROUP BY {who}"
        )
        used = 0
        left_out = {"implausible-for-unit": 0, "mislabelled-panel": 0}
        interval_ignored = 0
        for row in grouped:
            group = row[0]
            values = dict(zip(counts, (int(v or 0) for v in row[1:]), strict=True))
            if group == "ok":
                reasons = {r: values[reason_column(r)] for r in LAB_ROW_REASONS}
                for reason, n in reasons.items():
                    by_reason[reason] = by_reason.get(reason, 0) + n
                used += values["n_rows"] - sum(reasons.values())
                left_out["implausible-for-unit"] += values["n_impl"]
                left_out["mislabelled-panel"] += values["n_mislabel"]
                interval_ignored += values["n_interval_ignored"]
            else:
                by_reason[group] = by_reason.get(group, 0) + values["n_rows"]
        duplicates: int | None = None
        run_check = (
            check_duplicates if check_duplicates is not None else total <= DUPLICATE_CHECK_MAX_ROWS
        )
        if run_check:
            (dups,) = self.one(
                "SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM t_labs GROUP BY "
                "person_id, loinc, val, unit, eff, ref_low, ref_high, interp) d WHERE c > 1"
            )
            duplicates = int(dups)
        return {
            "rows": total,
            "used": used,
            "excluded": _nonzero(by_reason),
            "excluded_examples": spellings,
            "left_out_of_calculations": left_out,
            "reference_interval_ignored (low >= high)": interval_ignored,
            "exact_duplicate_rows": duplicates
            if duplicates is not None
            else f"not checked (more than {DUPLICATE_CHECK_MAX_ROWS} rows); duplicates cannot change results",
        }

    def _who(self, alias: str) -> str:
        return (
            f"CASE WHEN {alias}.person_id IS NULL THEN 'missing-person-id' "
            f"WHEN pk.person_id IS NOT NULL THEN 'ok' "
            f"WHEN px.person_id IS NOT NULL THEN 'person-excluded' ELSE 'unknown-person' END"
        )

    def _who_joins(self, alias: str) -> str:
        return (
            f"LEFT JOIN p_ok pk ON {alias}.person_id = pk.person_id "
            f"LEFT JOIN (SELECT person_id FROM p_distinct WHERE reason IS NOT NULL) px "
            f"ON {alias}.person_id = px.person_id"
        )

    # --- medications and conditions ------------------------------------------------------------------
    def coded(self, table: TableName) -> dict[str, Any]:
        """Medications or conditions: lookup table from distinct codes, then per-person facts."""
        is_med = table == "medications"
        profile = self.engine.fetch(
            f"SELECT lower(trim(sys)) AS sys, code, count(*) FROM t_{table} "
            f"WHERE code IS NOT NULL GROUP BY lower(trim(sys)), code"
        )
        distinct = [(str(s), str(c)) for s, c, _ in profile if s is not None]
        if is_med:
            mapped = lookups.medication_map(distinct, self.k)
            self.engine.register_rows(
                "med_map", [("sys", "text"), ("code", "text"), ("drug_id", "text")], mapped
            )
            facts = lookups.drug_facts(self.k)
            self.engine.register_rows(
                "drug_facts",
                [(n, _column_type(t)) for n, t in lookups.DRUG_FACT_COLUMNS],
                [
                    (
                        f.drug_id,
                        f.drug_class,
                        f.depletes,
                        f.raising,
                        f.oral_product,
                        f.chelates,
                        f.glycoside,
                    )
                    for f in facts
                ],
            )
            self.create(self.q.medication_rows(self._bad("medications", "start", "end")))
            self.create(self.q.medication_person())
            rows_view, map_view = "med_rows", "med_map"
        else:
            mapped = lookups.condition_map(distinct, self.k)
            self.engine.register_rows(
                "cond_map", [("sys", "text"), ("code", "text"), ("group_id", "text")], mapped
            )
            self.create(self.q.condition_rows(self._bad("conditions", "onset")))
            self.create(self.q.condition_person())
            rows_view, map_view = "cond_rows", "cond_map"
        who = self._who("m")
        status = f"CASE WHEN m.reason IS NOT NULL AND m.reason <> 'missing-person-id' THEN m.reason ELSE {who} END"
        grouped = self.engine.fetch(
            f"SELECT {status} AS who, count(*) AS n, "
            f"count(*) FILTER (WHERE mm.code IS NOT NULL) AS matched "
            f"FROM {rows_view} m {self._who_joins('m')} "
            f"LEFT JOIN (SELECT DISTINCT sys, code FROM {map_view}) mm "
            f"ON m.sys = mm.sys AND m.code = mm.code GROUP BY {status}"
        )
        total = sum(int(n) for _, n, _ in grouped)
        excluded = {str(w): int(n) for w, n, _ in grouped if w != "ok"}
        used = sum(int(n) for w, n, _ in grouped if w == "ok")
        matched = sum(int(m) for w, _, m in grouped if w == "ok")
        (distinct_rows,) = self.one(f"SELECT count(*) FROM (SELECT DISTINCT * FROM t_{table}) d")
        label = "rows naming a pack drug" if is_med else "rows naming a condition group"
        return {
            "rows": total,
            "used": used,
            label: matched,
            "excluded": _nonzero(excluded),
            "exact_duplicate_rows": int(total - distinct_rows),
        }

    # --- results ----------------------------------------------------------------------------------------
    def results(self, out: Path) -> None:
        for statement in (self.q.screened(), self.q.flags(), self.q.result()):
            self.create(statement)
        self.engine.write_parquet("result", out)

    def counts(self) -> dict[str, Any]:
        flags = ", ".join(
            f"sum(CASE WHEN {flag_column(code)} THEN 1 ELSE 0 END)"
            for code in sorted(FINDINGS_IN_BATCH)
        )
        classes = sorted({d.drug_class for d in self.k.drugs.drug if "depletes" in d.effects})
        class_sums = ", ".join(
            f"sum(CASE WHEN {self.engine.dialect.contains('depleting_classes', self.engine.dialect.text(c))} THEN 1 ELSE 0 END)"
            for c in classes
        )
        row = self.one(
            f"SELECT count(*), count(mg_c), count(*) FILTER (WHERE n_lab_rows = 0), "
            f"sum(CASE WHEN {flag_column('depleting-medication')} AND {flag_column('magnesium-not-measured')} THEN 1 ELSE 0 END), "
            f"{flags}, {class_sums} FROM screened"
        )
        persons, measured, without_labs, depleting_unchecked = (int(v or 0) for v in row[:4])
        code_values = row[4 : 4 + len(FINDINGS_IN_BATCH)]
        class_values = row[4 + len(FINDINGS_IN_BATCH) :]
        statuses = dict(
            self.engine.fetch(
                "SELECT mg_status, count(*) FROM screened WHERE mg_status IS NOT NULL GROUP BY mg_status"
            )
        )
        grades = dict(
            self.engine.fetch(
                "SELECT ctcae_grade, count(*) FROM screened WHERE ctcae_grade IS NOT NULL GROUP BY ctcae_grade"
            )
        )
        categories = dict(
            self.engine.fetch(
                "SELECT egfr_category, count(*) FROM screened WHERE egfr_category IS NOT NULL GROUP BY egfr_category"
            )
        )
        return {
            "persons": persons,
            "magnesium_measured": measured,
            "persons_without_lab_results": without_labs,
            "mg_status": {s: int(statuses.get(s, 0)) for s in MG_STATUSES}
            | {"normal": int(statuses.get("normal", 0))},
            "ctcae_grade": {str(g): int(n) for g, n in sorted(grades.items())},
            "codes": {
                c: int(v or 0) for c, v in zip(sorted(FINDINGS_IN_BATCH), code_values, strict=True)
            },
            DEPLETING_WITHOUT_CHECK: depleting_unchecked,
            "depleting_classes": {
                c: int(v or 0) for c, v in zip(classes, class_values, strict=True)
            },
            "egfr_category": {str(c): int(n) for c, n in sorted(categories.items())},
        }

    # --- survey-weighted prevalence -------------------------------------------------------------------
    def weighted(self) -> dict[str, Any] | None:
        if "weight" not in self.present["persons"]:
            return None
        has_strata = "strata" in self.present["persons"]
        has_psu = "psu" in self.present["persons"]
        dialect = self.engine.dialect
        strata = "coalesce(strata, '')" if has_strata else "''"
        psu = "coalesce(psu, '')" if has_psu else "person_id"
        indicators: list[tuple[str, str, str]] = []
        for code in sorted(FINDINGS_IN_BATCH):
            indicators.append((code, flag_column(code), "TRUE"))
        indicators.append(
            (
                DEPLETING_WITHOUT_CHECK,
                f"({flag_column('depleting-medication')} AND {flag_column('magnesium-not-measured')})",
                "TRUE",
            )
        )
        for status in (*MG_STATUSES, "normal"):
            indicators.append(
                (
                    f"mg_status={status} (among measured)",
                    f"(mg_status = {dialect.text(status)})",
                    "(mg_c IS NOT NULL)",
                )
            )
        valid = "weight IS NOT NULL AND weight >= 0 AND weight <= CAST('1e300' AS DOUBLE)"
        (invalid,) = self.one(
            f"SELECT count(*) FROM screened WHERE NOT ({valid}) OR weight IS NULL"
        )
        base = f"SELECT * FROM screened WHERE {valid}"
        ys = ", ".join(
            f"sum(CASE WHEN {d} AND {y} THEN weight ELSE {dialect.double(0.0)} END) AS y{i}, "
            f"sum(CASE WHEN {d} THEN weight ELSE {dialect.double(0.0)} END) AS x{i}, "
            f"count(*) FILTER (WHERE {d}) AS n{i}"
            for i, (_, y, d) in enumerate(indicators)
        )
        totals = self.one(f"SELECT {ys} FROM ({base}) b")
        ratios = []
        for i in range(len(indicators)):
            y, x = float(totals[3 * i] or 0.0), float(totals[3 * i + 1] or 0.0)
            ratios.append(y / x if x > 0 else 0.0)
        psu_sums = ", ".join(
            f"sum(CASE WHEN {d} AND {y} THEN weight ELSE {dialect.double(0.0)} END) AS y{i}, "
            f"sum(CASE WHEN {d} THEN weight ELSE {dialect.double(0.0)} END) AS x{i}"
            for i, (_, y, d) in enumerate(indicators)
        )
        moments = ", ".join(
            f"sum(y{i} - {dialect.double(r)} * x{i}) AS s{i}, "
            f"sum((y{i} - {dialect.double(r)} * x{i}) * (y{i} - {dialect.double(r)} * x{i})) AS q{i}"
            for i, r in enumerate(ratios)
        )
        strata_rows = self.engine.fetch(
            f"SELECT st, count(*) AS psus, {moments} FROM (SELECT {strata} AS st, {psu} AS pu, {psu_sums} "
            f"FROM ({base}) b GROUP BY {strata}, {psu}) p GROUP BY st"
        )
        estimates: dict[str, dict[str, Any]] = {}
        for i, (name, _, _) in enumerate(indicators):
            strata_moments = [
                StratumMoments(
                    int(row[1]), float(row[2 + 2 * i] or 0.0), float(row[3 + 2 * i] or 0.0)
                )
                for row in strata_rows
            ]
            estimate: Estimate = estimate_from_moments(
                float(totals[3 * i] or 0.0),
                float(totals[3 * i + 1] or 0.0),
                strata_moments,
                int(totals[3 * i + 2] or 0),
            ).clipped(0.0, 1.0)
            estimates[name] = estimate.as_dict()
        psus = sum(int(r[1]) for r in strata_rows)
        return {
            "design": {
                "weight": "weight",
                "strata": "strata" if has_strata else None,
                "psu": "psu" if has_psu else "each person (no psu column)",
                "strata_count": len(strata_rows),
                "psu_count": psus,
                "df": max(psus - len(strata_rows), 1),
                "variance": "Taylor linearisation, with-replacement PSUs within strata",
                "persons_without_valid_weight": int(invalid),
            },
            "prevalence": estimates,
        }


def _column_type(kind: str) -> ColumnType:
    return {"text": "text", "double": "double", "bool": "bool", "bigint": "bigint"}[kind]  # type: ignore[return-value]


def _nonzero(values: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sorted(values.items()) if v}


def screen_tables(
    inputs: Inputs,
    out: Path,
    engine: Engine,
    knowledge: Knowledge,
    *,
    as_of: date,
    today: date,
    steps: Steps,
    check_duplicates: bool | None = None,
) -> dict[str, Any]:
    """Run every step; returns the summary dictionary (also written by the caller)."""
    run = Run(engine, knowledge, as_of, today, steps)
    started = time.perf_counter()
    with run.step("read and check columns"):
        run.register(inputs)
    with run.step("persons"):
        persons = run.persons()
    with run.step("labs"):
        labs = run.labs(check_duplicates)
    with run.step("medications"):
        medications = run.coded("medications")
    with run.step("conditions"):
        conditions = run.coded("conditions")
    with run.step("write persons.parquet"):
        run.results(out / "persons.parquet")
    with run.step("summary"):
        counts = run.counts()
        weighted = run.weighted()
    run.info.timings["total"] = round(time.perf_counter() - started, 3)
    return {
        "mgcare_version": __version__,
        "knowledge_version": knowledge.version,
        "engine": run.info.engine,
        "as_of": as_of.isoformat(),
        "today": today.isoformat(),
        "lookback_months": run.q.lookback_months,
        "lookback_since": run.q.since.isoformat(),
        "inputs": {
            "persons": str(inputs.persons.path),
            "labs": str(inputs.labs.path),
            "medications": str(inputs.medications.path) if inputs.medications else None,
            "conditions": str(inputs.conditions.path) if inputs.conditions else None,
        },
        "counts": counts,
        "tables": {
            "persons": persons,
            "labs": labs,
            "medications": medications,
            "conditions": conditions,
        },
        "weighted": weighted,
        "timings_s": run.info.timings,
        "outputs": {
            "persons": str(out / "persons.parquet"),
            "summary_json": str(out / "summary.json"),
            "summary_html": str(out / "summary.html"),
        },
    }
