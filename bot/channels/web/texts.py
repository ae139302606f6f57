"""The dashboard's texts, from ``dialogues/dashboard/<language>.yaml``."""

from __future__ import annotations

import string
from pathlib import Path

from bot.content import DIALOGUES_DIR
from bot.dialogue.texts import DEFAULT_LANGUAGE, LANGUAGES
from bot.dialogue.yamlio import load_yaml


class WebTextError(ValueError):
    """The dashboard's texts are incomplete or malformed."""


def _flatten(node: object, prefix: str, into: dict[str, str], path: Path) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "version":
                _flatten(value, f"{prefix}{key}.", into, path)
    elif isinstance(node, str) and node.strip():
        into[prefix.rstrip(".")] = node
    else:
        msg = f"{path}: text {prefix.rstrip('.')!r} must be a non-empty string"
        raise WebTextError(msg)


def _fields(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


class WebTexts:
    """Every text of the dashboard in every language; the same keys and placeholders in each."""

    def __init__(self, directory: Path = DIALOGUES_DIR) -> None:
        """Load and check the texts."""
        self.texts: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            path = directory / "dashboard" / f"{language}.yaml"
            found: dict[str, str] = {}
            _flatten(load_yaml(path), "", found, path)
            self.texts[language] = found
        reference = self.texts[DEFAULT_LANGUAGE]
        for language, found in self.texts.items():
            if found.keys() != reference.keys():
                missing = sorted(found.keys() ^ reference.keys())
                msg = f"dashboard texts of {language} differ from {DEFAULT_LANGUAGE}: {missing}"
                raise WebTextError(msg)
            for key, template in found.items():
                if _fields(template) != _fields(reference[key]):
                    msg = f"dashboard text {key!r} of {language} has other placeholders"
                    raise WebTextError(msg)

    def has(self, key: str) -> bool:
        """Whether a text exists."""
        return key in self.texts[DEFAULT_LANGUAGE]

    def get(self, language: str, key: str, **values: object) -> str:
        """A text with its values filled in (unescaped: templates escape what they show)."""
        texts = self.texts.get(language) or self.texts[DEFAULT_LANGUAGE]
        return texts[key].format_map({k: str(v) for k, v in values.items()})
