"""Command line: `mgcare assess`, `mgcare knowledge`, `mgcare demo`.

A thin shell: it reads files, calls the pure core, prints. Heavy modules are imported inside
the commands so that `mgcare --help` starts fast. Exit codes (DESIGN.md): 0 success,
2 invalid input with a one-line reason on stderr, 1 internal error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from mgcare.diet.intake import IntakeReport
    from mgcare.diet.plan import Plan
    from mgcare.diet.reference import LifeStage
    from mgcare.i18n import Lang
    from mgcare.knowledge import Knowledge
    from mgcare.knowledge.models import StandardId
    from mgcare.model import Assessment, PatientRecord

EXIT_INVALID_INPUT = 2
EXIT_INTERNAL = 1
DEMO_AS_OF = date(2026, 11, 25)

app = typer.Typer(
    name="mgcare",
    help="Magnesium and cardiovascular health: cited decision support (supports, does not replace, clinical judgement).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class Language(StrEnum):
    en = "en"
    zh = "zh"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text for people, json for programs")
]
LangOption = Annotated[Language, typer.Option("--lang", help="en or zh (Simplified Chinese)")]
SiteOption = Annotated[
    Path | None,
    typer.Option(
        "--site", help="Site override TOML (lab interval, thresholds); or $MGCARE_SITE_CONFIG"
    ),
]


def fail(message: str, code: int = EXIT_INVALID_INPUT) -> NoReturn:
    sys.stderr.write(f"mgcare: {message}\n")
    raise typer.Exit(code)


def _knowledge(site: Path | None) -> Knowledge:
    from mgcare.knowledge import KnowledgeError, load_knowledge

    try:
        return load_knowledge(site)
    except KnowledgeError as exc:
        fail(
            str(exc).splitlines()[0] if site else str(exc),
            EXIT_INVALID_INPUT if site else EXIT_INTERNAL,
        )


def _parse_date(text: str | None, option: str) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date (use YYYY-MM-DD)")


def _print_assessment(assessment: Assessment, output: OutputFormat, lang: Lang) -> None:
    if output is OutputFormat.json:
        sys.stdout.write(assessment.model_dump_json(indent=2) + "\n")
    else:
        from mgcare.report_text import print_assessment

        print_assessment(assessment, lang)


def _run_assessment(
    record: PatientRecord,
    knowledge: Knowledge,
    as_of: date,
    output: OutputFormat,
    lang: Language,
) -> None:
    from mgcare.rules import assess

    intake = plan = None
    if record.food_log:
        from mgcare.rules.assess import age_on

        age = age_on(record, as_of)
        if age is None:
            fail("food_log: the person's age or birth date is needed to choose reference intakes")
        stage: LifeStage = "general"
        if record.person.pregnant:
            stage = "pregnancy"
        elif record.person.lactating:
            stage = "lactation"
        standard = record.diet_standard or _standard(None, lang)
        intake, plan = _evaluate(
            record.food_log, knowledge, age, record.person.sex, standard, stage, (), True
        )
    assessment = assess(record, knowledge, as_of=as_of, lang=lang.value, intake=intake, plan=plan)
    _print_assessment(assessment, output, lang.value)


def _evaluate(
    rows: Sequence[Mapping[str, Any]],
    knowledge: Knowledge,
    age: float,
    sex: str | None,
    standard: StandardId,
    stage: LifeStage,
    exclude: Sequence[str],
    common_only: bool,
) -> tuple[IntakeReport, Plan | None]:
    from mgcare.diet.evaluate import evaluate_intake
    from mgcare.diet.foods import load_food_database
    from mgcare.diet.log import FoodLogError
    from mgcare.diet.plan import PlanError
    from mgcare.diet.reference import ReferenceError

    try:
        return evaluate_intake(
            rows,
            load_food_database(),
            knowledge,
            age_years=age,
            sex=sex,
            standard=standard,
            life_stage=stage,
            exclude=exclude,
            common_only=common_only,
        )
    except (FoodLogError, ReferenceError, PlanError) as exc:
        fail(str(exc))


@app.command("assess")
def assess_command(
    file: Annotated[Path, typer.Argument(help="FHIR R4 Bundle/resource or mgcare JSON record")],
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Assess as of this date (YYYY-MM-DD); default today"),
    ] = None,
    symptomatic: Annotated[
        bool | None, typer.Option("--symptomatic/--asymptomatic", help="Symptoms of Mg disorder")
    ] = None,
    unstable: Annotated[
        bool | None, typer.Option("--unstable/--stable", help="Haemodynamically unstable")
    ] = None,
    arrhythmia: Annotated[
        bool | None, typer.Option("--arrhythmia/--no-arrhythmia", help="Serious arrhythmia")
    ] = None,
    site: SiteOption = None,
) -> None:
    """Assess one person's magnesium status and print findings and recommendations."""
    from mgcare.inputs import InputError, load_record

    day = _parse_date(as_of, "--as-of")
    knowledge = _knowledge(site)
    try:
        record = load_record(file, knowledge, today=max(day, date.today()), as_of=day)
    except InputError as exc:
        fail(str(exc))
    overrides = {
        key: value
        for key, value in (
            ("symptomatic", symptomatic),
            ("haemodynamically_unstable", unstable),
            ("serious_arrhythmia", arrhythmia),
        )
        if value is not None
    }
    if overrides:
        record = record.model_copy(update={"context": record.context.model_copy(update=overrides)})
    _run_assessment(record, knowledge, day, output, lang)


