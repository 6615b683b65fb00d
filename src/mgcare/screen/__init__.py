"""Population screening (`mgcare screen`): the single-patient rules, vectorised as one SQL
definition run on DuckDB (embedded, default) or Spark, with survey-weighted summaries.

Import `run_screen` from `mgcare.screen.command`; this package imports nothing heavy on its own.
"""

from __future__ import annotations

from mgcare.screen.errors import ScreenInputError

__all__ = ["ScreenInputError"]
