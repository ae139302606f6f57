"""One compiled ``transitions`` machine per dialogue, stepping plain session records."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from transitions import EventData, Machine

from bot.dialogue.answers import NOT_SURE, Vocabulary, normalise
from bot.dialogue.conditions import Condition, FactDomain, FactValue
from bot.dialogue.loader import Dialogue, State, option_text_key, question_text_key
from bot.dialogue.registry import Registry
from bot.dialogue.session import Answered, Session
from bot.dialogue.texts import Catalog
from bot.dialogue.turn import Effect, Message, Option, Question, Text, Turn

_ADVANCE = "advance"
_MAX_HOPS = 100  # a safety net; load-time checks already refuse dead ends


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

    def __init__(
        self,
        dialogue: Dialogue,
        domains: Mapping[str, FactDomain],
        vocabulary: Vocabulary,
        catalog: Catalog,
        registry: Registry,
    ) -> None:
        """Compile the dialogue into a single machine, shared by every patient."""
        self.dialogue = dialogue
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
        certainty is asked again, with the buttons, however often that takes.
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
            session.history.append(Answered(state.name, sorted(extra.sets), before, typed))
            session.state = extra.to
            return self._arrive(session, [], [], answered=Text(extra.label))
        value = self._parse(state, raw)
        if value is None:
            return self._again(session, self._hint(state))
        fact = state.spec.ask or ""
        # Remember a value known before (e.g. a step-up entered with facts), so /back restores it.
        before = {fact: session.facts[fact]} if fact in session.facts else {}
        session.facts[fact] = value
        session.history.append(Answered(state.name, [fact], before, typed))
        session.state = self._advance(state.name, session.facts)
        return self._arrive(session, [], [], answered=self.label(fact, value))

    def back(self, session: Session) -> Turn:
        """Return to the previous question, forgetting the answer given to it."""
        if not session.history:
            return self._again(session, Text("app.back_none"))
        last = session.history.pop()
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
        typed = normalise(raw)
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

    def _parse(self, state: State, raw: str) -> FactValue | None:
        """The value of a button, or of a typed answer read by spec §2a; None: ask again."""
        fact = state.spec.ask or ""
        domain = self.domains[fact]
        if raw in domain.values:  # a button's value, exactly as the button sent it
            return raw
        if domain.is_integer:
            number = self.vocabulary.number(raw)
            return number if number is not None and domain.admits(number) else None
        if domain.is_yes_no:
            return self.vocabulary.choice(raw, domain.values)
        return self._parse_choice(fact, domain, raw)

    def _parse_choice(self, fact: str, domain: FactDomain, raw: str) -> FactValue | None:
        """A value of a many-option question, typed as its position, value or label."""
        if NOT_SURE in domain.values and self.vocabulary.choice(raw, (NOT_SURE,)) == NOT_SURE:
            return NOT_SURE  # a report detail's own Not sure, typed in any words for it
        text = normalise(raw)
        if text.isdigit() and 1 <= int(text) <= len(domain.values):
            return domain.values[int(text) - 1]
        for value in domain.values:
            if text == normalise(value) or self._is_label(self.label(fact, value), text):
                return value
        return None

    def _is_label(self, label: Text, typed: str) -> bool:
        """Whether ``typed`` is the whole of a button's label, in any language."""
        return any(normalise(self.catalog.plain(label, lang)) == typed for lang in self.languages)

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
