"""The web pages under /app: person list, dashboard, forms, search, evidence, PDF.

Thin shell: forms are checked by `mgcare.web.forms`, the dashboard is arranged by
`mgcare.web.dashboard`, writes go through `mgcare.store.repository` (one transaction each,
so nothing is stored half-way). Forms follow POST -> 303 -> GET. Blocking store and assessment
work runs in the thread pool. Every failure becomes a page: 503 when the store cannot be used,
404 for an unknown person or page, 403 for a forged form, 500 (logged, no traceback) otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mgcare import __version__
from mgcare.charts import (
    GRADE_LABEL,
    IntakeBar,
    TrendPoint,
    intake_svg,
    mechanism_svg,
    mg_band_for,
    mg_trend_svg,
)
from mgcare.diet.search import search_foods
from mgcare.i18n import SEX, STATUS_LABEL, Lang
from mgcare.store import repository as repo
from mgcare.store.db import StoreUnavailable
from mgcare.views import food_hit
from mgcare.web.app import WebState, web_state
from mgcare.web.csrf import CSRF_COOKIE, CSRF_FIELD, form_allowed, new_token, usable_token
from mgcare.web.dashboard import (
    EntryIds,
    assess_record,
    build_dashboard,
    food_amount,
    listing_status,
    status_label,
)
from mgcare.web.forms import (
    Outcome,
    check_condition,
    check_food,
    check_lab,
    check_medication,
    check_person,
    unit_label,
)
from mgcare.web.i18n import HTML_LANG, LANG_COOKIE, Msg, choose_lang

log = logging.getLogger("mgcare.web")

COOKIE_PATH = "/app"
LANG_COOKIE_SECONDS = 365 * 24 * 3600
SEARCH_LIMIT = 10
LIST_LIMIT = 200
MAX_QUERY = 100
STATUS_FINDING = {"low-normal": "low-normal-magnesium"}
"""Magnesium status -> the finding code whose pack severity styles it (same name otherwise)."""


class NotFound(Exception):
    """An unknown person or page: a 404 page."""


class Forbidden(Exception):
    """A form without a valid CSRF token or from another origin: a 403 page."""


def base_context(web: WebState, lang: Lang, path: str, csrf: str) -> dict[str, Any]:
    """What every template needs: language, words, CSRF token, versions and the disclaimer."""
    other: Lang = "en" if lang == "zh" else "zh"
    catalogue = web.catalogue
    knowledge = web.knowledge

    def t(key: str, **params: Any) -> str:
        return catalogue.text(lang, key, **params)

    def msg(message: Msg) -> str:
        return catalogue.render(lang, message)

    return {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "other_lang": other,
        "other_html_lang": HTML_LANG[other],
        "lang_switch_url": f"{path}?lang={other}",
        "t": t,
        "msg": msg,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf,
        "path": path,
        "version": __version__,
        "knowledge_version": knowledge.version,
        "disclaimer": knowledge.texts.disclaimer_zh
        if lang == "zh"
        else knowledge.texts.disclaimer_en,
        "unit_label": unit_label,
    }


# --- per-request page context ----------------------------------------------------------------


@dataclass
class Page:
    """Language, CSRF token and rendering for one request."""

    request: Request
    web: WebState
    lang: Lang
    lang_from_query: bool
    csrf: str
    csrf_is_new: bool

    @staticmethod
    def of(request: Request) -> Page:
        web = web_state(request.app)
        query = request.query_params.get("lang")
        lang = choose_lang(
            query,
            request.cookies.get(LANG_COOKIE),
            request.headers.get("accept-language"),
            web.settings.lang,
        )
        cookie = request.cookies.get(CSRF_COOKIE)
        fresh = not usable_token(cookie)
        return Page(
            request=request,
            web=web,
            lang=lang,
            lang_from_query=query in ("en", "zh"),
            csrf=new_token() if fresh or cookie is None else cookie,
            csrf_is_new=fresh,
        )

    def t(self, key: str, **params: Any) -> str:
        return self.web.catalogue.text(self.lang, key, **params)

    def msg(self, message: Msg) -> str:
        return self.web.catalogue.render(self.lang, message)

    def context(self, **extra: Any) -> dict[str, Any]:
        return {
            **base_context(self.web, self.lang, self.request.url.path, self.csrf),
            **extra,
        }

    def finish(self, response: Response) -> Response:
        """Remember a language chosen with ?lang= and issue the CSRF cookie on first visit."""
        secure = self.request.url.scheme == "https"
        if self.lang_from_query:
            response.set_cookie(
                LANG_COOKIE,
                self.lang,
                max_age=LANG_COOKIE_SECONDS,
                path=COOKIE_PATH,
                samesite="lax",
                secure=secure,
            )
        if self.csrf_is_new:
            response.set_cookie(
                CSRF_COOKIE,
                self.csrf,
                path=COOKIE_PATH,
                httponly=True,
                samesite="strict",
                secure=secure,
            )
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["Content-Language"] = HTML_LANG[self.lang]
        return response

    def render(self, template: str, status: int = 200, **extra: Any) -> Response:
        html = self.web.env.get_template(template).render(self.context(**extra))
        return self.finish(HTMLResponse(html, status_code=status))


def error_page(request: Request, status: int, kind: str, reason: str | None = None) -> Response:
    """The bilingual error page: `#store-error`, `#not-found`, `#forbidden`, `#server-error`."""
    page = Page.of(request)
    return page.render(
        "error.html", status, kind=kind, reason=reason, title=page.t(f"{kind}_title")
    )


class PageRoute(APIRoute):
    """Route class that turns every failure of a page into an error page (never a traceback)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except StoreUnavailable as exc:
                log.warning("store unavailable for %s: %s", request.url.path, exc)
                return error_page(request, 503, "store_error", str(exc))
            except NotFound:
                return error_page(request, 404, "not_found")
            except Forbidden:
                return error_page(request, 403, "forbidden")
            except ReportUnavailable as exc:
                log.warning("report for %s failed: %s", request.url.path, exc)
                return error_page(request, 503, "report_error", str(exc))
            except (HTTPException, RequestValidationError):
                raise
            except Exception:
                log.exception("web page %s %s failed", request.method, request.url.path)
                return error_page(request, 500, "server_error")

        return guarded


