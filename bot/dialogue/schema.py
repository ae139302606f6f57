"""Typed models of a dialogue file, validated when it is loaded."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    """A model that refuses unknown keys, so a typo in YAML is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TransitionSpec(_Strict):
    """One way out of a state: the target, and the condition under which it is taken."""

    to: str
    when: Any = None


class ExtraOption(_Strict):
    """A button beyond the fact's own values, e.g. "not sure", that sets other facts instead.

    ``typed`` names the section of answers.yaml whose phrases, typed, choose this button.
    """

    label: str
    sets: dict[str, int | str]
    to: str
    typed: str | None = None


class StateSpec(_Strict):
    """A state: a question (``ask``), a decision (only ``next``) or an end (``final``)."""

    ask: str | None = None
    text: str | None = None
    buttons: bool = True
    extra_options: list[ExtraOption] = Field(default_factory=list)
    say: list[str] = Field(default_factory=list)
    on_enter: list[str] = Field(default_factory=list)
    next: list[TransitionSpec] = Field(default_factory=list)
    final: bool = False


class DialogueSpec(_Strict):
    """A whole dialogue file."""

    version: int
    name: str
    start: str
    intro: list[str] = Field(default_factory=list)
    states: dict[str, StateSpec]
