"""The few SQL spellings that differ between DuckDB and Spark SQL.

The screening logic is written once (mgcare.screen.sql); only these constructs are spelled per
engine, so both engines run the same definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

EngineName = Literal["duckdb", "spark"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """SQL spellings for one engine."""

    name: EngineName

    @property
    def text_type(self) -> str:
        return "VARCHAR" if self.name == "duckdb" else "STRING"

    def ident(self, name: str) -> str:
        """A quoted identifier (input headers may hold any text or a keyword)."""
        if self.name == "duckdb":
            return '"' + name.replace('"', '""') + '"'
        return "`" + name.replace("`", "``") + "`"

    def text(self, value: str) -> str:
        """A string literal (Spark also treats backslashes as escapes)."""
        escaped = value.replace("'", "''")
        if self.name == "spark":
            escaped = escaped.replace("\\", "\\\\")
        return f"'{escaped}'"

    def double(self, value: float) -> str:
        """A DOUBLE literal that round-trips exactly (parsed from the shortest repr)."""
        return f"CAST('{float(value)!r}' AS DOUBLE)"

    def array(self, items: Sequence[str]) -> str:
        joined = ", ".join(items)
        return f"list_value({joined})" if self.name == "duckdb" else f"array({joined})"

    def struct(self, fields: Sequence[tuple[str, str]]) -> str:
        """A struct of (name, expression) pairs. Both engines order structs field by field, so
        max() of a struct is the row that wins a multi-column tie order, in one aggregate."""
        if self.name == "duckdb":
            return "struct_pack(" + ", ".join(f"{n} := {e}" for n, e in fields) + ")"
        return "named_struct(" + ", ".join(f"'{n}', {e}" for n, e in fields) + ")"

    def empty_text_array(self) -> str:
        if self.name == "duckdb":
            return "CAST([] AS VARCHAR[])"
        return "CAST(array() AS ARRAY<STRING>)"

    def sorted_set(self, expr: str, where: str) -> str:
        """Aggregate: the sorted distinct non-null values of `expr` over rows where `where`."""
        if self.name == "duckdb":
            return f"list_sort(list_distinct(list({expr}) FILTER (WHERE {where})))"
        return f"array_sort(collect_set({expr}) FILTER (WHERE {where}))"

    def contains(self, array: str, item: str) -> str:
        return f"array_contains({array}, {item})"

    def finite_or_null(self, expr: str) -> str:
        """The number, or NULL for NaN and infinities. DuckDB needs isfinite(): comparisons with
        NaN are folded away using Parquet min/max statistics, which ignore NaN."""
        if self.name == "duckdb":
            return f"CASE WHEN isfinite({expr}) THEN {expr} END"
        return f"CASE WHEN isnan({expr}) OR abs({expr}) = CAST('Infinity' AS DOUBLE) THEN NULL ELSE {expr} END"

    def as_bigint(self, expr: str) -> str:
        return f"CAST({expr} AS BIGINT)"


DUCKDB = Dialect("duckdb")
SPARK = Dialect("spark")