router = APIRouter(route_class=PageRoute, include_in_schema=False)


# --- helpers ---------------------------------------------------------------------------------


def _person_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise NotFound
    return int(text)


def _listing(web: WebState, person_id: int) -> repo.PersonListing:
    try:
        return repo.person_listing(web.store.engine(), person_id)
    except repo.StoreError:
        raise NotFound from None


async def _form(request: Request) -> dict[str, str]:
    """The submitted fields as text (files ignored), after the CSRF check."""
    try:
        data = await request.form()
    except Exception:  # malformed multipart or urlencoded body
        raise Forbidden from None
    fields = {k: v for k, v in data.multi_items() if not isinstance(v, UploadFile)}
    if not form_allowed(
        request.cookies.get(CSRF_COOKIE),
        fields.get(CSRF_FIELD),
        request.headers.get("origin"),
        request.headers.get("host"),
    ):
        raise Forbidden
    return {k: v for k, v in fields.items() if isinstance(v, str)}


def _redirect(page: Page, url: str) -> Response:
    return page.finish(RedirectResponse(url, status_code=303))


def _who(listing: repo.PersonListing, page: Page) -> str:
    return (
        listing.display_name or listing.external_id or page.t("person_number", id=listing.person_id)
    )


def _invalid(outcome: Outcome[Any]) -> int:
    return 422 if outcome.errors or outcome.warnings else 200


# --- person list and new person --------------------------------------------------------------


@router.get("/app")
def app_root() -> Response:
    return RedirectResponse("/app/", status_code=307)


