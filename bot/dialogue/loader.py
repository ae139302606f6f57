"""YAML → validated Dialogue: schema, cross-references, texts and reachability all checked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from bot.dialogue.answers import PHRASE_SECTIONS, Vocabulary
from bot.dialogue.conditions import Condition, ConditionError, FactDomain, compile_condition
from bot.dialogue.problems import Problem
from bot.dialogue.registry import Registry
from bot.dialogue.schema import DialogueSpec, StateSpec
from bot.dialogue.texts import Catalog
from bot.dialogue.turn import Text
from bot.dialogue.yamlio import YamlError, line_of, load_yaml


@dataclass(frozen=True)
class Route:
    """A compiled way out of a state."""

    to: str
    condition: Condition


@dataclass(frozen=True)
class State:
    """A compiled state: its YAML spec and its routes in order."""

    name: str
    spec: StateSpec
    routes: tuple[Route, ...]

    @property
    def is_question(self) -> bool:
        """Whether the state waits for the patient's answer."""
        return self.spec.ask is not None


@dataclass(frozen=True)
class Dialogue:
    """A dialogue ready to run."""

    name: str
    version: int
    start: str
    intro: tuple[str, ...]
    states: Mapping[str, State]
    path: Path


def question_text_key(state: State) -> str:
    """The text key of a question: given in YAML, or ``q.<fact>`` by convention."""
    return state.spec.text or f"q.{state.spec.ask}"


def option_text_key(fact: str, value: str, domain: FactDomain) -> str | None:
    """The label key of an answer button, or None for numbers (shown as digits)."""
    if domain.is_integer:
        return None
    if domain.is_yes_no:
        return f"opt.{value}"
    return f"opt.{fact}.{value}"


@dataclass
class _Checker:
    """Collects every problem of one dialogue file instead of stopping at the first."""

    path: Path
    data: object
    domains: Mapping[str, FactDomain]
    catalog: Catalog
    registry: Registry
    vocabulary: Vocabulary | None = None
    problems: list[Problem] = field(default_factory=list)

    def at(self, location: Iterable[str | int], message: str) -> None:
        """Record a problem at the line of ``location`` in the file."""
        self.problems.append(Problem(self.path, line_of(self.data, list(location)), message))

    def text(self, key: str, location: Iterable[str | int]) -> None:
        """Every text a dialogue names must exist in every language."""
        if not self.catalog.has(key):
            self.at(location, f"text '{key}' is missing from the text files of some language")


def load_dialogue(
    path: Path,
    domains: Mapping[str, FactDomain],
    catalog: Catalog,
    registry: Registry,
    vocabulary: Vocabulary | None = None,
) -> tuple[Dialogue | None, list[Problem]]:
    """Load and check one dialogue file; the Dialogue is None when it has problems.

    With ``vocabulary``, every button label is checked to be read, typed, as its own button.
    """
    try:
        data = load_yaml(path)
    except YamlError as error:
        return None, [Problem(path, error.line, error.message)]
    check = _Checker(path, data, domains, catalog, registry, vocabulary)
    try:
        spec = DialogueSpec.model_validate(data)
    except ValidationError as error:
        for fault in error.errors():
            check.at(list(fault["loc"]), _schema_message(fault["loc"], fault["type"], fault["msg"]))
        return None, check.problems
    states = {name: _compile_state(name, state, check) for name, state in spec.states.items()}
    _check_structure(spec, states, check)
    if check.problems:
        return None, check.problems
    dialogue = Dialogue(spec.name, spec.version, spec.start, tuple(spec.intro), states, path)
    return dialogue, []


def _schema_message(loc: tuple[str | int, ...], kind: str, detail: str) -> str:
    """A schema fault as a plain sentence, e.g. an unknown key named with where it stands."""
    parts = [str(part) for part in loc]
    parent = "'" + ".".join(parts[:-1]) + "'" if len(parts) > 1 else "the file"
    if kind == "extra_forbidden" and parts:
        return f"unknown key '{parts[-1]}' in {parent}"
    if kind == "missing" and parts:
        return f"{parent} needs the key '{parts[-1]}'"
    return f"'{'.'.join(parts)}': {detail}" if parts else detail


def _compile_state(name: str, spec: StateSpec, check: _Checker) -> State:
    routes: list[Route] = []
    for index, route in enumerate(spec.next):
        try:
            condition = compile_condition(route.when, check.domains, check.registry.guards)
        except ConditionError as error:
            check.at(["states", name, "next", index, "when"], f"state '{name}': {error}")
            continue
        routes.append(Route(route.to, condition))
    return State(name, spec, tuple(routes))


