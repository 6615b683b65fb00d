"""Bad input: a one-line ScreenInputError, or an explicit count of what was left out and why."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mgcare.screen.command import run_screen
from mgcare.screen.errors import ScreenInputError

AS_OF = date(2026, 6, 30)


def _write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def _run(
    tmp_path: Path, persons: Path, labs: Path, meds: Path | None = None, conds: Path | None = None
):  # type: ignore[no-untyped-def]
    return run_screen(persons, labs, meds, conds, tmp_path / "out", "duckdb", AS_OF, None, False)


@pytest.fixture
def persons_csv(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "persons.csv",
        """
person_id,birth_date,sex
a,1960-01-01,female
b,1970-02-02,male
c,1980-03-03,F
""",
    )


def test_missing_required_column_is_one_clear_line(tmp_path: Path, persons_csv: Path) -> None:
    labs = _write(tmp_path / "labs.csv", "person_id,loinc,value,effective\na,2601-3,0.8,2026-06-01")
    with pytest.raises(ScreenInputError) as error:
        _run(tmp_path, persons_csv, labs)
    message = str(error.value)
    assert message == "labs: missing column(s) unit (found: person_id, loinc, value, effective)"
    assert "\n" not in message


def test_persons_need_birth_date_or_age(tmp_path: Path) -> None:
    persons = _write(tmp_path / "p.csv", "person_id,sex\na,female")
    labs = _write(tmp_path / "l.csv", "person_id,loinc,value,unit,effective")
    with pytest.raises(ScreenInputError, match="birth_date or age_years"):
        _run(tmp_path, persons, labs)


def test_wrong_column_type_names_table_column_and_type(tmp_path: Path, persons_csv: Path) -> None:
    labs = tmp_path / "labs.parquet"
    pq.write_table(
        pa.table(
            {
                "person_id": ["a"],
                "loinc": ["2601-3"],
                "value": [True],
                "unit": ["mmol/L"],
                "effective": ["2026-06-01"],
            }
        ),
        labs,
    )
    with pytest.raises(ScreenInputError, match=r"labs.value has type BOOLEAN; expected a number"):
        _run(tmp_path, persons_csv, labs)


def test_conflicting_person_rows_are_an_error(tmp_path: Path) -> None:
    persons = _write(
        tmp_path / "p.csv",
        "person_id,birth_date,sex\na,1960-01-01,female\na,1961-01-01,female\nb,1960-01-01,male",
    )
    labs = _write(tmp_path / "l.csv", "person_id,loinc,value,unit,effective")
    with pytest.raises(ScreenInputError, match=r"1 person_id value\(s\).*'a' \(2 rows\)"):
        _run(tmp_path, persons, labs)


def test_unreadable_values_units_duplicates_and_persons_without_labs_are_counted(
    tmp_path: Path, persons_csv: Path
) -> None:
    labs = _write(
        tmp_path / "labs.csv",
        """
person_id,loinc,value,unit,effective
a,2601-3,0.8,mmol/L,2026-06-01T08:00:00Z
a,2601-3,0.8,mmol/L,2026-06-01T08:00:00Z
a,2601-3,abc,mmol/L,2026-06-01
a,2601-3,0.7,furlongs,2026-06-01
a,2601-3,0.7,,2026-06-01
a,2951-2,140,mmol/L,2026-06-01
a,2601-3,0.9,mmol/L,not a date
a,2601-3,-1,mmol/L,2026-06-01
a,2601-3,900,mmol/L,2026-06-01
a,2601-3,0.9,mmol/L,2999-01-01
a,2601-3,0.9,mmol/L,1890-01-01
a,2601-3,0.9,mmol/L,1950-01-01
zz,2601-3,0.9,mmol/L,2026-06-01
,2601-3,0.9,mmol/L,2026-06-01
b,2000-8,9.4,mmol/L,2026-06-02
""",
    )
    meds = _write(
        tmp_path / "m.csv",
        "person_id,code,system,start,end\na,omeprazole,text,2026-01-01,\na,x,ndc,,\na,lasix,text,2026-05-01,2026-04-01\na,,text,,",
    )
    conds = _write(
        tmp_path / "c.csv",
        "person_id,code,system,onset\na,E11.9,icd10,2020-01-01\na,E11.9,icd9,\na,I10,icd10,2999-01-01\nq,I10,icd10,",
    )
    summary = _run(tmp_path, persons_csv, labs, meds, conds)
    tables = summary.data["tables"]
    assert tables["labs"]["excluded"] == {
        "dated-after-today": 1,
        "dated-before-1900": 1,
        "dated-before-birth": 1,
        "effective-not-a-date": 1,
        "loinc-not-screened": 1,
        "missing-person-id": 1,
        "unit-not-valid-for-analyte": 2,
        "unknown-person": 1,
        "value-impossible-in-every-unit": 1,
        "value-not-a-number": 1,
        "value-not-positive": 1,
    }
    assert tables["labs"]["used"] == 3
    assert tables["labs"]["exact_duplicate_rows"] == 1
    assert tables["labs"]["left_out_of_calculations"]["implausible-for-unit"] == 1
    assert tables["medications"]["excluded"] == {
        "code-missing": 1,
        "ends-before-start": 1,
        "system-not-atc-rxnorm-text": 1,
    }
    assert tables["conditions"]["excluded"] == {
        "onset-after-today": 1,
        "system-not-icd10-snomed-text": 1,
        "unknown-person": 1,
    }
    examples = tables["labs"]["excluded_examples"]["unit-not-valid-for-analyte"]
    assert {e["unit"] for e in examples} == {"furlongs", None}
    assert summary.data["counts"]["persons_without_lab_results"] == 1
    assert summary.mg_status["normal"] == 1
    assert summary.codes["implausible-unit"] == 1  # b: Ca 9.4 "mmol/L"
    assert tables["persons"]["notes"] == {}


def test_invalid_person_rows_are_excluded_with_reasons(tmp_path: Path) -> None:
    persons = _write(
        tmp_path / "p.csv",
        """
