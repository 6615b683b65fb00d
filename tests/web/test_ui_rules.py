"""Rules of the web UI that need no server: the message catalogue is complete in both
languages, colours meet WCAG AA, language choice, CSRF checks, drug/condition search, and
the memoised intake gives the same assessment as `mgcare.views.assessment`."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mgcare.diet.foods import load_food_database
from mgcare.knowledge import Knowledge
from mgcare.model import PatientRecord, Person
from mgcare.views import assessment
from mgcare.web.csrf import form_allowed, new_token
from mgcare.web.i18n import CATALOGUE, choose_lang, load_catalogue
from mgcare.web.intake import IntakeCache
from mgcare.web.lookup import condition_index, drug_index

WEB = Path(__file__).resolve().parents[2] / "src" / "mgcare" / "web"
CSS = WEB / "static" / "app.css"
TEXT_PAIRS = [
    ("ink", "bg"),
    ("muted", "bg"),
    ("ink", "card-bg"),
    ("muted", "card-bg"),
    ("link", "bg"),
    ("link", "card-bg"),
    ("link-visited", "bg"),
    ("header-ink", "header-bg"),
    ("button-ink", "button-bg"),
    ("button2-ink", "button2-bg"),
    ("error", "bg"),
    ("error", "error-bg"),
    ("ink", "error-bg"),
    ("warning-ink", "warning-bg"),
    ("critical-ink", "critical-bg"),
    ("info-ink", "info-bg"),
    ("ok-ink", "ok-bg"),
    ("none-ink", "none-bg"),
    ("selected-ink", "selected-bg"),
]
NON_TEXT_PAIRS = [("focus", "bg"), ("focus", "card-bg"), ("line", "bg"), ("error", "bg")]


def colours() -> dict[str, str]:
    root = CSS.read_text(encoding="utf-8").split(":root {", 1)[1].split("}", 1)[0]
    return dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;", root))


def luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_calculation_matches_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_text_colours_meet_wcag_aa(fg: str, bg: str) -> None:
    palette = colours()
    assert contrast(palette[fg], palette[bg]) >= 4.5, (fg, bg)


@pytest.mark.parametrize(("fg", "bg"), NON_TEXT_PAIRS)
def test_focus_ring_and_borders_meet_wcag_aa_non_text(fg: str, bg: str) -> None:
    palette = colours()
    assert contrast(palette[fg], palette[bg]) >= 3.0, (fg, bg)


def test_every_css_colour_is_in_a_checked_pair() -> None:
    checked = {name for pair in TEXT_PAIRS + NON_TEXT_PAIRS for name in pair}
    assert set(colours()) == checked


def test_catalogue_has_every_key_in_both_languages() -> None:
    catalogue = load_catalogue()
    assert set(catalogue.texts["en"]) == set(catalogue.texts["zh"])
    for lang in ("en", "zh"):
        for key, text in catalogue.texts[lang].items():
            assert text.strip(), (lang, key)
    for key in catalogue.texts["en"]:
        en = set(re.findall(r"\{(\w+)\}", catalogue.texts["en"][key]))
        zh = set(re.findall(r"\{(\w+)\}", catalogue.texts["zh"][key]))
        assert en == zh, key


def test_every_key_used_by_templates_and_code_exists() -> None:
    keys = set(load_catalogue().texts["en"])
    used: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\(["']([a-z0-9_]+)["'][,)]""", text))
        used |= set(re.findall(r"""Msg\.of\(["']([a-z0-9_]+)["']""", text))
        used |= set(re.findall(r"""text\(lang, ["']([a-z0-9_]+)["']""", text))
    assert used, "no keys found: the pattern is wrong"
    assert used - keys == set()
    for prefix, names in {
        "saved_": ("person", "lab", "medication", "condition", "food"),
        "severity_": ("critical", "warning", "info"),
    }.items():
        assert {prefix + n for n in names} <= keys
    for kind in ("store_error", "not_found", "forbidden", "server_error", "report_error"):
        assert {f"{kind}_title", f"{kind}_text"} <= keys
    assert CATALOGUE.name == "messages.toml"


def test_language_choice() -> None:
    assert choose_lang("zh", "en", "en") == "zh"
    assert choose_lang(None, "zh", "en") == "zh"
    assert choose_lang("xx", None, "zh-TW,en;q=0.8") == "zh"
    assert choose_lang(None, None, "en;q=0.4, zh-CN;q=0.9") == "zh"
    assert choose_lang(None, None, "fr, de") == "en"
    assert choose_lang(None, None, None) == "en"
    # `mgcare serve --lang zh`: the service default applies when the browser states nothing usable.
    assert choose_lang(None, None, "fr, de", "zh") == "zh"
    assert choose_lang(None, None, "en", "zh") == "en"


@given(st.text(max_size=200))
def test_language_choice_never_fails(header: str) -> None:
    assert choose_lang(None, None, header) in ("en", "zh")


def test_csrf_rules() -> None:
    token = new_token()
    assert form_allowed(token, token, None, "testserver")
    assert form_allowed(token, token, "http://testserver", "testserver")
    assert not form_allowed(token, token, "https://evil.example", "testserver")
    assert not form_allowed(token, token, "null", "testserver")
    assert not form_allowed(token, new_token(), None, "testserver")
    assert not form_allowed(None, token, None, "testserver")
    assert not form_allowed("short", "short", None, "testserver")
    assert not form_allowed(token, None, None, "testserver")


def test_drug_and_condition_search(knowledge: Knowledge) -> None:
    drugs = drug_index(knowledge)
    assert drugs.search("呋塞米", "zh")[0]["code"] == "furosemide"
    assert drugs.search("Furosemide", "en")[0]["class"] == "Loop diuretic"
    assert drugs.search("   ", "en") == []
    assert len(drugs.search("a", "en", limit=3)) <= 3
    conditions = condition_index(knowledge)
    assert conditions.search("房颤", "zh")[0]["code"] == "atrial-fibrillation"


def test_memoised_intake_gives_the_same_assessment(knowledge: Knowledge) -> None:
    foods = load_food_database()
    cache = IntakeCache(knowledge, foods)
    record = PatientRecord(
        person=Person(birth_date=date(1970, 1, 1), sex="female"),
        food_log=(
            {"food": "11457", "amount": 100, "unit": "g"},
            {"food": "rice", "amount": 1, "unit": "cup"},
        ),
    )
    as_of = date(2026, 11, 25)
    for lang in ("en", "zh"):
        expected = assessment(record, knowledge, foods, as_of, lang)
        assert cache.assessment(record, as_of, lang) == expected
        assert cache.assessment(record, as_of, lang) == expected
    bare = PatientRecord(
        person=Person(sex="female"), food_log=({"food": "11457", "amount": 1, "unit": "g"},)
    )
    with pytest.raises(ValueError, match="birth date"):
        cache.assessment(bare, as_of, "en")
