"""The issue 5 flows in real headless Chromium, as a user clicks and types them.

Create a person, add Mg results (the missing-unit error first), see status and chart, log foods
by searching as you type (English and Chinese, keyboard and mouse), add a medication by its
Chinese name, switch language, download the PDF, follow evidence links; and an accessibility
smoke test over every page in both languages. Expected clinical words come from the knowledge
pack and the interface catalogue, never from literals here. Fixtures: `conftest.py`.
"""

from __future__ import annotations

import io
import itertools
import re
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mgcare.diet.foods import load_food_database
from mgcare.i18n import MAGNESIUM_STATUS, Lang
from mgcare.knowledge import Knowledge
from mgcare.model import PatientRecord
from mgcare.rules import assess
from mgcare.units import check_value
from tests.web.browser.conftest import Server, Watch

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

pytestmark = pytest.mark.slow

NAME = "王芳"
SERIAL = itertools.count(1)
BIRTH = "1958-03-14"
CJK = re.compile(r"[\u3400-\u9fff]")
DASHBOARD = re.compile(r"/app/persons/(\d+)/?(\?.*)?$")
SUBMIT = "button[type=submit], input[type=submit], button:not([type])"
FORM_PAGES: tuple[str, ...] = ("persons/{id}/labs/new", "persons/{id}/medications/new")
FORM_PAGES += ("persons/{id}/conditions/new", "persons/{id}/food/new")
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")

# An accessible name as the accname rules give it for form controls: aria-labelledby,
# aria-label, <label>, title. Returns the controls that have none.
UNNAMED_CONTROLS_JS = """
els => {
  const text = s => (s || '').replace(/\\s+/g, ' ').trim();
  const named = el => {
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    if (ids.some(id => text((document.getElementById(id) || {}).textContent))) return true;
    if (text(el.getAttribute('aria-label'))) return true;
    if (el.labels && Array.from(el.labels).some(label => text(label.textContent))) return true;
    return text(el.getAttribute('title')) !== '';
  };
  return els
    .filter(el => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
    .filter(el => !named(el))
    .map(el => el.outerHTML.slice(0, 120));
}
"""


# --- helpers -----------------------------------------------------------------------------------


def days_ago(days: int) -> str:
    return (date.today() - timedelta(days=days)).isoformat()


def html_lang(page: Page) -> str | None:
    return page.locator("html").get_attribute("lang")


def submit(page: Page, form: str) -> int:
    """Click the form's submit button and wait until the answer page has loaded; the HTTP
    status of the POST itself (303 before the redirect is followed, or 422)."""
    posting = page.expect_response(lambda r: r.request.method == "POST")
    with page.expect_navigation(), posting as posted:
        page.locator(form).locator(SUBMIT).first.click()
    return posted.value.status


def person_id(page: Page) -> int:
    match = DASHBOARD.search(page.url)
    assert match, f"not on a dashboard: {page.url}"
    return int(match.group(1))


def unique_name() -> str:
    """王芳 plus a number: tests share one store and must find their own person."""
    return f"{NAME}{next(SERIAL):03d}"


def create_person(page: Page, name: str | None = None) -> int:
    """Person list → New person → fill the form → the new dashboard. Returns the store id."""
    name = name or unique_name()
    page.goto("/app/")
    page.locator("#new-person").click()
    page.wait_for_url("**/app/persons/new*")
    form = page.locator("#person-form")
    form.locator("[name=display_name]").fill(name)
    form.locator("[name=sex]").select_option("female")
    form.locator("[name=birth_date]").fill(BIRTH)
    status = submit(page, "#person-form")
    assert status == 303, f"creating a person answered {status}"
    page.wait_for_url(DASHBOARD)
    return person_id(page)


def open_form(page: Page, pid: int, button: str, form: str) -> Locator:
    page.goto(f"/app/persons/{pid}")
    page.locator(button).click()
    page.wait_for_selector(form)
    return page.locator(form)


def fill_lab(form: Locator, value: str, unit: str | None, day: str) -> None:
    form.locator("[name=analyte]").select_option("magnesium")
    form.locator("[name=value]").fill(value)
    if unit is not None:
        form.locator("[name=unit]").select_option(unit)
    form.locator("[name=effective]").fill(day)


