"""Reads and checks ``dialogues/ladder.yaml`` into a Ladder; every fault names file and line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from bot.clinical.ladder import (
    PAIN_WORSE,
    ROUTINE,
    SPECIALIST_REVIEW,
    Alert,
    Check,
    Disposition,
    Ladder,
    Method,
    PainWorse,
    Rule,
    Rung,
)
from bot.dialogue.conditions import Condition, ConditionError, compile_condition
from bot.dialogue.facts import load_fact_domains
from bot.dialogue.yamlio import LineDict, LineList, YamlError, line_of, load_yaml

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from bot.dialogue.conditions import FactDomain

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_COMBINATORS = frozenset({"all", "any", "not"})

Location = tuple[str | int, ...]


def load_ladder(dialogues_dir: Path) -> Ladder:
    """Read and validate ``ladder.yaml`` against the facts declared beside it."""
    path = dialogues_dir / "ladder.yaml"
    return _Reader(path, load_yaml(path), load_fact_domains(dialogues_dir)).ladder()


@dataclass(frozen=True)
class _Reader:
    """Validates the loaded YAML; every fault names the file and the line."""

    path: Path
    root: Any
    domains: Mapping[str, FactDomain]

    def fail(self, where: Location, message: str) -> NoReturn:
        raise YamlError(self.path, line_of(self.root, where), message)

    def at(self, where: Location) -> Any:  # noqa: ANN401  # YAML data is untyped until checked
        node = self.root
        for step in where:
            node = node[step]
        return node

    def mapping(
        self, where: Location, required: set[str], optional: frozenset[str] = frozenset()
    ) -> LineDict:
        node = self.at(where)
        if not isinstance(node, LineDict):
            self.fail(where, f"expected a mapping with {', '.join(sorted(required))}")
        for key in node:
            if key not in required | optional:
                self.fail((*where, key), f"unknown key '{key}'")
        for key in sorted(required - set(node)):
            self.fail(where, f"missing '{key}'")
        return node

    def items(self, where: Location, *, empty: bool = False) -> range:
        node = self.at(where)
        if not isinstance(node, LineList) or (not node and not empty):
            self.fail(where, "expected a list" if empty else "expected a non-empty list")
        return range(len(node))

    def code(self, where: Location) -> str:
        value = self.at(where)
        if not isinstance(value, str) or not _CODE.match(value):
            self.fail(where, f"expected a snake_case code, not {value!r}")
        return value

    def condition(self, where: Location) -> Condition:
        source = self.at(where)
        if source is None:
            self.fail(where, "a condition is needed here")
        try:
            return compile_condition(source, self.domains)
        except ConditionError as error:
            line = _fault_line(source, self.domains, line_of(self.root, where))
            raise YamlError(self.path, line, str(error)) from error

    def rule(self, where: Location, code_key: str = "why") -> Rule:
        self.mapping(where, {code_key, "when"})
        return Rule(self.code((*where, code_key)), self.condition((*where, "when")))

    def ladder(self) -> Ladder:
        keys = {"version", "dispositions", "alerts", "rungs", "which_rung", "followup"}
        if self.mapping((), keys)["version"] != 1:
            self.fail(("version",), "this program reads ladder version 1")
        rungs = self.rungs()
        which = ("which_rung",)
        self.mapping(which, {"stay", "step_up", "otherwise", "review_first", "no_method_suits"})
        weeks, from_week, pain_worse = self.followup()
        dispositions = self.dispositions()
        return Ladder(
            dispositions=dispositions,
            alerts=self.alerts({ROUTINE, *(d.id for d in dispositions)}),
            rungs=rungs,
            stay=self.rules((*which, "stay")),
            step_up=self.rules((*which, "step_up")),
            otherwise=self.why_only((*which, "otherwise")),
            review_first=self.rules((*which, "review_first")),
            no_method_suits=self.why_only((*which, "no_method_suits")),
            followup_weeks=weeks,
            step_up_from_week=from_week,
            pain_worse=pain_worse,
            path=self.path,
        )

    def alerts(self, dispositions: set[str]) -> tuple[Alert, ...]:
        result: list[Alert] = []
        for i in self.items(("alerts",)):
            where: Location = ("alerts", i)
            node = self.mapping(where, {"id"}, frozenset({"for", "when", "raised_by"}))
            name = self.code((*where, "id"))
            if name == PAIN_WORSE or name in {a.id for a in result}:
                self.fail((*where, "id"), f"alert '{name}' is reserved or repeated")
            only: frozenset[str] | None = None
            if "for" in node:
                only = frozenset(self.code((*where, "for", j))
                                 for j in self.items((*where, "for")))
                if not only <= dispositions:
                    known = ", ".join(sorted(dispositions))
                    self.fail((*where, "for"), f"known dispositions: {known}")
            if "raised_by" in node:  # spec §2a: raised by the reading of answers, not by facts
                if node["raised_by"] != "answers" or "when" in node:
                    self.fail((*where, "raised_by"), "'raised_by: answers' stands without 'when'")
                result.append(Alert(name, compile_condition(None, self.domains), only,
                                    by_answers=True))
                continue
            if "when" not in node:
                self.fail(where, "missing 'when'")
            result.append(Alert(name, self.condition((*where, "when")), only))
        return tuple(result)

    def rules(self, where: Location) -> tuple[Rule, ...]:
        return tuple(self.rule((*where, i)) for i in self.items(where))

    def why_only(self, where: Location) -> str:
        self.mapping(where, {"why"})
        return self.code((*where, "why"))

    def dispositions(self) -> tuple[Disposition, ...]:
        result: list[Disposition] = []
        for i in self.items(("dispositions",)):
            where: Location = ("dispositions", i)
            where_flags: Location = (*where, "red_flags")
            node = self.mapping(where, {"id"}, frozenset({"red_flags", "when"}))
            name = self.code((*where, "id"))
            if name == ROUTINE or name in {d.id for d in result}:
                self.fail((*where, "id"), f"disposition '{name}' is reserved or repeated")
            if ("red_flags" in node) == ("when" in node):
                self.fail(where, "a disposition needs exactly one of 'red_flags' or 'when'")
            flags: tuple[Rule, ...] = ()
            if "red_flags" in node:
                flags = tuple(self.flag((*where, "red_flags", j)) for j in self.items(where_flags))
            when = self.condition((*where, "when")) if "when" in node else None
            result.append(Disposition(name, flags, when))
        return tuple(result)

    def flag(self, where: Location) -> Rule:
        condition = self.condition(where)
        if len(condition.facts) != 1:
            self.fail(where, "a red flag is a condition on exactly one fact")
        (fact,) = condition.facts
        return Rule(fact, condition)

    def rungs(self) -> tuple[Rung, ...]:
        rungs: list[Rung] = []
        seen: set[str] = set()
        for i in self.items(("rungs",)):
            where: Location = ("rungs", i)
            self.mapping(where, {"id", "methods"})
            rung = self.code((*where, "id"))
            if rung in seen or rung in {ROUTINE, SPECIALIST_REVIEW}:
                self.fail((*where, "id"), f"rung '{rung}' is reserved or repeated")
            seen.add(rung)
            methods = []
            for j in self.items((*where, "methods")):
                method = self.method((*where, "methods", j), rung, seen)
                if i == 0 and method.checks:
                    self.fail((*where, "methods", j), "the first rung is for everyone: no checks")
                methods.append(method)
            rungs.append(Rung(rung, tuple(methods)))
        if len(rungs) < 2:  # noqa: PLR2004  # a ladder needs a rung to stay on and one to climb
            self.fail(("rungs",), "a ladder needs at least two rungs")
        return tuple(rungs)

    def method(self, where: Location, rung: str, seen: set[str]) -> Method:
        self.mapping(where, {"id", "suitability"})
        name = self.code((*where, "id"))
        if name in seen:
            self.fail((*where, "id"), f"'{name}' is already the id of a rung or method")
        seen.add(name)
        checks = []
        for k in self.items((*where, "suitability"), empty=True):
            at: Location = (*where, "suitability", k)
            node = self.mapping(at, {"reason"}, frozenset({"requires", "excludes"}))
            if ("requires" in node) == ("excludes" in node):
                self.fail(at, "a check needs exactly one of 'requires' or 'excludes'")
            kind = "requires" if "requires" in node else "excludes"
            condition, reason = self.condition((*at, kind)), self.code((*at, "reason"))
            checks.append(Check(kind == "requires", condition, reason))
        return Method(name, rung, tuple(checks))

    def followup(self) -> tuple[tuple[int, ...], int, PainWorse]:
        node = self.mapping(("followup",), {"weeks", "step_up_from_week", "pain_worse"})
        weeks = [self.at(("followup", "weeks", i)) for i in self.items(("followup", "weeks"))]
        if not all(type(w) is int and w > 0 for w in weeks) or weeks != sorted(set(weeks)):
            self.fail(("followup", "weeks"), "weeks are whole numbers above 0, in rising order")
        from_week = node["step_up_from_week"]
        if type(from_week) is not int or from_week not in weeks:
            self.fail(("followup", "step_up_from_week"), "must be one of the weeks")
        worse = self.mapping(("followup", "pain_worse"), {"rise", "at_least"})
        if not all(type(worse[k]) is int and worse[k] > 0 for k in ("rise", "at_least")):
            self.fail(("followup", "pain_worse"), "rise and at_least are whole numbers above 0")
        return tuple(weeks), from_week, PainWorse(worse["rise"], worse["at_least"])


def _fault_line(source: object, domains: Mapping[str, FactDomain], line: int) -> int:
    """Find the line of the innermost part of a condition that does not compile."""
    if isinstance(source, LineList):
        for item_line, item in zip(source.item_lines, source, strict=True):
            if _fails(item, domains):
                return _fault_line(item, domains, item_line)
    elif isinstance(source, LineDict):
        for key, value in source.items():
            if _fails({key: value}, domains):
                key_line = source.key_lines.get(key, line)
                return _fault_line(value, domains, key_line) if key in _COMBINATORS else key_line
    return line


def _fails(source: object, domains: Mapping[str, FactDomain]) -> bool:
    try:
        compile_condition(source, domains)
    except ConditionError:
        return True
    return False
