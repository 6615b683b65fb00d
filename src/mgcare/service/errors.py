"""One-line reasons for invalid requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def validation_reason(errors: Sequence[Mapping[str, Any]]) -> str:
    """`where: what` for the first problem. Never echoes the input: it may hold tokens."""
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = " ".join(str(first.get("msg", "invalid")).split())
    return f"{where}: {message}" if where else message
