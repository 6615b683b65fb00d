"""Bad input never crashes mgcare: exit code 2, one line on stderr naming the file or resource.

`tests/fixtures/bad_inputs/manifest.json` lists each bad file with `why` and `stderr_contains`;
every file is run through the real CLI in a subprocess. A property-based test then feeds random
JSON-ish documents and random mutations of valid inputs through the Python API, where the only
exception allowed is `mgcare.inputs.InputError`.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mgcare.inputs import InputError, record_from_document
from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.rules import assess

REPO = Path(__file__).resolve().parents[1]
BAD = REPO / "tests" / "fixtures" / "bad_inputs"
FHIR_FIXTURES = REPO / "tests" / "fixtures" / "fhir"
AS_OF = date(2026, 11, 25)
MANIFEST: list[dict[str, str]] = json.loads((BAD / "manifest.json").read_text(encoding="utf-8"))


def _cli_env() -> dict[str, str]:
    """The caller's environment without a site override, so the shipped pack is used."""
    return {key: value for key, value in os.environ.items() if key != "MGCARE_SITE_CONFIG"}


def _run_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mgcare.cli", "assess", str(path), "--as-of", "2026-11-25"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_cli_env(),
        check=False,
    )


@pytest.fixture(scope="module")
def cli_results() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every manifest file through the CLI once, a few at a time."""
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = pool.map(lambda row: (row["file"], _run_cli(BAD / row["file"])), MANIFEST)
        return dict(results)


@pytest.fixture(scope="module")
def knowledge() -> Iterator[Knowledge]:
    """The shipped pack, never a site override picked up from the environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MGCARE_SITE_CONFIG", raising=False)
        yield load_knowledge()


# --- the corpus ----------------------------------------------------------------------------------


def test_manifest_covers_the_corpus() -> None:
    """The manifest lists every file in the corpus exactly once (at least 25), each with a reason
    and a non-empty expected substring, so no bad input goes untested."""
    listed = [row["file"] for row in MANIFEST]
    on_disk = sorted(p.name for p in BAD.iterdir() if p.name != "manifest.json")
    assert sorted(listed) == on_disk
    assert len(set(listed)) == len(listed) >= 25
    for row in MANIFEST:
        assert set(row) == {"file", "why", "stderr_contains"}
        assert row["why"].strip() and row["stderr_contains"].strip()


@pytest.mark.parametrize("row", MANIFEST, ids=[row["file"] for row in MANIFEST])
def test_bad_input_exits_2_with_one_line(
    row: dict[str, str], cli_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    """`mgcare assess BAD --as-of 2026-11-25`: exit 2, nothing on stdout, exactly one stderr line
    that starts with `mgcare: ` and names what is wrong (the manifest's substring), no traceback."""
    completed = cli_results[row["file"]]
    lines = completed.stderr.splitlines()
    assert completed.returncode == 2, (row["why"], completed.returncode, completed.stderr)
    assert completed.stdout == ""
    assert len(lines) == 1, completed.stderr
    assert completed.stderr.endswith("\n")
    assert lines[0].startswith("mgcare: ")
    assert row["stderr_contains"] in lines[0], (row["why"], lines[0])
    assert "Traceback" not in completed.stderr


# --- property-based: only InputError, ever ----------------------------------------------------------

RESOURCE_TYPES = [
    "Bundle",
    "Patient",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "Condition",
    "Medication",
    "Encounter",
    "Foo",
    "",
]
KEYS = [
    "resourceType",
    "id",
    "type",
    "entry",
    "resource",
    "fullUrl",
    "request",
    "status",
    "intent",
    "code",
    "coding",
    "system",
    "text",
    "display",
    "valueQuantity",
    "value",
    "unit",
    "effectiveDateTime",
    "effectivePeriod",
    "issued",
    "referenceRange",
    "low",
    "high",
    "interpretation",
    "subject",
    "reference",
    "gender",
    "birthDate",
    "medicationCodeableConcept",
    "medicationReference",
    "contained",
    "authoredOn",
    "dispenseRequest",
    "clinicalStatus",
    "verificationStatus",
    "onsetDateTime",
    "person",
    "labs",
    "medications",
    "conditions",
    "context",
    "analyte",
    "effective",
    "sex",
    "age_years",
    "birth_date",
    "pregnant",
    "name",
    "codes",
    "start",
    "end",
    "reference_low",
    "reference_high",
]
STRINGS = [
    "2026-11-20",
    "2026-11-20T08:00:00+00:00",
    "2026-11-25",
    "1958-03-14",
    "2099-01-01",
    "1700-01-01",
    "mmol/L",
    "mg/dL",
    "meq/L",
    "umol/L",
    "/min",
    "mL/min/{1.73_m2}",
    "furlongs",
    "2601-3",
    "19123-9",
    "2000-8",
    "2823-3",
    "14682-9",
    "98979-8",
    "33914-3",
    "8867-4",
    "http://loinc.org",
    "http://unitsofmeasure.org",
    "http://snomed.info/sct",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "collection",
    "transaction",
    "searchset",
    "history",
    "final",
    "active",
    "stopped",
    "order",
    "male",
    "female",
    "magnesium",
    "calcium",
    "potassium",
    "creatinine",
    "egfr",
    "heart-rate",
    "omeprazole",
    "digoxin",
    "furosemide",
    "magnesium oxide",
    "Patient/p1",
    "#m1",
    "urn:uuid:5b0e9d0a-6c1f-4a57-9a51-3f0f3c2f6a01",
    "E11.9",
    "49436004",
    "7646",
    "",
    " ",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**15), max_value=10**15)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(STRINGS)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)
