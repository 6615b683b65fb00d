"""Person reports (HTML and PDF) built from the store, the assessment and the shared charts.

Attributes are loaded on first use, so that importing `mgcare.reports.cli` (done by `mgcare`
at start-up) costs nothing: `from mgcare.reports import build_report, render_pdf` still works.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mgcare.reports.build import build_report, report_for_person
    from mgcare.reports.model import Report, ReportError
    from mgcare.reports.render import render_html, render_pdf

__all__ = [
    "Report",
    "ReportError",
    "build_report",
    "render_html",
    "render_pdf",
    "report_for_person",
]

_HOME = {
    "Report": "mgcare.reports.model",
    "ReportError": "mgcare.reports.model",
    "build_report": "mgcare.reports.build",
    "report_for_person": "mgcare.reports.build",
    "render_html": "mgcare.reports.render",
    "render_pdf": "mgcare.reports.render",
}


def __getattr__(name: str) -> Any:
    """Import the defining module on first access (PEP 562)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'mgcare.reports' has no attribute {name!r}")
    return getattr(import_module(module), name)
