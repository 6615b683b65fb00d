"""Render a Report as self-contained HTML (Jinja2, autoescaped) or as PDF (WeasyPrint).

The PDF is the HTML printed by WeasyPrint, with the same inline SVG charts, so page and PDF
never disagree. WeasyPrint (and its Pango/Cairo libraries) is imported only when a PDF is asked
for; the template environment is built once per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from mgcare.reports.model import Report, ReportError

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATE = "report.html.j2"
CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Micro Hei")
"""Font families the report asks for, in order (fonts-noto-cjk or fonts-wqy-microhei)."""


def _css_string(value: object) -> str:
    """A quoted CSS string: escapes quotes, backslashes and '<' (no way out of <style>)."""
    from markupsafe import Markup

    text = str(value)
    escaped = "".join(f"\\{ord(ch):x} " if ch in '"\\<>\n\r' else ch for ch in text)
    return Markup(f'"{escaped}"')


@lru_cache(maxsize=1)
def _environment() -> Environment:
    try:
        from jinja2 import Environment, PackageLoader, StrictUndefined
    except ImportError as exc:  # pragma: no cover - jinja2 is a core dependency of reports
        raise ReportError("HTML reports need jinja2: pip install 'mgcare[report]'") from exc
    env = Environment(
        loader=PackageLoader("mgcare.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["css_string"] = _css_string
    return env


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document (inline CSS and SVG, print styles)."""
    labels = dict(report.labels)
    labels.setdefault("left_out_note", "")
    return _environment().get_template(TEMPLATE).render(r=report, t=labels)


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes. Raises ReportError if WeasyPrint or its system libraries
    (Pango, HarfBuzz) are missing."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise ReportError(
            "PDF reports need WeasyPrint and its system libraries (Pango): "
            f"pip install 'mgcare[report]' and see the README ({type(exc).__name__}: {exc})".splitlines()[
                0
            ]
        ) from None
    html = render_html(report)
    try:
        pdf = weasyprint.HTML(string=html, base_url=None).write_pdf()
    except OSError as exc:
        raise ReportError(f"PDF rendering failed: {exc}".splitlines()[0]) from None
    if not isinstance(pdf, bytes):
        raise ReportError("PDF rendering produced no document")
    return pdf
