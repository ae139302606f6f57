"""The declared facts of the clinical spec, loaded from ``dialogues/facts.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.dialogue.conditions import FactDomain
from bot.dialogue.yamlio import LineDict, YamlError, load_yaml


def load_fact_domains(dialogues_dir: Path) -> Mapping[str, FactDomain]:
    """Read every declared fact and the values it may take."""
    path = dialogues_dir / "facts.yaml"
    data = load_yaml(path)
    facts = data.get("facts") if isinstance(data, LineDict) else None
    if not isinstance(facts, LineDict):
        raise YamlError(path, getattr(data, "line", 0), "the file needs a 'facts:' mapping")
    domains: dict[str, FactDomain] = {}
    for name, spec in facts.items():
        line = facts.key_lines[name]
        if not isinstance(spec, LineDict):
            raise YamlError(path, line, f"fact '{name}' needs 'values:' or 'min:'/'max:'")
        values = spec.get("values")
        if values is not None:
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise YamlError(path, line, f"the values of fact '{name}' must be a list of words")
            domains[name] = FactDomain(values=tuple(values))
        else:
            low, high = spec.get("min"), spec.get("max")
            if not isinstance(low, int) or not isinstance(high, int) or low > high:
                raise YamlError(path, line, f"fact '{name}' needs whole numbers min <= max")
            domains[name] = FactDomain(minimum=low, maximum=high)
    return domains
