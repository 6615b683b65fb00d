"""`mgcare report PERSON --format html|pdf` (filled in by issue 5 work)."""

from __future__ import annotations


def report_command() -> None:
    """Write a person's report as HTML or PDF."""
