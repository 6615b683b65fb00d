"""The knowledge pack: cited data files, loaded and validated once, optionally site-overridden."""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mgcare.knowledge.models import (
    Claims,
    Codes,
    CtcaeGrade,
    Drugs,
    Evidence,
    Fact,
    Intakes,
    Mechanisms,
    Renal,
    Salts,
    Texts,
    Thresholds,
    Treatment,
    Units,
)
from mgcare.knowledge.pack import (
    FINDING_CODES,
    RECOMMENDATION_CODES,
    SITE_SOURCE,
    Knowledge,
    KnowledgeError,
    validate_cross_references,
)

__all__ = [
    "FINDING_CODES",
    "RECOMMENDATION_CODES",
    "Knowledge",
    "KnowledgeError",
    "load_knowledge",
    "read_pack_file",
]

SITE_CONFIG_ENV = "MGCARE_SITE_CONFIG"


def read_pack_file(name: str) -> dict[str, Any]:
    """Parse one TOML file of the shipped pack."""
    resource = files("mgcare.knowledge").joinpath("data", name)
    try:
        return tomllib.loads(resource.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeError(f"knowledge file {name}: {exc}") from exc


def _apply_site_override(thresholds: dict[str, Any], site_path: Path) -> tuple[dict[str, Any], str]:
    """Replace threshold values with a site's own; every replaced fact names the site rule."""
    try:
        site = tomllib.loads(site_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeError(f"site override {site_path}: {exc}") from exc
    name = site.get("name")
    if not isinstance(name, str) or not name.strip():
        raise KnowledgeError(f"site override {site_path}: a top-level `name` is required")
    overrides = site.get("thresholds", {})
    if not isinstance(overrides, dict):
        raise KnowledgeError(f"site override {site_path}: [thresholds] must be a table")
    merged = {
        key: dict(value) if isinstance(value, dict) else value for key, value in thresholds.items()
    }
    merged.setdefault("potassium", {})
    for section, facts_table in overrides.items():
        if section not in merged or not isinstance(facts_table, dict):
            raise KnowledgeError(f"site override {site_path}: unknown section thresholds.{section}")
        for fact_name, new in facts_table.items():
            if not isinstance(new, dict) or "value" not in new:
                raise KnowledgeError(
                    f"site override {site_path}: thresholds.{section}.{fact_name} needs a value"
                )
            base = merged[section].get(fact_name)
            if base is None and not (section == "potassium" and fact_name == "lower_limit"):
                raise KnowledgeError(
                    f"site override {site_path}: unknown threshold thresholds.{section}.{fact_name}"
                )
            unit = new.get("unit", base["unit"] if base else None)
            if base is not None and unit != base["unit"]:
                raise KnowledgeError(
                    f"site override {site_path}: thresholds.{section}.{fact_name} must be in "
                    f"{base['unit']}, got {unit}"
                )
            if unit is None:
                raise KnowledgeError(
                    f"site override {site_path}: thresholds.{section}.{fact_name} needs a unit"
                )
            merged[section][fact_name] = {
                "value": new["value"],
                "unit": unit,
                "source": SITE_SOURCE,
                "status": "SITE",
                "note": str(new.get("note", f"site rule: {name}")),
                "site_rule": name,
            }
    return merged, name


def _build(site_path: Path | None) -> Knowledge:
    raw_thresholds = read_pack_file("thresholds.toml")
    site_rule: str | None = None
    if site_path is not None:
        raw_thresholds, site_rule = _apply_site_override(raw_thresholds, site_path)
    try:
        ctcae_raw = read_pack_file("ctcae.toml")
        knowledge = Knowledge(
            thresholds=Thresholds.model_validate(raw_thresholds),
            ctcae=tuple(CtcaeGrade.model_validate(g) for g in ctcae_raw["grade"]),
            units=Units.model_validate(read_pack_file("units.toml")),
            codes=Codes.model_validate(read_pack_file("codes.toml")),
            renal=Renal.model_validate(read_pack_file("renal.toml")),
            intakes=Intakes.model_validate(read_pack_file("intakes.toml")),
            drugs=Drugs.model_validate(read_pack_file("drugs.toml")),
            salts=Salts.model_validate(read_pack_file("salts.toml")),
            treatment=Treatment.model_validate(read_pack_file("treatment.toml")),
            texts=Texts.model_validate(read_pack_file("texts.toml")),
            evidence=Evidence.model_validate(read_pack_file("evidence.toml")),
            claims=Claims.model_validate(read_pack_file("claims.toml")),
            mechanisms=Mechanisms.model_validate(read_pack_file("mechanisms.toml")),
            version=str(raw_thresholds["version"]) + (f"+site.{site_rule}" if site_rule else ""),
            site_rule=site_rule,
        )
    except ValidationError as exc:
        raise KnowledgeError(f"knowledge pack is invalid: {exc}") from exc
    validate_cross_references(knowledge)
    return knowledge


@lru_cache(maxsize=8)
def _load_cached(site_path: str | None) -> Knowledge:
    return _build(Path(site_path) if site_path else None)


def load_knowledge(site_config: Path | str | None = None) -> Knowledge:
    """The validated pack, with the site override from the argument or $MGCARE_SITE_CONFIG."""
    chosen = site_config if site_config is not None else os.environ.get(SITE_CONFIG_ENV)
    return _load_cached(str(Path(chosen).resolve()) if chosen else None)


def site_fact(name: str, value: float, unit: str, site: str) -> Fact:
    """A fact set by a site (used by tests and callers that build overrides in code)."""
    return Fact(value=value, unit=unit, source=SITE_SOURCE, status="SITE", site_rule=site)