@app.command("demo")
def demo_command(output: FormatOption = OutputFormat.text, lang: LangOption = Language.en) -> None:
    """Assess the bundled demo patient (as of 2026-11-25)."""
    from importlib.resources import files

    from mgcare.inputs import record_from_document

    knowledge = _knowledge(None)
    document = json.loads(files("mgcare.demo").joinpath("demo_patient.json").read_text("utf-8"))
    record = record_from_document(document, knowledge, DEMO_AS_OF)
    _run_assessment(record, knowledge, DEMO_AS_OF, output, lang)


@app.command("knowledge")
def knowledge_command(
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
    site: SiteOption = None,
) -> None:
    """List the knowledge pack: version, thresholds with their sources and statuses, references."""
    from mgcare.knowledge_view import knowledge_summary, print_knowledge

    knowledge = _knowledge(site)
    if output is OutputFormat.json:
        sys.stdout.write(
            json.dumps(knowledge_summary(knowledge), ensure_ascii=False, indent=2) + "\n"
        )
    else:
        print_knowledge(knowledge, lang.value)


foods_app = typer.Typer(
    help="Food composition: USDA SR28 (FoodData Central SR Legacy) with Chinese names.",
    no_args_is_help=True,
)
diet_app = typer.Typer(
    help="A day's food log against reference intakes, and foods that close the gap.",
    no_args_is_help=True,
)
app.add_typer(foods_app, name="foods")
app.add_typer(diet_app, name="diet")


class Standard(StrEnum):
    cn_2023 = "cn-2023"
    cn_2013 = "cn-2013"
    us_iom_1997 = "us-iom-1997"
    efsa_2015 = "efsa-2015"


class Sex(StrEnum):
    male = "male"
    female = "female"


class LifeStageOption(StrEnum):
    general = "general"
    pregnancy = "pregnancy"
    lactation = "lactation"


AgeOption = Annotated[float, typer.Option("--age", min=0, max=130, help="Age in years")]
SexOption = Annotated[Sex, typer.Option("--sex")]
StandardOption = Annotated[
    Standard | None,
    typer.Option(
        "--standard", help="Reference intakes; default cn-2023 for zh, us-iom-1997 for en"
    ),
]
StageOption = Annotated[LifeStageOption, typer.Option("--life-stage")]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Exclude foods: nuts, peanuts, seeds, dairy, fish, shellfish, soy, gluten, meat",
    ),
]
AllFoodsOption = Annotated[
    bool, typer.Option("--all-foods", help="Suggest from all SR28 foods, not only common ones")
]