def add_mg(page: Page, pid: int, value: str, unit: str, day: str) -> None:
    form = open_form(page, pid, "#add-lab", "#lab-form")
    fill_lab(form, value, unit, day)
    status = submit(page, "#lab-form")
    assert status == 303, f"saving Mg {value} {unit} answered {status}: {page.inner_text('body')}"
    page.wait_for_url(DASHBOARD)


def stored_labs(server: Server, pid: int) -> int:
    with sqlite3.connect(server.database) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM lab_results WHERE person_id = ?", (pid,)
        ).fetchone()
    return int(count)


def trend_points(page: Page) -> int:
    """Data points drawn in the Mg trend chart: one `g.point` marker per stored result
    (`mgcare.charts.mg_trend_svg`; the marker's shape says inside/below/above the band)."""
    chart = page.locator("#mg-trend svg")
    assert chart.count() == 1, "no SVG trend chart in #mg-trend"
    return chart.locator("g.point").count()


def expected_status(knowledge: Knowledge, value: float, unit: str, day: str) -> str:
    """The status the pure core gives this one result (DESIGN.md section 3)."""
    lab = {"analyte": "magnesium", "value": value, "unit": unit, "effective": day}
    person = {"id": "browser", "birth_date": BIRTH, "sex": "female"}
    record = PatientRecord.model_validate({"person": person, "labs": [lab]})
    serum = assess(record, knowledge, as_of=date.today()).serum_magnesium
    assert serum is not None
    return serum.status


def status_words(knowledge: Knowledge, status: str, lang: Lang) -> str:
    """How the page should name `status`: the pack's finding wording where the status has a
    finding (e.g. "Hypomagnesaemia" from texts.toml), else the interface label."""
    if status == "normal":
        return MAGNESIUM_STATUS[status].get(lang)
    text = knowledge.finding_text(status)
    return re.split("[:：]", text.summary_zh if lang == "zh" else text.summary_en)[0]


def intake_numbers(page: Page) -> list[float]:
    return [float(n.replace(",", ".")) for n in NUMBER.findall(page.inner_text("#intake"))]


def pick_food(page: Page, query: str, wanted: str, keyboard: bool) -> str:
    """Type `query` into the food search, choose the suggestion showing `wanted` with the
    arrow keys and Enter (or a click); return the food number put in the hidden field."""
    search = page.locator("#food-search")
    search.press_sequentially(query, delay=40)
    options = page.locator("#food-suggestions [role=option]")
    options.filter(has_text=wanted).first.wait_for(state="visible")
    assert search.get_attribute("aria-expanded") == "true"
    if keyboard:
        index = next(i for i, text in enumerate(options.all_inner_texts()) if wanted in text)
        for _ in range(index + 1):
            search.press("ArrowDown")
        active = search.get_attribute("aria-activedescendant")
        assert active, "ArrowDown did not set aria-activedescendant on #food-search"
        highlighted = page.locator(f"[id='{active}']")
        assert highlighted.get_attribute("role") == "option"
        assert wanted in highlighted.inner_text()
        search.press("Enter")
        assert "/food/new" in page.url, "Enter on a suggestion submitted the form"
    else:
        options.filter(has_text=wanted).first.click()
    food_id = page.locator("#food-form [name=food_id]").input_value()
    assert food_id, f"choosing {wanted!r} for {query!r} left food_id empty"
    return food_id


def log_food(page: Page, pid: int, query: str, wanted: str, grams: str, keyboard: bool) -> str:
    form = open_form(page, pid, "#add-food", "#food-form")
    food_id = pick_food(page, query, wanted, keyboard)
    form.locator("[name=grams]").fill(grams)
    form.locator("[name=date]").fill(date.today().isoformat())
    status = submit(page, "#food-form")
    assert status == 303, f"logging {query} answered {status}: {page.inner_text('body')}"
    page.wait_for_url(DASHBOARD)
    return food_id


def switch_language(page: Page, to: str) -> None:
    page.locator("#lang-switch").click()
    page.wait_for_function(f"document.documentElement.lang === {to!r}")


# --- flows -------------------------------------------------------------------------------------


