"""Mount the bilingual web app on the service's FastAPI application.

Everything a page needs that does not depend on the request is built here, once per worker:
the store engine (migrated), the compiled Jinja templates, the message catalogue, the drug and
condition search lists and the evidence pages (which are the same for everyone, so they are
rendered to bytes now and served as they are).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.staticfiles import StaticFiles

from mgcare import __version__
from mgcare.diet.foods import FoodDatabase
from mgcare.i18n import Lang
from mgcare.knowledge import Knowledge
from mgcare.service.settings import Settings
from mgcare.web.dashboard import claims_by_code
from mgcare.web.i18n import Catalogue, load_catalogue
from mgcare.web.intake import IntakeCache
from mgcare.web.lookup import NameIndex, condition_index, drug_index
from mgcare.web.storage import WebStore

log = logging.getLogger("mgcare.web")

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@dataclass
class WebState:
    """Built once at start-up and shared by every request of one worker."""

    settings: Settings
    knowledge: Knowledge
    foods: FoodDatabase
    store: WebStore
    env: Environment
    catalogue: Catalogue
    claims: dict[str, tuple[str, ...]]
    drugs: NameIndex
    conditions: NameIndex
    intake: IntakeCache
    pages: dict[tuple[str, Lang], bytes] = field(default_factory=dict)

    def today(self) -> date:
        """The assessment date: the service's configured as-of date, else today."""
        return self.settings.as_of or date.today()


def make_environment() -> Environment:
    """Templates compiled once; autoescaped; unknown names fail loudly in tests."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        cache_size=-1,
    )
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
    return env


def mount(app: FastAPI, settings: Settings) -> None:
    """Add the web routes (under /app), templates and static files to `app`."""
    from mgcare.web.routes import prerender_evidence, router

    service = app.state.mgcare
    state = WebState(
        settings=settings,
        knowledge=service.knowledge,
        foods=service.foods,
        store=WebStore(),
        env=make_environment(),
        catalogue=load_catalogue(),
        claims=claims_by_code(service.knowledge),
        drugs=drug_index(service.knowledge),
        conditions=condition_index(service.knowledge),
        intake=IntakeCache(service.knowledge, service.foods),
    )
    app.state.mgcare_web = state
    prerender_evidence(state)
    app.mount("/app/static", StaticFiles(directory=str(STATIC)), name="web-static")
    app.include_router(router)
    log.info(
        "web app mounted at /app (knowledge %s, mgcare %s)", state.knowledge.version, __version__
    )


def web_state(app: Any) -> WebState:
    state: WebState = app.state.mgcare_web
    return state
