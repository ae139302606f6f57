"""The machine-readable Bot API spec and the typed decoding of request parameters against it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

JsonDict = dict[str, Any]

# Carried in the repository with its licence, so a fresh clone tests without anything beside it.
SPEC_PATH = Path(__file__).resolve().parent / "telegram_api" / "bot-api-10.1.json"

_ARRAY = "Array of "
_ATTACH = "attach://"
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DISCRIMINATOR_RE = re.compile(r"(?:must be|always) [\"“]?([a-z0-9_]+)")
_DISCRIMINATOR_FIELDS = ("type", "status", "source")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_REAL_MISSING = {"chat_id": "chat_id is empty", "text": "message text is empty"}


class ApiError(Exception):
    """A refusal that the stand-in sends back as a Telegram error reply."""

    def __init__(self, code: int, description: str, parameters: JsonDict | None = None) -> None:
        """Keep the HTTP status, the description and the optional response parameters."""
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad_request(detail: str) -> ApiError:
    """Build a 400 error with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart/form-data request."""

    part: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class FieldSpec:
    """One parameter of a method or one field of an object type."""

    name: str
    types: tuple[str, ...]
    required: bool
    description: str


class Mismatch(Exception):  # noqa: N818 - an internal signal, not an error shown to users
    """A value that does not fit the type the spec asks for, at a dotted path."""

    def __init__(self, path: str, problem: str) -> None:
        """Keep where the problem is and what it is."""
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    def depth(self) -> int:
        """How deep in the value the problem sits (deeper explains a union failure better)."""
        return self.path.count(".") + self.path.count("[")


def _fields(raw: Sequence[JsonDict]) -> tuple[FieldSpec, ...]:
    """Turn the spec's field list into FieldSpecs."""
    return tuple(
        FieldSpec(f["name"], tuple(f["types"]), bool(f["required"]), f.get("description", ""))
        for f in raw
    )


class Spec:
    """Methods and types of one Bot API version."""

    def __init__(self, data: JsonDict) -> None:
        """Index the methods and types of a loaded spec document."""
        self.version: str = data["version"]
        self._methods = {name: _fields(m.get("fields", [])) for name, m in data["methods"].items()}
        self._returns = {name: tuple(m.get("returns", [])) for name, m in data["methods"].items()}
        self._by_lower = {name.lower(): name for name in self._methods}
        self._types: dict[str, JsonDict] = data["types"]

    @classmethod
    def load(cls, path: Path = SPEC_PATH) -> Spec:
        """Load (once per path) the spec JSON file."""
        return _load_spec(path)

    def method_name(self, requested: str) -> str | None:
        """Resolve a method name case-insensitively, as Telegram does."""
        return self._by_lower.get(requested.lower())

    def method_fields(self, method: str) -> tuple[FieldSpec, ...]:
        """Parameters of a method."""
        return self._methods[method]

    def returns(self, method: str) -> tuple[str, ...]:
        """Return types of a method."""
        return self._returns[method]

    def type_fields(self, type_name: str) -> tuple[FieldSpec, ...] | None:
        """Fields of an object type, or None for types without a field table."""
        raw = self._types.get(type_name)
        if raw is None or "fields" not in raw:
            return None
        return _fields(raw["fields"])

    def subtypes(self, type_name: str) -> tuple[str, ...]:
        """The alternatives of an abstract type such as BotCommandScope."""
        raw = self._types.get(type_name)
        return tuple(raw.get("subtypes", ())) if raw else ()

    def is_known_type(self, type_name: str) -> bool:
        """Whether the spec describes this type."""
        return type_name in self._types

    def discriminator(self, type_name: str) -> tuple[str, str] | None:
        """The (field, constant) that identifies a subtype, e.g. ("type", "chat")."""
        for spec_field in self.type_fields(type_name) or ():
            if spec_field.name in _DISCRIMINATOR_FIELDS:
                found = _DISCRIMINATOR_RE.search(spec_field.description)
                return (spec_field.name, found.group(1)) if found else None
        return None


@cache
def _load_spec(path: Path) -> Spec:
    """Read and index a spec file."""
    return Spec(json.loads(path.read_text(encoding="utf-8")))


def _is_int(value: object) -> bool:
    """JSON integer (booleans are not integers)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: object) -> bool:
    """JSON number."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_bool(value: object) -> bool:
    """JSON true/false."""
    return isinstance(value, bool)


def _is_true(value: object) -> bool:
    """JSON true."""
    return value is True


def _is_str(value: object) -> bool:
    """JSON string."""
    return isinstance(value, str)