def _page_number(text: str | None) -> int:
    """`?page=` as a positive page number; anything else is the first page, not an error."""
    return int(text) if text is not None and text.isdigit() and int(text) > 0 else 1


@router.get("/app/")
def person_list(
    request: Request,
    q: str | None = None,
    page_text: Annotated[str | None, Query(alias="page")] = None,
) -> Response:
    number = _page_number(page_text)
    page = Page.of(request)
    web = page.web
    search = (q or "").strip()[:MAX_QUERY]
    # One row more than a page tells whether a next page exists without counting.
    listings = repo.list_persons(
        web.store.engine(),
        search=search or None,
        limit=LIST_LIMIT + 1,
        offset=(number - 1) * LIST_LIMIT,
    )
    has_next = len(listings) > LIST_LIMIT
    listings = listings[:LIST_LIMIT]
    rows = []
    for item in listings:
        point = item.latest_mg
        status = (
            listing_status(point.value, point.unit, point.effective, web.knowledge)
            if point is not None
            else None
        )
        rows.append(
            {
                "listing": item,
                "name": _who(item, page),
                "sex": SEX[item.sex].get(page.lang) if item.sex in SEX else "",
                "status": status,
                "status_label": status_label(status, page.lang) if status else "",
                "tone": _tone(web, status),
            }
        )
    return page.render(
        "persons.html",
        rows=rows,
        q=search,
        title=page.t("persons_title"),
        page_number=number,
        has_next=has_next,
    )


def _tone(web: WebState, status: str | None) -> str:
    """Presentation tone of a status: the pack severity of its finding, or `ok` when normal."""
    if status is None:
        return "none"
    text = web.knowledge.texts.finding.get(STATUS_FINDING.get(status, status))
    return text.severity if text is not None else "ok"


@router.get("/app/persons/new")
def person_form(request: Request) -> Response:
    page = Page.of(request)
    return page.render(
        "person_form.html", values={}, errors={}, warnings={}, title=page.t("new_person_title")
    )


@router.post("/app/persons/new")
async def person_create(request: Request) -> Response:
    page = Page.of(request)
    form = await _form(request)
    outcome = check_person(form, today=page.web.today())
    errors = dict(outcome.errors)
    if outcome.value is not None:
        new = outcome.value
        engine = page.web.store.engine()
        taken = None
        if new.person.id is not None:
            taken = await run_in_threadpool(repo.find_person, engine, new.person.id)
        if taken is not None:
            errors["external_id"] = Msg.of("error_external_id_taken", value=new.person.id)
        else:
            try:
                person_id = await run_in_threadpool(
                    lambda: repo.add_person(engine, new.person, display_name=new.display_name)
                )
            except repo.StoreError:
                errors["external_id"] = Msg.of("error_external_id_taken", value=new.person.id)
            else:
                return _redirect(page, f"/app/persons/{person_id}?saved=person")
    return page.render(
        "person_form.html",
        422,
        values=form,
        errors=errors,
        warnings={},
        title=page.t("new_person_title"),
    )


# --- dashboard -------------------------------------------------------------------------------