def test_create_person_with_a_chinese_name_lands_on_the_dashboard(page: Page) -> None:
    name = unique_name()
    pid = create_person(page, name)
    assert page.locator("#person-name").inner_text().strip() == name
    assert page.locator("#mg-status").inner_text().strip(), "#mg-status is empty"
    assert page.locator("#disclaimer").is_visible()
    page.goto("/app/")
    row = page.locator("#person-list").get_by_role("link", name=name, exact=True)
    assert row.is_visible(), "the new person is not in #person-list"
    row.click()
    page.wait_for_url(DASHBOARD)
    assert person_id(page) == pid


def test_mg_result_needs_a_unit_then_shows_status_and_trend(
    page: Page, server: Server, watch: Watch, knowledge: Knowledge
) -> None:
    pid = create_person(page)
    form = open_form(page, pid, "#add-lab", "#lab-form")
    unit = form.locator("[name=unit]")
    assert unit.input_value() == "", "a unit is preselected on the lab form"
    first_day, second_day = days_ago(30), days_ago(2)
    fill_lab(form, "1.2", None, first_day)
    watch.allowed_status.add(422)
    assert submit(page, "#lab-form") == 422

    error = page.locator("#error-unit")
    assert error.is_visible() and error.inner_text().strip(), "no visible #error-unit"
    unit = page.locator("#lab-form [name=unit]")
    beside = unit.locator("xpath=..").locator("#error-unit")
    assert beside.count() == 1, "#error-unit is not next to the unit field"
    assert unit.get_attribute("aria-invalid") == "true"
    assert "error-unit" in (unit.get_attribute("aria-describedby") or "").split()
    focused = page.evaluate("document.activeElement && document.activeElement.name")
    alert = page.locator("[role=alert]")
    assert focused == "unit" or (alert.count() > 0 and alert.first.is_visible()), (
        "the unit error is neither focused nor announced in a role=alert summary"
    )
    assert page.locator("#lab-form [name=value]").input_value() == "1.2", "value not kept"
    assert stored_labs(server, pid) == 0, "a result without a unit was stored"

    unit.select_option("mg/dL")
    assert submit(page, "#lab-form") == 303
    page.wait_for_url(DASHBOARD)
    status = expected_status(knowledge, 1.2, "mg/dL", first_day)
    shown = page.locator("#mg-status").inner_text()
    assert "1.2" in shown and "mg/dL" in shown, shown
    assert status_words(knowledge, status, "en").casefold() in shown.casefold(), shown
    assert page.locator(f"#findings [data-code='{status}']").count() == 1
    assert trend_points(page) == 1
    assert stored_labs(server, pid) == 1

    add_mg(page, pid, "2.0", "mg/dL", second_day)
    assert trend_points(page) == 2
    status = expected_status(knowledge, 2.0, "mg/dL", second_day)
    shown = page.locator("#mg-status").inner_text()
    assert "2" in shown and status_words(knowledge, status, "en").casefold() in shown.casefold()


def test_implausible_mg_is_refused_and_a_suspect_one_needs_confirming(
    page: Page, server: Server, watch: Watch, knowledge: Knowledge
) -> None:
    impossible, suspect = 18.0, 1.8  # mmol/L; the validation module must agree:
    assert check_value(impossible, "mmol/L", "magnesium", knowledge).implausible
    assert check_value(suspect, "mmol/L", "magnesium", knowledge).suspect
    watch.allowed_status.add(422)
    pid = create_person(page)
    form = open_form(page, pid, "#add-lab", "#lab-form")
    fill_lab(form, f"{impossible:g}", "mmol/L", days_ago(3))
    assert submit(page, "#lab-form") == 422
    assert page.locator("#error-value").is_visible()
    assert page.locator("#lab-form [name=value]").get_attribute("aria-invalid") == "true"
    assert page.locator("#confirm-implausible").count() == 0, "an impossible value can be confirmed"

    form = page.locator("#lab-form")
    fill_lab(form, f"{suspect:g}", "mmol/L", days_ago(3))
    assert submit(page, "#lab-form") == 422
    warning = page.locator("#warning-value")
    assert warning.is_visible() and "mg/dL" in warning.inner_text()
    assert stored_labs(server, pid) == 0, "a suspect value was stored before it was confirmed"
    page.locator("#confirm-implausible").check()
    assert submit(page, "#lab-form") == 303
    page.wait_for_url(DASHBOARD)
    assert stored_labs(server, pid) == 1
    assert f"{suspect:g}" in page.locator("#mg-status").inner_text()


