"""Numbers in user text are rounded, never mangled."""

from __future__ import annotations

import pytest

from mgcare.rules.render import fmt


@pytest.mark.parametrize(
    ("number", "digits", "text"),
    [
        (30, 0, "30"),
        (30.0, 0, "30"),
        (0.70, 2, "0.7"),
        (2.55, 2, "2.55"),
        (100.0, 2, "100"),
        (-0.001, 2, "0"),
        (1.25, 1, "1.2"),
    ],
)
def test_fmt(number: float, digits: int, text: str) -> None:
    assert fmt(number, digits) == text