def _dashboard_data(web: WebState, person_id: int, lang: Lang) -> dict[str, Any]:
    """One listing, one record and one history read, then the pure dashboard and charts."""
    started = time.perf_counter()
    engine = web.store.engine()
    try:
        listing = repo.person_listing(engine, person_id)
        stored = repo.stored_record(engine, person_id)
        points = repo.history(engine, person_id, "magnesium")
    except repo.StoreError:
        raise NotFound from None
    read = time.perf_counter()
    board = build_dashboard(
        stored.record,
        [(p.effective, p.value, p.unit, p.value_mmol_l) for p in points],
        web.knowledge,
        web.foods,
        as_of=web.today(),
        lang=lang,
        claims=web.claims,
        intake=web.intake,
        entry_ids=EntryIds(
            labs=stored.lab_ids,
            medications=stored.medication_ids,
            conditions=stored.condition_ids,
            food_log=stored.food_log_ids,
        ),
    )
    assessed = time.perf_counter()
    band, deficiency = mg_band_for(web.knowledge)
    catalogue = web.catalogue
    trend_svg = mg_trend_svg(
        [TrendPoint(day, mmol, label) for day, mmol, label in board.trend],
        band=band,
        deficiency_below=deficiency,
        lang=lang,
        title=catalogue.text(lang, "trend_title"),
    )
    intake_chart = None
    if board.intake is not None:
        totals = board.intake["totals"]
        reference = board.intake["reference"]
        intake_chart = intake_svg(
            [
                IntakeBar(
                    label=catalogue.text(lang, "intake_bar_magnesium"),
                    intake=float(totals["magnesium_mg"]),
                    reference=float(reference["recommended_mg"]),
                    unit="mg",
                    reference_label=f"{reference['recommended_kind']} · {reference['standard_name']}",
                )
            ],
            lang=lang,
            title=catalogue.text(lang, "intake_chart_title"),
        )
    charted = time.perf_counter()
    return {
        "listing": listing,
        "board": board,
        "trend_svg": trend_svg,
        "intake_svg": intake_chart,
        "timing": {
            "db": (read - started) * 1000,
            "assess": (assessed - read) * 1000,
            "charts": (charted - assessed) * 1000,
        },
    }


@router.get("/app/persons/{person_id}")
async def dashboard(
    request: Request, person_id: str, saved: str | None = None, removed: str | None = None
) -> Response:
    started = time.perf_counter()
    page = Page.of(request)
    pid = _person_id(person_id)
    data = await run_in_threadpool(_dashboard_data, page.web, pid, page.lang)
    board = data["board"]
    mg = board.assessment.serum_magnesium
    rendered = time.perf_counter()
    response = page.render(
        "dashboard.html",
        pid=pid,
        listing=data["listing"],
        name=_who(data["listing"], page),
        sex=SEX[data["listing"].sex].get(page.lang) if data["listing"].sex in SEX else "",
        board=board,
        a=board.assessment,
        mg=mg,
        mg_status_label=status_label(mg.status, page.lang) if mg else "",
        mg_tone=_tone(page.web, mg.status if mg else None),
        trend_svg=data["trend_svg"],
        intake_svg=data["intake_svg"],
        saved=saved if saved in ("person", "lab", "medication", "condition", "food") else None,
        removed=removed if removed in REMOVABLE.values() else None,
        as_of=page.web.today().isoformat(),
        title=_who(data["listing"], page),
    )
    done = time.perf_counter()
    timing = data["timing"]
    response.headers["Server-Timing"] = (
        f"db;dur={timing['db']:.1f}, assess;dur={timing['assess']:.1f}, "
        f"charts;dur={timing['charts']:.1f}, render;dur={(done - rendered) * 1000:.1f}, "
        f"total;dur={(done - started) * 1000:.1f}"
    )
    return response


# --- lab result ------------------------------------------------------------------------------


def _analytes(web: WebState, lang: Lang) -> list[dict[str, Any]]:
    return [
        {
            "id": a.id,
            "name": a.name_zh if lang == "zh" else a.name_en,
            "units": a.units,
        }
        for a in web.knowledge.units.analyte
    ]


def _all_units(web: WebState) -> list[tuple[str, str]]:
    """(unit, space-separated analytes using it) in first-seen order, for the unit select."""
    seen: dict[str, list[str]] = {}
    for analyte in web.knowledge.units.analyte:
        for unit in analyte.units:
            seen.setdefault(unit, []).append(analyte.id)
    return [(unit, " ".join(ids)) for unit, ids in seen.items()]


