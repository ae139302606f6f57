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

    def including(
        self,
        *,
        guards: Mapping[str, Predicate] | None = None,
        actions: Mapping[str, Action] | None = None,
    ) -> Registry:
        """These names added, as a layer above registers its own; a name is never bound twice."""
        # A name bound twice would make which function a dialogue runs depend on load order.
        new_guards, new_actions = dict(guards or {}), dict(actions or {})
        taken = sorted((self.guards.keys() & new_guards.keys())
                       | (self.actions.keys() & new_actions.keys()))
        if taken:
            msg = f"already registered: {', '.join(taken)}"
            raise ValueError(msg)
        return Registry(guards={**self.guards, **new_guards},
                        actions={**self.actions, **new_actions})
