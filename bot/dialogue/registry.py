"""The explicit registry of names a dialogue may use: guards (conditions) and actions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.dialogue.conditions import Predicate
from bot.dialogue.session import Session
from bot.dialogue.turn import Effect, Message

Action = Callable[[Session], tuple[list[Message], list[Effect]]]


@dataclass(frozen=True)
class Registry:
    """Named guards and actions; a name not here is an error at load time, never an import."""

    guards: Mapping[str, Predicate] = field(default_factory=dict)
    actions: Mapping[str, Action] = field(default_factory=dict)
