"""The one error type of batch screening: bad input, reported as a single line (CLI exit 2)."""

from __future__ import annotations


class ScreenInputError(ValueError):
    """The input tables cannot be screened; the message is one line naming the table and column."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
