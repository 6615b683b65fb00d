"""The long tables of DESIGN.md section 6: required and optional columns, accepted types, and the
typed views every later step reads.

Engines report each input column's type as a category; this module turns that into one SQL
expression per column, or a ScreenInputError naming the table, column and type. Values that do
not parse (a text column holding "abc" where a number belongs) become NULL here and are counted
as exclusions later, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from mgcare.screen.dialect import Dialect
from mgcare.screen.errors import ScreenInputError

TypeCategory = Literal["string", "integer", "float", "date", "timestamp", "boolean", "other"]
Kind = Literal["id", "text", "number", "date", "timestamp", "bool"]
TableName = Literal["persons", "labs", "medications", "conditions"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    required: bool
    alias: str = ""
    """Name in the typed view (avoids SQL keywords such as `end` and `value`)."""

    @property
    def typed_name(self) -> str:
        return self.alias or self.name


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: TableName
    columns: tuple[Column, ...]
    one_of: tuple[str, ...] = ()
    """At least one of these optional columns must be present (persons: birth_date or age_years)."""


PERSONS = TableSpec(
    "persons",
    (
        Column("person_id", "id", True),
        Column("birth_date", "date", False),
        Column("age_years", "number", False, "age_raw"),
        Column("sex", "text", True, "sex_raw"),
        Column("weight", "number", False),
        Column("strata", "id", False),
        Column("psu", "id", False),
        Column("deceased_date", "date", False),
    ),
    one_of=("birth_date", "age_years"),
)
LABS = TableSpec(
    "labs",
    (
        Column("person_id", "id", True),
        Column("loinc", "id", True),
        Column("value", "number", True, "val"),
        Column("unit", "text", True),
        Column("effective", "timestamp", True, "eff"),
        Column("reference_low", "number", False, "ref_low"),
        Column("reference_high", "number", False, "ref_high"),
        Column("interpretation", "text", False, "interp"),
    ),
)
MEDICATIONS = TableSpec(
    "medications",
    (
        Column("person_id", "id", True),
        Column("code", "id", True),
        Column("system", "text", True, "sys"),
        Column("start", "date", False, "start_day"),
        Column("end", "date", False, "end_day"),
        Column("status", "text", False),
    ),
)
CONDITIONS = TableSpec(
    "conditions",
    (
        Column("person_id", "id", True),
        Column("code", "id", True),
        Column("system", "text", True, "sys"),
        Column("onset", "date", False),
        Column("active", "bool", False),
    ),
)
SPECS: dict[TableName, TableSpec] = {
    spec.name: spec for spec in (PERSONS, LABS, MEDICATIONS, CONDITIONS)
}

ACCEPTED: dict[Kind, frozenset[TypeCategory]] = {
    "id": frozenset({"string", "integer"}),
    "text": frozenset({"string", "integer"}),
    "number": frozenset({"integer", "float", "string"}),
    "date": frozenset({"date", "timestamp", "string"}),
    "timestamp": frozenset({"date", "timestamp", "string"}),
    "bool": frozenset({"boolean", "integer", "string"}),
}
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
_DATE_PATTERN = "^ *([0-9]{4}-[0-9]{2}-[0-9]{2})"
_TIME_PATTERN = "^ *[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)"


@dataclass(frozen=True, slots=True)
class TypedColumn:
    """The SQL of one typed column, and whether a present raw value can fail to parse."""

    sql: str
    raw: str | None
    parses: bool


def _typed(raw: str, category: TypeCategory, kind: Kind, dialect: Dialect) -> TypedColumn:
    text = dialect.text_type
    if kind in ("id", "text"):
        return TypedColumn(f"CAST({raw} AS {text})", raw, False)
    if kind == "number":
        if category == "string":
            number = dialect.finite_or_null(f"TRY_CAST(trim({raw}) AS DOUBLE)")
            return TypedColumn(number, raw, True)
        if category == "float":
            # NaN is how pandas writes a missing number: read it as missing
            return TypedColumn(dialect.finite_or_null(f"CAST({raw} AS DOUBLE)"), raw, False)
        return TypedColumn(f"CAST({raw} AS DOUBLE)", raw, False)
    if kind == "date":
        if category == "string":
            day = f"regexp_extract({raw}, {dialect.text(_DATE_PATTERN)}, 1)"
            return TypedColumn(f"TRY_CAST({day} AS DATE)", raw, True)
        return TypedColumn(f"CAST({raw} AS DATE)", raw, False)
    if kind == "timestamp":
        if category == "string":
            day = f"regexp_extract({raw}, {dialect.text(_DATE_PATTERN)}, 1)"
            clock = f"regexp_extract({raw}, {dialect.text(_TIME_PATTERN)}, 1)"
            joined = f"{day} || CASE WHEN {clock} = '' THEN '' ELSE ' ' || {clock} END"
            return TypedColumn(f"TRY_CAST({joined} AS TIMESTAMP)", raw, True)
        return TypedColumn(f"CAST({raw} AS TIMESTAMP)", raw, False)
    # bool
    if category == "boolean":
        return TypedColumn(raw, raw, False)
    if category == "integer":
        return TypedColumn(f"({raw} <> 0)", raw, False)
    words = f"lower(trim({raw}))"
    yes = ", ".join(dialect.text(w) for w in TRUE_WORDS)
    no = ", ".join(dialect.text(w) for w in FALSE_WORDS)
    return TypedColumn(
        f"CASE WHEN {words} IN ({yes}) THEN TRUE WHEN {words} IN ({no}) THEN FALSE END", raw, True
    )


def resolve_columns(
    spec: TableSpec, found: Sequence[tuple[str, TypeCategory, str]]
) -> dict[str, tuple[str, TypeCategory]]:
    """Map each spec column to (input column name, category), matching names case-insensitively.
    Raises ScreenInputError for missing required columns or types that cannot hold the value."""
    by_lower: dict[str, tuple[str, TypeCategory, str]] = {}
    for name, category, shown in found:
        by_lower.setdefault(name.strip().lower(), (name, category, shown))
    missing = [c.name for c in spec.columns if c.required and c.name not in by_lower]
    if spec.one_of and not any(name in by_lower for name in spec.one_of):
        missing.append(" or ".join(spec.one_of))
    if missing:
        present = ", ".join(name for name, _, _ in found) or "none"
        raise ScreenInputError(
            f"{spec.name}: missing column(s) {', '.join(missing)} (found: {present})"
        )
    resolved: dict[str, tuple[str, TypeCategory]] = {}
    for column in spec.columns:
        hit = by_lower.get(column.name)
        if hit is None:
            continue
        name, category, shown = hit
        if category not in ACCEPTED[column.kind]:
            expected = {
                "id": "text or integer",
                "text": "text",
                "number": "a number",
                "date": "a date",
                "timestamp": "a date or timestamp",
                "bool": "a boolean",
            }[column.kind]
            raise ScreenInputError(
                f"{spec.name}.{column.name} has type {shown}; expected {expected}"
            )
        resolved[column.name] = (name, category)
    return resolved


@dataclass(frozen=True, slots=True)
class TypedView:
    """The typed SELECT of one input table, and which columns may fail to parse."""

    table: TableName
    sql: str
    parse_checks: Mapping[str, str]
    """spec column -> typed-view boolean column, true when a present raw value did not parse."""
    present: frozenset[str]


def typed_view(
    spec: TableSpec,
    source: str,
    found: Sequence[tuple[str, TypeCategory, str]],
    dialect: Dialect,
) -> TypedView:
    """SELECT every spec column, typed; absent optional columns are typed NULLs."""
    resolved = resolve_columns(spec, found)
    selects: list[str] = []
    checks: dict[str, str] = {}
    null_types = {
        "id": dialect.text_type,
        "text": dialect.text_type,
        "number": "DOUBLE",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "bool": "BOOLEAN",
    }
    for column in spec.columns:
        if column.name not in resolved:
            selects.append(f"CAST(NULL AS {null_types[column.kind]}) AS {column.typed_name}")
            continue
        name, category = resolved[column.name]
        raw = dialect.ident(name)
        typed = _typed(raw, category, column.kind, dialect)
        selects.append(f"{typed.sql} AS {column.typed_name}")
        if typed.parses:
            flag = f"bad_{column.typed_name}"
            selects.append(f"({raw} IS NOT NULL AND {typed.sql} IS NULL) AS {flag}")
            checks[column.name] = flag
    sql = f"SELECT {', '.join(selects)} FROM {source}"
    return TypedView(spec.name, sql, checks, frozenset(resolved))
