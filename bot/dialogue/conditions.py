"""Conditions written as YAML data, compiled into predicates over a patient's facts.

The language is small on purpose, so a clinician can read every rule:

- ``{fact: value}``: the fact has that value; a list of values means any of them;
  several keys in one mapping must all hold.
- ``{fact: {gt: 55}}``: numeric comparison with ``lt``, ``le``, ``gt``, ``ge``, ``ne``.
- ``{fact: null}``: the fact has not been answered.
- ``{all: [...]}``, ``{any: [...]}``, ``{not: ...}``: combinations.
- ``{guard: name}``: a named guard from an explicit registry (never an import).

Nothing is ever evaluated as Python text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

FactValue = int | str
Facts = Mapping[str, FactValue]
Predicate = Callable[[Facts], bool]

_COMPARATORS: dict[str, Callable[[int, int], bool]] = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "ne": lambda a, b: a != b,
}


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message says why in a plain sentence."""


@dataclass(frozen=True)
class FactDomain:
    """What values a declared fact may take: a set of words, or an integer range."""

    values: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    @property
    def is_integer(self) -> bool:
        """Whether the fact is a number rather than a choice of words."""
        return not self.values

    @property
    def is_yes_no(self) -> bool:
        """Whether the fact is answered yes or no (perhaps not sure, or does not apply).

        Such facts share their button labels and read typed answers from the same phrases.
        """
        return {"yes", "no"} <= set(self.values) <= {"yes", "no", "not_sure", "does_not_apply"}

    def admits(self, value: object) -> bool:
        """Whether ``value`` is one this fact can take."""
        if self.values:
            return isinstance(value, str) and value in self.values
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        low_ok = self.minimum is None or value >= self.minimum
        high_ok = self.maximum is None or value <= self.maximum
        return low_ok and high_ok


@dataclass(frozen=True)
class Condition:
    """A compiled condition: the predicate, the source data and the facts it reads."""

    predicate: Predicate
    source: object
    facts: frozenset[str] = field(default_factory=frozenset)
    guards: frozenset[str] = field(default_factory=frozenset)

    def __call__(self, facts: Facts) -> bool:
        """Evaluate the condition over ``facts``."""
        return self.predicate(facts)


ALWAYS = Condition(predicate=lambda _facts: True, source=None)


def compile_condition(
    source: object,
    domains: Mapping[str, FactDomain],
    guards: Mapping[str, Predicate] | None = None,
) -> Condition:
    """Compile YAML condition data against the declared facts and named guards."""
    registry = guards or {}
    if source is None:
        return ALWAYS
    return _compile(source, domains, registry)


def _compile(
    source: object, domains: Mapping[str, FactDomain], guards: Mapping[str, Predicate]
) -> Condition:
    if isinstance(source, list):
        return _combine(source, domains, guards, all)
    if not isinstance(source, Mapping) or not source:
        msg = f"a condition must be a non-empty mapping or list, not {source!r}"
        raise ConditionError(msg)
    parts = [_compile_key(str(key), value, domains, guards) for key, value in source.items()]
    if len(parts) == 1:
        return parts[0]
    return _merge(parts, all, source)


def _compile_key(
    key: str, value: object, domains: Mapping[str, FactDomain], guards: Mapping[str, Predicate]
) -> Condition:
    if key in {"all", "any"}:
        if not isinstance(value, list) or not value:
            msg = f"'{key}' takes a non-empty list of conditions"
            raise ConditionError(msg)
        combined = _combine(value, domains, guards, all if key == "all" else any)
        # Keep the combinator in the source: a bare list reads as "all" (e.g. on graph edges).
        return replace(combined, source={key: value})
    if key == "not":
        inner = _compile(value, domains, guards)
        return Condition(
            predicate=lambda facts: not inner(facts),
            source={"not": value},
            facts=inner.facts,
            guards=inner.guards,
        )
    if key == "guard":
        return _guard(value, guards)
    return _fact_test(key, value, domains)


def _guard(name: object, guards: Mapping[str, Predicate]) -> Condition:
    if not isinstance(name, str) or name not in guards:
        known = ", ".join(sorted(guards)) or "none"
        msg = f"unknown guard {name!r} (known guards: {known})"
        raise ConditionError(msg)
    return Condition(predicate=guards[name], source={"guard": name}, guards=frozenset({name}))


def _fact_test(fact: str, expected: object, domains: Mapping[str, FactDomain]) -> Condition:
    domain = domains.get(fact)
    if domain is None:
        msg = f"condition refers to undeclared fact '{fact}'"
        raise ConditionError(msg)
    source = {fact: expected}
    if expected is None:
        return Condition(lambda facts: fact not in facts, source, frozenset({fact}))
    if isinstance(expected, Mapping):
        return _comparison(fact, expected, domain)
    wanted = expected if isinstance(expected, list) else [expected]
    for value in wanted:
        if not domain.admits(value):
            msg = f"fact '{fact}' cannot take the value {value!r}"
            raise ConditionError(msg)
    allowed = frozenset(wanted)
    return Condition(lambda facts: facts.get(fact) in allowed, source, frozenset({fact}))


def _comparison(fact: str, tests: Mapping[object, object], domain: FactDomain) -> Condition:
    if not domain.is_integer:
        msg = f"fact '{fact}' is not a number, so it cannot be compared with {dict(tests)!r}"
        raise ConditionError(msg)
    checks: list[tuple[Callable[[int, int], bool], int]] = []
    for op, bound in tests.items():
        if op not in _COMPARATORS:
            msg = f"unknown comparison {op!r} on '{fact}' (use one of {', '.join(_COMPARATORS)})"
            raise ConditionError(msg)
        if isinstance(bound, bool) or not isinstance(bound, int):
            msg = f"comparison {op!r} on '{fact}' needs a whole number, not {bound!r}"
            raise ConditionError(msg)
        checks.append((_COMPARATORS[str(op)], bound))

    def predicate(facts: Facts) -> bool:
        value = facts.get(fact)
        if not isinstance(value, int):
            return False
        return all(check(value, bound) for check, bound in checks)

    return Condition(predicate, {fact: dict(tests)}, frozenset({fact}))


def _combine(
    items: list[object],
    domains: Mapping[str, FactDomain],
    guards: Mapping[str, Predicate],
    how: Callable[[Iterable[object]], bool],
) -> Condition:
    parts = [_compile(item, domains, guards) for item in items]
    return _merge(parts, how, items)


def _merge(
    parts: list[Condition], how: Callable[[Iterable[object]], bool], source: object
) -> Condition:
    return Condition(
        predicate=lambda facts: how(part(facts) for part in parts),
        source=source,
        facts=frozenset().union(*(part.facts for part in parts)),
        guards=frozenset().union(*(part.guards for part in parts)),
    )
