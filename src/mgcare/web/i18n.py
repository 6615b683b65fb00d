"""The web app's interface words in English and Simplified Chinese, and language choice.

Clinical text never lives here: it comes from the knowledge pack. This catalogue holds only
labels, headings, form messages and page chrome, loaded once at start-up from
`messages.toml` (one table per key with `en` and `zh`, so translators see both side by side).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgcare.i18n import Lang

CATALOGUE = Path(__file__).resolve().parent / "messages.toml"
LANG_COOKIE = "mgcare_lang"
HTML_LANG: dict[Lang, str] = {"en": "en", "zh": "zh-Hans"}


class CatalogueError(ValueError):
    """The message catalogue is malformed (a key without both languages)."""


@dataclass(frozen=True, slots=True)
class Msg:
    """A message key and its parameters, rendered later in the reader's language."""

    key: str
    params: Mapping[str, Any]

    @staticmethod
    def of(key: str, **params: Any) -> Msg:
        return Msg(key, params)


@dataclass(frozen=True)
class Catalogue:
    """Every UI string by key and language."""

    texts: Mapping[Lang, Mapping[str, str]]

    def text(self, lang: Lang, key: str, **params: Any) -> str:
        """The text for `key` in `lang`, with `{name}` placeholders filled from `params`."""
        template = self.texts[lang][key]
        return template.format(**params) if params else template

    def render(self, lang: Lang, message: Msg) -> str:
        return self.text(lang, message.key, **message.params)

    def table(self, lang: Lang) -> Mapping[str, str]:
        return self.texts[lang]


def load_catalogue(path: Path = CATALOGUE) -> Catalogue:
    """Read and check the catalogue: every key needs non-empty `en` and `zh`."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    en: dict[str, str] = {}
    zh: dict[str, str] = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict):
            raise CatalogueError(f"{path.name}: {key} must be a table with en and zh")
        for lang, target in (("en", en), ("zh", zh)):
            value = entry.get(lang)
            if not isinstance(value, str) or not value.strip():
                raise CatalogueError(f"{path.name}: {key} has no {lang} text")
            target[key] = value
    return Catalogue({"en": en, "zh": zh})


def choose_lang(
    query: str | None, cookie: str | None, accept_language: str | None, default: Lang = "en"
) -> Lang:
    """`?lang=` wins, then the cookie, then the browser's first zh*/en* preference, then the
    service's default (`mgcare serve --lang`)."""
    for value in (query, cookie):
        if value in ("en", "zh"):
            return value  # type: ignore[return-value]
    ranked: list[tuple[float, int, Lang]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().lower().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > 0 and tag.startswith(("zh", "en")):
            ranked.append((-quality, position, "zh" if tag.startswith("zh") else "en"))
    return min(ranked)[2] if ranked else default
