"""Diagrams of a dialogue drawn from its compiled YAML: Mermaid text, or SVG/PNG via Graphviz."""

from __future__ import annotations

import json
import shutil
import subprocess

from bot.dialogue.loader import Dialogue


class GraphError(RuntimeError):
    """A diagram that cannot be drawn here; the message says what to install."""


def _label(source: object) -> str:
    """A condition as compact text for an edge label."""
    text = json.dumps(source, ensure_ascii=False, separators=(", ", "="))
    # Braces, quotes and colons mean something to Mermaid; the condition reads fine without.
    return text.replace('"', "").replace("{", "").replace("}", "")


def _edges(dialogue: Dialogue) -> list[tuple[str, str, str]]:
    edges: list[tuple[str, str, str]] = []
    for state in dialogue.states.values():
        for route in state.routes:
            label = "" if route.condition.source is None else _label(route.condition.source)
            edges.append((state.name, route.to, label))
        edges.extend((state.name, extra.to, extra.label) for extra in state.spec.extra_options)
    return edges


def to_mermaid(dialogue: Dialogue) -> str:
    """The dialogue as a Mermaid state diagram."""
    lines = ["stateDiagram-v2", f"    [*] --> {dialogue.start}"]
    lines.extend(f"    {state.name}: {state.name} (asks {state.spec.ask})"
                 for state in dialogue.states.values() if state.spec.ask)
    for source, target, label in _edges(dialogue):
        suffix = f": {label}" if label else ""
        lines.append(f"    {source} --> {target}{suffix}")
    lines.extend(f"    {s.name} --> [*]" for s in dialogue.states.values() if s.spec.final)
    return "\n".join(lines) + "\n"


def to_dot(dialogue: Dialogue) -> str:
    """The dialogue in Graphviz DOT."""
    lines = [f'digraph "{dialogue.name}" {{', "  rankdir=TB; node [shape=box, style=rounded];"]
    for state in dialogue.states.values():
        shape = "doublecircle" if state.spec.final else ("box" if state.spec.ask else "diamond")
        lines.append(f'  "{state.name}" [shape={shape}];')
    for source, target, label in _edges(dialogue):
        escaped = label.replace('"', '\\"')
        lines.append(f'  "{source}" -> "{target}" [label="{escaped}", fontsize=9];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dialogue: Dialogue, fmt: str) -> bytes:
    """The diagram in ``fmt`` (mermaid, dot, svg or png)."""
    if fmt == "mermaid":
        return to_mermaid(dialogue).encode()
    if fmt == "dot":
        return to_dot(dialogue).encode()
    dot = shutil.which("dot")
    if dot is None:
        msg = f"{fmt} needs Graphviz's 'dot' program (e.g. apt-get install graphviz); "
        msg += "'--format mermaid' needs nothing"
        raise GraphError(msg)
    done = subprocess.run([dot, f"-T{fmt}"], input=to_dot(dialogue).encode(),  # noqa: S603  # fixed argv, no shell
                          capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        raise GraphError(done.stderr.decode(errors="replace").strip())
    return done.stdout
