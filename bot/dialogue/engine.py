"""One compiled ``transitions`` machine per dialogue, stepping plain session records."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from transitions import EventData, Machine

from bot.dialogue.answers import (
    HEDGES,
    LEANS_YES,
    NO,
    NOT_SURE,
    PHRASE_SECTIONS,
    YES,
    How,
    Vocabulary,
)
from bot.dialogue.conditions import Condition, FactDomain, FactValue
from bot.dialogue.loader import Dialogue, State, option_text_key, question_text_key
from bot.dialogue.registry import Registry
from bot.dialogue.session import Answered, Session
from bot.dialogue.texts import Catalog
from bot.dialogue.turn import Effect, Message, Option, Question, Text, Turn
from bot.dialogue.unread import UNREAD_ANSWER, quote, unread_event

_ADVANCE = "advance"
_MAX_HOPS = 100  # a safety net; load-time checks already refuse dead ends
# The session keeps this many typed answers not taken (the newest); the patient's history
# keeps every one, as events, so a flood of messages cannot swell the session without end.
_KEPT_IN_SESSION = 50
# What parts a label: "Yes, less than 6 weeks", and the Chinese full-width comma.
_COMMA = re.compile("[,\uff0c]")


class _RegistryMachine(Machine):
    """A Machine whose callables come only from compiled conditions, never from names."""

    @staticmethod
    def resolve_callable(func: Any, event_data: EventData) -> Callable[..., Any]:  # noqa: ANN401, ARG004  # signature fixed by transitions
        """Refuse any callable named by a string: YAML must not reach Python by name."""
        if isinstance(func, str):
            msg = f"callable {func!r} named by a string; dialogue names resolve via the registry"
            raise TypeError(msg)
        return func  # type: ignore[no-any-return]  # transitions types callables as Any


class _Cursor:
    """The one model of a machine: positioned on a patient's state for a single step."""

    state: str


def _holds(condition: Condition) -> Callable[[EventData], bool]:
    """A transitions condition that evaluates ``condition`` over the facts of the step."""

    def check(event: EventData) -> bool:
        facts: Mapping[str, FactValue] = event.kwargs["facts"]
        return condition(facts)

    return check