def test_food_search_as_you_type_in_english_and_chinese(page: Page) -> None:
    foods = load_food_database()
    pid = create_person(page)
    first = log_food(page, pid, "spin", "Spinach, raw", "100", keyboard=True)
    assert foods.get(first).name_en == "Spinach, raw"
    per_100g = foods.get(first).magnesium_mg_per_100g
    assert per_100g
    numbers = intake_numbers(page)
    assert any(abs(n - per_100g) <= 1 for n in numbers), (per_100g, numbers)

    page.goto(f"/app/persons/{pid}?lang=zh")
    assert html_lang(page) == "zh-Hans"
    second = log_food(page, pid, "菠菜", "菠菜", "50", keyboard=False)
    food = foods.get(second)
    assert food.name_zh and "菠菜" in food.name_zh + "".join(food.aliases_zh)
    total = per_100g + (food.magnesium_mg_per_100g or 0) / 2
    numbers = intake_numbers(page)
    assert any(abs(n - total) <= 1 for n in numbers), (total, numbers)


def test_medication_found_by_chinese_name_adds_a_finding(page: Page, knowledge: Knowledge) -> None:
    pid = create_person(page)
    form = open_form(page, pid, "#add-medication", "#medication-form")
    search = page.locator("#medication-search")
    search.press_sequentially("呋塞米", delay=40)
    option = page.locator("#medication-suggestions [role=option]").first
    option.wait_for(state="visible")
    assert "furosemide" in (option.get_attribute("data-value") or "").casefold() + (
        option.inner_text().casefold()
    )
    option.click()
    form.locator("[name=start]").fill(days_ago(400))
    assert submit(page, "#medication-form") == 303
    page.wait_for_url(DASHBOARD)
    assert "furosemide" in page.inner_text("#medications").casefold()
    assert page.locator("#findings [data-code='depleting-medication']").count() >= 1


def test_removing_a_mistyped_mg_result_changes_the_status(
    page: Page, server: Server, knowledge: Knowledge
) -> None:
    """Mg 0.45 typed instead of 0.54: Remove (named after the result) → confirm with a reason →
    the dashboard shows the status of the remaining result and one trend point."""
    pid = create_person(page)
    good_day, wrong_day = days_ago(20), days_ago(2)
    add_mg(page, pid, "0.84", "mmol/L", good_day)
    add_mg(page, pid, "0.45", "mmol/L", wrong_day)
    wrong = expected_status(knowledge, 0.45, "mmol/L", wrong_day)
    right = expected_status(knowledge, 0.84, "mmol/L", good_day)
    assert wrong != right
    shown = page.locator("#mg-status [data-status]")
    assert shown.get_attribute("data-status") == wrong
    assert trend_points(page) == 2

    button = page.get_by_role(
        "button", name=f"Remove serum magnesium 0.45 mmol/L of {wrong_day}", exact=True
    )
    assert button.count() == 1, "no Remove button named after the wrong result"
    button.click()
    page.wait_for_url(re.compile(r"/app/persons/\d+/labs/\d+/remove"))
    assert "0.45" in page.inner_text("#removed-entry")
    page.get_by_label("Reason for removing").fill("typed 0.45 instead of 0.54")
    assert submit(page, "#remove-form") == 303
    page.wait_for_url(DASHBOARD)
    assert page.locator("#removed-notice").is_visible()
    assert shown.get_attribute("data-status") == right
    assert "0.84" in page.inner_text("#mg-status")
    assert trend_points(page) == 1
    assert stored_labs(server, pid) == 1


def test_language_switch_sets_lang_and_persists(
    page: Page, browser: Browser, server: Server
) -> None:
    page.goto("/app/")
    assert html_lang(page) == "en"
    assert not CJK.search(page.locator("h1").first.inner_text())
    switch_language(page, "zh-Hans")
    assert CJK.search(page.locator("h1").first.inner_text()), "heading not in Chinese"
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies.get("mgcare_lang") == "zh"
    for path in ("/app/persons/new", "/app/evidence"):
        page.goto(path)  # no ?lang: the cookie carries it
        assert html_lang(page) == "zh-Hans", path
        assert CJK.search(page.locator("h1").first.inner_text()), path
    switch_language(page, "en")
    page.goto("/app/")
    assert html_lang(page) == "en"
    assert not CJK.search(page.locator("h1").first.inner_text())

    chinese = browser.new_context(base_url=server.base, locale="zh-CN")
    try:
        other = chinese.new_page()
        other.goto("/app/")
        assert html_lang(other) == "zh-Hans", "Accept-Language zh-CN did not give Chinese"
    finally:
        chinese.close()


