"""Reading typed answers (clinical spec §2a): whole answers only, never a guess towards no.

A typed answer is taken only when the *whole* of it, once case, spaces, punctuation and emoji
around it are set aside, is one of the phrases in ``dialogues/answers.yaml``. A sentence that
starts like an answer but says more ("no feeling down there", "不能控制小便") is no answer at
all: the question is asked again. A doubtful mark ("no?", "没有。。。", "no 🤔") makes a yes or
a no a hedge, and a hedge is never a no. Nothing here has a default.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bot.dialogue.yamlio import LineDict, LineList, YamlError, load_yaml

YES, NO, NOT_SURE = "yes", "no", "not_sure"
HEDGES, LEANS_YES, UNCLEAR, DOES_NOT_APPLY = "hedges", "leans_yes", "unclear", "does_not_apply"
# The sections of answers.yaml that are lists of phrases per language.
PHRASE_SECTIONS = (YES, NO, NOT_SURE, HEDGES, LEANS_YES, UNCLEAR, DOES_NOT_APPLY)
_NUMBER_SECTIONS = ("numbers", "multipliers")

# Typographic quotes folded to the plain apostrophe, so "don’t" reads as "don't".
_QUOTES = str.maketrans({"’": "'", "‘": "'", "＇": "'", "`": "'"})
# Inside an answer, runs of anything but letters, digits, apostrophes and "/" are one space.
_INNER = re.compile(r"[^\w'/]+")
# Latin letters repeated at the end of a word ("nooo", "yesss"); never inside one ("noone").
_END_REPEATS = re.compile(r"([a-z])\1+\b")
_WHOLE_NUMBER = re.compile(r"\d+")
_NEGATIVE = re.compile(r"(^|\s)[-−]\s*\d")
# Parts of an emoji that are no mark of their own: a joiner and what it joins, the variation
# selectors and skin tones ("👍🏽" is "👍", "🤷‍♀️" is "🤷").
_EMOJI_PARTS = re.compile("\u200d.?|[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")
# Marks that join the words of one answer ("no, I don't", "n/a"), not a feeling about it.
_JOINERS = frozenset(",，、'/-_’‘＇`\"“”")


def normalise(raw: str) -> str:
    """Case-folded and NFKC-folded, with inner punctuation as single spaces, trimmed."""
    text = unicodedata.normalize("NFKC", raw).translate(_QUOTES).casefold()
    return _INNER.sub(" ", text).replace("_", " ").strip(" '")


def _squeezed(text: str) -> str:
    """Latin letters repeated at the end of a word read as one ("yesss" → "yes")."""
    return _END_REPEATS.sub(r"\1", text)


class Mood(StrEnum):
    """What the marks around a typed answer say about it (spec §2a "a doubtful no")."""

    PLAIN = "plain"  # none, or ".", "!", "。", "！" or a plainly content emoji
    DOUBTFUL = "doubtful"  # a question mark, an ellipsis or a doubtful emoji
    OTHER = "other"  # any other emoji or mark


class How(StrEnum):
    """How a typed answer to a yes/no question was read."""

    CLEAR = "clear"  # one value, said plainly
    HEDGE = "hedge"  # doubt: a hedge, or a yes or no with a doubtful mark
    LEANS_YES = "leans_yes"  # a hedge that leans to yes ("a little", "有一点")
    UNREAD = "unread"  # not one answer: asked again


@dataclass(frozen=True)
class Reading:
    """A typed answer as read: the value (None when none is taken) and how it was read."""

    value: str | None
    how: How


_HEDGE = Reading(None, How.HEDGE)
_UNREAD = Reading(None, How.UNREAD)


@dataclass(frozen=True)
class Marks:
    """The marks that leave an answer plain, and those that make it doubtful (answers.yaml)."""

    plain: frozenset[str] = frozenset(".!。")
    doubtful: tuple[str, ...] = ("?", "..", "。。")

    def mood(self, raw: str) -> Mood:
        """Whether the marks in ``raw`` leave it plain, make it doubtful, or are other marks."""
        text = _EMOJI_PARTS.sub("", unicodedata.normalize("NFKC", raw))
        if any(mark in text for mark in self.doubtful):
            return Mood.DOUBTFUL
        for char in text:
            if not (char.isalnum() or char.isspace() or char in _JOINERS or char in self.plain):
                return Mood.OTHER
        return Mood.PLAIN


@dataclass(frozen=True)
class Vocabulary:
    """The phrases that answer a question, per language (from ``dialogues/answers.yaml``)."""

    phrases: Mapping[str, Mapping[str, frozenset[str]]]
    numbers: Mapping[str, Mapping[str, int]]
    multipliers: Mapping[str, Mapping[str, int]]
    number_before: Mapping[str, tuple[str, ...]]
    number_after: Mapping[str, tuple[str, ...]]
    marks: Marks = field(default_factory=Marks)
    # Traditional characters read as the simplified ones (沒有 = 没有), as str.translate takes.
    fold: Mapping[int, str] = field(default_factory=dict)

    def normalise(self, raw: str) -> str:
        """``normalise``, with traditional characters read as the simplified ones."""
        return normalise(raw).translate(self.fold)

    def section(self, raw: str) -> str | None:
        """The phrase section the whole answer is in, or None; repeats squeezed at word ends."""
        text = self.normalise(raw)
        if not text:
            return None
        squeezed = _squeezed(text)
        for name, languages in self.phrases.items():
            for words in languages.values():
                if text in words or squeezed in words:
                    return name
        return None

    def says(self, section: str, raw: str) -> bool:
        """Whether the whole answer is one of the phrases of ``section``, in any language."""
        return self.section(raw) == section

    def plain_words(self, raw: str) -> bool:
        """Whether ``raw`` is words with plain marks only, and no phrase of any section."""
        return self.section(raw) is None and self.marks.mood(raw) is Mood.PLAIN

    def read(self, raw: str, values: tuple[str, ...], *, red_flag: bool = False) -> Reading:
        """A typed answer to a yes/no question by spec §2a, before any confirmation.

        On a question with Not sure among ``values``, a no is taken only with plain marks
        around it: a doubtful mark makes it a hedge (as for a yes), any other mark unread.
        On a red flag a hedge that leans to yes is taken as yes.
        """
        section = self.section(raw)
        if section == LEANS_YES:
            return Reading(YES, How.LEANS_YES) if red_flag else _HEDGE
        if section == HEDGES or (section == NOT_SURE and NOT_SURE not in values):
            return _HEDGE
        if section is None or section not in values:
            return _UNREAD  # words that answer nothing ("ok", "还好"), or no phrase at all
        if section in {YES, NO}:
            mood = self.marks.mood(raw)
            if mood is Mood.DOUBTFUL:
                return _HEDGE
            if mood is Mood.OTHER and section == NO and NOT_SURE in values:
                return _UNREAD  # a no with a mark of unknown meaning is not plainly a no
        return Reading(section, How.CLEAR)

    def choice(self, raw: str, values: tuple[str, ...]) -> str | None:
        """Yes, no, not_sure or does_not_apply (where ``values`` has it) from a typed answer.

        None means ask again.

        A hedge is never yes or no: it is asked again (a red flag's is confirmed by the engine).
        """
        return self.read(raw, values).value

    def number(self, raw: str) -> int | None:
        """A whole number, written in digits or words, that is the whole answer; else None.

        Words around it that only name its unit ("45 years", "7/10", "45岁") are allowed.
        """
        if _NEGATIVE.search(unicodedata.normalize("NFKC", raw)):
            return None  # "-3" is out of range, not 3
        text = self._strip_units(self.normalise(raw))
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
    if data.get("version") != 3:  # noqa: PLR2004  # the file's format version
        raise YamlError(path, data.line, "this program reads answers version 3")

    def section(name: str) -> LineDict:
        value = data.get(name)
        if not isinstance(value, LineDict):
            raise YamlError(path, data.line, f"the file needs a '{name}:' mapping")
        return value

    def phrase_list(name: str, lang: str, words: object) -> tuple[str, ...]:
        if not isinstance(words, LineList) or not words:
            line = section(name).key_lines.get(lang, data.line)
            raise YamlError(path, line, f"'{name}.{lang}' must be a non-empty list of phrases")
        return tuple(str(w) for w in words)

    fold = _fold_table(path, section("traditional"))
    phrases = {
        name: {lang: frozenset(_forms(phrase_list(name, lang, ws), fold))
               for lang, ws in section(name).items()}
        for name in PHRASE_SECTIONS
    }
    _refuse_overlaps(path, phrases)
    numbers = {
        name: {lang: {normalise(str(w)).translate(fold): int(v) for w, v in table.items()}
               for lang, table in section(name).items()}
        for name in _NUMBER_SECTIONS
    }
    units = section("number_units")
    before = {lang: tuple(normalise(w) for w in phrase_list("number_units", lang,
                                                             table.get("before")))
              for lang, table in units.items()}
    after = {lang: tuple(normalise(w) for w in phrase_list("number_units", lang,
                                                            table.get("after")))
             for lang, table in units.items()}
    marks = section("marks")
    plain, doubtful = (phrase_list("marks", kind, marks.get(kind))
                       for kind in ("plain", "doubtful"))
    return Vocabulary(phrases, numbers["numbers"], numbers["multipliers"],
                      _longest_first(before), _longest_first(after),
                      Marks(frozenset(unicodedata.normalize("NFKC", m) for m in plain),
                            tuple(unicodedata.normalize("NFKC", m) for m in doubtful)),
                      fold)


def _forms(words: tuple[str, ...], fold: Mapping[int, str]) -> set[str]:
    """Each phrase as it is read: normalised, folded, and with end-of-word repeats squeezed."""
    forms = set()
    for word in words:
        text = normalise(word).translate(fold)
        forms |= {text, _squeezed(text)}
    return forms


def _fold_table(path: Path, table: LineDict) -> dict[int, str]:
    """The traditional → simplified table: one character to one character."""
    fold: dict[int, str] = {}
    for traditional, simplified in table.items():
        if len(str(traditional)) != 1 or not isinstance(simplified, str) or len(simplified) != 1:
            line = table.key_lines.get(traditional, table.line)
            raise YamlError(path, line, f"'traditional.{traditional}' must map one character "
                            "to one character")
        fold[ord(str(traditional))] = simplified
    return fold


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
