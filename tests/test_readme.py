"""Documented by example: every `console` block of the README is run and its shown lines checked.

In a block, a line starting with `$ ` is a command; the lines after it (until the next command)
must each appear in the command's output, in order; `...` stands for lines not shown. The
commands run in README order against one fresh store (`MGCARE_DATABASE_URL`), as a reader who
types them one after another would, and never touch the real user data directory.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def examples() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for block in BLOCK.findall(README.read_text(encoding="utf-8")):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *expected = chunk.rstrip("\n").split("\n")
            found.append(
                (command, [line for line in expected if line.strip() and line.strip() != "..."])
            )
    return found


def normalise(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def reader_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One fresh store and data directory shared by the README's commands, in order."""
    home = tmp_path_factory.mktemp("readme-home")
    return {
        **os.environ,
        "MGCARE_DATABASE_URL": f"sqlite:///{home / 'mgcare.sqlite3'}",
        "XDG_DATA_HOME": str(home / "data"),
    }


@pytest.mark.parametrize(
    ("command", "expected"), examples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_readme_example(command: str, expected: list[str], reader_env: dict[str, str]) -> None:
    argv = shlex.split(command)
    assert argv[0] == "mgcare"
    done = subprocess.run(
        [sys.executable, "-m", "mgcare.cli", *argv[1:]],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=reader_env,
        check=False,
    )
    output = normalise(done.stdout + done.stderr)
    position = 0
    for line in expected:
        index = output.find(normalise(line), position)
        assert index >= 0, (
            f"README line not in output of `{command}`:\n{line}\n--- output ---\n{done.stdout}{done.stderr}"
        )
        position = index


def test_readme_has_examples() -> None:
    assert len(examples()) >= 5
