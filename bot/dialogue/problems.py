"""A fault found in the dialogue files, said as ``file:line: sentence``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One fault in one file at one line."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        """The form editors and terminals recognise: ``path:line: message``."""
        return f"{self.path}:{self.line}: {self.message}"


class DialogueError(Exception):
    """The dialogue files have faults; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        """Keep the problems and say them one per line."""
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems
