"""Telegram's formatted-text parsing: HTML, MarkdownV2 and Markdown to plain text and entities."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from support.botapi_spec import ApiError, bad_request

JsonDict = dict[str, Any]

PARSE_MODES = frozenset({"HTML", "MarkdownV2", "Markdown"})

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_MAX_CODE_POINT = 0x10FFFF
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = (("```", "pre"), ("||", "spoiler"), ("__", "underline"), ("`", "code"),
                 ("*", "bold"), ("_", "italic"), ("~", "strikethrough"))
_MD_MARKERS = (("```", "pre"), ("`", "code"), ("*", "bold"), ("_", "italic"))
_MAX_ESCAPABLE = 126


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of a character index, as Telegram's error messages give it."""
    return len(text[:index].encode("utf-8"))


def _cant_parse(detail: str) -> ApiError:
    """The error Telegram returns for malformed markup."""
    return bad_request(f"can't parse entities: {detail}")


@dataclass(frozen=True)
class Parsed:
    """Text after entity parsing: what the user sees, and the entities Telegram derives."""

    text: str
    entities: tuple[JsonDict, ...] = ()

    def trimmed(self) -> Parsed:
        """Strip surrounding whitespace as Telegram does, moving and clipping entities."""
        lead = utf16_len(self.text) - utf16_len(self.text.lstrip())
        text = self.text.strip()
        size = utf16_len(text)
        entities: list[JsonDict] = []
        for entity in self.entities:
            start = max(entity["offset"] - lead, 0)
            end = min(entity["offset"] + entity["length"] - lead, size)
            if end > start:
                entities.append({**entity, "offset": start, "length": end - start})
        return Parsed(text, tuple(entities))


@dataclass
class _Open:
    """An entity whose end has not been seen yet."""

    name: str
    kind: str
    offset: int
    at: int
    extra: JsonDict = field(default_factory=dict)


class _Output:
    """Plain text being built, with its UTF-16 length and finished entities."""

    def __init__(self) -> None:
        """Start empty."""
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[JsonDict] = []

    def add(self, text: str) -> None:
        """Append visible text."""
        self.parts.append(text)
        self.length += utf16_len(text)

    def close(self, opened: _Open) -> None:
        """Finish an entity that started at opened.offset and ends here."""
        length = self.length - opened.offset
        if length > 0:
            self.entities.append(
                {"type": opened.kind, "offset": opened.offset, "length": length, **opened.extra}
            )

    def result(self) -> Parsed:
        """The parsed text with entities ordered as Telegram orders them."""
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return Parsed("".join(self.parts), tuple(ordered))


def _decode_entity(match: re.Match[str]) -> str | None:
    """The character an HTML entity stands for, if Telegram supports it."""
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_ENTITIES.get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    return chr(code) if 0 < code <= _MAX_CODE_POINT else None


def _unescape_attribute(value: str) -> str:
    """Decode the entities Telegram decodes inside an attribute value."""
    return _HTML_ENTITY_RE.sub(lambda m: _decode_entity(m) or m.group(0), value)


