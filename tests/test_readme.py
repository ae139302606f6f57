"""The README's promises that can drift: its diagram and its two commands."""

from __future__ import annotations

import re
from pathlib import Path

from bot.content import load_content
from bot.dialogue.graph import to_mermaid

README = Path(__file__).resolve().parents[1] / "README.md"
CI = Path(__file__).resolve().parents[1] / ".ci" / "run"


def test_the_screening_diagram_is_the_one_drawn_from_the_yaml() -> None:
    shown = re.search(r"```mermaid\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert shown is not None
    drawn = to_mermaid(load_content().engines["screening"].dialogue)
    assert shown.group(1) == drawn


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README.read_text(encoding="utf-8"), re.DOTALL)
    test_command = next(c for c in commands if c.endswith("pytest"))
    assert test_command in CI.read_text(encoding="utf-8")
