"""Pure assessment rules: `assess(record, knowledge) -> Assessment`, no I/O, deterministic."""

from mgcare.rules.assess import assess

__all__ = ["assess"]
