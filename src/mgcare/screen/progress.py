"""Progress for long runs: one line per step on stderr with the engine's own query progress.

Shown only when asked and stderr is a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

PERCENT = 100.0


class Steps:
    """A rich progress display (or nothing): `with steps.step("labs"): ...`."""

    def __init__(
        self,
        enabled: bool,
        total: int,
        on_fraction: Callable[[Callable[[float], None] | None], None] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """`labels` shows each step name in the reader's language."""
        self.enabled = enabled and sys.stderr.isatty()
        self.total = total
        self._on_fraction = on_fraction
        self._labels = labels or {}
        self._progress: Any = None
        self._overall: Any = None

    def __enter__(self) -> Steps:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]mgcare screen[/bold] {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._overall = self._progress.add_task("", total=self.total * PERCENT)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._on_fraction is not None:
            self._on_fraction(None)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self._progress is None:
            yield
            return
        progress, overall = self._progress, self._overall
        base = progress.tasks[0].completed
        progress.update(overall, description=self._labels.get(name, name))

        def report(percent: float) -> None:
            progress.update(overall, completed=base + min(percent, PERCENT))

        if self._on_fraction is not None:
            self._on_fraction(report)
        try:
            yield
        finally:
            progress.update(overall, completed=base + PERCENT)