class _HtmlParser:
    """A port of the rules of tdlib's parse_html."""

    def __init__(self, text: str, *, strict_ampersand: bool) -> None:
        """Parse this text; strict_ampersand rejects a bare '&' (real Telegram keeps it)."""
        self.text = text
        self.pos = 0
        self.strict_ampersand = strict_ampersand
        self.out = _Output()
        self.stack: list[_Open] = []

    def parse(self) -> Parsed:
        """Walk the text once."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "&":
                self._entity()
            elif char == "<":
                self._tag()
            else:
                self.out.add(char)
                self.pos += 1
        if self.stack:
            msg = f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            raise _cant_parse(msg)
        return self.out.result()

    def _offset(self, index: int | None = None) -> int:
        """UTF-8 byte offset of a position in the source."""
        return _byte_offset(self.text, self.pos if index is None else index)

    def _entity(self) -> None:
        """Decode '&...;' or keep/reject a bare ampersand."""
        match = _HTML_ENTITY_RE.match(self.text, self.pos)
        decoded = _decode_entity(match) if match else None
        if match and decoded is not None:
            self.out.add(decoded)
            self.pos = match.end()
            return
        if self.strict_ampersand:
            msg = f'unescaped "&" or unsupported HTML entity at byte offset {self._offset()}'
            raise _cant_parse(msg)
        self.out.add("&")
        self.pos += 1

    def _tag(self) -> None:
        """Handle a start or end tag beginning at '<'."""
        begin = self.pos
        self.pos += 1
        if self.pos >= len(self.text):
            msg = f"Unclosed start tag at byte offset {self._offset(begin)}"
            raise _cant_parse(msg)
        if self.text[self.pos] == "/":
            self._end_tag(begin)
        else:
            self._start_tag(begin)

    def _start_tag(self, begin: int) -> None:
        """Read a start tag and its attributes, and open its entity."""
        end = self.pos
        while end < len(self.text) and not self.text[end].isspace() and self.text[end] != ">":
            end += 1
        name = self.text[self.pos : end].lower()
        if end >= len(self.text):
            msg = f"Unclosed start tag at byte offset {self._offset(begin)}"
            raise _cant_parse(msg)
        if name not in _HTML_TAGS:
            msg = f'Unsupported start tag "{name}" at byte offset {self._offset(begin)}'
            raise _cant_parse(msg)
        self.pos = end
        attributes = self._attributes(name, begin)
        self.stack.append(
            _Open(name, _HTML_TAGS[name], self.out.length, begin, _tag_extra(name, attributes))
        )

    def _skip_spaces(self) -> None:
        """Move past whitespace."""
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _attributes(self, tag: str, begin: int) -> dict[str, str]:
        """Read attributes up to and including the closing '>'."""
        attributes: dict[str, str] = {}
        while True:
            self._skip_spaces()
            if self.pos >= len(self.text):
                msg = f'Unclosed start tag "{tag}" at byte offset {self._offset(begin)}'
                raise _cant_parse(msg)
            if self.text[self.pos] == ">":
                self.pos += 1
                return attributes
            name = self._attribute_name()
            self._skip_spaces()
            value = ""
            if self.pos < len(self.text) and self.text[self.pos] == "=":
                self.pos += 1
                self._skip_spaces()
                value = self._attribute_value(tag, begin)
            attributes[name] = value

    def _attribute_name(self) -> str:
        """Read an attribute name."""
        start = self.pos
        while self.pos < len(self.text) and not (
            self.text[self.pos].isspace() or self.text[self.pos] in "=>"
        ):
            self.pos += 1
        return self.text[start : self.pos].lower()

    def _attribute_value(self, tag: str, begin: int) -> str:
        """Read a quoted or unquoted attribute value."""
        if self.pos >= len(self.text):
            msg = f'Unclosed start tag "{tag}" at byte offset {self._offset(begin)}'
            raise _cant_parse(msg)
        quote = self.text[self.pos]
        if quote in "'\"":
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                msg = f'Unclosed start tag "{tag}" at byte offset {self._offset(begin)}'
                raise _cant_parse(msg)
            value = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return _unescape_attribute(value)
        start = self.pos
        while self.pos < len(self.text) and not (
            self.text[self.pos].isspace() or self.text[self.pos] == ">"
        ):
            self.pos += 1
        return _unescape_attribute(self.text[start : self.pos])

    def _end_tag(self, begin: int) -> None:
        """Close the innermost open tag, which must be the one named."""
        close = self.text.find(">", self.pos)
        if close < 0:
            msg = f"Unclosed end tag at byte offset {self._offset(begin)}"
            raise _cant_parse(msg)
        name = self.text[self.pos + 1 : close].strip().lower()
        self.pos = close + 1
        if not self.stack:
            msg = f"Unexpected end tag at byte offset {self._offset(begin)}"
            raise _cant_parse(msg)
        top = self.stack.pop()
        if name != top.name:
            msg = (
                f"Unmatched end tag at byte offset {self._offset(begin)}, "
                f'expected "</{top.name}>", found "</{name}>"'
            )
            raise _cant_parse(msg)
        language = top.extra.pop("language", None) if top.kind == "code" else None
        if language and self.stack and self.stack[-1].kind == "pre":
            self.stack[-1].extra["language"] = language
            return
        self.out.close(top)


def _tag_extra(tag: str, attributes: dict[str, str]) -> JsonDict:
    """Entity fields that come from a tag's attributes; rejects invalid attribute sets."""
    if tag == "span" and attributes.get("class") != "tg-spoiler":
        msg = 'Tag "span" must have class "tg-spoiler"'
        raise _cant_parse(msg)
    if tag == "a":
        return {"url": attributes["href"]} if attributes.get("href") else {}
    if tag == "code" and attributes.get("class", "").startswith("language-"):
        return {"language": attributes["class"].removeprefix("language-")}
    if tag == "blockquote" and "expandable" in attributes:
        return {"type": "expandable_blockquote"}
    if tag == "tg-emoji":
        if not attributes.get("emoji-id"):
            msg = 'Tag "tg-emoji" must have attribute "emoji-id"'
            raise _cant_parse(msg)
        return {"custom_emoji_id": attributes["emoji-id"]}
    if tag == "tg-time":
        if not attributes.get("unix", "").isdigit():
            msg = 'Tag "tg-time" must have a numeric attribute "unix"'
            raise _cant_parse(msg)
        return {"unix_time": int(attributes["unix"])}
    return {}


