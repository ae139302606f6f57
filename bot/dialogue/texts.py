"""The catalog of every string a patient sees, per language, and how Texts are rendered."""

from __future__ import annotations

import html
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.dialogue.problems import Problem
from bot.dialogue.turn import Message, Text
from bot.dialogue.yamlio import LineDict, YamlError, load_yaml

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
_TAG = re.compile(r"</?(?:b|i)>")
# A placeholder any template may use, filled from the clinic's settings rather than by the code
# that sends the text, so every language names the same number (or none).
EMERGENCY_NUMBER = "emergency_number"
# Said instead of a number when the clinic has not set one.
LOCAL_EMERGENCY_NUMBER = Text("setting.local_emergency_number")
# Where to go today with an urgent sign (LDH_URGENT_CONTACT), filled the same way.
URGENT_CONTACT = "urgent_contact"
# Said instead of the clinic's urgent contact when it has not set one.
LOCAL_URGENT_CONTACT = Text("setting.local_urgent_contact")


def _setting_values() -> dict[str, Text]:
    return {EMERGENCY_NUMBER: LOCAL_EMERGENCY_NUMBER, URGENT_CONTACT: LOCAL_URGENT_CONTACT}


def placeholders(template: str) -> frozenset[str]:
    """The ``{name}`` placeholders a template uses."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


@dataclass(frozen=True)
class Catalog:
    """Templates by language and key; keys are dotted paths of the YAML nesting."""

    templates: Mapping[str, Mapping[str, str]]
    lines: Mapping[str, Mapping[str, int]]
    paths: Mapping[str, Path]
    # Values of the setting placeholders (EMERGENCY_NUMBER, URGENT_CONTACT), rendered in the
    # message's language.
    settings: Mapping[str, Text] = field(default_factory=_setting_values)

    def with_emergency_number(self, number: str | None) -> Catalog:
        """The same catalog, naming ``number`` wherever a text says the emergency number."""
        value = Text.raw(number) if number else LOCAL_EMERGENCY_NUMBER
        return replace(self, settings={**self.settings, EMERGENCY_NUMBER: value})

    def with_urgent_contact(self, contact: str | None) -> Catalog:
        """The same catalog, naming ``contact`` wherever a text says where to go today."""
        value = Text.raw(contact) if contact else LOCAL_URGENT_CONTACT
        return replace(self, settings={**self.settings, URGENT_CONTACT: value})

    def has(self, key: str) -> bool:
        """Whether every language defines ``key``."""
        return all(key in self.templates[lang] for lang in self.templates)

    def template(self, language: str, key: str) -> str:
        """The template for ``key`` in ``language`` (English when the language is unknown)."""
        table = self.templates.get(language) or self.templates[DEFAULT_LANGUAGE]
        return table[key]

    def html(self, text: Text, language: str) -> str:
        """Render as Telegram HTML: templates are trusted markup, values are escaped."""
        return self._render(text, language, html.escape)

    def plain(self, text: Text, language: str) -> str:
        """Render as plain text for a terminal: markup dropped, entities unescaped.

        Values are escaped before the templates' tags are dropped, so what a patient typed
        comes out exactly as typed, angle brackets included.
        """
        return html.unescape(_TAG.sub("", self._render(text, language, html.escape)))

    def message_html(self, message: Message, language: str) -> str:
        """One chat message as HTML, its parts separated by blank lines."""
        return "\n\n".join(self.html(part, language) for part in message.parts)

    def message_plain(self, message: Message, language: str) -> str:
        """One chat message as plain text."""
        return "\n\n".join(self.plain(part, language) for part in message.parts)

    def _render(self, text: Text, language: str, escape: Callable[[str], str]) -> str:
        if not text.key:
            return escape(str(text.values.get("", "")))
        template = self.template(language, text.key)
        values = {name: self._value(value, language, escape) for name, value in text.values.items()}
        for name, setting in self.settings.items():
            if name not in values and f"{{{name}}}" in template:
                values[name] = self._value(setting, language, escape)
        return template.format_map(values)

    def _value(self, value: object, language: str, escape: Callable[[str], str]) -> str:
        if isinstance(value, Text):
            return self._render(value, language, escape)
        if isinstance(value, list):
            return "".join(f"\n• {self._value(item, language, escape)}" for item in value)
        return escape(str(value))


def load_catalog(dialogues_dir: Path) -> tuple[Catalog, list[Problem]]:
    """Load ``texts/<lang>.yaml`` for every language and check they define the same keys."""
    templates: dict[str, dict[str, str]] = {}
    lines: dict[str, dict[str, int]] = {}
    paths: dict[str, Path] = {}
    problems: list[Problem] = []
    for language in LANGUAGES:
        path = dialogues_dir / "texts" / f"{language}.yaml"
        paths[language] = path
        templates[language], lines[language] = {}, {}
        try:
            data = load_yaml(path)
        except YamlError as error:
            problems.append(Problem(path, error.line, error.message))
            continue
        if not isinstance(data, LineDict) or not isinstance(data.get("version"), int):
            problems.append(Problem(path, getattr(data, "line", 1), "the file needs 'version:'"))
            continue
        body = LineDict({k: v for k, v in data.items() if k != "version"})
        body.key_lines = data.key_lines
        _flatten(body, "", path, templates[language], lines[language], problems)
    catalog = Catalog(templates, lines, paths)
    problems.extend(_compare_languages(catalog))
    return catalog, problems


def _flatten(  # noqa: PLR0913, PLR0917  # a recursive walk carrying its accumulators
    node: LineDict,
    prefix: str,
    path: Path,
    into: dict[str, str],
    lines: dict[str, int],
    problems: list[Problem],
) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        line = node.key_lines.get(key, node.line)
        if isinstance(value, LineDict):
            _flatten(value, f"{name}.", path, into, lines, problems)
        elif isinstance(value, str) and value.strip():
            into[name], lines[name] = value, line
        else:
            problems.append(Problem(path, line, f"text '{name}' must be a non-empty string"))


def _compare_languages(catalog: Catalog) -> list[Problem]:
    problems: list[Problem] = []
    reference = DEFAULT_LANGUAGE
    for language in LANGUAGES:
        if language == reference:
            continue
        ours, theirs = catalog.templates[language], catalog.templates[reference]
        path, ref_path = catalog.paths[language], catalog.paths[reference]
        for key in sorted(theirs.keys() - ours.keys()):
            line = catalog.lines[reference][key]
            problems.append(Problem(ref_path, line, f"text '{key}' has no {language} version"))
        for key in sorted(ours.keys() - theirs.keys()):
            line = catalog.lines[language][key]
            problems.append(Problem(path, line, f"text '{key}' has no {reference} version"))
        for key in sorted(ours.keys() & theirs.keys()):
            if placeholders(ours[key]) != placeholders(theirs[key]):
                line = catalog.lines[language][key]
                msg = (
                    f"text '{key}' uses placeholders {sorted(placeholders(ours[key]))} "
                    f"but the {reference} version uses {sorted(placeholders(theirs[key]))}"
                )
                problems.append(Problem(path, line, msg))
    return problems
