"""Read dialogue YAML strictly: YAML 1.2 booleans, no duplicate keys, a line for every node."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node


class YamlError(ValueError):
    """A file that cannot be read as dialogue data; carries the file and line."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        """Remember where the fault is and say it as ``file:line: message``."""
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


class LineDict(dict[str, Any]):
    """A mapping that remembers the line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A sequence that remembers the line of itself and of each item."""

    line: int = 0
    item_lines: list[int]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans, so ``yes`` and ``no`` stay words."""


# YAML 1.1 reads yes/no/on/off as booleans; in a clinical dialogue "yes" is an answer, not True.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _construct_mapping(loader: _StrictLoader, node: MappingNode) -> LineDict:
    result = LineDict()
    result.line = _line(node)
    result.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int):
            raise yaml.MarkedYAMLError(problem="keys must be words",
                                       problem_mark=key_node.start_mark)
        name = str(key)
        if name in result:
            first = result.key_lines[name]
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key '{name}' (first defined on line {first})",
                problem_mark=key_node.start_mark,
            )
        result[name] = loader.construct_object(value_node, deep=True)
        result.key_lines[name] = _line(key_node)
    return result


def _construct_sequence(loader: _StrictLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = _line(node)
    result.item_lines = [_line(child) for child in node.value]
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path) -> Any:  # noqa: ANN401  # YAML documents are untyped until validated
    """Load one YAML file strictly; a syntax fault or duplicate key raises YamlError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise YamlError(path, 0, f"cannot read the file ({error.strerror})") from error
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506  # _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = int(mark.line) + 1 if mark is not None else 0
        raise YamlError(path, line, str(error.problem or error.context)) from error
    except yaml.YAMLError as error:
        raise YamlError(path, 0, str(error)) from error


@dataclass(frozen=True)
class Located:
    """Where a piece of loaded data stands in its file."""

    path: Path
    line: int


def line_of(data: object, location: Sequence[str | int]) -> int:
    """The line of the node at ``location`` inside ``data``, or of its nearest known parent."""
    line = getattr(data, "line", 0)
    node: object = data
    for step in location:
        if isinstance(node, LineDict) and isinstance(step, str) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return int(line)
