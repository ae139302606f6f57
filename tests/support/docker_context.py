"""The files ``docker build`` sends to the daemon, honouring ``.dockerignore`` as Docker does.

Docker's rules: each line is a pattern relative to the context (``*`` and ``?`` within one
path segment, ``**`` across any number of them); a pattern that names a folder names all that
is inside it; ``!`` takes back what an earlier pattern left out; the last pattern that matches
a path decides. An excluded folder is not entered unless a ``!`` pattern reaches inside it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Pattern:
    """One line of ``.dockerignore``."""

    text: str
    regex: re.Pattern[str]
    include: bool

    def matches(self, path: str) -> bool:
        """Whether the pattern names ``path`` or a folder it is in."""
        parts = path.split("/")
        return any(self.regex.fullmatch("/".join(parts[:end])) for end in range(1, len(parts) + 1))


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            char = pattern[i]
            out += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
            i += 1
    return re.compile(out)


def patterns(dockerignore: Path) -> list[Pattern]:
    """The patterns of a ``.dockerignore`` file, in order."""
    found = []
    for raw in dockerignore.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        text = str(PurePosixPath(os.path.normpath(line.removeprefix("!").strip()))).lstrip("/")
        found.append(Pattern(text, _regex(text), include))
    return found


def _excluded(path: str, rules: list[Pattern]) -> bool:
    excluded = False
    for rule in rules:
        if rule.matches(path):
            excluded = not rule.include
    return excluded


def context_files(root: Path) -> set[str]:
    """Every file (as a path relative to ``root``) a build with this context would send."""
    ignore = root / ".dockerignore"
    rules = patterns(ignore) if ignore.exists() else []
    sent: set[str] = set()
    for folder, dirs, files in os.walk(root):
        here = Path(folder).relative_to(root).as_posix()
        prefix = "" if here == "." else f"{here}/"
        for name in list(dirs):
            path = prefix + name
            reached = any(rule.include and f"{rule.text}/".startswith(f"{path}/")
                          for rule in rules)
            if _excluded(path, rules) and not reached:
                dirs.remove(name)  # Docker does not enter it
        sent.update(prefix + name for name in files if not _excluded(prefix + name, rules))
    return sent
