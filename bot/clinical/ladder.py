"""The treatment ladder of the clinical spec: facts in, a Recommendation out.

Every clinical rule lives in ``dialogues/ladder.yaml``; this module only reads and evaluates it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

from bot.dialogue.conditions import Condition, ConditionError, compile_condition
from bot.dialogue.facts import load_fact_domains
from bot.dialogue.yamlio import LineDict, LineList, YamlError, line_of, load_yaml

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from bot.dialogue.conditions import FactDomain, Facts

ROUTINE = "routine"
SPECIALIST_REVIEW = "specialist_review"
PAIN_WORSE = "pain_worse"
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_COMBINATORS = frozenset({"all", "any", "not"})

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class Exclusion:
    """A method that does not suit the patient, with every reason it does not."""

    method: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Recommendation:
    """What the ladder decides for one patient (spec §3 "Output"), plus internal explanations."""

    disposition: str
    step: str | None
    options: tuple[str, ...]
    excluded: tuple[Exclusion, ...]
    next: str | None
    followup_weeks: tuple[int, ...]
    why: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """Return the seven keys of spec §3 "Output", as plain JSON-ready values."""
        return {
            "disposition": self.disposition,
            "step": self.step,
            "options": list(self.options),
            "excluded": [{"method": e.method, "reasons": list(e.reasons)} for e in self.excluded],
            "next": self.next,
            "followup_weeks": list(self.followup_weeks),
            "alerts": list(self.alerts),
        }


@dataclass(frozen=True)
class Alert:
    """Something said beside the step and told to the clinic, for some dispositions."""

    id: str
    condition: Condition
    dispositions: frozenset[str] | None
    # Raised by how the answers were read (spec §2a, ``raised_by: answers``), not by a fact.
    by_answers: bool = False

    def applies(self, disposition: str, facts: Facts, raised: frozenset[str] = frozenset()) -> bool:
        """Whether this alert is raised for ``disposition`` and ``facts`` (or in ``raised``)."""
        wanted = self.dispositions is None or disposition in self.dispositions
        return wanted and (self.id in raised if self.by_answers else self.condition(facts))


@dataclass(frozen=True)
class PainWorse:
    """Spec §5: at a check-in, pain this much above the baseline, or at least this high."""

    rise: int
    at_least: int

    def applies(self, baseline: int, today: int) -> bool:
        """Whether today's pain is worse enough to see a doctor within a week."""
        return today - baseline >= self.rise or today >= self.at_least


@dataclass(frozen=True)
class Rule:
    """A named condition: a why code, a red-flag fact or a reason code."""

    code: str
    condition: Condition


@dataclass(frozen=True)
class Check:
    """One suitability check: a condition that is required, or one that excludes."""

    requires: bool
    condition: Condition
    reason: str

    def fails(self, facts: Facts) -> bool:
        """Whether this check rules the method out for ``facts``."""
        return self.condition(facts) != self.requires


@dataclass(frozen=True)
class Method:
    """A treatment method on a rung, with its suitability checks in file order."""

    id: str
    rung: str
    checks: tuple[Check, ...]

    def reasons(self, facts: Facts) -> tuple[str, ...]:
        """Every reason the method does not suit; empty when it suits."""
        return tuple(check.reason for check in self.checks if check.fails(facts))


@dataclass(frozen=True)
class Rung:
    """A step of the ladder and its methods, simplest first."""

    id: str
    methods: tuple[Method, ...]


@dataclass(frozen=True)
class Disposition:
    """A non-routine outcome: it applies when any red flag holds, or when its condition does."""

    id: str
    red_flags: tuple[Rule, ...]
    when: Condition | None

    def applies(self, facts: Facts) -> bool:
        """Whether this disposition applies to ``facts``."""
        if self.when is not None and self.when(facts):
            return True
        return any(flag.condition(facts) for flag in self.red_flags)


def _first(rules: tuple[Rule, ...], facts: Facts) -> str | None:
    return next((rule.code for rule in rules if rule.condition(facts)), None)


