"""`mgcare db ...`: migrate, import, export and back up the store (filled in by issue 5 work)."""

from __future__ import annotations

import typer

db_app = typer.Typer(
    help="The mgcare database: migrate, import, export, back up.",
    no_args_is_help=True,
    add_completion=False,
)
