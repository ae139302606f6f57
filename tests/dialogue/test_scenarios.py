"""Whole conversations written as YAML stories in ``tests/scenarios/``, one test per file.

A story names its ``language`` and lists ``steps``. A step may do one thing: ``say`` (what the
patient types, or a /command) or ``press`` (the value of a button under the current question or
service menu, sent as the button would send it). Then it states what the reply must show:

- ``expect_question``: the fact now asked, or null when the screening has ended;
- ``expect_disposition``, ``expect_step``, ``expect_options``, ``expect_next``,
  ``expect_excluded`` ({method: [reasons]}), ``expect_followup_weeks``, ``expect_alerts``: the
  recommendation this reply carries (spec §3 Output); ``expect_no_recommendation: true`` that
  it carries none;
- ``expect_notify_clinic``: whether the clinic is told;
- ``expect_text_contains`` / ``expect_text_not_contains``: a string or list of strings looked
  for in the reply as the patient reads it (plain text, in the conversation's language);
- ``expect_facts``: {fact: value} as stored now; null means not stored.

Stories are read like the dialogues (``yes`` and ``no`` are words, not booleans).
A story may also list ``never_asked``: facts no reply of the whole conversation may ask.
The conversation runs through ``Conversations`` on an SQLite store, as the channels run it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.dialogue.session import Session
from bot.dialogue.yamlio import load_yaml
from bot.storage import Store

SCENARIOS = Path(__file__).parents[1] / "scenarios"
STORIES = sorted(SCENARIOS.glob("*.yaml"))
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CHAT = 4242

_ACTIONS = {"say", "press"}
_EXPECTATIONS = {
    "expect_question", "expect_disposition", "expect_step", "expect_options", "expect_next",
    "expect_excluded", "expect_followup_weeks", "expect_alerts", "expect_no_recommendation",
    "expect_notify_clinic", "expect_text_contains", "expect_text_not_contains", "expect_facts",
}
_STORY_KEYS = {"title", "language", "steps", "never_asked"}
_RECOMMENDATION_KEYS = {
    "expect_disposition": "disposition", "expect_step": "step", "expect_options": "options",
    "expect_next": "next", "expect_followup_weeks": "followup_weeks", "expect_alerts": "alerts",
}


def test_there_are_stories_for_both_languages() -> None:
    languages = [load_yaml(path)["language"] for path in STORIES]
    assert len(STORIES) >= 10
    assert {"en", "zh"} <= set(languages)


class _Story:
    """Plays one story and checks each step's expectations."""

    def __init__(self, content: Content, store: Store, path: Path) -> None:
        self.content = content
        self.store = store
        self.conversations = Conversations(content, store, clock=lambda: NOW)
        self.path = path
        # The project's strict reader: yes and no stay words, a repeated key is an error.
        self.data: dict[str, Any] = load_yaml(path)
        self.reply: Reply | None = None
        self.asked: list[str] = []

    def fail(self, index: int, message: str) -> None:
        pytest.fail(f"{self.path.name}, step {index + 1}: {message}", pytrace=False)

    async def run(self) -> None:
        unknown = set(self.data) - _STORY_KEYS
        assert not unknown, f"{self.path.name}: unknown story keys {sorted(unknown)}"
        language = self.data["language"]
        assert language in {"en", "zh"}
        first = Action(CHAT, command="start", language_hint=language)
        await self._receive(await self.conversations.handle(first))
        assert self.reply is not None
        assert self.reply.language == language, "the story must start in its own language"
        for index, step in enumerate(self.data["steps"]):
            await self.step(index, step)
        for fact in self.data.get("never_asked", []):
            if fact in self.asked:
                pytest.fail(f"{self.path.name}: '{fact}' was asked ({self.asked})")

    async def step(self, index: int, step: dict[str, Any]) -> None:
        unknown = set(step) - _ACTIONS - _EXPECTATIONS
        if unknown:
            self.fail(index, f"unknown keys {sorted(unknown)}")
        if len(set(step) & _ACTIONS) > 1:
            self.fail(index, "a step does one thing: say or press")
        if "say" in step:
            await self._receive(await self.conversations.handle(self._typed(str(step["say"]))))
        elif "press" in step:
            await self._receive(await self.conversations.handle(self._press(index, step)))
        await self.check(index, step)

    def _typed(self, text: str) -> Action:
        if text.startswith("/"):
            return Action(CHAT, command=text[1:].split(maxsplit=1)[0])
        return Action(CHAT, text=text)

    def _press(self, index: int, step: dict[str, Any]) -> Action:
        assert self.reply is not None
        value = str(step["press"])
        if self.reply.menu:
            buttons, seq = [o.value for o in self.reply.menu], None
        elif self.reply.turn.question is not None:
            question = self.reply.turn.question
            buttons, seq = [o.value for o in question.options], question.seq
        else:
            buttons, seq = [], None
        if value not in buttons:
            self.fail(index, f"no button {value!r} to press (buttons: {buttons})")
        return Action(CHAT, text=value, seq=seq)

    async def _receive(self, reply: Reply) -> None:
        self.reply = reply
        question = reply.turn.question
        if question is not None and question.fact and not reply.menu:
            self.asked.append(question.fact)

    def text(self) -> str:
        """The reply as the patient reads it."""
        assert self.reply is not None
        catalog, language = self.content.catalog, self.reply.language
        parts = [catalog.message_plain(message, language) for message in self.reply.turn.messages]
        question = self.reply.turn.question
        if question is not None:
            parts.append(catalog.plain(question.text, language))
            parts += [catalog.plain(option.label, language) for option in question.options]
        parts += [catalog.plain(option.label, language) for option in self.reply.menu]
        return "\n\n".join(parts)

    def recommendation(self) -> dict[str, Any] | None:
        assert self.reply is not None
        for effect in self.reply.turn.effects:
            if effect.kind == "recommendation":
                return dict(effect.data["recommendation"])
        return None

    async def facts(self) -> dict[str, Any]:
        async with self.store.transaction(CHAT, NOW) as tx:
            patient = await tx.load()
        if patient is None or not patient.session:
            return {}
        return Session.from_json(patient.session).facts

    async def check(self, index: int, step: dict[str, Any]) -> None:
        assert self.reply is not None
        turn = self.reply.turn
        if "expect_question" in step:
            asked = turn.question.fact if turn.question is not None else None
            if asked != step["expect_question"]:
                self.fail(index, f"asked {asked!r}, expected {step['expect_question']!r}\n"
                          f"{self.text()}")
        self.check_recommendation(index, step)
        if "expect_notify_clinic" in step:
            notified = any(e.kind == "notify_clinic" for e in turn.effects)
            if notified != step["expect_notify_clinic"]:
                self.fail(index, f"notify_clinic is {notified}")
        self.check_text(index, step)
        if "expect_facts" in step:
            facts = await self.facts()
            for fact, value in step["expect_facts"].items():
                if facts.get(fact) != value:
                    self.fail(index, f"fact {fact} is {facts.get(fact)!r}, expected {value!r}")

    def check_recommendation(self, index: int, step: dict[str, Any]) -> None:
        rec = self.recommendation()
        if step.get("expect_no_recommendation") and rec is not None:
            self.fail(index, f"unexpected recommendation {rec}")
        wanted = {_RECOMMENDATION_KEYS[key]: step[key] for key in _RECOMMENDATION_KEYS
                  if key in step}
        if "expect_excluded" in step:
            wanted["excluded"] = step["expect_excluded"]
        if not wanted:
            return
        if rec is None:
            self.fail(index, f"no recommendation in the reply\n{self.text()}")
            return
        rec["excluded"] = {e["method"]: e["reasons"] for e in rec["excluded"]}
        for key, value in wanted.items():
            if rec[key] != value:
                self.fail(index, f"{key} is {rec[key]!r}, expected {value!r}")

    def check_text(self, index: int, step: dict[str, Any]) -> None:
        text = self.text()
        for needle in _strings(step.get("expect_text_contains")):
            if needle not in text:
                self.fail(index, f"{needle!r} not in the reply:\n{text}")
        for needle in _strings(step.get("expect_text_not_contains")):
            if needle in text:
                self.fail(index, f"{needle!r} is in the reply:\n{text}")


