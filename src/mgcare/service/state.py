"""Everything built once at start-up and shared by every request of one worker."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.requests import Request

from mgcare.diet.foods import FoodDatabase
from mgcare.knowledge import Knowledge
from mgcare.service.cds.definitions import CdsService
from mgcare.service.cds.hooks import HookRunner
from mgcare.service.feedback import FeedbackStore
from mgcare.service.settings import Settings


@dataclass(frozen=True)
class ServiceState:
    settings: Settings
    knowledge: Knowledge
    foods: FoodDatabase
    services: dict[str, CdsService]
    discovery_json: bytes
    knowledge_json: bytes
    runner: HookRunner
    feedback: FeedbackStore
    http: httpx.AsyncClient

    def base_url(self, request: Request) -> str:
        """Absolute base for links in cards: the configured public URL, else this request's."""
        if self.settings.public_base_url is not None:
            return self.settings.public_base_url
        return str(request.base_url).rstrip("/")


def state_of(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.mgcare
    return state
