"""No import climbs: every module of ``bot/`` imports only its own room or rooms on lower floors.

The floors are the house's plan (the channels on top; the clinic and the conversation below
them; clinical, storage and the engine at the bottom). A room that reaches up or sideways knows
something it should not: the engine that knows the clinic cannot run another dialogue, the clinic
that knows Telegram cannot serve a browser. Each module's imports are read from its source (ast),
type-only imports included, since they are knowledge of the other room just the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bot"

# Lowest floor first. A room is a dotted prefix; a module belongs to the longest prefix naming it.
FLOORS: tuple[tuple[str, ...], ...] = (
    # Below everything: how one setting's value is read and checked, knowing no setting's use.
    ("bot.setting_values",),
    # The ground: the dialogue engine (it knows no clinic, no channel, no store) and the small
    # things every floor uses: the package itself, the clock, log-safe chat references, plain
    # settings, and the health, metrics and log formats that any room may report to.
    ("bot", "bot.dialogue", "bot.clock", "bot.logsafe", "bot.config", "bot.ops"),
    # Records built from the engine's turns: the answer trail and the outbox payload.
    ("bot.audit", "bot.outbox"),
    # What the clinical spec decides (pure functions over facts) and where things are kept;
    # neither knows the other.
    ("bot.clinical", "bot.storage"),
    # The dialogues loaded with the clinical names registered; the outbox's dispatcher.
    ("bot.content", "bot.reminders"),
    # What a conversation uses beside the engine: the check-ins, the details of a result, and
    # every room's run-time settings gathered (above the rooms whose settings it gathers).
    ("bot.checkins", "bot.details", "bot.ops.settings", "bot.queue_items"),
    # One patient action in, one reply out.
    ("bot.conversation",),
    # The clinic's service: staff commands, appointments, exports; a feature's menu registers
    # with the conversation, so the clinic may know the conversation, never the reverse.
    ("bot.clinic",),
    # The ways in: each channel, and the simulator that plays the dialogue from a facts file.
    ("bot.channels.web", "bot.channels.console", "bot.simulator"),
    # Telegram's channel; ``ldh-bot run`` starts the dashboard beside it in the same event loop.
    ("bot.channels.telegram",),
    # The bench drives the channels as patients would; the command line runs it all.
    ("bot.bench",),
    ("bot.cli",),
    ("bot.__main__",),
)

_FLOOR_OF = {room: level for level, rooms in enumerate(FLOORS) for room in rooms}


def room_of(module: str) -> str | None:
    """The longest room prefix naming ``module``; None when it is in no room."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in _FLOOR_OF:
            return prefix
    return None


def module_name(path: Path) -> str:
    """The dotted name of a source file under ``bot/``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").is_file() or (
        PACKAGE.parent / relative / "__init__.py"
    ).is_file()


def imports_of(path: Path) -> set[str]:
    """Every ``bot`` module that the file at ``path`` imports, anywhere in it."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from bot import checkins`` imports the module bot.checkins, not the package.
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if _is_module(child) else base)
    return {name for name in found if name == "bot" or name.startswith("bot.")}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def climbs() -> set[tuple[str, str]]:
    """Every (importer, imported) pair going up a floor or sideways into another room."""
    found: set[tuple[str, str]] = set()
    for path in _modules():
        importer = module_name(path)
        low = room_of(importer)
        assert low is not None, f"{importer} is in no room; give it a floor in FLOORS"
        for imported in imports_of(path):
            high = room_of(imported)
            assert high is not None, f"{imported} (imported by {importer}) is in no room"
            if high != low and _FLOOR_OF[high] >= _FLOOR_OF[low]:
                found.add((importer, imported))
    return found


def test_no_import_climbs_to_a_higher_floor_or_sideways() -> None:
    unexpected = sorted(climbs())
    listed = ", ".join(f"{importer} -> {imported}" for importer, imported in unexpected)
    assert unexpected == [], f"imports that climb: {listed}"


def test_the_engine_knows_no_clinic_channel_or_store() -> None:
    engine = [p for p in _modules() if module_name(p).startswith("bot.dialogue")]
    assert engine, "the engine's modules were not found"
    for path in engine:
        for imported in imports_of(path):
            assert room_of(imported) in {"bot.dialogue", "bot"}, (module_name(path), imported)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from bot.clinic import appointments\n", {"bot.clinic.appointments"}),
        ("from bot.clinic.appointments import x\n", {"bot.clinic.appointments"}),
        ("import bot.storage.base\n", {"bot.storage.base"}),
        ("from bot import checkins\n", {"bot.checkins"}),
        ("from . import turn\n", {"bot.dialogue.turn"}),
        ("from .session import Session\n", {"bot.dialogue.session"}),
        ("if TYPE_CHECKING:\n    from bot.clinical.ladder import Ladder\n",
         {"bot.clinical.ladder"}),
        ("import json\nfrom pathlib import Path\n", set()),
    ],
)
def test_imports_are_read_in_every_form(source: str, expected: set[str], tmp_path: Path) -> None:
    # The reader is pointed at a file placed as bot/dialogue/probe.py would be.
    probe = PACKAGE / "dialogue" / f"_layers_probe_{tmp_path.name}.py"
    probe.write_text(source, encoding="utf-8")
    try:
        assert imports_of(probe) == expected
    finally:
        probe.unlink()


def test_a_climb_is_caught() -> None:
    # The engine importing the clinical layer is exactly what the floors forbid.
    assert _FLOOR_OF["bot.clinical"] > _FLOOR_OF["bot.dialogue"]
    assert room_of("bot.clinical.ladder") == "bot.clinical"
    assert room_of("bot.ops.settings") == "bot.ops.settings"
    assert room_of("bot.ops.metrics") == "bot.ops"
    assert room_of("elsewhere.module") is None