def _lab_page(
    page: Page, listing: repo.PersonListing, values: Mapping[str, str], outcome: Outcome[Any] | None
) -> Response:
    return page.render(
        "lab_form.html",
        422 if outcome is not None else 200,
        pid=listing.person_id,
        name=_who(listing, page),
        analytes=_analytes(page.web, page.lang),
        units=_all_units(page.web),
        values=values,
        errors=outcome.errors if outcome else {},
        warnings=outcome.warnings if outcome else {},
        title=page.t("new_lab_title"),
    )


@router.get("/app/persons/{person_id}/labs/new")
def lab_form(request: Request, person_id: str) -> Response:
    page = Page.of(request)
    listing = _listing(page.web, _person_id(person_id))
    return _lab_page(page, listing, {"analyte": "magnesium"}, None)


@router.post("/app/persons/{person_id}/labs/new")
async def lab_create(request: Request, person_id: str) -> Response:
    page = Page.of(request)
    form = await _form(request)
    web = page.web
    listing = await run_in_threadpool(_listing, web, _person_id(person_id))
    outcome = check_lab(form, web.knowledge, today=web.today(), birth_date=listing.birth_date)
    if outcome.value is None:
        return _lab_page(page, listing, form, outcome)
    lab = outcome.value
    engine = web.store.engine()
    await run_in_threadpool(repo.add_lab, engine, listing.person_id, lab, web.knowledge)
    await run_in_threadpool(_record_assessment, web, listing.person_id, page.lang)
    return _redirect(page, f"/app/persons/{listing.person_id}?saved=lab")


def _record_assessment(web: WebState, person_id: int, lang: Lang) -> None:
    """Keep the history of what mgcare said: after every change of a person's data, the new
    assessment is stored with the mgcare and knowledge-pack versions that produced it. It is
    derived data, so a failure here never undoes the change the user made (it is logged)."""
    engine = web.store.engine()
    try:
        record = repo.person_record(engine, person_id)
        assessment, _ = assess_record(record, as_of=web.today(), lang=lang, intake=web.intake)
        repo.save_assessment(engine, person_id, assessment, web.today())
    except (repo.StoreError, StoreUnavailable) as exc:
        log.warning("assessment of person %s not stored: %s", person_id, exc)


# --- medication, condition, food -------------------------------------------------------------


def _simple_page(
    page: Page,
    template: str,
    listing: repo.PersonListing,
    values: Mapping[str, str],
    outcome: Outcome[Any] | None,
    title_key: str,
    **extra: Any,
) -> Response:
    return page.render(
        template,
        422 if outcome is not None else 200,
        pid=listing.person_id,
        name=_who(listing, page),
        values=values,
        errors=outcome.errors if outcome else {},
        warnings=outcome.warnings if outcome else {},
        title=page.t(title_key),
        **extra,
    )


@router.get("/app/persons/{person_id}/medications/new")
def medication_form(request: Request, person_id: str) -> Response:
    page = Page.of(request)
    listing = _listing(page.web, _person_id(person_id))
    return _simple_page(page, "medication_form.html", listing, {}, None, "new_medication_title")


async def _create_named(
    request: Request,
    person_id: str,
    kind: Literal["medication", "condition"],
    check: Callable[..., Any],
    add: Callable[[Any, int, Any], int],
) -> Response:
    """POST of the medication and condition forms: check, store, re-assess, redirect (or the
    form again with its messages)."""
    page = Page.of(request)
    form = await _form(request)
    web = page.web
    listing = await run_in_threadpool(_listing, web, _person_id(person_id))
    outcome = check(form, web.knowledge, today=web.today())
    if outcome.value is None:
        return _simple_page(page, f"{kind}_form.html", listing, form, outcome, f"new_{kind}_title")
    await run_in_threadpool(add, web.store.engine(), listing.person_id, outcome.value)
    await run_in_threadpool(_record_assessment, web, listing.person_id, page.lang)
    return _redirect(page, f"/app/persons/{listing.person_id}?saved={kind}")


@router.post("/app/persons/{person_id}/medications/new")
async def medication_create(request: Request, person_id: str) -> Response:
    return await _create_named(
        request, person_id, "medication", check_medication, repo.add_medication
    )