class _MarkdownV2Parser:
    """A port of tdlib's parse_markdown_v2 rules (a '>' quote marker is dropped, no entity)."""

    def __init__(self, text: str) -> None:
        """Parse this text."""
        self.text = text
        self.pos = 0
        self.out = _Output()
        self.stack: list[_Open] = []

    def parse(self) -> Parsed:
        """Walk the text once."""
        while self.pos < len(self.text):
            if self.text[self.pos] == "\\" and self._escape():
                continue
            if self.stack and self.stack[-1].kind in {"code", "pre"}:
                self._inside_code()
            else:
                self._markup()
        if self.stack:
            top = self.stack[-1]
            msg = f"Can't find end of {_entity_title(top.kind)} entity at byte offset {top.at}"
            raise _cant_parse(msg)
        return self.out.result()

    def _escape(self) -> bool:
        """Consume a backslash escape; False when the backslash escapes nothing."""
        following = self.text[self.pos + 1 : self.pos + 2]
        if following and 0 < ord(following) <= _MAX_ESCAPABLE:
            self.out.add(following)
            self.pos += 2
            return True
        return False

    def _inside_code(self) -> None:
        """Inside code/pre only the closing marker is markup."""
        top = self.stack[-1]
        if self.text.startswith(top.name, self.pos):
            self.stack.pop()
            self.out.close(top)
            self.pos += len(top.name)
            return
        self.out.add(self.text[self.pos])
        self.pos += 1

    def _markup(self) -> None:
        """Handle one character outside code."""
        char = self.text[self.pos]
        marker = next((m for m in _MDV2_MARKERS if self.text.startswith(m[0], self.pos)), None)
        if marker is not None:
            self._toggle(*marker)
        elif char == "[":
            self.stack.append(_Open("[", "text_link", self.out.length, self._byte()))
            self.pos += 1
        elif char == "]" and self.stack and self.stack[-1].kind == "text_link":
            self._close_link()
        elif char == ">" and (self.pos == 0 or self.text[self.pos - 1] == "\n"):
            self.pos += 1
        elif char in _MDV2_RESERVED:
            msg = f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            raise _cant_parse(msg)
        else:
            self.out.add(char)
            self.pos += 1

    def _byte(self) -> int:
        """UTF-8 byte offset of the current position."""
        return _byte_offset(self.text, self.pos)

    def _toggle(self, marker: str, kind: str) -> None:
        """Open an entity, or close it when it is the innermost open one."""
        if self.stack and self.stack[-1].name == marker:
            self.out.close(self.stack.pop())
            self.pos += len(marker)
            return
        if any(opened.name == marker for opened in self.stack):
            top = self.stack[-1]
            msg = f"Can't find end of {_entity_title(top.kind)} entity at byte offset {top.at}"
            raise _cant_parse(msg)
        opened = _Open(marker, kind, self.out.length, self._byte())
        self.pos += len(marker)
        if kind == "pre":
            self._pre_language(opened)
        self.stack.append(opened)

    def _pre_language(self, opened: _Open) -> None:
        """Take the language after an opening ``` up to the end of the line."""
        newline = self.text.find("\n", self.pos)
        if newline > self.pos:
            language = self.text[self.pos : newline].strip()
            if language:
                opened.extra["language"] = language
            self.pos = newline + 1

    def _close_link(self) -> None:
        """Close [text] and read the (url) that must follow."""
        opened = self.stack.pop()
        self.pos += 1
        if not self.text.startswith("(", self.pos):
            msg = f"Can't find end of a URL at byte offset {self._byte()}"
            raise _cant_parse(msg)
        close = self.text.find(")", self.pos)
        if close < 0:
            msg = f"Can't find end of a URL at byte offset {self._byte()}"
            raise _cant_parse(msg)
        opened.extra["url"] = self.text[self.pos + 1 : close].replace("\\)", ")")
        self.pos = close + 1
        self.out.close(opened)


