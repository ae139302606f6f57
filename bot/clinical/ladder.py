"""The treatment ladder of the clinical spec evaluated: facts in, a Recommendation out.

Every clinical rule lives in ``dialogues/ladder.yaml``; ``ladder_loader`` reads and checks it into
the objects here, and this module only evaluates them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from bot.dialogue.conditions import Condition, Facts

ROUTINE = "routine"
SPECIALIST_REVIEW = "specialist_review"
PAIN_WORSE = "pain_worse"


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
        return self.rose(baseline, today) or today >= self.at_least

    def rose(self, baseline: int, today: int) -> bool:
        """Whether today's pain rose enough above the baseline to be called worse."""
        return today - baseline >= self.rise


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

    def flags_of(self, disposition: str) -> tuple[str, ...]:
        """The red-flag facts that lead to ``disposition``, in file order (none if unknown)."""
        return tuple(flag.code for d in self.dispositions if d.id == disposition
                     for flag in d.red_flags)

    def stepped_up(self, recommendation: Recommendation) -> bool:
        """Whether a routine result was reached by stepping up (rule 2 of spec §3)."""
        return any(rule.code in recommendation.why for rule in self.step_up)

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