@dataclass(frozen=True)
class Ladder:
    """The loaded ladder: dispositions, rungs, rung-choice rules and follow-up settings."""

    dispositions: tuple[Disposition, ...]
    alerts: tuple[Alert, ...]
    rungs: tuple[Rung, ...]
    stay: tuple[Rule, ...]
    step_up: tuple[Rule, ...]
    otherwise: str
    review_first: tuple[Rule, ...]
    no_method_suits: str
    followup_weeks: tuple[int, ...]
    step_up_from_week: int
    pain_worse: PainWorse
    path: Path

    @property
    def methods(self) -> dict[str, Method]:
        """Every method by id, in ladder order."""
        return {method.id: method for rung in self.rungs for method in rung.methods}

    @property
    def method_ids(self) -> tuple[str, ...]:
        """Every method id, in ladder order."""
        return tuple(self.methods)

    @property
    def step_ids(self) -> tuple[str, ...]:
        """Every step a recommendation can name: the rungs, then specialist review."""
        return (*(rung.id for rung in self.rungs), SPECIALIST_REVIEW)

    @property
    def reason_codes(self) -> tuple[str, ...]:
        """Every reason code a method can be excluded for, each once, in file order."""
        codes = (check.reason for method in self.methods.values() for check in method.checks)
        return tuple(dict.fromkeys(codes))

    @property
    def why_codes(self) -> tuple[str, ...]:
        """Every why code a recommendation can carry, each once, in file order."""
        rules = (*self.stay, *self.step_up)
        codes = (*(r.code for r in rules), self.otherwise, *(r.code for r in self.review_first))
        return tuple(dict.fromkeys((*codes, self.no_method_suits)))

    @property
    def alert_codes(self) -> tuple[str, ...]:
        """Every alert a recommendation or a check-in can carry."""
        return (*(alert.id for alert in self.alerts), PAIN_WORSE)

    @property
    def flag_codes(self) -> tuple[str, ...]:
        """Every red-flag fact, in file order."""
        return tuple(flag.code for d in self.dispositions for flag in d.red_flags)

    def method(self, method_id: str) -> Method:
        """One method by id; KeyError when the ladder has no such method."""
        return self.methods[method_id]

    def red_flags(self, facts: Facts) -> tuple[str, ...]:
        """Return the red-flag facts that hold, in file order."""
        return tuple(
            flag.code
            for disposition in self.dispositions
            for flag in disposition.red_flags
            if flag.condition(facts)
        )

    def disposition(self, facts: Facts) -> str:
        """Return the disposition from the facts known so far; routine when none applies."""
        found = next((d.id for d in self.dispositions if d.applies(facts)), None)
        return found or ROUTINE

    def step_up_due(self, facts: Facts) -> bool:
        """Whether a routine patient is due the next rung (so imaging questions matter)."""
        return self.disposition(facts) == ROUTINE and self._rung_choice(facts)[0]

    def recommend(self, facts: Facts, raised: frozenset[str] = frozenset()) -> Recommendation:
        """Decide the disposition and, for a routine patient, the step and its options.

        ``raised``: alerts the reading of the answers raised (e.g. ``unclear_red_flag``).
        """
        disposition = self.disposition(facts)
        alerts = tuple(a.id for a in self.alerts if a.applies(disposition, facts, raised))
        if disposition != ROUTINE:
            return Recommendation(disposition, None, (), (), None, (), (), self.red_flags(facts),
                                  alerts)
        return replace(self._routine(facts), alerts=alerts)

    def _routine(self, facts: Facts) -> Recommendation:
        due, why = self._rung_choice(facts)
        if not due:
            base = self.rungs[0]
            options = tuple(m.id for m in base.methods if not m.reasons(facts))
            return self._on_rung(0, options, (), (why,))
        review = _first(self.review_first, facts)
        if review is not None:
            return Recommendation(
                ROUTINE, SPECIALIST_REVIEW, (), (), None, self.followup_weeks, (why, review),
            )
        excluded: list[Exclusion] = []
        for index, rung in enumerate(self.rungs[1:], start=1):
            verdicts = [(method.id, method.reasons(facts)) for method in rung.methods]
            excluded += [Exclusion(method, reasons) for method, reasons in verdicts if reasons]
            options = tuple(method for method, reasons in verdicts if not reasons)
            if options:
                return self._on_rung(index, options, tuple(excluded), (why,))
        return Recommendation(
            ROUTINE, SPECIALIST_REVIEW, (), tuple(excluded), None, self.followup_weeks,
            (why, self.no_method_suits),
        )

    def _rung_choice(self, facts: Facts) -> tuple[bool, str]:
        """Whether stepping up is due, and the why code of that decision."""
        stay = _first(self.stay, facts)
        if stay is not None:
            return False, stay
        step = _first(self.step_up, facts)
        if step is not None:
            return True, step
        return False, self.otherwise

    def _on_rung(
        self,
        index: int,
        options: tuple[str, ...],
        excluded: tuple[Exclusion, ...],
        why: tuple[str, ...],
    ) -> Recommendation:
        rung = self.rungs[index]
        above = self.rungs[index + 1].id if index + 1 < len(self.rungs) else None
        return Recommendation(ROUTINE, rung.id, options, excluded, above, self.followup_weeks, why)


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
