"""Reading typed answers (clinical spec §2a): whole answers only, never a guess towards no.

A typed answer is taken only when the *whole* of it, once case, spaces, punctuation and emoji
around it are set aside, is one of the phrases in ``dialogues/answers.yaml``. A sentence that
starts like an answer but says more ("no feeling down there", "不能控制小便") is no answer at
all: the question is asked again. Hedges ("maybe", "有一点") are not_sure where the question
has that answer, and otherwise asked again. Nothing here has a default.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.dialogue.yamlio import LineDict, LineList, YamlError, load_yaml

YES, NO, NOT_SURE, DOES_NOT_APPLY = "yes", "no", "not_sure", "does_not_apply"
# The sections of answers.yaml that are lists of phrases per language.
PHRASE_SECTIONS = (YES, NO, NOT_SURE, "hedges", DOES_NOT_APPLY)
_NUMBER_SECTIONS = ("numbers", "multipliers")

# Typographic quotes folded to the plain apostrophe, so "don’t" reads as "don't".
_QUOTES = str.maketrans({"’": "'", "‘": "'", "＇": "'", "`": "'"})
# Inside an answer, runs of anything but letters, digits, apostrophes and "/" are one space.
_INNER = re.compile(r"[^\w'/]+")
_REPEATS = re.compile(r"(.)\1+")
_WHOLE_NUMBER = re.compile(r"\d+")
_NEGATIVE = re.compile(r"(^|\s)[-−]\s*\d")


def normalise(raw: str) -> str:
    """Case-folded and NFKC-folded, with inner punctuation as single spaces, trimmed."""
    text = unicodedata.normalize("NFKC", raw).translate(_QUOTES).casefold()
    return _INNER.sub(" ", text).replace("_", " ").strip(" '")


def _squeezed(text: str) -> str:
    """Repeated letters as one ("yesss" → "yes", "nooo" → "no"); only for Latin letters."""
    return _REPEATS.sub(r"\1", text) if text.isascii() else text


@dataclass(frozen=True)
class Vocabulary:
    """The phrases that answer a question, per language (from ``dialogues/answers.yaml``)."""

    phrases: Mapping[str, Mapping[str, frozenset[str]]]
    numbers: Mapping[str, Mapping[str, int]]
    multipliers: Mapping[str, Mapping[str, int]]
    number_before: Mapping[str, tuple[str, ...]]
    number_after: Mapping[str, tuple[str, ...]]

    def says(self, section: str, raw: str) -> bool:
        """Whether the whole answer is one of the phrases of ``section``, in any language."""
        text = normalise(raw)
        if not text:
            return False
        squeezed = _squeezed(text)
        for words in self.phrases.get(section, {}).values():
            if text in words or squeezed in words:
                return True
        return False

    def choice(self, raw: str, values: tuple[str, ...]) -> str | None:
        """Yes, no, not_sure or does_not_apply (where ``values`` has it) from a typed answer.

        None means ask again.

        A hedge is not_sure when that is an answer to this question, never yes or no.
        """
        if NOT_SURE in values and (self.says(NOT_SURE, raw) or self.says("hedges", raw)):
            return NOT_SURE
        if self.says("hedges", raw) or self.says(NOT_SURE, raw):
            return None
        if DOES_NOT_APPLY in values and self.says(DOES_NOT_APPLY, raw):
            return DOES_NOT_APPLY
        found = [value for value in (YES, NO) if value in values and self.says(value, raw)]
        return found[0] if len(found) == 1 else None

    def number(self, raw: str) -> int | None:
        """A whole number, written in digits or words, that is the whole answer; else None.

        Words around it that only name its unit ("45 years", "7/10", "45岁") are allowed.
        """
        if _NEGATIVE.search(unicodedata.normalize("NFKC", raw)):
            return None  # "-3" is out of range, not 3
        text = self._strip_units(normalise(raw))
        if _WHOLE_NUMBER.fullmatch(text):
            return int(text)
        if not text or any(c.isdigit() for c in text):
            return None
        return self._english_number(text) if text.isascii() else self._chinese_number(text)

    def _strip_units(self, text: str) -> str:
        for words in self.number_before.values():
            for word in words:
                if text.startswith(word) and text != word:
                    text = text.removeprefix(word).strip()
                    break
        for words in self.number_after.values():
            for word in words:
                if text.endswith(word) and text != word:
                    text = text.removesuffix(word).strip()
                    break
        return text

    def _english_number(self, text: str) -> int | None:
        words = [w for w in re.split(r"[\s\-]+|\band\b", text) if w]
        units, scales = self.numbers.get("en", {}), self.multipliers.get("en", {})
        if not words or any(w not in units and w not in scales for w in words):
            return None
        total = 0
        for word in words:
            if word in scales:
                total = max(total, 1) * scales[word]
            else:
                total += units[word]
        return total

    def _chinese_number(self, text: str) -> int | None:
        units, scales = self.numbers.get("zh", {}), self.multipliers.get("zh", {})
        chars = list(text)
        if not chars or any(c not in units and c not in scales for c in chars):
            return None
        total, pending = 0, None
        for char in chars:
            if char in scales:
                total += (1 if pending is None else pending) * scales[char]
                pending = None
            elif pending:
                return None  # "六七" is six or seven, not 67
            else:
                pending = units[char]
        return total + (pending or 0)


def load_vocabulary(dialogues_dir: Path) -> Vocabulary:
    """Read ``answers.yaml``; a missing or malformed section raises YamlError."""
    path = dialogues_dir / "answers.yaml"
    data = load_yaml(path)
    if not isinstance(data, LineDict):
        raise YamlError(path, 1, "the file must be a mapping")
    if data.get("version") != 2:  # noqa: PLR2004  # the file's format version
        raise YamlError(path, data.line, "this program reads answers version 2")

    def section(name: str) -> LineDict:
        value = data.get(name)
        if not isinstance(value, LineDict):
            raise YamlError(path, data.line, f"the file needs a '{name}:' mapping of languages")
        return value

    def phrase_list(name: str, lang: str, words: object) -> tuple[str, ...]:
        if not isinstance(words, LineList) or not words:
            line = section(name).key_lines.get(lang, data.line)
            raise YamlError(path, line, f"'{name}.{lang}' must be a non-empty list of phrases")
        return tuple(normalise(str(w)) for w in words)

    phrases = {
        name: {lang: frozenset(phrase_list(name, lang, ws)) for lang, ws in section(name).items()}
        for name in PHRASE_SECTIONS
    }
    _refuse_overlaps(path, phrases)
    numbers = {
        name: {lang: {normalise(str(w)): int(v) for w, v in table.items()}
               for lang, table in section(name).items()}
        for name in _NUMBER_SECTIONS
    }
    units = section("number_units")
    before = {lang: phrase_list("number_units", lang, table.get("before"))
              for lang, table in units.items()}
    after = {lang: phrase_list("number_units", lang, table.get("after"))
             for lang, table in units.items()}
    return Vocabulary(phrases, numbers["numbers"], numbers["multipliers"],
                      _longest_first(before), _longest_first(after))


def _longest_first(table: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {lang: tuple(sorted(words, key=len, reverse=True)) for lang, words in table.items()}


def _refuse_overlaps(path: Path, phrases: Mapping[str, Mapping[str, frozenset[str]]]) -> None:
    """A phrase in two sections would be read two ways: refuse the file instead."""
    seen: dict[str, str] = {}
    for name, languages in phrases.items():
        for words in languages.values():
            for word in words:
                if seen.setdefault(word, name) != name:
                    msg = f"'{word}' is listed under both '{seen[word]}' and '{name}'"
                    raise YamlError(path, 1, msg)
