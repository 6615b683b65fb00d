"""FHIR Bulk Data NDJSON (Patient, Observation, MedicationRequest/MedicationStatement, Condition
lines) to the long tables of DESIGN.md section 6, with DuckDB's JSON functions (vectorised; a
bulk export of millions of lines never passes through Python objects).

The mapping follows mgcare.fhir, the single-patient FHIR adapter: the first LOINC coding that the
pack knows; the UCUM code when the quantity's system is UCUM, else its unit text; effective from
effectiveDateTime, effectivePeriod.start, effectiveInstant or issued; observations with status
entered-in-error, cancelled or registered, or without a quantity, are left out and counted;
medication codings (RxNorm, ATC), their displays and the concept text become one row each
(a medicationReference is resolved to its Medication: contained, in the same file or in the
export's Medication file, as mgcare.fhir does; unresolved, its display text is used and counted);
conditions with verification refuted or entered-in-error are left out, and clinical status
inactive/remission/resolved or an abatement makes a condition inactive. Patient.deceasedDateTime
(its calendar day) becomes deceased_date; deceasedBoolean without a date is ignored, as mgcare.fhir
ignores it (the person is screened as living).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mgcare.fhir import (
    EXCLUDED_VERIFICATION,
    INACTIVE_CONDITION,
    SKIPPED_OBSERVATION_STATUSES,
    SYSTEMS,
    UCUM,
)
from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.screen.errors import ScreenInputError

RESOURCE_TYPES = {
    "persons": ("Patient",),
    "labs": ("Observation",),
    "medications": ("MedicationRequest", "MedicationStatement"),
    "conditions": ("Condition",),
}
INTERPRETATION_SYSTEM_SUFFIX = "v3-ObservationInterpretation"


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _texts(values: Any) -> str:
    return ", ".join(_text(v) for v in sorted(values))


def _systems(kind: str) -> str:
    return _texts(url for url, name in SYSTEMS.items() if name == kind)


def _day(expr: str) -> str:
    """A FHIR date or dateTime as DATE (its written calendar day, time zone ignored); a partial
    date takes its first day (year: 1 January, year-month: the 1st), as mgcare.fhir does."""
    return (
        f"TRY_CAST(CASE WHEN length({expr}) >= 10 THEN substr({expr}, 1, 10) "
        f"WHEN length({expr}) = 7 THEN {expr} || '-01' "
        f"WHEN length({expr}) >= 4 THEN substr({expr}, 1, 4) || '-01-01' END AS DATE)"
    )


def _day_or_text(expr: str) -> str:
    """The day as ISO text, or the unreadable text itself: the persons typed view then counts
    the person as excluded for an unreadable date instead of reading the value as missing."""
    return f"coalesce(CAST({_day(expr)} AS VARCHAR), {expr})"


def _field(path: str) -> str:
    return f"json_extract_string(j, '{path}')"


def _reference(expr: str) -> str:
    return f"regexp_replace({expr}, '^(Patient/|urn:uuid:)', '')"


def _source(path: Path, types: tuple[str, ...]) -> str:
    where = ", ".join(_text(t) for t in types)
    return (
        f"(SELECT json AS j, row_number() OVER () AS rid FROM read_ndjson_objects('{_path(path)}') "
        f"WHERE json_extract_string(json, '$.resourceType') IN ({where}))"
    )


def _path(path: Path) -> str:
    return str(path).replace("'", "''")


def patients_sql(path: Path) -> str:
    return f"""
    SELECT json_extract_string(j, '$.id') AS person_id,
      {_day("json_extract_string(j, '$.birthDate')")} AS birth_date,
      CASE WHEN json_extract_string(j, '$.gender') IN ('male', 'female')
           THEN json_extract_string(j, '$.gender') END AS sex,
      {_day_or_text("json_extract_string(j, '$.deceasedDateTime')")} AS deceased_date
    FROM {_source(path, RESOURCE_TYPES["persons"])} r"""


def observations_sql(path: Path, knowledge: Knowledge) -> tuple[str, str]:
    """(rows, counts) SQL: one row per observation of a screened LOINC with a quantity."""
    codes = _texts(knowledge.loinc)
    skipped = _texts(SKIPPED_OBSERVATION_STATUSES)
    base = f"""
    WITH r AS {_source(path, RESOURCE_TYPES["labs"])},
    c AS (SELECT rid, unnest(cl) AS coding, generate_subscripts(cl, 1) AS i
          FROM (SELECT rid, json_extract(j, '$.code.coding[*]') AS cl FROM r) x),
    first AS (SELECT rid, arg_min(json_extract_string(coding, '$.code'), i) AS loinc
              FROM c WHERE json_extract_string(coding, '$.system') = 'http://loinc.org'
                AND json_extract_string(coding, '$.code') IN ({codes})
              GROUP BY rid),
    o AS (SELECT r.rid, r.j, f.loinc, json_extract_string(r.j, '$.status') AS status,
                 json_extract(r.j, '$.valueQuantity') AS q
          FROM r JOIN first f ON r.rid = f.rid)"""
    low = "TRY_CAST(json_extract_string(j, '$.referenceRange[0].low.value') AS DOUBLE)"
    high = "TRY_CAST(json_extract_string(j, '$.referenceRange[0].high.value') AS DOUBLE)"
    interp = (
        f"CASE WHEN ends_with(json_extract_string(j, '$.interpretation[0].coding[0].system'), "
        f"{_text(INTERPRETATION_SYSTEM_SUFFIX)}) THEN json_extract_string(j, "
        f"'$.interpretation[0].coding[0].code') END"
    )
    rows = f"""{base}
    SELECT {_reference("json_extract_string(j, '$.subject.reference')")} AS person_id,
      loinc,
      TRY_CAST(json_extract_string(q, '$.value') AS DOUBLE) AS value,
      CASE WHEN json_extract_string(q, '$.system') = {_text(UCUM)}
                AND coalesce(json_extract_string(q, '$.code'), '') <> ''
           THEN json_extract_string(q, '$.code') ELSE json_extract_string(q, '$.unit') END AS unit,
      coalesce(json_extract_string(j, '$.effectiveDateTime'),
               json_extract_string(j, '$.effectivePeriod.start'),
               json_extract_string(j, '$.effectiveInstant'),
               json_extract_string(j, '$.issued')) AS effective,
      CASE WHEN {low} < {high} THEN {low} WHEN {high} IS NULL THEN {low} END AS reference_low,
      CASE WHEN {low} < {high} THEN {high} WHEN {low} IS NULL THEN {high} END AS reference_high,
      {interp} AS interpretation
    FROM o
    WHERE coalesce(status, '') NOT IN ({skipped}) AND q IS NOT NULL
      AND json_extract_string(q, '$.value') IS NOT NULL"""
    counts = f"""{base}
    SELECT (SELECT count(*) FROM r) AS observations,
      (SELECT count(*) FROM r) - (SELECT count(*) FROM o) AS not_a_screened_loinc,
      count(*) FILTER (WHERE coalesce(status, '') IN ({skipped})) AS status_skipped,
      count(*) FILTER (WHERE coalesce(status, '') NOT IN ({skipped})
                       AND (q IS NULL OR json_extract_string(q, '$.value') IS NULL)) AS no_quantity
    FROM o"""
    return rows, counts


def _coded(kinds: tuple[str, ...]) -> str:
    """The CTEs `codings` and `coded`: distinct (rid, code, system) rows from `concepts` (rid,
    concept JSON, display): each coding of a known system, each coding display, the concept text
    and the display."""
    pieces = [
        f"SELECT rid, json_extract_string(coding, '$.code') AS code, '{kind}' AS system "
        f"FROM codings WHERE json_extract_string(coding, '$.system') IN ({_systems(kind)})"
        for kind in kinds
    ]
    pieces.append(
        "SELECT rid, json_extract_string(coding, '$.display') AS code, 'text' AS system FROM codings "
        "WHERE json_extract_string(coding, '$.display') IS NOT NULL"
    )
    pieces.append(
        "SELECT rid, json_extract_string(concept, '$.text') AS code, 'text' AS system "
        "FROM concepts WHERE json_extract_string(concept, '$.text') IS NOT NULL"
    )
    pieces.append(
        "SELECT rid, display AS code, 'text' AS system FROM concepts WHERE display IS NOT NULL"
    )
    return (
        "codings AS (SELECT rid, unnest(json_extract(concept, '$.coding[*]')) AS coding "
        f"FROM concepts),\n    coded AS ({' UNION '.join(pieces)})"
    )


def _medication_catalog(paths: list[Path]) -> str:
    """Medication resources by the references that may point to them ('Medication/id' and
    'urn:uuid:id', as mgcare.fhir keys them by id and fullUrl); of a repeated id the last, as
    mgcare.fhir keeps the last (the medications file first, then the Medication file)."""
    rows = " UNION ALL ".join(
        f"SELECT json_extract_string(j, '$.id') AS id, json_extract(j, '$.code') AS code, "
        f"{order} AS file, rid FROM {_source(path, ('Medication',))} x"
        for order, path in enumerate(paths)
    )
    return f"""
    catalog_ids AS (SELECT id, arg_max(code, (file, rid)) AS code FROM ({rows}) m
                    WHERE id IS NOT NULL GROUP BY id),
    catalog AS (SELECT 'Medication/' || id AS reference, code FROM catalog_ids
                UNION ALL SELECT 'urn:uuid:' || id AS reference, code FROM catalog_ids)"""


MEDICATION_TABLE = "medication_requests"


def medications_sql(path: Path, medication_resources: Path | None = None) -> tuple[str, str, str]:
    """(prepare, rows, counts) SQL. `prepare` reads the file once into the temp table
    MEDICATION_TABLE (one row per request or statement, its medication resolved); `rows` and
    `counts` read that table. The medication is medicationCodeableConcept, else the Medication
    that medicationReference points to: contained ('#id'), in the same file, or in
    `medication_resources` (the export's Medication.ndjson), as mgcare.fhir resolves it; a
    reference that resolves to nothing falls back to its display text and is counted."""
    request = "json_extract_string(j, '$.resourceType') = 'MedicationRequest'"
    period_start = f"coalesce({_field('$.effectivePeriod.start')}, {_field('$.effectiveDateTime')})"
    start = f"CASE WHEN {request} THEN {_day(_field('$.authoredOn'))} ELSE {_day(period_start)} END"
    end = (
        f"CASE WHEN {request} THEN {_day(_field('$.dispenseRequest.validityPeriod.end'))} "
        f"ELSE {_day(_field('$.effectivePeriod.end'))} END"
    )
    catalog = [path] + ([medication_resources] if medication_resources is not None else [])
    prepare = f"""
    CREATE OR REPLACE TEMP TABLE {MEDICATION_TABLE} AS
    WITH r AS {_source(path, RESOURCE_TYPES["medications"])},
    {_medication_catalog(catalog)},
    asked AS (SELECT rid, j, json_extract(j, '$.medicationCodeableConcept') AS given,
                     {_field("$.medicationReference.reference")} AS reference,
                     {_field("$.medicationReference.display")} AS display
              FROM r),
    contained AS (SELECT rid, '#' || json_extract_string(c, '$.id') AS reference,
                         arg_max(json_extract(c, '$.code'), i) AS code
                  FROM (SELECT rid, unnest(cl) AS c, generate_subscripts(cl, 1) AS i
                        FROM (SELECT rid, json_extract(j, '$.contained[*]') AS cl FROM asked
                              WHERE given IS NULL AND starts_with(reference, '#')) x) y
                  WHERE json_extract_string(c, '$.resourceType') = 'Medication'
                  GROUP BY rid, reference),
    resolved AS (
      SELECT a.rid, a.j, a.given, a.reference, a.display,
             c.rid IS NOT NULL OR k.reference IS NOT NULL AS found, coalesce(c.code, k.code) AS code
      FROM asked a
      LEFT JOIN contained c ON c.rid = a.rid AND c.reference = a.reference
      LEFT JOIN catalog k ON a.given IS NULL AND k.reference = a.reference)
    SELECT rid, {_reference("json_extract_string(j, '$.subject.reference')")} AS person_id,
      json_extract_string(j, '$.status') AS status, {start} AS s, {end} AS e,
      CASE WHEN given IS NOT NULL THEN given WHEN found THEN code END AS concept,
      CASE WHEN given IS NULL AND NOT found THEN display END AS display,
      given IS NULL AND reference IS NOT NULL AND NOT found AS unresolved
    FROM resolved"""
    rows = f"""
    WITH concepts AS (SELECT rid, concept, display FROM {MEDICATION_TABLE}),
    {_coded(("rxnorm", "atc"))}
    SELECT m.person_id, c.code, c.system, m.s AS start,
      CASE WHEN m.e < m.s THEN NULL ELSE m.e END AS "end", m.status, c.rid AS fhir_line
    FROM coded c JOIN {MEDICATION_TABLE} m ON c.rid = m.rid"""
    counts = f"""
    SELECT count(*) AS resources, count(*) FILTER (WHERE unresolved) AS unresolved,
      count(*) FILTER (WHERE unresolved AND display IS NOT NULL) AS display_used
    FROM {MEDICATION_TABLE}"""
    return prepare, rows, counts


def conditions_sql(path: Path) -> str:
    verification = "json_extract_string(j, '$.verificationStatus.coding[0].code')"
    clinical = "json_extract_string(j, '$.clinicalStatus.coding[0].code')"
    return f"""
    WITH r AS (SELECT * FROM {_source(path, RESOURCE_TYPES["conditions"])} x
               WHERE coalesce({verification}, '') NOT IN ({_texts(EXCLUDED_VERIFICATION)})),
    concepts AS (SELECT rid, json_extract(j, '$.code') AS concept, NULL::VARCHAR AS display FROM r),
    {_coded(("icd10", "snomed"))},
    meta AS (SELECT rid, {_reference("json_extract_string(j, '$.subject.reference')")} AS person_id,
                    {_day("json_extract_string(j, '$.onsetDateTime')")} AS onset,
                    (coalesce({clinical}, '') NOT IN ({_texts(INACTIVE_CONDITION)})
                     AND json_extract(j, '$.abatementDateTime') IS NULL
                     AND json_extract(j, '$.abatementPeriod') IS NULL) AS active
             FROM r)
    SELECT m.person_id, c.code, c.system, m.onset, m.active, c.rid AS fhir_line
    FROM coded c JOIN meta m ON c.rid = m.rid"""


def convert_ndjson(
    paths: dict[str, Path],
    work: Path,
    knowledge: Knowledge | None = None,
    *,
    medication_resources: Path | None = None,
) -> dict[str, Path]:
    """Convert each NDJSON input to Parquet in `work`; writes work/ndjson_counts.json.
    `medication_resources` (Medication lines) resolves medicationReference in `medications`."""
    import duckdb

    knowledge = knowledge or load_knowledge()
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{_path(work / 'ndjson-spill')}'")  # not the caller's cwd
    converted: dict[str, Path] = {}
    counts: dict[str, Any] = {}
    try:
        for table, path in paths.items():
            out = work / f"{table}.from_ndjson.parquet"
            if table == "persons":
                sql = patients_sql(path)
            elif table == "labs":
                sql, count_sql = observations_sql(path, knowledge)
                row = con.execute(count_sql).fetchone()
                if row is not None:
                    counts["labs"] = dict(
                        zip(
                            (
                                "observations",
                                "not_a_screened_loinc",
                                "status_skipped",
                                "no_quantity",
                            ),
                            row,
                            strict=True,
                        )
                    )
            elif table == "medications":
                prepare, sql, count_sql = medications_sql(path, medication_resources)
                con.execute(prepare)
                resources, unresolved, display_used = _counts(con.execute(count_sql).fetchone(), 3)
                references = {
                    "medication_reference_unresolved": unresolved,
                    "medication_reference_display_used": display_used,
                }
            else:
                sql = conditions_sql(path)
                total = con.execute(
                    f"SELECT count(*) FROM {_source(path, RESOURCE_TYPES[table])} r"
                ).fetchone()
                (resources,) = _counts(total, 1)
                references = {}
            con.execute(f"COPY ({sql}) TO '{_path(out)}' (FORMAT parquet)")
            converted[table] = out
            if table in ("medications", "conditions"):
                used = con.execute(
                    f"SELECT count(DISTINCT fhir_line) FROM read_parquet('{_path(out)}')"
                ).fetchone()
                (with_rows,) = _counts(used, 1)
                reason = (
                    "no code or text"
                    if table == "medications"
                    else "verification refuted or entered-in-error, or no code or text"
                )
                counts[table] = {
                    "resources": resources,
                    "resources_with_rows": with_rows,
                    f"left_out ({reason})": resources - with_rows,
                    **references,
                }
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        raise ScreenInputError(f"FHIR NDJSON: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    (work / "ndjson_counts.json").write_text(json.dumps(counts, default=int), encoding="utf-8")
    return converted


def _counts(row: tuple[Any, ...] | None, width: int) -> tuple[int, ...]:
    """A row of counts as ints (zeros when the query returned no row)."""
    return tuple(int(v) for v in row) if row is not None else (0,) * width
