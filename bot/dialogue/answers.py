"""Understanding typed answers: yes/no and their synonyms, numbers in digits or words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.dialogue.yamlio import LineDict, YamlError, load_yaml

# A minus sign is kept, so "-3" is refused as out of range instead of read as 3.
_DIGITS = re.compile(r"-?\d+")
_SEPARATORS = re.compile(r"[\s\-,]+|\band\b")
_PUNCTUATION = "。，！？、.!?,;:；：~～\"'“”‘’()（）"


@dataclass(frozen=True)
class Vocabulary:
    """The words for yes, no and numbers in each language (from ``dialogues/answers.yaml``)."""

    yes: Mapping[str, tuple[str, ...]]
    no: Mapping[str, tuple[str, ...]]
    unsure: Mapping[str, tuple[str, ...]]
    numbers: Mapping[str, Mapping[str, int]]
    multipliers: Mapping[str, Mapping[str, int]]

    def yes_no(self, raw: str) -> str | None:
        """``"yes"``, ``"no"`` or None when the text is neither, in any language."""
        text = normalise(raw)
        # "no idea" must not count as "no": doubt anywhere means the question is asked again.
        if any(word in text for words in self.unsure.values() for word in words):
            return None
        best: tuple[int, str] | None = None
        for answer, table in (("yes", self.yes), ("no", self.no)):
            for words in table.values():
                for word in words:
                    if _starts_with_word(text, word) and (best is None or len(word) > best[0]):
                        best = (len(word), answer)
        return best[1] if best else None

    def number(self, raw: str) -> int | None:
        """A whole number written in digits or in words (English or Chinese), else None."""
        text = normalise(raw)
        found = _DIGITS.findall(text)
        if len(found) == 1:
            return int(found[0])
        if found:
            return None
        return self._english_number(text) if text.isascii() else self._chinese_number(text)

    def _english_number(self, text: str) -> int | None:
        words = [w for w in _SEPARATORS.split(text) if w]
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
        chars = [c for c in text if c not in "岁分周"]  # units a patient may append
        if not chars or any(c not in units and c not in scales for c in chars):
            return None
        total, pending = 0, None
        for char in chars:
            if char in scales:
                total += (1 if pending is None else pending) * scales[char]
                pending = None
            else:
                pending = units[char] if pending is None else pending * 10 + units[char]
        return total + (pending or 0)


def _starts_with_word(text: str, word: str) -> bool:
    if not text.startswith(word):
        return False
    rest = text[len(word) :]
    # Chinese has no spaces between words; English needs a word boundary.
    return not rest or not word.isascii() or not rest[0].isalnum()


def normalise(raw: str) -> str:
    """Lower-case, full-width folded, punctuation and surrounding spaces removed."""
    text = unicodedata.normalize("NFKC", raw).casefold().strip()
    return text.strip(_PUNCTUATION).strip()


def load_vocabulary(dialogues_dir: Path) -> Vocabulary:
    """Read ``answers.yaml``; a missing or malformed section raises YamlError."""
    path = dialogues_dir / "answers.yaml"
    data = load_yaml(path)
    if not isinstance(data, LineDict):
        raise YamlError(path, 1, "the file must be a mapping")

    def section(name: str) -> LineDict:
        value = data.get(name)
        if not isinstance(value, LineDict):
            raise YamlError(path, data.line, f"the file needs a '{name}:' mapping of languages")
        return value

    words = {
        name: {lang: tuple(normalise(str(w)) for w in ws) for lang, ws in section(name).items()}
        for name in ("yes", "no", "unsure")
    }
    numbers = {
        name: {lang: {normalise(str(w)): int(v) for w, v in table.items()}
               for lang, table in section(name).items()}
        for name in ("numbers", "multipliers")
    }
    return Vocabulary(
        words["yes"], words["no"], words["unsure"], numbers["numbers"], numbers["multipliers"]
    )