class Engine:
    """Runs one dialogue for any number of patients; knows nothing of any channel."""

    def __init__(  # noqa: PLR0913  # the loaded content an engine runs on
        self,
        dialogue: Dialogue,
        domains: Mapping[str, FactDomain],
        vocabulary: Vocabulary,
        catalog: Catalog,
        registry: Registry,
        *,
        red_flags: Mapping[str, str] | None = None,
        fingerprint: str = "",
    ) -> None:
        """Compile the dialogue into a single machine, shared by every patient.

        ``red_flags`` maps each red-flag fact to the disposition it leads to (the ladder's);
        ``fingerprint`` is the content hash of the dialogues, kept with what was typed.
        """
        self.dialogue = dialogue
        self.red_flags: Mapping[str, str] = red_flags or {}
        self.fingerprint = fingerprint
        self.domains = domains
        self.vocabulary = vocabulary
        self.catalog = catalog
        self.languages = tuple(catalog.templates)
        self.registry = registry
        self._cursor = _Cursor()
        self._lock = threading.Lock()
        self._machine = _RegistryMachine(
            model=self._cursor,
            states=list(dialogue.states),
            initial=dialogue.start,
            auto_transitions=False,
            send_event=True,
        )
        for state in dialogue.states.values():
            for route in state.routes:
                self._machine.add_transition(
                    _ADVANCE, source=state.name, dest=route.to, conditions=[_holds(route.condition)]
                )

    # -- patient actions -------------------------------------------------------------------

    def start(
        self, language: str, facts: Mapping[str, FactValue] | None = None
    ) -> tuple[Session, Turn]:
        """A new session: the introduction and the first question."""
        session = Session(dialogue=self.dialogue.name, state=self.dialogue.start,
                          language=language)
        return session, self.move_in(session, facts or {})

    def enter(
        self, language: str, state: str, facts: Mapping[str, FactValue]
    ) -> tuple[Session, Turn]:
        """A new session that starts at ``state`` with facts already known (e.g. a step-up)."""
        session = Session(dialogue=self.dialogue.name, state=state, language=language)
        return session, self.move_in(session, facts, state)

    def move_in(
        self, session: Session, facts: Mapping[str, FactValue], state: str | None = None
    ) -> Turn:
        """Carry a session into this dialogue, keeping its language, care and question counter.

        Without ``state`` it starts at the beginning, with the dialogue's introduction.
        """
        session.dialogue = self.dialogue.name
        session.state = state or self.dialogue.start
        session.facts = dict(facts)
        session.history = []
        session.attempts = []
        session.version = self.dialogue.version
        intro = [] if state else [Message((Text(key),)) for key in self.dialogue.intro]
        return self._arrive(session, intro, [])

    def current(self, session: Session) -> Turn:
        """The open question again (or the closing note when the dialogue has ended)."""
        question = self.question(session)
        if question is None:
            return Turn(messages=(Message((Text("app.finished"),)),))
        return Turn(question=question)

    def answer(self, session: Session, raw: str, seq: int | None = None) -> Turn:
        """Apply an answer typed or pressed; ``seq`` is the question a button belonged to.

        A typed answer is read by the rules of spec §2a; one that cannot be read with
        certainty is asked again, with the buttons, however often that takes, and kept.
        A hedge on a red flag is confirmed once; a second hedge is not sure.
        """
        state = self.dialogue.states[session.state]
        if not state.is_question:
            return self.current(session)
        if seq is not None and seq != session.seq:
            return self._again(session, Text("app.stale_button"))
        typed = raw if seq is None else None  # kept as the patient wrote it, for the record
        extra = self._extra_option(state, raw, pressed=seq is not None)
        if extra is not None:
            before = {f: session.facts[f] for f in extra.sets if f in session.facts}
            session.facts.update(extra.sets)
            self._record(session, Answered(state.name, sorted(extra.sets), before, typed))
            session.state = extra.to
            return self._arrive(session, [], [], answered=Text(extra.label))
        value, how = self._read(session, state, raw, pressed=seq is not None)
        if value is None:
            return self._not_taken(session, state, typed, how)
        fact = state.spec.ask or ""
        # Remember a value known before (e.g. a step-up entered with facts), so /back restores it.
        before = {fact: session.facts[fact]} if fact in session.facts else {}
        session.facts[fact] = value
        self._record(session, Answered(state.name, [fact], before, typed))
        session.state = self._advance(state.name, session.facts)
        return self._arrive(session, [], [], answered=self.label(fact, value))

    def _record(self, session: Session, entry: Answered) -> None:
        """Keep the answer, with what was typed to its question before and not taken."""
        entry.unread = [{"typed": a["typed"], "reading": a["reading"]}
                        for a in session.attempts_at(entry.state)]
        session.attempts = [a for a in session.attempts if a.get("state") != entry.state]
        session.history.append(entry)

    def _not_taken(self, session: Session, state: State, typed: str | None, how: How) -> Turn:
        """Ask again, keeping what was typed; the first hedge on a red flag is confirmed."""
        fact = state.spec.ask or ""
        first: Text = self._hint(state)
        effects: tuple[Effect, ...] = ()
        if typed is not None:  # a forged or outdated button value is not the patient's words
            session.attempts.append({"state": state.name, "fact": fact, "typed": typed,
                                     "reading": how.value})
            del session.attempts[:-_KEPT_IN_SESSION]
            effects = (Effect(UNREAD_ANSWER, unread_event(fact, state.name, typed, how.value,
                                                          self.fingerprint)),)
            if how is How.HEDGE and fact in self.red_flags:
                first = Text(f"reading.confirm.{self.red_flags[fact]}", {"typed": quote(typed)})
        return Turn(messages=(Message((first, *self._reask(fact))),),
                    question=self.question(session), effects=effects)

    def _reask(self, fact: str) -> tuple[Text, ...]:
        """The sentence said on asking a red flag again, by the disposition it leads to."""
        key = f"reading.reask.{self.red_flags.get(fact)}"
        return (Text(key),) if fact in self.red_flags and self.catalog.has(key) else ()

    def back(self, session: Session) -> Turn:
        """Return to the previous question, forgetting the answer given to it."""
        if not session.history:
            return self._again(session, Text("app.back_none"))
        last = session.history.pop()
        # What was typed to that question and not taken stays with it, to be asked again;
        # what was typed to the question left stays too (the patient may come back to it).
        restored = [{"state": last.state, "fact": fact, **a}
                    for a in last.unread for fact in last.facts[:1]]
        session.attempts = restored + session.attempts
        for fact in last.facts:
            session.facts.pop(fact, None)
        session.facts.update(last.before)
        session.state = last.state
        session.seq += 1
        return Turn(messages=(Message((Text("app.back_done"),)),), question=self.question(session))

    def restart(self, session: Session, facts: Mapping[str, FactValue] | None = None) -> Turn:
        """Clear the answers and begin again from the first question."""
        turn = self.move_in(session, facts or {}, self.dialogue.start)
        return Turn((Message((Text("app.restart"),)), *turn.messages), turn.question,
                    turn.effects, turn.answered)

    def question(self, session: Session) -> Question | None:
        """The question the session is waiting on, or None at an end state."""
        state = self.dialogue.states[session.state]
        if not state.is_question:
            return None
        fact = state.spec.ask or ""
        domain = self.domains[fact]
        options: list[Option] = []
        if state.spec.buttons:
            values: list[str] = list(domain.values) or [
                str(n) for n in range(domain.minimum or 0, (domain.maximum or 0) + 1)
            ]
            options = [Option(self.label(fact, value), value) for value in values]
            options += [Option(Text(extra.label), f"+{i}")
                        for i, extra in enumerate(state.spec.extra_options)]
        return Question(
            state=state.name,
            fact=fact,
            text=Text(question_text_key(state)),
            options=tuple(options),
            hint=self._hint(state),
            seq=session.seq,
        )

    # -- internals -------------------------------------------------------------------------

    def _again(self, session: Session, note: Text) -> Turn:
        return Turn(messages=(Message((note,)),), question=self.question(session))

    def _advance(self, source: str, facts: Mapping[str, FactValue]) -> str:
        with self._lock:  # the cursor is shared: one step at a time through the rulebook
            self._machine.set_state(source, model=self._cursor)
            if not self._cursor.trigger(_ADVANCE, facts=facts):  # type: ignore[attr-defined]  # trigger is added by transitions
                msg = f"no route out of state '{source}'"
                raise RuntimeError(msg)
            return self._cursor.state

    def _arrive(
        self,
        session: Session,
        messages: list[Message],
        effects: list[Effect],
        answered: Text | None = None,
    ) -> Turn:
        """Enter states until one waits for an answer or the dialogue ends."""
        for _ in range(_MAX_HOPS):
            state = self.dialogue.states[session.state]
            messages.extend(Message((Text(key),)) for key in state.spec.say)
            for action in state.spec.on_enter:
                said, done = self.registry.actions[action](session)
                messages.extend(said)
                effects.extend(done)
            if state.is_question:
                session.seq += 1
                return Turn(tuple(messages), self.question(session), tuple(effects), answered)
            if state.spec.final:
                return Turn(tuple(messages), None, tuple(effects), answered)
            session.state = self._advance(state.name, session.facts)
        msg = f"dialogue '{self.dialogue.name}' did not settle after {_MAX_HOPS} steps"
        raise RuntimeError(msg)

    def _extra_option(self, state: State, raw: str, *, pressed: bool) -> Any:  # noqa: ANN401  # an ExtraOption or None
        """The extra button pressed, or typed as its label (any language), position or words."""
        typed = self.vocabulary.normalise(raw)
        domain = self.domains[state.spec.ask or ""]
        # Positions count the fact's own buttons first; yes/no and numbers are not picked by
        # position, so a typed digit there stays an answer.
        positional = not domain.is_integer and not domain.is_yes_no
        for index, extra in enumerate(state.spec.extra_options):
            if pressed:
                if raw == f"+{index}":
                    return extra
                continue
            if positional and typed == str(len(domain.values) + index + 1):
                return extra
            if extra.typed is not None and self.vocabulary.says(extra.typed, raw):
                return extra
            if self._is_label(Text(extra.label), typed):
                return extra
        return None

    def _read(
        self, session: Session, state: State, raw: str, *, pressed: bool
    ) -> tuple[FactValue | None, How]:
        """The value of a button, or of a typed answer read by spec §2a, and how it was read.

        None is "ask again". A hedge on a red flag is taken as not sure only when the bot has
        already asked to confirm an earlier hedge to this question (kept in the session).
        """
        fact = state.spec.ask or ""
        domain = self.domains[fact]
        if raw in domain.values:  # a button's value, exactly as the button sent it
            return raw, How.CLEAR
        if domain.is_integer:
            number = self.vocabulary.number(raw)
            taken = number is not None and domain.admits(number)
            return (number, How.CLEAR) if taken else (None, How.UNREAD)
        if pressed:  # a forged or outdated button value: asked again, never read as words
            return None, How.UNREAD
        if {YES, NO} <= set(domain.values):
            return self._yes_no(session, state, raw)
        value = self._choice(state, raw)
        return value, How.UNREAD if value is None else How.CLEAR

    def _yes_no(self, session: Session, state: State, raw: str) -> tuple[FactValue | None, How]:
        """A typed answer to a question of yes and no (and perhaps more), by spec §2a."""
        fact = state.spec.ask or ""
        values = self.domains[fact].values
        text = self.vocabulary.normalise(raw)
        for value in values:  # a value no phrase section names (e.g. "partly"), by its label
            if value not in PHRASE_SECTIONS and (
                    text == self.vocabulary.normalise(value)
                    or self._is_label(self.label(fact, value), text)):
                return value, How.CLEAR
        red_flag = fact in self.red_flags
        reading = self.vocabulary.read(raw, values, red_flag=red_flag)
        if reading.how is How.UNREAD and self.vocabulary.plain_words(raw):
            # A button's label that is no phrase of answers.yaml is taken as that button.
            label = next((value for value in values
                          if self._is_label(self.label(fact, value), text)), None)
            return (label, How.CLEAR) if label is not None else (None, How.UNREAD)
        if reading.how is not How.HEDGE:
            return reading.value, reading.how
        if red_flag:
            hedged = any(a["reading"] == How.HEDGE for a in session.attempts_at(state.name))
            return (NOT_SURE if hedged else None), How.HEDGE
        if NOT_SURE in values and self.vocabulary.section(raw) in {HEDGES, LEANS_YES}:
            # A hedge where Not sure is a button of its own (pregnancy) is that button: it
            # counts as yes there, the safe reading. A doubtful yes or no ("yes?") is asked again.
            return NOT_SURE, How.HEDGE
        return None, How.HEDGE  # spec §2a: on other questions hedges are asked again

    def _choice(self, state: State, raw: str) -> FactValue | None:
        """A choice typed as its position, as its whole label, or as a unique part of one.

        A part is what follows a comma in a label, in any language ("less than 6 weeks" for
        "Yes, less than 6 weeks"), taken when no other label of the question has it.
        """
        fact = state.spec.ask or ""
        domain = self.domains[fact]
        if NOT_SURE in domain.values and self.vocabulary.choice(raw, (NOT_SURE,)) == NOT_SURE:
            return NOT_SURE  # a report detail's own Not sure, typed in any words for it
        text = self.vocabulary.normalise(raw)
        if text.isdigit() and 1 <= int(text) <= len(domain.values):
            return domain.values[int(text) - 1]
        parts: dict[str, set[str]] = {}
        for value in domain.values:
            if text == self.vocabulary.normalise(value) or self._is_label(self.label(fact, value),
                                                                           text):
                return value
            for lang in self.languages:
                label = self.catalog.plain(self.label(fact, value), lang)
                for part in _COMMA.split(label)[1:]:
                    parts.setdefault(self.vocabulary.normalise(part), set()).add(value)
        found = parts.get(text, set())
        return next(iter(found)) if len(found) == 1 else None

    def _is_label(self, label: Text, typed: str) -> bool:
        """Whether ``typed`` is the whole of a button's label, in any language."""
        return any(self.vocabulary.normalise(self.catalog.plain(label, lang)) == typed
                   for lang in self.languages)

    def label(self, fact: str, value: FactValue) -> Text:
        """The button label of ``value`` for ``fact`` (digits for numbers)."""
        key = option_text_key(fact, str(value), self.domains[fact])
        return Text.raw(str(value)) if key is None else Text(key)

    def _hint(self, state: State) -> Text:
        """What to do instead: the question's own hint where it has one, else its kind's."""
        fact = state.spec.ask or ""
        domain = self.domains[fact]
        if self.catalog.has(f"app.hint.{fact}"):
            return Text(f"app.hint.{fact}")
        if domain.is_integer:
            return Text("app.hint.number", {"min": domain.minimum, "max": domain.maximum})
        if "not_sure" in domain.values:  # a red flag: never guessed, Not sure is always there
            return Text("app.hint.red_flag")
        if domain.is_yes_no:
            return Text("app.hint.yes_no")
        return Text("app.hint.choice")