def _entity_title(kind: str) -> str:
    """The capitalised entity name tdlib uses in error messages."""
    return {"text_link": "TextUrl"}.get(kind, kind.title().replace("_", ""))


def _parse_markdown(text: str) -> Parsed:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url), no nesting."""
    out = _Output()
    pos = 0
    while pos < len(text):
        if text[pos] == "\\" and text[pos + 1 : pos + 2] in {"_", "*", "`", "["}:
            out.add(text[pos + 1])
            pos += 2
            continue
        marker = next((m for m in _MD_MARKERS if text.startswith(m[0], pos)), None)
        if marker is None and text[pos] != "[":
            out.add(text[pos])
            pos += 1
            continue
        pos = _markdown_entity(text, pos, marker, out)
    return out.result()


def _markdown_entity(text: str, pos: int, marker: tuple[str, str] | None, out: _Output) -> int:
    """Read one legacy Markdown entity starting at pos; return the position after it."""
    closing = marker[0] if marker else "]"
    end = text.find(closing, pos + len(closing))
    url_end = text.find(")", end) if marker is None and text.startswith("(", end + 1) else -1
    if end < 0 or (marker is None and url_end < 0):
        msg = f"Can't find end of the entity starting at byte offset {_byte_offset(text, pos)}"
        raise _cant_parse(msg)
    extra = {} if marker else {"url": text[end + 2 : url_end]}
    opened = _Open(closing, marker[1] if marker else "text_link", out.length, pos, extra)
    out.add(text[pos + len(closing) : end])
    out.close(opened)
    return url_end + 1 if marker is None else end + len(closing)


def parse_formatted(text: str, parse_mode: str | None, *, strict_ampersand: bool = True) -> Parsed:
    """Parse text in a parse mode into plain text and entities, raising Telegram's errors."""
    if parse_mode is None:
        return Parsed(text)
    if parse_mode == "HTML":
        return _HtmlParser(text, strict_ampersand=strict_ampersand).parse()
    if parse_mode == "MarkdownV2":
        return _MarkdownV2Parser(text).parse()
    if parse_mode == "Markdown":
        return _parse_markdown(text)
    msg = "unsupported parse_mode"
    raise bad_request(msg)
