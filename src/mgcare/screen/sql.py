"""The screening logic, written once as SQL generated from the knowledge pack, run by DuckDB and by
Spark SQL (mgcare.screen.dialect spells the few differences).

It mirrors `mgcare.rules.assess` step by step (labs.py: unit checks, same-day mislabel
corroboration, latest usable result, status and CTCAE grade; renal.py: CKD-EPI 2021 and the
reported-eGFR tie rule; medications.py and conditions.py through lookup tables built with the
core's own `identify` and `condition_groups`). Every number is read from the pack; arithmetic is
ordered exactly as in the core so that results are identical to the bit.

Value checks are done once per distinct (LOINC, unit, value), not per row (lab_values,
lab_vmap): lab values have a fixed precision, so 50M rows hold tens of thousands of distinct
values. Intervals are precomputed per (LOINC, unit) in the value's own unit
(lookups.value_interval), so the checks are exact.

Lab rows are then read twice. The first pass (lab_max) keeps only plain per-person aggregates:
row counts by reason and, per slot, the time of the latest settled result (cheap maxima; no
payload, no struct, no window). The second pass (lab_cand) keeps only the rows that can still
decide a result: per slot the rows at or after that time (ties, later suspect values), Ca of
the days the chosen Mg can be on, the suspect and implausible rows of the few persons where
same-day corroboration is possible, and rows dated before birth. On those few rows the exact
rules run: mislabel corroboration as one AND of unit masks, the tie order as one struct
compared field by field (only where several rows compete), Ca of the chosen Mg day, the lowest
reported eGFR of its day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from mgcare.knowledge import Knowledge
from mgcare.rules.labs import HIGH_MAGNESIUM, LOW_MAGNESIUM
from mgcare.rules.medications import INACTIVE_STATUSES
from mgcare.screen.dialect import Dialect
from mgcare.screen.exact import round_like_python
from mgcare.screen.lookups import (
    CONDITION_SYSTEMS,
    MEDICATION_SYSTEMS,
    MOLAR_UNIT,
    analyte_numbers,
    conversion,
    max_alternatives,
)
from mgcare.validation import EARLIEST_RESULT, MAX_AGE_YEARS

GRADING_UNITS = ("mg/dL", MOLAR_UNIT)
"""CTCAE is graded in the unit reported when it is one of these, else in mmol/L (rules/labs.py)."""
STATUS_FINDING = {
    "hypomagnesemia-severe": "hypomagnesemia-severe",
    "hypomagnesemia": "hypomagnesemia",
    "low-normal": "low-normal-magnesium",
    "hypermagnesemia": "hypermagnesemia",
    "hypermagnesemia-severe": "hypermagnesemia-severe",
}
"""Serum Mg status -> finding code (rules/assess.py _magnesium_findings)."""
LOW_POTASSIUM_FLAGS = ("L", "LL", "LU")
"""Interpretation codes read as low potassium (rules/labs.py potassium_is_low)."""
LAB_ROW_REASONS = (
    "missing-person-id",
    "value-not-a-number",
    "effective-not-a-date",
    "value-not-positive",
    "value-impossible-in-every-unit",
    "dated-before-1900",
    "dated-before-birth",
    "dated-after-today",
)
BIRTH_REASON = "dated-before-birth"
"""Known only in the second pass over the labs (it needs the person's birth date)."""
FIRST_PASS_REASONS = tuple(r for r in LAB_ROW_REASONS if r != BIRTH_REASON)
LEFT_OUT = 10
MISSING_VALUE = -1.0
"""Stands for a missing value in the value map's key (any value <= 0 is left out alike)."""
"""Row codes from LEFT_OUT + 1 on are rows left out (LEFT_OUT + the reason's number); below
it: 1 implausible, 2 plausible but suspect of a unit mislabel, 3 settled."""
ANALYTE_SLOTS = {
    "mg": "magnesium",
    "ca": "calcium",
    "k": "potassium",
    "hr": "heart-rate",
    "eg": "egfr",
    "cr": "creatinine",
}
FINDINGS_IN_BATCH = (
    "ca-mg-ratio-high",
    "depleting-medication",
    "digoxin-with-low-magnesium",
    "hypermagnesemia",
    "hypermagnesemia-severe",
    "hypokalemia-with-low-magnesium",
    "hypomagnesemia",
    "hypomagnesemia-severe",
    "implausible-unit",
    "low-normal-magnesium",
    "magnesium-not-measured",
    "magnesium-raising-medication",
    "rapid-atrial-fibrillation",
    "renal-impairment",
    "supplement-interaction",
)
"""Every finding the long tables can produce (intake findings need a food log)."""
MG_STATUSES = tuple(STATUS_FINDING)


@dataclass(frozen=True, slots=True)
class Statement:
    """A named step: a view (cheap, recomputed) or a table (materialised once)."""

    name: str
    sql: str
    materialise: bool = False


class ScreenSQL:
    """SQL for one screening run: the pack, the engine's dialect and the dates are fixed."""

    def __init__(self, knowledge: Knowledge, dialect: Dialect, as_of: date, today: date) -> None:
        from mgcare.rules.assess import months_before

        self.k = knowledge
        self.d = dialect
        self.as_of = as_of
        self.today = today
        self.lookback_months = int(knowledge.thresholds.monitoring.lookback.value)
        self.since = months_before(as_of, self.lookback_months)
        self.alternatives = max_alternatives(knowledge)
        self.numbers = analyte_numbers(knowledge)

    # --- small helpers ------------------------------------------------------------------------
    def t(self, value: str) -> str:
        return self.d.text(value)

    def f(self, value: float) -> str:
        return self.d.double(value)

    def day(self, value: date) -> str:
        return f"DATE '{value.isoformat()}'"

    def ts(self, value: date) -> str:
        """Midnight at the start of `value`: `eff < ts(d + 1 day)` is `CAST(eff AS DATE) <= d`."""
        return f"TIMESTAMP '{value.isoformat()} 00:00:00'"

    def texts(self, values: Sequence[str]) -> str:
        return ", ".join(self.t(v) for v in values)

    def rounded(self, column: str, digits: int) -> str:
        return round_like_python(column, digits, "CAST('{}' AS DOUBLE)")

    def convert(self, value: str, unit: str, target: str, analyte_id: str) -> str:
        """`mgcare.units.convert(value, unit, target)` for every unit the analyte allows."""
        analyte = self.k.analytes[analyte_id]
        branches = []
        for source in analyte.units:
            conv = conversion(source, target, analyte)
            expr = (
                value
                if conv.identity
                else f"({value} * {self.f(conv.multiply)} / {self.f(conv.divide)})"
            )
            branches.append(f"WHEN {unit} = {self.t(source)} THEN {expr}")
        return f"(CASE {' '.join(branches)} END)"

    # --- persons --------------------------------------------------------------------------------
    def persons_distinct(self, bad_birth: str, bad_age: str, bad_death: str) -> Statement:
        """Distinct person rows with the reason a row cannot be screened (validation.py rules,
        in validate_record's order: a death before the as-of date first, then the birth date).
        `bad_birth`/`bad_age`/`bad_death`: typed-view conditions for values present but
        unreadable. A person who died on the as-of date is screened, as `assess` does."""
        age_ok = (
            f"(age_raw IS NULL OR (age_raw >= {self.f(0.0)} AND age_raw <= {self.f(MAX_AGE_YEARS)}"
            f" AND age_raw = CAST(floor(age_raw) AS DOUBLE)))"
        )
        sex = (
            "CASE WHEN lower(trim(sex_raw)) IN ('male', 'm') THEN 'male'"
            " WHEN lower(trim(sex_raw)) IN ('female', 'f') THEN 'female' END"
        )
        sql = f"""
        SELECT person_id, birth_date, age_raw, sex_raw, weight, strata, psu, deceased_date,
          {sex} AS sex,
          CASE
            WHEN person_id IS NULL THEN 'missing-person-id'
            WHEN bad_birth THEN 'birth-date-not-a-date'
            WHEN bad_death THEN 'deceased-date-not-a-date'
            WHEN bad_age OR NOT {age_ok} THEN 'age-years-not-a-whole-number-0-{MAX_AGE_YEARS}'
            WHEN deceased_date < {self.day(self.as_of)} THEN 'deceased-before-as-of'
            WHEN birth_date > {self.day(self.today)} THEN 'birth-date-after-today'
            WHEN {self.today.year} - year(birth_date) > {MAX_AGE_YEARS} THEN 'birth-date-impossible-age'
          END AS reason
        FROM (SELECT DISTINCT person_id, birth_date, age_raw, sex_raw, weight, strata, psu,
                     deceased_date, {bad_birth} AS bad_birth, {bad_age} AS bad_age,
                     {bad_death} AS bad_death FROM t_persons) x"""
        return Statement("p_distinct", sql, materialise=True)

    def persons_ok(self) -> Statement:
        y, m, dd = self.as_of.year, self.as_of.month, self.as_of.day
        by_birth = (
            f"greatest({y} - year(birth_date) - CASE WHEN month(birth_date) > {m} OR "
            f"(month(birth_date) = {m} AND dayofmonth(birth_date) > {dd}) THEN 1 ELSE 0 END, 0)"
        )
        sql = f"""
        SELECT person_id, sex, weight, strata, psu, birth_date,
          CAST(CAST(age_raw AS BIGINT) AS INTEGER) AS age_stated,
          CAST(CASE WHEN birth_date IS NOT NULL THEN {by_birth}
                    ELSE CAST(age_raw AS BIGINT) END AS INTEGER) AS age_years
        FROM p_distinct WHERE reason IS NULL"""
        return Statement("p_ok", sql, materialise=True)

    # --- labs -----------------------------------------------------------------------------------
    def lab_values(self) -> Statement:
        """Distinct (LOINC, unit, value) with their row counts: lab values are reported with a
        fixed precision, so there are few of them (tens of thousands in 50M rows), and every
        value check is done once per distinct value instead of once per row."""
        sql = f"""
        SELECT loinc, unit, coalesce(val, {self.f(MISSING_VALUE)}) AS v, count(*) AS n
        FROM t_labs GROUP BY loinc, unit, coalesce(val, {self.f(MISSING_VALUE)})"""
        return Statement("lab_values", sql, materialise=True)

    def lab_profile(self) -> str:
        return "SELECT loinc, unit, sum(n) AS n FROM lab_values GROUP BY loinc, unit"

    def lab_value_map(self) -> Statement:
        """Per distinct (LOINC, unit, value) of a screened analyte with a valid unit: the core's
        unit check as `check` (1 implausible, 2 plausible but suspect of a unit mislabel,
        3 settled, the impossible-value row code, 0 when the value is not positive), the
        canonical value and the masks of the units the value would be plausible (lp) or
        typical (lt) in. Value intervals are precomputed per (LOINC, unit) in the value's own
        unit (lookups.value_interval), so the checks are exact."""

        def inside(low: str, high: str) -> str:
            return f"(v.v >= m.{low} AND v.v <= m.{high})"

        alts = range(1, self.alternatives + 1)
        plausible = inside("p_lo", "p_hi")
        any_plausible = " OR ".join(inside(f"a{j}p_lo", f"a{j}p_hi") for j in alts) or "FALSE"
        any_typical = " OR ".join(inside(f"a{j}t_lo", f"a{j}t_hi") for j in alts) or "FALSE"
        suspect = f"(m.has_typ AND NOT {inside('t_lo', 't_hi')} AND ({any_typical}))"
        zero = "CAST(0 AS BIGINT)"

        def mask(kind: str) -> str:
            bits = [
                f"CASE WHEN {inside(f'a{j}{kind}_lo', f'a{j}{kind}_hi')} THEN m.a{j}_bit ELSE {zero} END"
                for j in alts
            ]
            return " + ".join(bits) or zero

        sql = f"""
        SELECT v.loinc, v.unit, v.v, m.analyte_no, m.ucum,
          CASE WHEN m.canon_ident THEN v.v ELSE v.v * m.canon_mul / m.canon_div END AS canon,
          CASE WHEN v.v <= {self.f(0.0)} THEN 0
            WHEN {plausible} THEN CASE WHEN {suspect} THEN 2 ELSE 3 END
            WHEN {any_plausible} THEN 1
            ELSE {self.left_out("value-impossible-in-every-unit")} END AS checked,
          CASE WHEN v.v <= {self.f(0.0)} OR {plausible} THEN {zero} ELSE {mask("p")} END AS lp,
          CASE WHEN v.v > {self.f(0.0)} AND m.has_typ THEN {mask("t")} ELSE {zero} END AS lt
        FROM lab_values v JOIN lab_map m ON v.loinc = m.loinc AND v.unit = m.unit_raw"""
        return Statement("lab_vmap", sql, materialise=True)

    def _window(self, column: str = "day") -> str:
        return f"({column} >= {self.day(self.since)} AND {column} <= {self.day(self.as_of)})"

    def _slots(self, alias: str = "") -> dict[str, str]:
        """Which slot a row can fill, by analyte and the date rules of `assess` (Mg, Ca and K
        within the look-back window, heart rate on the as-of day, the rest up to as-of).
        Spelled out in each aggregate filter, on the timestamp (no date cast per row): DuckDB
        inlines a computed slot column into every filter that reads it, which costs more."""
        eff = f"{alias}eff"
        start, end = self.ts(self.since), self.ts(self.as_of + timedelta(days=1))
        window = f"({eff} >= {start} AND {eff} < {end})"

        def analyte(name: str) -> str:
            return f"{alias}analyte_no = {self.numbers.get(name, 0)}"

        return {
            "mg": f"({analyte('magnesium')} AND {window})",
            "ca": f"({analyte('calcium')} AND {window})",
            "k": f"({analyte('potassium')} AND {window})",
            "hr": f"({analyte('heart-rate')} AND {eff} >= {self.ts(self.as_of)} AND {eff} < {end})",
            "cr": f"({analyte('creatinine')} AND {eff} < {end})",
            "eg": f"({analyte('egfr')} AND {eff} < {end})",
        }

    def slot(self, name: str) -> str:
        """The slot number of a row (0: none)."""
        return str(list(ANALYTE_SLOTS).index(name) + 1)

    def left_out(self, reason: str) -> str:
        """The row code of a row left out for `reason` (codes below LEFT_OUT are usable rows)."""
        return str(LEFT_OUT + LAB_ROW_REASONS.index(reason) + 1)

    def _checked(self) -> str:
        """Every lab row of a screened analyte with a valid unit, with the checks of its value
        (lab_vmap) and the reason it is left out, as one small integer `code`: 1 implausible,
        2 plausible but suspect of a unit mislabel, 3 settled, LEFT_OUT + the reason's number
        when left out (the birth-date check needs the person and is applied in the second
        pass). The common case, a usable row, is decided by one conjunction before the reasons
        are tried in their order. Both passes read this one definition; each engine keeps only
        the columns a pass uses."""
        earliest = self.ts(EARLIEST_RESULT)
        after_today = self.ts(self.today + timedelta(days=1))
        inverted = "(l.ref_low IS NOT NULL AND l.ref_high IS NOT NULL AND l.ref_low >= l.ref_high)"
        impossible = self.left_out("value-impossible-in-every-unit")
        return f"""
        SELECT l.person_id, m.analyte_no, m.ucum, l.val, l.eff, CAST(l.eff AS DATE) AS day,
          l.interp, m.canon, m.lp, m.lt,
          CASE WHEN {inverted} THEN NULL ELSE l.ref_low END AS rl,
          CASE WHEN {inverted} THEN NULL ELSE l.ref_high END AS rh,
          {inverted} AS interval_ignored,
          CASE
            WHEN l.person_id IS NOT NULL AND m.checked > 0 AND l.eff >= {earliest}
              AND l.eff < {after_today} THEN m.checked
            WHEN l.person_id IS NULL THEN {self.left_out("missing-person-id")}
            WHEN l.val IS NULL THEN {self.left_out("value-not-a-number")}
            WHEN l.eff IS NULL THEN {self.left_out("effective-not-a-date")}
            WHEN m.checked = 0 THEN {self.left_out("value-not-positive")}
            WHEN m.checked = {impossible} THEN {impossible}
            WHEN l.eff < {earliest} THEN {self.left_out("dated-before-1900")}
            ELSE {self.left_out("dated-after-today")}
          END AS code
        FROM t_labs l JOIN lab_vmap m ON l.loinc = m.loinc AND l.unit = m.unit
          AND coalesce(l.val, {self.f(MISSING_VALUE)}) = m.v"""

    def lab_max(self) -> Statement:
        """First pass, over every row: per person the row counts by reason and the time of the
        latest settled result of each slot (plain maxima, cheap), the latest plausible Mg, and
        whether same-day mislabel corroboration is possible at all (suspect and implausible
        rows both present). Rows dated before birth are still counted as usable here: they are
        dated before every other row, so they can only be a maximum when no row qualifies, and
        the second pass drops and counts them."""
        counts = [
            "count(*) AS n_rows",
            f"count(*) FILTER (WHERE code < {LEFT_OUT} AND interval_ignored) AS n_interval_ignored",
            "count(*) FILTER (WHERE code = 1) AS n_impl_all",
            "count(*) FILTER (WHERE code = 1 AND lp <> 0) AS n_impl_lp",
            "count(*) FILTER (WHERE code = 2) AS n_susp",
        ] + [
            f"count(*) FILTER (WHERE code = {self.left_out(r)}) AS {_reason_column(r)}"
            for r in FIRST_PASS_REASONS
        ]
        slots = self._slots()
        latest = [
            f"max(eff) FILTER (WHERE code = 3 AND {slots[s]}) AS me_{s}"
            for s in ("mg", "k", "hr", "cr")
        ]
        sql = f"""
        SELECT a.*, p.birth_date, (a.n_susp > 0 AND a.n_impl_lp > 0) AS complex FROM (
          SELECT person_id, {", ".join(counts)}, {", ".join(latest)},
            max(eff) FILTER (WHERE (code = 2 OR code = 3) AND {slots["mg"]}) AS mp_mg,
            CAST(max(eff) FILTER (WHERE code = 3 AND {slots["eg"]}) AS DATE) AS eg_day
          FROM ({self._checked()}) c GROUP BY person_id) a
        LEFT JOIN p_ok p ON a.person_id = p.person_id"""
        return Statement("lab_max", sql, materialise=True)

    def lab_candidates(self) -> Statement:
        """Second pass: only the rows that can still decide a result. Per slot, the plausible
        rows at or after its latest settled result (a later suspect value may still win); Ca of
        the days the chosen Mg can be on; every suspect and likely-mislabelled implausible row
        of persons where corroboration is possible; and rows dated before birth."""
        since = self.day(self.since)
        slots = self._slots("c.")

        def from_latest(slot: str, column: str = "eff", latest: str = "") -> str:
            latest = latest or f"x.me_{slot}"
            return f"({slots[slot]} AND ({latest} IS NULL OR c.{column} >= {latest}))"

        decides = " OR ".join(
            [
                from_latest("mg"),
                f"({slots['ca']} AND x.mp_mg IS NOT NULL"
                f" AND c.day >= coalesce(CAST(x.me_mg AS DATE), {since})"
                f" AND c.day <= CAST(x.mp_mg AS DATE))",
                from_latest("k"),
                from_latest("hr"),
                from_latest("cr"),
                from_latest("eg", "day", "x.eg_day"),
            ]
        )
        slot = " ".join(f"WHEN {cond} THEN {self.slot(name)}" for name, cond in slots.items())
        sql = f"""
        SELECT c.person_id, CASE {slot} ELSE 0 END AS slot, c.ucum, c.val, c.eff, c.day, c.canon,
          c.rl, c.rh, c.interp,
          c.code AS role, c.lp, c.lt, coalesce(c.day < x.birth_date, FALSE) AS bb,
          x.complex AS cx
        FROM ({self._checked()}) c JOIN lab_max x ON c.person_id = x.person_id
        WHERE c.code < {LEFT_OUT} AND (
          ((c.code = 2 OR c.code = 3) AND ({decides}))
          OR (x.complex AND (c.code = 2 OR (c.code = 1 AND c.lp <> 0)))
          OR c.day < x.birth_date)"""
        return Statement("lab_cand", sql, materialise=True)

    def lab_used(self) -> Statement:
        """Candidates with the same-day mislabel rule (rules/labs.py _corroborate_mislabels): a
        suspect value is left out when, on its day, an implausible value stated in the same unit
        would be plausible in one of the suspect's likely units (one bitwise AND of masks).
        Only persons where corroboration is possible (cx) need the join."""
        marks = """
        SELECT person_id, day, ucum, bit_or(lp) AS lp FROM lab_cand
        WHERE cx AND role = 1 AND lp <> 0 AND NOT bb GROUP BY person_id, day, ucum"""
        sql = f"""
        SELECT u.*, (u.role >= 2 AND NOT u.bb AND NOT u.mislabel) AS usable FROM (
          SELECT c.*, FALSE AS mislabel FROM lab_cand c WHERE NOT c.cx
          UNION ALL
          SELECT c.*, (c.role = 2 AND NOT c.bb AND (c.lt & coalesce(g.lp, 0)) <> 0) AS mislabel
          FROM lab_cand c LEFT JOIN ({marks}) g
            ON c.person_id = g.person_id AND c.day = g.day AND c.ucum = g.ucum
          WHERE c.cx) u"""
        return Statement("lab_used", sql)

    def _key(self) -> str:
        """Which result wins, as one struct compared field by field (max() of it is the winning
        row, in one aggregate, on both engines): latest, then (for exact-time ties) larger
        canonical value, value, unit, interval and interpretation, the order of
        mgcare.screen.reference; for reported eGFR the latest day, then the lowest value, then
        the same order. The payload fields follow, so the struct is also the chosen row."""
        egfr = f"slot = {self.slot('eg')}"
        fields = [
            ("o1", f"CASE WHEN {egfr} THEN CAST(day AS TIMESTAMP) ELSE eff END"),
            ("o2", f"CASE WHEN {egfr} THEN -canon ELSE canon END"),
            ("eff", "eff"),
            ("val", "val"),
            ("ucum", "ucum"),
            ("rl_none", "rl IS NULL"),
            ("rl_k", f"coalesce(rl, {self.f(0.0)})"),
            ("rh_none", "rh IS NULL"),
            ("rh_k", f"coalesce(rh, {self.f(0.0)})"),
            ("in_none", "interp IS NULL"),
            ("in_k", "coalesce(interp, '')"),
            ("canon", "canon"),
        ]
        return self.d.struct(fields)

    def _winner(self, source: str) -> str:
        """The winning row per (person_id, slot) of `source` (usable rows), as plain columns.
        Most slots have a single candidate: it wins without the tie order, which is applied
        (one struct max, costly per row) only where several rows compete."""
        columns = ("eff", "canon", "val", "ucum", "rl", "rh", "interp")
        single = ", ".join(f"any_value({c}) AS {c}" for c in columns)
        key = self._key()

        def opt(none: str, value: str) -> str:
            return f"CASE WHEN w.{none} THEN NULL ELSE w.{value} END"

        one = f"SELECT person_id, slot, count(*) AS n, {single} FROM ({source}) s GROUP BY person_id, slot"
        return f"""
        SELECT person_id, slot, {", ".join(columns)} FROM ({one}) one WHERE n = 1
        UNION ALL
        SELECT person_id, slot, w.eff, w.canon, w.val, w.ucum, {opt("rl_none", "rl_k")},
          {opt("rh_none", "rh_k")}, {opt("in_none", "in_k")} FROM (
          SELECT person_id, slot, max({key}) AS w FROM (
            SELECT s.* FROM ({source}) s JOIN (
              SELECT person_id, slot FROM ({source}) t GROUP BY person_id, slot HAVING count(*) > 1) t
              ON s.person_id = t.person_id AND s.slot = t.slot) s
          GROUP BY person_id, slot) many"""

    def lab_wins(self) -> Statement:
        """Per person and slot (Ca aside): the winning usable row."""
        source = f"SELECT * FROM lab_used WHERE usable AND slot > 0 AND slot <> {self.slot('ca')}"
        return Statement("lab_wins", self._winner(source), materialise=True)

    def lab_counts(self) -> Statement:
        """Per person: the counts only the second pass knows (mislabels, rows before birth)."""
        sql = """
        SELECT person_id,
          count(*) FILTER (WHERE mislabel) AS n_mislabel,
          count(*) FILTER (WHERE bb) AS n_bb,
          count(*) FILTER (WHERE bb AND role = 1) AS n_impl_bb
        FROM lab_used WHERE mislabel OR bb GROUP BY person_id"""
        return Statement("lab_counts", sql)

    def lab_calcium(self) -> Statement:
        """The latest usable Ca on the day of the chosen Mg."""
        source = f"""
          SELECT u.* FROM lab_used u
            JOIN (SELECT person_id, CAST(eff AS DATE) AS mg_day FROM lab_wins
                  WHERE slot = {self.slot("mg")}) m
            ON u.person_id = m.person_id AND u.day = m.mg_day
          WHERE u.usable AND u.slot = {self.slot("ca")}"""
        return Statement("lab_calcium", self._winner(source))

    def lab_person(self) -> Statement:
        """Per person: the chosen results as plain columns, and every count."""

        picks = {
            "mg_c": "mg.canon",
            "mg_v": "mg.val",
            "mg_u": "mg.ucum",
            "mg_e": "mg.eff",
            "mg_rl": "mg.rl",
            "mg_rh": "mg.rh",
            "ca_c": "ca.canon",
            "k_c": "k.canon",
            "k_u": "k.ucum",
            "k_rl": "k.rl",
            "k_i": "k.interp",
            "hr_c": "hr.canon",
            "eg_c": "eg.canon",
            "eg_d": "CAST(eg.eff AS DATE)",
            "cr_v": "cr.val",
            "cr_u": "cr.ucum",
            "cr_d": "CAST(cr.eff AS DATE)",
        }
        first = ["n_rows", "n_interval_ignored"] + [_reason_column(r) for r in FIRST_PASS_REASONS]
        counts = {
            "n_impl": "x.n_impl_all - coalesce(n.n_impl_bb, 0)",
            "n_mislabel": "coalesce(n.n_mislabel, 0)",
            _reason_column(BIRTH_REASON): "coalesce(n.n_bb, 0)",
        }
        joins = "".join(
            f" LEFT JOIN (SELECT * FROM lab_wins WHERE slot = {self.slot(s)}) {s}"
            f" ON x.person_id = {s}.person_id"
            for s in ("mg", "k", "hr", "cr", "eg")
        )
        sql = f"""
        SELECT x.person_id, {", ".join(f"{expr} AS {name}" for name, expr in picks.items())},
          {", ".join(f"x.{c}" for c in first)},
          {", ".join(f"{self.d.as_bigint(expr)} AS {name}" for name, expr in counts.items())}
        FROM lab_max x{joins}
          LEFT JOIN lab_calcium ca ON x.person_id = ca.person_id
          LEFT JOIN lab_counts n ON x.person_id = n.person_id"""
        return Statement("lab_person", sql, materialise=True)

    def lab_statements(self) -> tuple[Statement, ...]:
        """The lab steps in order: two passes over the rows, then small per-person tables."""
        return (
            self.lab_max(),
            self.lab_candidates(),
            self.lab_used(),
            self.lab_wins(),
            self.lab_counts(),
            self.lab_calcium(),
            self.lab_person(),
        )

    # --- medications and conditions ---------------------------------------------------------------
    def medication_rows(self, bad_dates: str) -> Statement:
        sql = f"""
        SELECT *, CASE
            WHEN person_id IS NULL THEN 'missing-person-id'
            WHEN code IS NULL OR code = '' THEN 'code-missing'
            WHEN sys IS NULL OR sys NOT IN ({self.texts(MEDICATION_SYSTEMS)}) THEN 'system-not-atc-rxnorm-text'
            WHEN bad_dates THEN 'date-not-a-date'
            WHEN end_day < start_day THEN 'ends-before-start'
          END AS reason
        FROM (SELECT person_id, code, lower(trim(sys)) AS sys, start_day, end_day, status,
                     {bad_dates} AS bad_dates FROM t_medications) x"""
        return Statement("med_rows", sql)

    def medication_person(self) -> Statement:
        current = (
            f"(m.status IS NULL OR lower(m.status) NOT IN ({self.texts(sorted(INACTIVE_STATUSES))}))"
            f" AND (m.start_day IS NULL OR m.start_day <= {self.day(self.as_of)})"
            f" AND (m.end_day IS NULL OR m.end_day >= {self.day(self.as_of)})"
        )
        sql = f"""
        SELECT m.person_id,
          {self.d.sorted_set("d.drug_class", "d.depletes")} AS depleting_classes,
          bool_or(d.depletes) AS on_depleting, bool_or(d.raising) AS on_raising,
          bool_or(d.oral_product) AS on_oral_product, bool_or(d.chelates) AS on_chelating,
          bool_or(d.glycoside) AS on_glycoside
        FROM med_rows m
          JOIN med_map mm ON m.sys = mm.sys AND m.code = mm.code
          JOIN drug_facts d ON mm.drug_id = d.drug_id
        WHERE m.reason IS NULL AND {current}
        GROUP BY m.person_id"""
        return Statement("med_person", sql, materialise=True)

    def condition_rows(self, bad_onset: str) -> Statement:
        sql = f"""
        SELECT *, CASE
            WHEN person_id IS NULL THEN 'missing-person-id'
            WHEN code IS NULL OR code = '' THEN 'code-missing'
            WHEN sys IS NULL OR sys NOT IN ({self.texts(CONDITION_SYSTEMS)}) THEN 'system-not-icd10-snomed-text'
            WHEN bad_onset THEN 'onset-not-a-date'
            WHEN onset > {self.day(self.today)} THEN 'onset-after-today'
          END AS reason
        FROM (SELECT person_id, code, lower(trim(sys)) AS sys, onset,
                     coalesce(active, TRUE) AS active, {bad_onset} AS bad_onset
              FROM t_conditions) x"""
        return Statement("cond_rows", sql)

    def condition_person(self) -> Statement:
        groups = {"diabetes": "has_diabetes", "atrial-fibrillation": "has_af"}
        flags = ", ".join(
            f"bool_or(cm.group_id = {self.t(group)}) AS {name}" for group, name in groups.items()
        )
        sql = f"""
        SELECT c.person_id, {flags},
          {self.d.sorted_set("cm.group_id", "TRUE")} AS condition_groups
        FROM cond_rows c JOIN cond_map cm ON c.sys = cm.sys AND c.code = cm.code
        WHERE c.reason IS NULL AND c.active
        GROUP BY c.person_id"""
        return Statement("cond_person", sql, materialise=True)

    # --- per person ------------------------------------------------------------------------------
    def screened(self) -> Statement:
        """Joins the per-person parts and derives status, grade, ratio, eGFR and finding flags."""
        serum = self.k.thresholds.serum_magnesium
        lab_cols = ", ".join(
            [
                *(
                    f"l.{c}"
                    for c in (
                        "mg_c",
                        "mg_v",
                        "mg_u",
                        "mg_e",
                        "mg_rl",
                        "mg_rh",
                        "ca_c",
                        "k_c",
                        "k_u",
                        "k_rl",
                        "k_i",
                        "hr_c",
                        "eg_c",
                        "eg_d",
                        "cr_v",
                        "cr_u",
                        "cr_d",
                    )
                ),
                "coalesce(l.n_rows, 0) AS n_lab_rows",
                "coalesce(l.n_impl, 0) AS n_impl",
                "coalesce(l.n_mislabel, 0) AS n_mislabel",
            ]
        )
        empty = self.d.empty_text_array()
        joined = f"""
        SELECT p.person_id, p.age_years, p.sex, p.weight, p.strata, p.psu, p.birth_date,
          p.age_stated, {lab_cols},
          coalesce(md.depleting_classes, {empty}) AS depleting_classes,
          coalesce(md.on_depleting, FALSE) AS on_depleting,
          coalesce(md.on_raising, FALSE) AS on_raising,
          coalesce(md.on_oral_product, FALSE) AS on_oral_product,
          coalesce(md.on_chelating, FALSE) AS on_chelating,
          coalesce(md.on_glycoside, FALSE) AS on_glycoside,
          coalesce(cd.has_diabetes, FALSE) AS has_diabetes,
          coalesce(cd.has_af, FALSE) AS has_af,
          coalesce(cd.condition_groups, {empty}) AS condition_groups
        FROM p_ok p
          LEFT JOIN lab_person l ON p.person_id = l.person_id
          LEFT JOIN med_person md ON p.person_id = md.person_id
          LEFT JOIN cond_person cd ON p.person_id = cd.person_id"""
        interval = "(mg_rl IS NOT NULL AND mg_rh IS NOT NULL)"
        lower = (
            f"CASE WHEN {interval} THEN {self.convert('mg_rl', 'mg_u', MOLAR_UNIT, 'magnesium')}"
            f" ELSE {self.f(serum.deficiency_below.value)} END"
        )
        upper = (
            f"CASE WHEN {interval} THEN {self.convert('mg_rh', 'mg_u', MOLAR_UNIT, 'magnesium')}"
            f" ELSE {self.f(serum.normal_upper.value)} END"
        )
        floor_ = f"CASE WHEN {interval} THEN mg_lower ELSE {self.f(serum.normal_lower.value)} END"
        limits = f"SELECT *, {lower} AS mg_lower, {upper} AS mg_upper FROM ({joined}) j"
        graded = f"SELECT *, {floor_} AS mg_floor, {self._grade()} AS ctcae_grade FROM ({limits}) g"
        status = f"""CASE WHEN mg_c IS NULL THEN NULL
          WHEN mg_c < mg_lower THEN CASE WHEN ctcae_grade >= {self.f(serum.severe_from_ctcae_grade.value)}
               THEN 'hypomagnesemia-severe' ELSE 'hypomagnesemia' END
          WHEN mg_c < mg_floor THEN 'low-normal'
          WHEN mg_c >= {self.f(serum.severe_excess_from.value)} THEN 'hypermagnesemia-severe'
          WHEN mg_c > mg_upper THEN 'hypermagnesemia'
          ELSE 'normal' END"""
        kidney = self._kidney()
        staged = f"""
        SELECT *, {status} AS mg_status,
          CASE WHEN mg_c IS NOT NULL AND ca_c IS NOT NULL THEN ca_c / mg_c END AS molar,
          {kidney["computed_ok"]} AS computed_ok,
          {kidney["egfr_calc"]} AS egfr_calc
        FROM ({graded}) s"""
        reported_wins = "eg_c IS NOT NULL AND (NOT computed_ok OR eg_d >= cr_d)"
        egfr = f"""CASE WHEN {reported_wins} THEN eg_c WHEN computed_ok THEN egfr_calc END"""
        source = f"""CASE WHEN {reported_wins} THEN 'reported' WHEN computed_ok THEN 'ckd-epi-2021' END"""
        final = f"""
        SELECT *, {egfr} AS egfr_raw, {source} AS egfr_source FROM ({staged}) e"""
        return Statement("screened_base", final, materialise=True)

    def _grade(self) -> str:
        """CTCAE v5 grade in the unit reported (rules/labs.py ctcae_grade), for the chosen Mg."""
        analyte = self.k.analytes["magnesium"]
        branches = []
        for unit in analyte.units:
            grading = unit if unit in GRADING_UNITS else MOLAR_UNIT
            value = self._const_convert("mg_v", unit, grading)
            lln = self._const_convert("mg_lower", MOLAR_UNIT, grading)
            uln = self._const_convert("mg_upper", MOLAR_UNIT, grading)
            cases = []
            for grade in self.k.ctcae_bounds("hypomagnesemia", grading):
                bound = lln if grade.bound == "LLN" else self._bound(grade.bound)
                if bound is not None:
                    cases.append(f"WHEN {value} < {lln} AND {value} < {bound} THEN {grade.grade}")
            for grade in self.k.ctcae_bounds("hypermagnesemia", grading):
                bound = uln if grade.bound == "ULN" else self._bound(grade.bound)
                if bound is not None:
                    cases.append(f"WHEN {value} > {uln} AND {value} > {bound} THEN {grade.grade}")
            inner = f"CASE {' '.join(cases)} END" if cases else "NULL"
            branches.append(f"WHEN mg_u = {self.t(unit)} THEN {inner}")
        return f"CAST(CASE WHEN mg_c IS NULL THEN NULL {' '.join(branches)} END AS INTEGER)"

    def _bound(self, bound: object) -> str | None:
        """A numeric CTCAE bound; the core skips bounds that are not floats."""
        return self.f(bound) if isinstance(bound, float) else None

    def _const_convert(self, value: str, source: str, target: str) -> str:
        conv = conversion(source, target, self.k.analytes["magnesium"])
        if conv.identity:
            return value
        return f"({value} * {self.f(conv.multiply)} / {self.f(conv.divide)})"

    def _kidney(self) -> dict[str, str]:
        """CKD-EPI 2021 from the latest creatinine with the age on the creatinine date
        (rules/renal.py), in the core's operation order."""
        equation = self.k.renal.ckd_epi_2021
        minimum = self.k.thresholds.ckd_epi.minimum_age.value
        mg_dl = self.convert("cr_v", "cr_u", "mg/dL", "creatinine")

        def by_sex(field: str) -> str:
            female = getattr(equation.female, field)
            male = getattr(equation.male, field)
            return f"CASE WHEN sex = 'female' THEN {self.f(female)} ELSE {self.f(male)} END"

        ratio = f"({mg_dl} / {by_sex('kappa_mg_dl')})"
        day = "cr_d"
        age = (
            f"(CASE WHEN birth_date IS NOT NULL THEN greatest(year({day}) - year(birth_date) - "
            f"CASE WHEN month(birth_date) > month({day}) OR (month(birth_date) = month({day}) "
            f"AND dayofmonth(birth_date) > dayofmonth({day})) THEN 1 ELSE 0 END, 0) "
            f"ELSE age_stated END)"
        )
        one = self.f(1.0)
        value = (
            f"{self.f(equation.multiplier)} * pow(least({ratio}, {one}), {by_sex('alpha')})"
            f" * pow(greatest({ratio}, {one}), {self.f(equation.upper_exponent)})"
            f" * pow({self.f(equation.age_base)}, CAST({age} AS DOUBLE))"
            f" * {by_sex('sex_factor')}"
        )
        computed_ok = (
            f"(cr_v IS NOT NULL AND {age} IS NOT NULL AND sex IS NOT NULL"
            f" AND {age} >= {self.f(minimum)})"
        )
        return {
            "computed_ok": computed_ok,
            "egfr_calc": f"CASE WHEN {computed_ok} THEN {value} END",
        }

    def flags(self) -> Statement:
        """Finding flags per person, one boolean column per finding code (f_<code>)."""
        thresholds = self.k.thresholds
        potassium = thresholds.potassium.lower_limit
        k_low_by_interval = f"k_c < {self.convert('k_rl', 'k_u', MOLAR_UNIT, 'potassium')}"
        k_low = (
            f"CASE WHEN k_rl IS NOT NULL THEN {k_low_by_interval}"
            f" WHEN k_i IS NOT NULL AND upper(k_i) IN ({self.texts(LOW_POTASSIUM_FLAGS)}) THEN TRUE"
            + (f" ELSE k_c < {self.f(potassium.value)} END" if potassium else " ELSE FALSE END")
        )
        low = f"mg_status IN ({self.texts(sorted(LOW_MAGNESIUM))})"
        low_or_low_normal = f"mg_status IN ({self.texts([*sorted(LOW_MAGNESIUM), 'low-normal'])})"
        flags = {
            "implausible-unit": "(n_impl + n_mislabel) > 0",
            "magnesium-not-measured": "mg_c IS NULL",
            "ca-mg-ratio-high": (
                f"(has_diabetes AND molar IS NOT NULL AND molar > {self.f(thresholds.ca_mg_ratio.diabetes_cutoff.value)})"
            ),
            "depleting-medication": "on_depleting",
            "magnesium-raising-medication": "on_raising",
            "supplement-interaction": "(on_oral_product AND on_chelating)",
            "hypokalemia-with-low-magnesium": f"({low} AND k_c IS NOT NULL AND {k_low})",
            "digoxin-with-low-magnesium": f"(on_glycoside AND {low_or_low_normal})",
            "rapid-atrial-fibrillation": (
                f"(has_af AND hr_c IS NOT NULL AND hr_c > {self.f(thresholds.rapid_af.heart_rate_above.value)})"
            ),
            "renal-impairment": (
                f"(egfr_raw IS NOT NULL AND egfr_raw < {self.f(thresholds.renal.impairment_below.value)})"
            ),
        }
        for status, code in STATUS_FINDING.items():
            flags[code] = f"(mg_status = {self.t(status)})"
        assert set(flags) == set(FINDINGS_IN_BATCH)
        columns = ", ".join(
            f"coalesce({expr}, FALSE) AS {flag_column(code)}"
            for code, expr in sorted(flags.items())
        )
        kdigo = sorted(self.k.renal.kdigo_category, key=lambda r: -r.lower)
        last = min(self.k.renal.kdigo_category, key=lambda r: r.lower)
        category = " ".join(
            f"WHEN egfr_raw >= {self.f(row.lower)} THEN {self.t(row.category)}" for row in kdigo
        )
        sql = f"""
        SELECT *, {columns},
          CASE WHEN egfr_raw IS NULL THEN NULL {category} ELSE {self.t(last.category)} END AS egfr_category
        FROM screened_base"""
        return Statement("screened", sql)

    def result(self) -> Statement:
        """The DESIGN.md section 6 output: one row per person."""
        codes = self.d.array(
            [
                f"CASE WHEN {flag_column(code)} THEN {self.d.array([self.t(code)])} ELSE {self.d.empty_text_array()} END"
                for code in sorted(FINDINGS_IN_BATCH)
            ]
        )
        sql = f"""
        SELECT person_id, age_years, sex,
          {self.rounded("mg_c", 4)} AS mg_mmol_l,
          mg_status, ctcae_grade,
          mg_v AS mg_value, mg_u AS mg_unit, CAST(mg_e AS DATE) AS mg_date,
          {self.rounded("molar", 3)} AS ca_mg_molar,
          {flag_column("ca-mg-ratio-high")} AS ca_mg_high,
          {self.rounded("egfr_raw", 1)} AS egfr,
          egfr_category, egfr_source,
          depleting_classes,
          flatten({codes}) AS codes,
          condition_groups
        FROM screened"""
        return Statement("result", sql)


def _reason_column(reason: str) -> str:
    return "n_" + reason.replace("-", "_")


def reason_column(reason: str) -> str:
    """Column of lab_person counting rows left out for `reason`."""
    return _reason_column(reason)


def flag_column(code: str) -> str:
    """Column of `screened` that is true when the person has the finding `code`."""
    return "f_" + code.replace("-", "_")


__all__ = [
    "FINDINGS_IN_BATCH",
    "HIGH_MAGNESIUM",
    "LAB_ROW_REASONS",
    "MG_STATUSES",
    "ScreenSQL",
    "Statement",
    "flag_column",
    "reason_column",
]