@router.get("/app/persons/{person_id}/conditions/new")
def condition_form(request: Request, person_id: str) -> Response:
    page = Page.of(request)
    listing = _listing(page.web, _person_id(person_id))
    return _simple_page(page, "condition_form.html", listing, {}, None, "new_condition_title")


@router.post("/app/persons/{person_id}/conditions/new")
async def condition_create(request: Request, person_id: str) -> Response:
    return await _create_named(request, person_id, "condition", check_condition, repo.add_condition)


def _food_name(web: WebState, food_id: str, lang: Lang) -> str:
    try:
        food = web.foods.get(food_id)
    except (KeyError, ValueError):
        return ""
    return (food.name_zh if lang == "zh" else None) or food.name_en


@router.get("/app/persons/{person_id}/food/new")
def food_form(request: Request, person_id: str) -> Response:
    page = Page.of(request)
    listing = _listing(page.web, _person_id(person_id))
    values = {"date": page.web.today().isoformat()}
    return _simple_page(page, "food_form.html", listing, values, None, "new_food_title")


@router.post("/app/persons/{person_id}/food/new")
async def food_create(request: Request, person_id: str) -> Response:
    page = Page.of(request)
    form = await _form(request)
    web = page.web
    listing = await run_in_threadpool(_listing, web, _person_id(person_id))
    outcome = check_food(form, web.foods, today=web.today())
    if outcome.value is None:
        values = dict(form)
        if not outcome.errors.get("food_id") and form.get("food_id"):
            values["food_query"] = _food_name(web, form["food_id"], page.lang)
        return _simple_page(page, "food_form.html", listing, values, outcome, "new_food_title")
    engine = web.store.engine()
    await run_in_threadpool(repo.add_food_entry, engine, listing.person_id, outcome.value)
    await run_in_threadpool(_record_assessment, web, listing.person_id, page.lang)
    return _redirect(page, f"/app/persons/{listing.person_id}?saved=food")


# --- removing a wrongly entered entry --------------------------------------------------------

REMOVABLE: dict[str, str] = {
    "labs": "lab",
    "medications": "medication",
    "conditions": "condition",
    "food": "food",
}
"""URL segment -> the short name used in element ids and message keys."""
STORE_KIND: dict[str, repo.EntryKind] = {
    "labs": "lab_result",
    "medications": "medication",
    "conditions": "condition",
    "food": "food_log_entry",
}


@dataclass(frozen=True)
class Removal:
    """What one confirmation page is about: whose entry, which, and how to name it."""

    listing: repo.PersonListing
    entry: repo.StoredEntry
    segment: str
    what: str
    """The entry in words, e.g. "serum magnesium 0.45 mmol/L of 2026-11-20"."""
    facts: list[tuple[str, str]]


def _describe(
    page: Page, segment: str, values: Mapping[str, Any]
) -> tuple[str, list[tuple[str, str]]]:
    """The entry in the reader's language: one phrase and the (label, value) list."""
    web, t = page.web, page.t
    if segment == "labs":
        analyte = web.knowledge.analytes.get(str(values["analyte"]))
        name = (
            (analyte.name_zh if page.lang == "zh" else analyte.name_en)
            if analyte is not None
            else str(values["analyte"])
        )
        value = f"{float(values['value']):g} {unit_label(str(values['unit']))}"
        day = str(values["effective"])[:10]
        what = t("describe_lab", analyte=name, value=value, date=day)
        facts = [(t("field_analyte"), name), (t("field_value"), value)]
        return what, [*facts, (t("field_effective"), day)]
    if segment in ("medications", "conditions"):
        name = str(values.get("name") or "-")
        since = values.get("start" if segment == "medications" else "onset")
        what = t("describe_named_since", name=name, date=since) if since else name
        labels = (
            ("field_medication", "field_start")
            if segment == "medications"
            else ("field_condition", "field_onset")
        )
        return what, [(t(labels[0]), name), (t(labels[1]), since or "—")]
    entry = values["entry"]
    food_id = str(entry.get("food") or "")
    name = (_food_name(web, food_id, page.lang) or food_id) if food_id else ""
    name = name or str(entry.get("supplement") or "-")
    amount = food_amount(entry)
    day = str(entry.get("date") or "")
    what = (
        t("describe_food", name=name, amount=amount, date=day)
        if day
        else t("describe_food_undated", name=name, amount=amount)
    )
    return what, [(t("field_food"), name), (t("col_amount"), amount), (t("field_date"), day or "—")]