_SCALARS: dict[str, Callable[[object], bool]] = {
    "Integer": _is_int,
    "Float": _is_float,
    "Boolean": _is_bool,
    "True": _is_true,
    "String": _is_str,
}


class TypeChecker:
    """Checks decoded JSON values against spec type expressions, recursively."""

    def __init__(self, spec: Spec, attachments: Mapping[str, UploadedFile]) -> None:
        """Check against this spec; attach:// references resolve among these file parts."""
        self.spec = spec
        self.attachments = attachments

    def check_union(self, value: object, alternatives: Sequence[str], path: str) -> None:
        """Accept the value if it fits any alternative; else report the most telling mismatch."""
        if isinstance(value, str) and value.startswith(_ATTACH) and "InputFile" in alternatives:
            self.check(value, "InputFile", path)
            return
        candidates = [t for t in alternatives if self._may_match(value, t)]
        if not candidates:
            raise Mismatch(path, f"expected {' or '.join(alternatives)}")
        problems: list[Mismatch] = []
        for candidate in candidates:
            try:
                self.check(value, candidate, path)
            except Mismatch as problem:
                problems.append(problem)
            else:
                return
        raise max(problems, key=Mismatch.depth)

    def _may_match(self, value: object, type_name: str) -> bool:
        """False when a tagged object names a different subtype."""
        if not isinstance(value, dict):
            return True
        tag = self.spec.discriminator(type_name)
        return tag is None or value.get(tag[0]) == tag[1]

    def check(self, value: object, type_expr: str, path: str) -> None:
        """Check one value against one type expression."""
        if type_expr.startswith(_ARRAY):
            self._check_array(value, type_expr.removeprefix(_ARRAY), path)
        elif type_expr in _SCALARS:
            if not _SCALARS[type_expr](value):
                raise Mismatch(path, f"expected {type_expr}, got {_json_kind(value)}")
        elif type_expr == "InputFile":
            self._check_file_reference(value, path)
        elif type_expr == "KeyboardButton" and isinstance(value, str):
            return  # Telegram accepts a bare string as a text-only reply keyboard button
        elif subtypes := self.spec.subtypes(type_expr):
            self._check_subtypes(value, type_expr, subtypes, path)
        else:
            self._check_object(value, type_expr, path)

    def _check_subtypes(
        self, value: object, type_name: str, subtypes: Sequence[str], path: str
    ) -> None:
        """An abstract type: the object's tag (type/status/source) must name a known subtype."""
        tags = [tag for tag in map(self.spec.discriminator, subtypes) if tag is not None]
        if isinstance(value, dict) and tags and not any(value.get(k) == v for k, v in tags):
            key = tags[0][0]
            known = ", ".join(v for _, v in tags)
            problem = f"expected {type_name}, got {key} {value.get(key)!r} (known: {known})"
            raise Mismatch(path, problem)
        self.check_union(value, subtypes, path)

    def _check_array(self, value: object, item_type: str, path: str) -> None:
        """Check a JSON array and each item."""
        if not isinstance(value, list):
            raise Mismatch(path, f"expected Array of {item_type}, got {_json_kind(value)}")
        for index, item in enumerate(value):
            self.check(item, item_type, f"{path}[{index}]")

    def _check_file_reference(self, value: object, path: str) -> None:
        """A nested InputFile must be an attach://<part> reference to an uploaded part."""
        if not isinstance(value, str) or not value.startswith(_ATTACH):
            raise Mismatch(path, "expected an attach://<name> reference to an uploaded file")
        if value.removeprefix(_ATTACH) not in self.attachments:
            raise Mismatch(path, f"no file part named {value.removeprefix(_ATTACH)!r}")

    def _check_object(self, value: object, type_name: str, path: str) -> None:
        """Check a JSON object: no unknown fields, required ones present, each field typed."""
        if not self.spec.is_known_type(type_name):
            raise Mismatch(path, f"the spec has no type {type_name!r}")
        if not isinstance(value, dict):
            problem = f"expected a {type_name} object, got {_json_kind(value)}"
            raise Mismatch(path, problem)
        fields = {f.name: f for f in self.spec.type_fields(type_name) or ()}
        tag = self.spec.discriminator(type_name)
        if tag is not None and value.get(tag[0]) != tag[1]:
            where, problem = f"{path}.{tag[0]}", f"must be {tag[1]!r} for {type_name}"
            raise Mismatch(where, problem)
        for key in value:
            if key not in fields:
                where, problem = f"{path}.{key}", f"{type_name} has no field {key!r}"
                raise Mismatch(where, problem)
        for spec_field in fields.values():
            where = f"{path}.{spec_field.name}"
            if spec_field.name in value:
                self.check_union(value[spec_field.name], spec_field.types, where)
            elif spec_field.required:
                problem = f"required by {type_name}"
                raise Mismatch(where, problem)


