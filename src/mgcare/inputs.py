"""Read a record file (FHIR R4 JSON or mgcare's own JSON) into a validated `PatientRecord`.

Every failure becomes an `InputError` with one line that names the file or resource: users
never see a traceback for bad input.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mgcare.knowledge import Knowledge
from mgcare.model import PatientRecord
from mgcare.validation import RecordError, validate_record

MAX_INPUT_BYTES = 64 * 1024 * 1024


class InputError(ValueError):
    """Bad input: exit code 2 with this one-line message."""


def pydantic_reason(exc: ValidationError) -> str:
    """The first validation problem as `path: message`."""
    first = exc.errors()[0]
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in first.get("loc", ())
    )
    where = where.lstrip(".") or "record"
    return f"{where}: {' '.join(str(first.get('msg')).split())}"


def parse_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None


def record_from_document(
    document: Any, knowledge: Knowledge, today: date, as_of: date | None = None
) -> PatientRecord:
    """A FHIR resource/Bundle (has `resourceType`) or an mgcare record, validated. Every
    failure is an InputError whose message is a single line."""
    try:
        return _record_from_document(document, knowledge, today, as_of)
    except InputError as exc:
        raise InputError(" ".join(str(exc).split())) from None


def _record_from_document(
    document: Any, knowledge: Knowledge, today: date, as_of: date | None
) -> PatientRecord:
    if not isinstance(document, dict):
        raise InputError("input must be a JSON object (a FHIR resource or an mgcare record)")
    if "resourceType" in document:
        from mgcare.fhir import FhirInputError, record_from_fhir

        try:
            record = record_from_fhir(document, knowledge)
        except FhirInputError as exc:
            raise InputError(str(exc)) from None
        except ValidationError as exc:
            raise InputError(pydantic_reason(exc)) from None
    else:
        try:
            record = PatientRecord.model_validate(document)
        except ValidationError as exc:
            raise InputError(f"mgcare record: {pydantic_reason(exc)}") from None
    try:
        validate_record(record, knowledge, today, as_of)
    except RecordError as exc:
        raise InputError(str(exc)) from None
    return record


def load_record(
    path: Path, knowledge: Knowledge, today: date, as_of: date | None = None
) -> PatientRecord:
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(f"{path}: file is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    document = parse_json(text, str(path))
    if not isinstance(document, dict):
        raise InputError(
            f"{path}: input must be a JSON object (a FHIR resource or an mgcare record)"
        )
    return record_from_document(document, knowledge, today, as_of)
