"""Mount the web pages on the service's FastAPI application (filled in by issue 5 work)."""

from __future__ import annotations

from fastapi import FastAPI

from mgcare.service.settings import Settings


def mount(app: FastAPI, settings: Settings) -> None:
    """Add the web routes, templates and static files to `app`."""
