"""The engine's registry: a layer above adds its names; a name is never bound twice."""

from __future__ import annotations

import pytest

from bot.content import load_content
from bot.dialogue.registry import Registry
from bot.dialogue.session import Session
from bot.dialogue.turn import Effect, Message


def _yes(_facts: object) -> bool:
    return True


def _no(_facts: object) -> bool:
    return False


def _say_nothing(_session: Session) -> tuple[list[Message], list[Effect]]:
    return [], []


def test_including_adds_names_and_leaves_the_original_as_it_was() -> None:
    base = Registry(guards={"a": _yes})
    grown = base.including(guards={"b": _no}, actions={"act": _say_nothing})
    assert set(grown.guards) == {"a", "b"}
    assert set(grown.actions) == {"act"}
    assert set(base.guards) == {"a"}
    assert base.actions == {}


def test_a_name_registered_twice_is_refused_naming_it() -> None:
    base = Registry(guards={"a": _yes}, actions={"act": _say_nothing})
    with pytest.raises(ValueError, match="already registered: a, act"):
        base.including(guards={"a": _no}, actions={"act": _say_nothing})


def test_the_clinical_layer_registers_the_names_the_dialogues_use() -> None:
    registry = next(iter(load_content().engines.values())).registry
    assert {"step_up_due"} <= set(registry.guards)
    assert {"recommend", "checkin_outcome"} <= set(registry.actions)