def _strings(value: object) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


@pytest.mark.parametrize("path", STORIES, ids=[path.stem for path in STORIES])
async def test_story(content: Content, store: Store, path: Path) -> None:
    await _Story(content, store, path).run()


@pytest.mark.parametrize(
    ("steps", "complaint"),
    [
        ('[{say: "no", expect_question: fever}]', "asked 'bladder_bowel', expected 'fever'"),
        ('[{say: "yes", expect_disposition: urgent}]', "disposition is 'emergency'"),
        ('[{say: "no", expect_step: conservative}]', "no recommendation in the reply"),
        ('[{say: "yes", expect_text_contains: "sunshine"}]', "'sunshine' not in the reply"),
        ('[{say: "no", expect_facts: {saddle_numbness: "yes"}}]', "fact saddle_numbness is 'no'"),
        ('[{press: "maybe"}]', "no button 'maybe' to press"),
        ('[{say: "no", expect_qestion: fever}]', "unknown keys ['expect_qestion']"),
    ],
)
async def test_a_story_that_does_not_hold_fails(
    content: Content, store: Store, tmp_path: Path, steps: str, complaint: str
) -> None:
    story = tmp_path / "wrong.yaml"
    story.write_text(f"title: wrong\nlanguage: en\nsteps: {steps}\n", encoding="utf-8")

    with pytest.raises(pytest.fail.Exception, match=re.escape(complaint)):
        await _Story(content, store, story).run()