def _json_kind(value: object) -> str:
    """A short name for the JSON kind of a value, for error messages."""
    names = {bool: "Boolean", int: "Integer", float: "Float", str: "String", list: "Array"}
    if isinstance(value, dict):
        return "Object"
    return names.get(type(value), "null" if value is None else type(value).__name__)


def _decode_scalar(raw: str, type_name: str, path: str) -> object:
    """Decode a form string as Integer, Float or Boolean."""
    text = raw.strip()
    if type_name == "Integer" and _INT_RE.fullmatch(text):
        return int(text)
    if type_name == "Float" and _FLOAT_RE.fullmatch(text):
        return float(text)
    if type_name in {"Boolean", "True"} and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    raise Mismatch(path, f"expected {type_name}, got {raw!r}")


def _decode_as(checker: TypeChecker, raw: str, type_expr: str, path: str) -> object:
    """Decode a top-level string parameter as one type."""
    if type_expr == "String":
        return raw
    if type_expr in _SCALARS:
        return _decode_scalar(raw, type_expr, path)
    if type_expr == "InputFile":
        checker.check(raw, "InputFile", path)
        return raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise Mismatch(path, f"can't parse {type_expr} JSON object") from None
    checker.check(value, type_expr, path)
    return value


def _decode_param(checker: TypeChecker, raw: str, spec_field: FieldSpec) -> object:
    """Decode a top-level parameter, trying non-string types before String as Telegram does."""
    path = spec_field.name
    ordered = sorted(spec_field.types, key=lambda t: t == "String")
    if raw.startswith(_ATTACH) and "InputFile" in ordered:
        ordered = ["InputFile"]
    problems: list[Mismatch] = []
    for type_expr in ordered:
        try:
            return _decode_as(checker, raw, type_expr, path)
        except Mismatch as problem:
            problems.append(problem)
    raise max(problems, key=Mismatch.depth)


def _attach_references(value: object) -> Iterator[str]:
    """Every attach://<name> string anywhere inside a decoded value."""
    if isinstance(value, str) and value.startswith(_ATTACH):
        yield value.removeprefix(_ATTACH)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _attach_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _attach_references(item)


def _as_request_error(problem: Mismatch) -> ApiError:
    """Word a type mismatch as a Bad Request."""
    return bad_request(f"invalid {problem.path}: {problem.problem}")


def decode_params(
    spec: Spec, method: str, raw: Mapping[str, str], files: Mapping[str, UploadedFile]
) -> JsonDict:
    """Decode and check every parameter of a call; raise ApiError on the first problem."""
    fields = {f.name: f for f in spec.method_fields(method)}
    for name in raw:
        if name not in fields:
            msg = f"unknown parameter {name!r} for method {method}"
            raise bad_request(msg)
    attachments = {name: part for name, part in files.items() if name not in fields}
    checker = TypeChecker(spec, attachments)
    params: JsonDict = {}
    for spec_field in fields.values():
        value = _param_value(checker, spec_field, raw, files)
        if value is not None:
            params[spec_field.name] = value
        elif spec_field.required:
            raise bad_request(_REAL_MISSING.get(spec_field.name, f"{spec_field.name} is required"))
    unused = set(attachments) - set(_attach_references(params))
    if unused:
        msg = f"file part {min(unused)!r} is not referenced by any parameter"
        raise bad_request(msg)
    return params


def _param_value(
    checker: TypeChecker,
    spec_field: FieldSpec,
    raw: Mapping[str, str],
    files: Mapping[str, UploadedFile],
) -> object:
    """The decoded value of one parameter, or None when it is absent or empty."""
    if spec_field.name in files:
        if "InputFile" not in spec_field.types:
            msg = f"invalid {spec_field.name}: a file upload is not allowed here"
            raise bad_request(msg)
        return files[spec_field.name]
    text = raw.get(spec_field.name)
    if text is None or (text == "" and spec_field.required):
        return None
    try:
        return _decode_param(checker, text, spec_field)
    except Mismatch as problem:
        raise _as_request_error(problem) from None


def check_object(spec: Spec, value: object, type_name: str) -> None:
    """Check a value the stand-in produces (a Message, an Update) against a spec type."""
    try:
        TypeChecker(spec, {}).check(value, type_name, type_name)
    except Mismatch as problem:
        raise _as_request_error(problem) from None
