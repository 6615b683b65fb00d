"""The screening logic, written once as SQL generated from the knowledge pack, run by DuckDB and by
Spark SQL (mgcare.screen.dialect spells the few differences).

It mirrors `mgcare.rules.assess` step by step (labs.py: unit checks, same-day mislabel
corroboration, latest usable result, status and CTCAE grade; renal.py: CKD-EPI 2021 and the
reported-eGFR tie rule; medications.py and conditions.py through lookup tables built with the
core's own `identify` and `condition_groups`). Every number is read from the pack; arithmetic is
ordered exactly as in the core so that results are identical to the bit.

Lab rows are read twice. The first pass keeps only plain per-person maxima (the time of the
latest settled result of each kind) and row counts by reason: cheap aggregates, one group per
person. The second pass keeps only the rows that can still decide a result (the latest of each
kind, calcium from the latest Mg day on, every implausible or suspect value, rows dated before
birth), and on those few rows applies the exact rules: same-day mislabel corroboration, the
tie order for results with the same time, calcium of the chosen Mg day, the lowest reported
eGFR of its day. Per-row unit checks compare the value with intervals precomputed per
(LOINC, unit) in the value's own unit, found with the core's arithmetic (lookups.value_interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from mgcare.knowledge import Knowledge
from mgcare.rules.labs import HIGH_MAGNESIUM, LOW_MAGNESIUM
from mgcare.rules.medications import INACTIVE_STATUSES
from mgcare.screen.dialect import Dialect
from mgcare.screen.exact import round_like_python
from mgcare.screen.lookups import (
    CONDITION_SYSTEMS,
    MEDICATION_SYSTEMS,
    MOLAR_UNIT,
    conversion,
    max_alternatives,
    mislabel_units,
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
        self.units = mislabel_units(knowledge)
        self.alternatives = max_alternatives(knowledge)

    # --- small helpers ------------------------------------------------------------------------
    def t(self, value: str) -> str:
        return self.d.text(value)

    def f(self, value: float) -> str:
        return self.d.double(value)

    def day(self, value: date) -> str:
        return f"DATE '{value.isoformat()}'"

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
    def persons_distinct(self, bad_birth: str, bad_age: str) -> Statement:
        """Distinct person rows with the reason a row cannot be screened (validation.py rules).
        `bad_birth`/`bad_age`: typed-view conditions for values present but unreadable."""
        age_ok = (
            f"(age_raw IS NULL OR (age_raw >= {self.f(0.0)} AND age_raw <= {self.f(MAX_AGE_YEARS)}"
            f" AND age_raw = CAST(floor(age_raw) AS DOUBLE)))"
        )
        sex = (
            "CASE WHEN lower(trim(sex_raw)) IN ('male', 'm') THEN 'male'"
            " WHEN lower(trim(sex_raw)) IN ('female', 'f') THEN 'female' END"
        )
        sql = f"""
        SELECT person_id, birth_date, age_raw, sex_raw, weight, strata, psu,
          {sex} AS sex,
          CASE
            WHEN person_id IS NULL THEN 'missing-person-id'
            WHEN bad_birth THEN 'birth-date-not-a-date'
            WHEN bad_age OR NOT {age_ok} THEN 'age-years-not-a-whole-number-0-{MAX_AGE_YEARS}'
            WHEN birth_date > {self.day(self.today)} THEN 'birth-date-after-today'
            WHEN {self.today.year} - year(birth_date) > {MAX_AGE_YEARS} THEN 'birth-date-impossible-age'
          END AS reason
        FROM (SELECT DISTINCT person_id, birth_date, age_raw, sex_raw, weight, strata, psu,
                     {bad_birth} AS bad_birth, {bad_age} AS bad_age FROM t_persons) x"""
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
    def lab_profile(self) -> str:
        return "SELECT loinc, unit, count(*) AS n FROM t_labs GROUP BY loinc, unit"

    def code(self, reason: str) -> str:
        """Lab reasons are small integers in SQL (cheaper than text on every row)."""
        return str(LAB_ROW_REASONS.index(reason) + 1)

    def _window(self, column: str = "day") -> str:
        return f"({column} >= {self.day(self.since)} AND {column} <= {self.day(self.as_of)})"

    def lab_rows(self, second_pass: bool) -> Statement:
        """One row per lab result of a screened analyte with a valid unit: canonical value, the
        core's unit check (plausible, suspect, likely units) and the reason a row is left out
        (NULL when usable). The unit check compares the value with intervals precomputed per
        (LOINC, unit) in the value's own unit (lookups.value_interval), so it is exact and cheap.

        First pass: every row, without the birth-date check. Second pass: joined with the first
        pass's per-person maxima (and birth date), only the rows that can decide a result: the
        latest of each kind, Ca from the latest Mg day on, every implausible or suspect value,
        and rows dated before birth (to count them)."""

        def inside(low: str, high: str) -> str:
            return f"(l.val >= m.{low} AND l.val <= m.{high})"

        alts = range(1, self.alternatives + 1)
        plausible = inside("p_lo", "p_hi")
        any_plausible = " OR ".join(inside(f"a{j}p_lo", f"a{j}p_hi") for j in alts) or "FALSE"
        any_typical = " OR ".join(inside(f"a{j}t_lo", f"a{j}t_hi") for j in alts) or "FALSE"
        inverted = "(ref_low IS NOT NULL AND ref_high IS NOT NULL AND ref_low >= ref_high)"
        day = "CAST(l.eff AS DATE)"
        birth = "x.birth_date" if second_pass else "CAST(NULL AS DATE)"
        extra = ", x.me_mg, x.me_k, x.me_hr, x.me_cr, x.eg_day" if second_pass else ""
        join = "JOIN lab_max x ON l.person_id = x.person_id" if second_pass else ""
        alt_columns = "".join(
            f", m.a{j}_unit, m.a{j}p_lo, m.a{j}p_hi, m.a{j}t_lo, m.a{j}t_hi" for j in alts
        )
        checked = f"""
        SELECT l.person_id, m.analyte, m.ucum, l.val, l.eff, {day} AS day, l.ref_low, l.ref_high,
          l.interp, m.canon_ident, m.canon_mul, m.canon_div{alt_columns},
          {plausible} AS plausible,
          (m.has_typ AND {plausible} AND NOT {inside("t_lo", "t_hi")} AND ({any_typical})) AS suspect,
          CASE
            WHEN l.person_id IS NULL THEN {self.code("missing-person-id")}
            WHEN l.val IS NULL THEN {self.code("value-not-a-number")}
            WHEN l.eff IS NULL THEN {self.code("effective-not-a-date")}
            WHEN l.val <= {self.f(0.0)} THEN {self.code("value-not-positive")}
            WHEN NOT {plausible} AND NOT ({any_plausible}) THEN {self.code("value-impossible-in-every-unit")}
            WHEN {day} < {self.day(EARLIEST_RESULT)} THEN {self.code("dated-before-1900")}
            WHEN {day} < {birth} THEN {self.code(BIRTH_REASON)}
            WHEN {day} > {self.day(self.today)} THEN {self.code("dated-after-today")}
          END AS reason{extra}
        FROM t_labs l JOIN lab_map m ON l.loinc = m.loinc AND l.unit = m.unit_raw {join}"""
        # role: 0 left out, 1 implausible or suspect (decided in the second pass), 2 settled.
        # Computed once per row: DuckDB would re-evaluate the flags inside every FILTER.
        roled = f"""SELECT *, (reason IS NULL) AS ok,
          CASE WHEN reason IS NOT NULL THEN 0 WHEN NOT plausible OR suspect THEN 1 ELSE 2 END AS role
        FROM ({checked}) c"""
        if second_pass:
            window = self._window()
            decides = f"""(
                (analyte = 'magnesium' AND {window} AND eff = me_mg)
                OR (analyte = 'calcium' AND {window} AND (me_mg IS NULL OR day >= CAST(me_mg AS DATE)))
                OR (analyte = 'potassium' AND eff = me_k)
                OR (analyte = 'heart-rate' AND eff = me_hr)
                OR (analyte = 'creatinine' AND eff = me_cr)
                OR (analyte = 'egfr' AND day = eg_day))"""
            roled = f"""SELECT * FROM ({roled}) s
            WHERE role = 1 OR (role = 2 AND {decides}) OR reason = {self.code(BIRTH_REASON)}"""

        def within(low: str, high: str) -> str:
            return f"(val >= {low} AND val <= {high})"

        likely = []
        for index, unit in enumerate(self.units):
            plaus = [
                f"(a{j}_unit = {self.t(unit)} AND {within(f'a{j}p_lo', f'a{j}p_hi')})" for j in alts
            ]
            typ = [
                f"(a{j}_unit = {self.t(unit)} AND {within(f'a{j}t_lo', f'a{j}t_hi')})" for j in alts
            ]
            likely.append(f"({' OR '.join(plaus) or 'FALSE'}) AS lp{index}")
            likely.append(f"({' OR '.join(typ) or 'FALSE'}) AS lt{index}")
        sql = f"""
        SELECT person_id, analyte, ucum, val, eff, day, interp, plausible, suspect, reason, ok, role,
          CASE WHEN canon_ident THEN val ELSE val * canon_mul / canon_div END AS canon,
          CASE WHEN {inverted} THEN NULL ELSE ref_low END AS rl,
          CASE WHEN {inverted} THEN NULL ELSE ref_high END AS rh,
          {inverted} AS interval_ignored,
          {", ".join(likely)}
        FROM ({roled}) q"""
        if not second_pass:
            return Statement("lab_rows_all", sql)
        return Statement("lab_rows", sql, materialise=True)

    def lab_max(self) -> Statement:
        """First pass: per person, row counts by reason and the time of the latest usable result
        of each kind (plain maxima, cheap); suspect values are left to the second pass."""
        window = self._window()
        settled = "role = 2"
        counts = [
            "count(*) AS n_rows",
            "count(*) FILTER (WHERE role > 0 AND interval_ignored) AS n_interval_ignored",
        ] + [
            f"count(*) FILTER (WHERE reason = {self.code(r)}) AS {_reason_column(r)}"
            for r in FIRST_PASS_REASONS
        ]
        sql = f"""
        SELECT a.*, p.birth_date FROM (
          SELECT person_id, {", ".join(counts)},
            max(eff) FILTER (WHERE {settled} AND analyte = 'magnesium' AND {window}) AS me_mg,
            max(eff) FILTER (WHERE {settled} AND analyte = 'potassium' AND {window}) AS me_k,
            max(eff) FILTER (WHERE {settled} AND analyte = 'heart-rate' AND day = {self.day(self.as_of)}) AS me_hr,
            max(eff) FILTER (WHERE {settled} AND analyte = 'creatinine' AND day <= {self.day(self.as_of)}) AS me_cr,
            max(day) FILTER (WHERE {settled} AND analyte = 'egfr' AND day <= {self.day(self.as_of)}) AS eg_day
          FROM lab_rows_all GROUP BY person_id) a
        LEFT JOIN p_ok p ON a.person_id = p.person_id"""
        return Statement("lab_max", sql, materialise=True)

    def lab_implausible(self) -> Statement:
        """Per (person, day, stated unit): the units in which that day's implausible values
        would be plausible (rules/labs.py _corroborate_mislabels)."""
        flags = ", ".join(f"bool_or(lp{i}) AS g{i}" for i in range(len(self.units)))
        sql = f"""
        SELECT person_id, day, ucum, {flags or "TRUE AS none"}
        FROM lab_rows WHERE ok AND NOT plausible GROUP BY person_id, day, ucum"""
        return Statement("lab_implausible", sql)

    def lab_usable(self) -> Statement:
        """Second-pass rows with their role: a suspect value is left out when the same day holds
        an implausible value in the same stated unit that is plausible in one of its likely units."""
        corroborated = (
            " OR ".join(f"(r.lt{i} AND coalesce(g.g{i}, FALSE))" for i in range(len(self.units)))
            or "FALSE"
        )
        window = self._window("r.day")
        as_of = self.day(self.as_of)
        slot = f"""CASE
            WHEN r.analyte = 'magnesium' AND {window} THEN 'mg'
            WHEN r.analyte = 'calcium' AND {window} THEN 'ca'
            WHEN r.analyte = 'potassium' AND {window} THEN 'k'
            WHEN r.analyte = 'heart-rate' AND r.day = {as_of} THEN 'hr'
            WHEN r.analyte = 'egfr' AND r.day <= {as_of} THEN 'eg'
            WHEN r.analyte = 'creatinine' AND r.day <= {as_of} THEN 'cr'
          END"""
        sql = f"""
        SELECT r.*, (r.ok AND r.suspect AND ({corroborated})) AS mislabel, {slot} AS slot,
          coalesce(r.rl, {self.f(0.0)}) AS rl_k, coalesce(r.rh, {self.f(0.0)}) AS rh_k,
          coalesce(r.interp, '') AS i_k
        FROM lab_rows r LEFT JOIN lab_implausible g
          ON r.person_id = g.person_id AND r.day = g.day AND r.ucum = g.ucum"""
        return Statement("lab_usable", sql, materialise=True)

    def _order(self, slot: str) -> str:
        """Which result wins: latest, then (for exact-time ties) larger canonical value, value,
        unit, interval and interpretation; for reported eGFR the latest day, then the lowest."""
        tail = (
            "rl IS NULL DESC, rl_k DESC, rh IS NULL DESC, rh_k DESC, interp IS NULL DESC, i_k DESC"
        )
        if slot == "eg":
            return f"day DESC, canon ASC, eff DESC, val DESC, ucum DESC, {tail}"
        return f"eff DESC, canon DESC, val DESC, ucum DESC, {tail}"

    def lab_ranked(self) -> Statement:
        usable = "ok AND plausible AND NOT mislabel"
        sql = f"""
        SELECT *, row_number() OVER (PARTITION BY person_id, slot ORDER BY
            CASE WHEN slot = 'eg' THEN day END DESC, CASE WHEN slot = 'eg' THEN canon END ASC,
            {self._order("mg")}) AS rn
        FROM lab_usable WHERE {usable} AND slot IS NOT NULL AND slot <> 'ca'"""
        return Statement("lab_ranked", sql, materialise=True)

    def lab_calcium(self) -> Statement:
        """The latest usable Ca on the day of the chosen Mg."""
        sql = f"""
        SELECT c.*, row_number() OVER (PARTITION BY c.person_id ORDER BY {self._order("ca")}) AS rn
        FROM lab_usable c
          JOIN (SELECT person_id, day AS mg_day FROM lab_ranked WHERE slot = 'mg' AND rn = 1) m
          ON c.person_id = m.person_id AND c.day = m.mg_day
        WHERE c.ok AND c.plausible AND NOT c.mislabel AND c.slot = 'ca'"""
        return Statement("lab_calcium", sql)

    def lab_person(self) -> Statement:
        """Per person: the chosen results as plain columns, and every count."""

        def pick(slot: str, column: str, name: str) -> str:
            return f"max(CASE WHEN slot = '{slot}' THEN {column} END) AS {name}"

        picks = [
            pick("mg", "canon", "mg_c"),
            pick("mg", "val", "mg_v"),
            pick("mg", "ucum", "mg_u"),
            pick("mg", "eff", "mg_e"),
            pick("mg", "rl", "mg_rl"),
            pick("mg", "rh", "mg_rh"),
            pick("ca", "canon", "ca_c"),
            pick("k", "canon", "k_c"),
            pick("k", "ucum", "k_u"),
            pick("k", "rl", "k_rl"),
            pick("k", "interp", "k_i"),
            pick("k", "eff", "k_e"),
            pick("hr", "canon", "hr_c"),
            pick("hr", "eff", "hr_e"),
            pick("eg", "canon", "eg_c"),
            pick("eg", "day", "eg_d"),
            pick("cr", "val", "cr_v"),
            pick("cr", "ucum", "cr_u"),
            pick("cr", "day", "cr_d"),
        ]
        columns = "person_id, slot, canon, val, ucum, eff, day, rl, rh, interp"
        chosen = f"""
        SELECT person_id, {", ".join(picks)} FROM (
          SELECT {columns} FROM lab_ranked WHERE rn = 1
          UNION ALL SELECT {columns} FROM lab_calcium WHERE rn = 1) c
        GROUP BY person_id"""
        counted = f"""
        SELECT person_id,
          count(*) FILTER (WHERE ok AND NOT plausible) AS n_impl,
          count(*) FILTER (WHERE mislabel) AS n_mislabel,
          count(*) FILTER (WHERE reason = {self.code(BIRTH_REASON)}) AS {_reason_column(BIRTH_REASON)}
        FROM lab_usable GROUP BY person_id"""
        first = ["n_rows", "n_interval_ignored"] + [_reason_column(r) for r in FIRST_PASS_REASONS]
        second = ["n_impl", "n_mislabel", _reason_column(BIRTH_REASON)]
        zero = ", ".join(f"{self.d.as_bigint(f'coalesce(n.{c}, 0)')} AS {c}" for c in second)
        sql = f"""
        SELECT x.person_id, {", ".join(f"c.{p.split(' AS ')[1]}" for p in picks)},
          {", ".join(f"x.{c}" for c in first)}, {zero}
        FROM lab_max x
          LEFT JOIN ({chosen}) c ON x.person_id = c.person_id
          LEFT JOIN ({counted}) n ON x.person_id = n.person_id"""
        return Statement("lab_person", sql, materialise=True)

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