@foods_app.command("search")
def foods_search(
    query: Annotated[
        str, typer.Argument(help="English or Chinese name, typos allowed, or an SR28 number")
    ],
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 10,
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Ranked, typo-tolerant food search in English or Chinese."""
    from mgcare.diet.foods import load_food_database
    from mgcare.diet.search import search_foods

    hits = search_foods(load_food_database(), query, limit=limit)
    rows = [
        {
            "food": h.food.ndb_no,
            "name": h.food.name_en,
            "name_zh": h.food.name_zh,
            "magnesium_mg_per_100g": h.food.magnesium_mg_per_100g,
        }
        for h in hits
    ]
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    from mgcare.report_diet import print_food_hits

    print_food_hits(rows, query, lang.value)


@foods_app.command("show")
def foods_show(
    food: Annotated[str, typer.Argument(help="SR28 food number, e.g. 12061")],
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Composition per 100 g and household portions of one food."""
    from mgcare.diet.foods import UnknownFoodError, load_food_database

    try:
        item = load_food_database().get(food)
    except UnknownFoodError as exc:
        fail(str(exc))
    data = {
        "food": item.ndb_no,
        "name": item.name_en,
        "name_zh": item.name_zh,
        "group": item.group.name,
        "per_100g": {
            "energy_kcal": item.energy_kcal_per_100g,
            "magnesium_mg": item.magnesium_mg_per_100g,
            "zinc_mg": item.zinc_mg_per_100g,
            "calcium_mg": item.calcium_mg_per_100g,
            "potassium_mg": item.potassium_mg_per_100g,
        },
        "portions": [
            {
                "amount": p.amount,
                "unit": p.description,
                "grams": p.grams,
                "magnesium_mg": round(p.grams * item.magnesium_mg_per_100g / 100, 1)
                if item.magnesium_mg_per_100g is not None
                else None,
            }
            for p in item.portions
        ],
        "source": "USDA SR28 (public domain)",
    }
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    from mgcare.report_diet import print_food

    print_food(data, lang.value)


@diet_app.command("report")
def diet_report(
    log: Annotated[
        Path, typer.Argument(help="A day's food log: CSV or JSON (DESIGN.md section 7)")
    ],
    age: AgeOption,
    sex: SexOption,
    standard: StandardOption = None,
    life_stage: StageOption = LifeStageOption.general,
    exclude: ExcludeOption = None,
    all_foods: AllFoodsOption = False,
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Daily Mg, Zn, Ca, K and energy against the reference intake, with foods to close a gap."""
    from mgcare.diet.evaluate import intake_json
    from mgcare.diet.log import FoodLogError, read_rows

    knowledge = _knowledge(None)
    try:
        text = log.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{log}: cannot read ({exc})")
    try:
        rows = read_rows(text, str(log))
    except FoodLogError as exc:
        fail(str(exc))
    chosen = _standard(standard, lang)
    report, plan = _evaluate(
        rows, knowledge, age, sex.value, chosen, life_stage.value, exclude or (), not all_foods
    )
    _print_diet(
        intake_json(report, plan, knowledge, lang.value), report, plan, knowledge, output, lang
    )


@diet_app.command("plan")
def diet_plan(
    age: AgeOption,
    sex: SexOption,
    intake_mg: Annotated[
        float, typer.Option("--intake-mg", min=0, help="Magnesium already eaten today (mg)")
    ] = 0.0,
    standard: StandardOption = None,
    life_stage: StageOption = LifeStageOption.general,
    exclude: ExcludeOption = None,
    all_foods: AllFoodsOption = False,
    max_foods: Annotated[int, typer.Option("--max-foods", min=1, max=10)] = 4,
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Foods that close the gap to the reference intake with the least added energy."""
    from mgcare.diet.evaluate import plan_json
    from mgcare.diet.foods import load_food_database
    from mgcare.diet.plan import PlanError, plan_foods
    from mgcare.diet.reference import ReferenceError, reference_intake

    knowledge = _knowledge(None)
    chosen = _standard(standard, lang)
    try:
        reference = reference_intake(knowledge, chosen, age, sex.value, life_stage.value)
        plan = plan_foods(
            load_food_database(),
            reference.recommended_mg - intake_mg,
            exclude=exclude or (),
            common_only=not all_foods,
            max_foods=max_foods,
        )
    except (ReferenceError, PlanError) as exc:
        fail(str(exc))
    data = {
        "reference": {
            "standard": reference.standard,
            "recommended_mg": reference.recommended_mg,
            "recommended_kind": reference.recommended_kind,
            "ear_mg": reference.ear_mg,
            "source": reference.source,
            "fallback_from": reference.fallback_from,
        },
        "intake_mg": intake_mg,
        **plan_json(plan),
    }
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    from mgcare.report_diet import print_plan

    print_plan(data, lang.value)


def _standard(standard: Standard | None, lang: Language) -> StandardId:
    """The chosen standard, or the default for the language (China 2023 for zh, US IOM for en)."""
    from mgcare.diet.reference import DEFAULT_STANDARD

    return standard.value if standard else DEFAULT_STANDARD[lang.value]


def _print_diet(
    data: dict[str, Any],
    report: IntakeReport,
    plan: Plan | None,
    knowledge: Knowledge,
    output: OutputFormat,
    lang: Language,
) -> None:
    from mgcare.rules.intake import intake_items

    findings, recommendations = intake_items(report, plan, knowledge, lang.value)
    data["findings"] = [f.model_dump() for f in findings]
    data["recommendations"] = [r.model_dump() for r in recommendations]
    data["disclaimer"] = (
        knowledge.texts.disclaimer_zh if lang.value == "zh" else knowledge.texts.disclaimer_en
    )
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    from mgcare.report_diet import print_diet_report

    print_diet_report(data, lang.value)


def main() -> None:
    """Entry point: no traceback ever reaches the user."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        sys.stderr.write(f"mgcare: internal error: {type(exc).__name__}: {exc}\n")
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