def _removal(page: Page, person_id: str, segment: str, entry_id: str) -> Removal:
    """Look up the entry named by the URL; NotFound for an unknown kind, person or entry, or an
    entry of another person."""
    if segment not in STORE_KIND:
        raise NotFound
    pid, eid = _person_id(person_id), _person_id(entry_id)
    engine = page.web.store.engine()
    try:
        listing = repo.person_listing(engine, pid)
        entry = repo.get_entry(engine, pid, STORE_KIND[segment], eid)
    except repo.StoreError:
        raise NotFound from None
    what, facts = _describe(page, segment, entry.values)
    return Removal(listing, entry, segment, what, facts)


def _remove_page(
    page: Page, removal: Removal, values: Mapping[str, str], errors: Mapping[str, Msg]
) -> Response:
    short = REMOVABLE[removal.segment]
    return page.render(
        "remove_confirm.html",
        422 if errors else 200,
        pid=removal.listing.person_id,
        name=_who(removal.listing, page),
        segment=removal.segment,
        short=short,
        entry_id=removal.entry.entry_id,
        what=removal.what,
        facts=removal.facts,
        values=values,
        errors=errors,
        warnings={},
        max_reason=repo.MAX_REASON,
        title=page.t(f"remove_title_{short}"),
    )


@router.get("/app/persons/{person_id}/{segment}/{entry_id}/remove")
async def remove_form(request: Request, person_id: str, segment: str, entry_id: str) -> Response:
    page = Page.of(request)
    removal = await run_in_threadpool(_removal, page, person_id, segment, entry_id)
    return _remove_page(page, removal, {}, {})


@router.post("/app/persons/{person_id}/{segment}/{entry_id}/remove")
async def remove_confirmed(
    request: Request, person_id: str, segment: str, entry_id: str
) -> Response:
    page = Page.of(request)
    form = await _form(request)
    web = page.web
    removal = await run_in_threadpool(_removal, page, person_id, segment, entry_id)
    reason = " ".join(form.get("reason", "").replace("\x00", " ").split())
    if len(reason) > repo.MAX_REASON:
        errors = {"reason": Msg.of("error_too_long", limit=repo.MAX_REASON)}
        return _remove_page(page, removal, form, errors)
    pid = removal.listing.person_id
    engine = web.store.engine()
    try:
        await run_in_threadpool(
            lambda: repo.remove_entry(
                engine,
                pid,
                STORE_KIND[segment],
                removal.entry.entry_id,
                reason=reason or None,
            )
        )
    except repo.StoreError:  # removed meanwhile (a second tab, a double submit)
        raise NotFound from None
    await run_in_threadpool(_record_assessment, web, pid, page.lang)
    return _redirect(page, f"/app/persons/{pid}?removed={REMOVABLE[segment]}")


# --- PDF -------------------------------------------------------------------------------------


class ReportUnavailable(Exception):
    """The PDF could not be made (e.g. WeasyPrint missing): a 503 page with the reason."""


def _pdf(web: WebState, person_id: int, lang: Lang) -> bytes:
    """Same report object as `mgcare report`, rendered by WeasyPrint (about a second)."""
    from mgcare.reports import ReportError, render_pdf, report_for_person

    engine = web.store.engine()
    try:
        report = report_for_person(
            engine,
            person_id,
            knowledge=web.knowledge,
            foods=web.foods,
            lang=lang,
            as_of=web.today(),
        )
        pdf: bytes = render_pdf(report)
    except ReportError as exc:
        raise ReportUnavailable(str(exc)) from None
    return pdf