person_id,birth_date,age_years,sex
a,1960-01-01,,female
a,1960-01-01,,female
b,2999-01-01,,male
c,,45.5,male
d,,200,male
e,nope,,male
,1960-01-01,,male
f,,40,robot
""",
    )
    labs = _write(
        tmp_path / "l.csv", "person_id,loinc,value,unit,effective\nb,2601-3,0.8,mmol/L,2026-06-01"
    )
    summary = _run(tmp_path, persons, labs)
    info = summary.data["tables"]["persons"]
    assert info["excluded"] == {
        "age-years-not-a-whole-number-0-130": 2,
        "birth-date-after-today": 1,
        "birth-date-not-a-date": 1,
        "duplicate-row": 1,
        "missing-person-id": 1,
    }
    assert info["screened"] == 2
    assert info["notes"]["sex-value-not-male-female (read as unknown)"] == 1
    assert summary.data["tables"]["labs"]["excluded"] == {"person-excluded": 1}


def test_deceased_persons_are_excluded_and_counted(tmp_path: Path) -> None:
    """A death before the as-of date, or an unreadable death date, excludes the person with a
    reason (their lab rows count as person-excluded); a death on the as-of date does not."""
    persons = _write(
        tmp_path / "p.csv",
        """
person_id,birth_date,sex,deceased_date
a,1960-01-01,female,
b,1960-01-01,male,2026-06-29T23:30:00+08:00
c,1960-01-01,male,2026-06-30
d,1960-01-01,female,sometime
e,1960-01-01,female,2020-01-01
""",
    )
    labs = _write(
        tmp_path / "l.csv",
        "person_id,loinc,value,unit,effective\nb,2601-3,0.8,mmol/L,2026-06-01\n"
        "c,2601-3,0.8,mmol/L,2026-06-01",
    )
    summary = _run(tmp_path, persons, labs)
    tables = summary.data["tables"]
    assert tables["persons"]["excluded"] == {
        "deceased-before-as-of": 2,
        "deceased-date-not-a-date": 1,
    }
    assert tables["persons"]["screened"] == summary.persons == 2
    assert tables["labs"]["excluded"] == {"person-excluded": 1}
    assert summary.mg_status["normal"] == 1


def test_unknown_file_type_and_missing_file(tmp_path: Path, persons_csv: Path) -> None:
    odd = _write(tmp_path / "labs.xlsx", "x")
    with pytest.raises(ScreenInputError, match="unknown file type"):
        _run(tmp_path, persons_csv, odd)
    with pytest.raises(ScreenInputError, match="no such file"):
        _run(tmp_path, persons_csv, tmp_path / "absent.parquet")


def test_empty_persons_table_is_an_error(tmp_path: Path) -> None:
    persons = _write(tmp_path / "p.csv", "person_id,birth_date,sex")
    labs = _write(tmp_path / "l.csv", "person_id,loinc,value,unit,effective")
    with pytest.raises(ScreenInputError, match="persons: the table has no rows"):
        _run(tmp_path, persons, labs)


def test_unknown_engine(tmp_path: Path, persons_csv: Path) -> None:
    with pytest.raises(ScreenInputError, match="unknown engine"):
        run_screen(
            persons_csv, persons_csv, None, None, tmp_path / "o", "polars", AS_OF, None, False
        )