def test_pdf_download_has_the_name_and_the_mg_value(page: Page) -> None:
    from pypdf import PdfReader

    name = unique_name()
    pid = create_person(page, name)
    add_mg(page, pid, "1.2", "mg/dL", days_ago(5))
    with page.expect_download() as downloading:
        page.locator("#download-pdf").click()
    download = downloading.value
    assert download.suggested_filename.endswith(".pdf")
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF")
    text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)
    assert name in text, "the person's Chinese name is not extractable from the PDF"
    assert "1.2" in text


def test_evidence_figure_and_finding_links(page: Page, knowledge: Knowledge) -> None:
    page.goto("/app/evidence/figure-1")
    figure = page.locator("svg")
    assert figure.count() >= 1 and figure.first.is_visible()
    assert figure.first.locator("text").count() > 0, "Figure 1 has no labels"

    pid = create_person(page)
    add_mg(page, pid, "1.2", "mg/dL", days_ago(5))
    links = page.locator("#findings [data-code] a[href*='/app/evidence']")
    assert links.count() > 0, "no evidence links on the findings"
    href = links.first.get_attribute("href") or ""
    fragment = href.partition("#")[2]
    assert fragment, f"evidence link without a fragment: {href}"
    links.first.click()
    page.wait_for_url(re.compile(r"/app/evidence(/claims)?(\?[^#]*)?#"))
    target = page.locator(f"[id='{fragment}']")
    assert target.count() == 1, f"no element with id {fragment!r} on {page.url}"
    known = set(knowledge.references) | set(knowledge.claims_by_id)
    assert fragment in known, f"{fragment!r} is neither a reference nor a claim id"
    if fragment in knowledge.references and "/claims" not in page.url:
        doi = knowledge.references[fragment].doi
        if doi:
            assert target.locator("a[href*='doi.org']").count() >= 1, f"{fragment}: no DOI link"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_is_named_and_clean(page: Page, watch: Watch, lang: str) -> None:
    pid = create_person(page)
    pages = ["", "persons/new", f"persons/{pid}"]
    pages += [path.format(id=pid) for path in FORM_PAGES]
    pages += ["evidence", "evidence/claims", "evidence/figure-1"]
    want = "zh-Hans" if lang == "zh" else "en"
    for path in pages:
        response = page.goto(f"/app/{path}?lang={lang}")
        assert response is not None and response.status == 200, path
        assert html_lang(page) == want, path
        assert page.locator("#lang-switch").count() == 1, f"{path}: no #lang-switch"
        unnamed = page.locator("input:visible, select:visible, textarea:visible").evaluate_all(
            UNNAMED_CONTROLS_JS
        )
        assert not unnamed, f"{path}: controls without an accessible name: {unnamed}"
        assert "Traceback" not in page.content()

    watch.allowed_status.add(404)
    missing = page.goto(f"/app/persons/{pid + 10_000}?lang={lang}")
    assert missing is not None and missing.status == 404
    assert "Traceback" not in page.content()
    assert html_lang(page) == want


def test_the_watchers_catch_errors_and_unnamed_controls(
    context: BrowserContext, watch: Watch
) -> None:
    """The checks every other test relies on can fail: a script error, a console error, an
    unlabelled input and a request to another host are all caught."""
    page = context.new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    page.on("request", watch.on_request)
    page.goto("/health")
    page.set_content(
        "<label for=a>Name</label><input id=a><input id=b aria-label=Search><input id=c>"
        "<label>Wrapped <select id=d></select></label>"
        "<script>console.error('bad'); fetch('http://cdn.invalid/x.js').catch(() => {});"
        "throw new Error('boom');</script>"
    )
    unnamed = page.locator("input:visible, select:visible").evaluate_all(UNNAMED_CONTROLS_JS)
    assert len(unnamed) == 1 and 'id="c"' in unnamed[0]
    page.wait_for_timeout(200)
    problems = "\n".join(watch.problems())
    assert "console error: bad" in problems
    assert "boom" in problems
    assert "cdn.invalid" in problems
    page.close()