@router.get("/app/persons/{person_id}/report.pdf")
async def report_pdf(request: Request, person_id: str) -> Response:
    page = Page.of(request)
    pid = _person_id(person_id)
    await run_in_threadpool(_listing, page.web, pid)
    body = await run_in_threadpool(_pdf, page.web, pid, page.lang)
    return page.finish(
        Response(
            body,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="mgcare-person-{pid}-{page.lang}.pdf"'
            },
        )
    )


# --- search (JSON for the suggestion lists) --------------------------------------------------


def _search_lang(request: Request) -> Lang:
    return choose_lang(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        web_state(request.app).settings.lang,
    )


@router.get("/app/search/drugs")
def search_drugs(request: Request, q: str = "") -> Response:
    web = web_state(request.app)
    return JSONResponse(web.drugs.search(q, _search_lang(request), SEARCH_LIMIT))


@router.get("/app/search/conditions")
def search_conditions(request: Request, q: str = "") -> Response:
    web = web_state(request.app)
    return JSONResponse(web.conditions.search(q, _search_lang(request), SEARCH_LIMIT))


@router.get("/app/search/foods")
def search_food(request: Request, q: str = "") -> Response:
    web = web_state(request.app)
    hits = search_foods(web.foods, q[:MAX_QUERY], limit=SEARCH_LIMIT)
    return JSONResponse(
        [
            {
                **food_hit(hit.food),
                "portions": [
                    {"label": p.description, "amount": p.amount, "grams": p.grams}
                    for p in hit.food.portions
                ],
            }
            for hit in hits
        ]
    )


# --- evidence --------------------------------------------------------------------------------

EVIDENCE_PAGES = ("evidence", "claims", "figure")


def prerender_evidence(web: WebState) -> None:
    """The evidence pages are the same for everyone: render both languages at start-up."""
    knowledge = web.knowledge
    langs: tuple[Lang, ...] = ("en", "zh")
    for lang in langs:
        shared = {
            "status_label": {k: v.get(lang) for k, v in STATUS_LABEL.items()},
            "grade_label": {k: v.get(lang) for k, v in GRADE_LABEL.items()},
        }
        pages: dict[str, tuple[str, str, dict[str, Any]]] = {
            "evidence": (
                "evidence.html",
                "/app/evidence",
                {"references": knowledge.evidence.reference},
            ),
            "claims": (
                "claims.html",
                "/app/evidence/claims",
                {"claims": knowledge.claims.claim, "references": knowledge.references},
            ),
            "figure": (
                "figure.html",
                "/app/evidence/figure-1",
                {"svg": mechanism_svg(knowledge, lang=lang)},
            ),
        }
        for key, (template, path, extra) in pages.items():
            context = {
                **base_context(web, lang, path, ""),
                **shared,
                **extra,
                "title": web.catalogue.text(lang, f"{key}_title"),
            }
            web.pages[(key, lang)] = web.env.get_template(template).render(context).encode()


def _evidence(request: Request, key: str) -> Response:
    page = Page.of(request)
    body = page.web.pages[(key, page.lang)]
    response = page.finish(HTMLResponse(body))
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/app/evidence")
def evidence_page(request: Request) -> Response:
    return _evidence(request, "evidence")


@router.get("/app/evidence/claims")
def claims_page(request: Request) -> Response:
    return _evidence(request, "claims")


@router.get("/app/evidence/figure-1")
def figure_page(request: Request) -> Response:
    return _evidence(request, "figure")


@router.api_route("/app/{rest:path}", methods=["GET", "POST"])
def unknown_page(request: Request, rest: str) -> Response:
    raise NotFound


__all__ = ["Page", "base_context", "prerender_evidence", "router"]