fhir_resources = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(RESOURCE_TYPES)},
    optional={key: json_values for key in KEYS[1:36]},
)
fhir_bundles = st.fixed_dictionaries(
    {
        "resourceType": st.just("Bundle"),
        "type": st.sampled_from(["collection", "transaction", "searchset", "batch", "history"]),
        "entry": st.lists(
            st.fixed_dictionaries({"resource": fhir_resources}, optional={"fullUrl": scalars}),
            max_size=4,
        ),
    }
)
records = st.fixed_dictionaries(
    {},
    optional={
        "person": st.dictionaries(st.sampled_from(KEYS[-18:]), json_values, max_size=4),
        "labs": st.lists(
            st.dictionaries(st.sampled_from(KEYS[-18:]), json_values, max_size=6), max_size=3
        ),
        "medications": st.lists(
            st.dictionaries(st.sampled_from(KEYS[-18:]), json_values, max_size=4), max_size=2
        ),
        "context": json_values,
    },
)
documents = json_values | fhir_resources | fhir_bundles | records

VALID_RECORD: dict[str, Any] = {
    "person": {"id": "r1", "sex": "female", "birth_date": "1958-03-14"},
    "labs": [
        {
            "analyte": "magnesium",
            "value": 0.62,
            "unit": "mmol/L",
            "effective": "2026-11-20",
            "reference_low": 0.7,
            "reference_high": 1.0,
        },
        {"analyte": "calcium", "value": 9.4, "unit": "mg/dL", "effective": "2026-11-20"},
        {"analyte": "creatinine", "value": 1.1, "unit": "mg/dL", "effective": "2026-11-20"},
    ],
    "medications": [{"name": "omeprazole 20 mg", "status": "active", "start": "2025-01-01"}],
    "conditions": [{"name": "type 2 diabetes", "codes": [{"system": "icd10", "code": "E11.9"}]}],
    "context": {"symptomatic": False},
}
VALID_DOCUMENTS: list[Any] = [
    json.loads((FHIR_FIXTURES / name).read_text(encoding="utf-8"))
    for name in (
        "mg_low_on_ppi_bundle.json",
        "mg_high_severe_searchset.json",
        "mg_mislabel_panel.json",
        "transaction_with_urn_refs.json",
    )
] + [VALID_RECORD]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path inside a JSON document (not the root)."""
    found: list[tuple[Any, ...]] = []
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    """A valid bundle or record with 1-4 random edits: a key or item deleted, or a value replaced
    by one of another type (string for number, list for object, null, ...)."""
    document = copy.deepcopy(draw(st.sampled_from(VALID_DOCUMENTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return document


# Crashes on bad input that were src bugs; each is reproduced by a case in
# test_crash_inputs_exit_2 below: (exception type, innermost mgcare function, message part).
# test_crash_inputs_exit_2 below.
KNOWN_SRC_BUGS: list[tuple[type[BaseException], str, str]] = []
"""Exceptions other than InputError that are known src bugs (none open)."""


def _known_bug(exc: BaseException) -> bool:
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if "mgcare" in Path(f.filename).parts
    ]
    innermost = frames[-1].name if frames else ""
    return any(
        isinstance(exc, kind) and innermost == where and text in str(exc)
        for kind, where, text in KNOWN_SRC_BUGS
    )


def _only_input_error(document: Any, knowledge: Knowledge) -> None:
    try:
        record = record_from_document(document, knowledge, AS_OF)
        assess(record, knowledge, as_of=AS_OF, lang="en")
        assess(record, knowledge, as_of=AS_OF, lang="zh")
        event("assessed")
    except InputError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message, repr(message)
        event("InputError")
    except Exception as exc:
        if not _known_bug(exc):
            raise
        event(f"known src bug: {type(exc).__name__}")


FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


@FUZZ
@given(document=documents)
def test_random_documents_raise_only_input_error(document: Any, knowledge: Knowledge) -> None:
    """Random JSON-ish values, FHIR-looking resources and bundles, and mgcare-looking records are
    either assessed or rejected with a one-line InputError; nothing else escapes."""
    _only_input_error(document, knowledge)


@FUZZ
@given(document=mutated_documents())
def test_mutated_valid_inputs_raise_only_input_error(document: Any, knowledge: Knowledge) -> None:
    """Valid fixtures (FHIR collection, searchset and transaction bundles, an mgcare record) with
    keys deleted and values swapped for other types are either assessed or rejected with a
    one-line InputError; nothing else escapes."""
    _only_input_error(document, knowledge)


# --- inputs that crashed mgcare (exit 1 'internal error'): must be exit 2 --------------------------

MG_OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "mg-x",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "2601-3"}]},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2026-11-20T08:00:00+00:00",
    "valueQuantity": {
        "value": 0.8,
        "unit": "mmol/L",
        "system": "http://unitsofmeasure.org",
        "code": "mmol/L",
    },
}
CRASH_INPUTS = [
    pytest.param(
        MG_OBSERVATION | {"effectiveDateTime": "0001-01-01T00:00:00+01:00"},
        "Observation/mg-x",
        id="fhir-datetime-year-1-with-offset",
    ),
    pytest.param(
        {
            "labs": [
                {
                    "analyte": "magnesium",
                    "value": 0.8,
                    "unit": "mmol/L",
                    "effective": "9999-12-31T23:00:00-05:00",
                }
            ]
        },
        "labs",
        id="record-datetime-9999-with-offset",
    ),
    pytest.param(
        {"resourceType": "Bundle", "id": "b-list", "type": ["collection"], "entry": []},
        "Bundle/b-list",
        id="bundle-type-not-a-string",
    ),
    pytest.param(
        MG_OBSERVATION | {"contained": [{"resourceType": "Foo", "id": "f1"}]},
        "Observation/mg-x",
        id="contained-resource-of-unknown-type",
    ),
    pytest.param(
        {
            "resourceType": "Condition",
            "id": "c-x",
            "subject": {"reference": "Patient/p1"},
            "contained": [{"resourceType": {}}],
        },
        "Condition/c-x",
        id="contained-resource-type-not-a-string",
    ),
    pytest.param(
        {
            "resourceType": "Bundle",
            "id": "b",
            "type": "collection",
            "entry": [{"resource": {"resourceType": "Patient", "id": ["p1"], "gender": "male"}}],
        },
        "Patient/",
        id="patient-id-not-a-string",
    ),
    pytest.param(
        {
            "resourceType": "MedicationRequest",
            "id": "mr-x",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/p1"},
            "contained": [{"resourceType": "Patient", "id": "c1"}],
            "medicationReference": {"reference": "#c1"},
        },
        "MedicationRequest/mr-x",
        id="medication-reference-to-contained-patient",
    ),
]


@pytest.mark.parametrize(("document", "names"), CRASH_INPUTS)
def test_crash_inputs_exit_2(document: Any, names: str, tmp_path: Path) -> None:
    """Inputs found by fuzzing that crashed mgcare with exit 1 ('internal error: OverflowError/
    TypeError/KeyError/AttributeError'): they must be rejected with exit 2 and one line naming
    the resource."""
    path = tmp_path / "input.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    completed = _run_cli(path)
    assert completed.returncode == 2, completed.stderr
    assert len(completed.stderr.splitlines()) == 1
    assert names in completed.stderr
    assert "Traceback" not in completed.stderr