def _check_structure(spec: DialogueSpec, states: Mapping[str, State], check: _Checker) -> None:
    if spec.start not in states:
        check.at(["start"], f"start state '{spec.start}' is not defined under 'states'")
    for key in spec.intro:
        check.text(key, ["intro"])
    for name, state in states.items():
        _check_targets(name, state.spec, states, check)
        _check_extras(name, state.spec, check)
        _check_actions(name, state.spec, check)
        _check_ending(name, state.spec, check)
        if state.spec.ask is not None:
            _check_question(name, state, check)
    for name in sorted(set(states) - _reachable(spec.start, states)):
        check.at(["states", name], f"state '{name}' cannot be reached from '{spec.start}'")


def _check_targets(
    name: str, spec: StateSpec, states: Mapping[str, State], check: _Checker
) -> None:
    """Every route and extra button leads to a defined state."""
    for index, route in enumerate(spec.next):
        if route.to not in states:
            check.at(["states", name, "next", index, "to"],
                     f"state '{name}' goes to '{route.to}', which is not defined")
    for index, extra in enumerate(spec.extra_options):
        if extra.to not in states:
            check.at(["states", name, "extra_options", index],
                     f"state '{name}' goes to '{extra.to}', which is not defined")


def _check_extras(name: str, spec: StateSpec, check: _Checker) -> None:
    """An extra button has a label in every language and sets only declared facts."""
    for index, extra in enumerate(spec.extra_options):
        where: list[str | int] = ["states", name, "extra_options", index]
        check.text(extra.label, where)
        if extra.typed is not None and extra.typed not in PHRASE_SECTIONS:
            check.at(where, f"state '{name}' names unknown answer phrases '{extra.typed}' "
                     f"(known: {', '.join(PHRASE_SECTIONS)})")
        for fact, value in extra.sets.items():
            domain = check.domains.get(fact)
            if domain is None or not domain.admits(value):
                check.at(where, f"state '{name}' sets '{fact}' to {value!r}, "
                         "which is not a declared fact and value")


def _check_actions(name: str, spec: StateSpec, check: _Checker) -> None:
    """Actions resolve through the registry; said texts exist."""
    known = ", ".join(sorted(check.registry.actions)) or "none"
    for action in spec.on_enter:
        if action not in check.registry.actions:
            check.at(["states", name, "on_enter"],
                     f"state '{name}' names unknown action '{action}' (known: {known})")
    for key in spec.say:
        check.text(key, ["states", name, "say"])


def _check_ending(name: str, spec: StateSpec, check: _Checker) -> None:
    """A state either ends the dialogue or always has a way on: nobody is ever stuck."""
    where: list[str | int] = ["states", name]
    if spec.final and spec.next:
        check.at(where, f"final state '{name}' must not have 'next'")
    elif not spec.final and not spec.next:
        check.at(where, f"state '{name}' is a dead end: give it 'next' or mark it 'final'")
    elif not spec.final and spec.next[-1].when is not None:
        check.at([*where, "next", len(spec.next) - 1], f"the last route of state '{name}' "
                 "must have no 'when', so the patient is never stuck")


def _check_question(name: str, state: State, check: _Checker) -> None:
    fact = state.spec.ask or ""
    where = ["states", name, "ask"]
    domain = check.domains.get(fact)
    if domain is None:
        check.at(where, f"state '{name}' asks undeclared fact '{fact}'")
        return
    check.text(question_text_key(state), where)
    for value in domain.values:
        key = option_text_key(fact, value, domain)
        if key is not None:
            check.text(key, where)
            _check_label(name, key, value, check)
    for extra in state.spec.extra_options:
        _check_label(name, extra.label, extra.typed, check)


def _check_label(name: str, key: str, section: str | None, check: _Checker) -> None:
    """A label typed is its own button (spec §2a): it must not be another section's phrase.

    ``section`` is the phrase section the label may belong to (the button's own value, e.g. a
    report detail's "Not sure"); a label in any other section would be read, typed, as
    something else than the button says.
    """
    if check.vocabulary is None or not check.catalog.has(key):
        return
    for language in check.catalog.templates:
        label = check.catalog.plain(Text(key), language)
        found = check.vocabulary.section(label)
        if found is not None and found != section:
            check.at(["states", name], f"state '{name}': the {language} label '{label}' "
                     f"({key}) is listed in answers.yaml under '{found}', so typed it would "
                     "be read as that")


def _reachable(start: str, states: Mapping[str, State]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        spec = states[name].spec
        todo.extend(route.to for route in spec.next)
        todo.extend(extra.to for extra in spec.extra_options)
    return seen

