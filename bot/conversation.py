"""One patient action in, one reply out: load, step, save and record in a single transaction.

Channels (Telegram, the terminal) turn what the patient did into an ``Action`` and render the
``Reply``; everything that must survive a crash happens here, inside the store's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import checkins, details, queue_items
from bot.audit import ANSWER, answer_event
from bot.clinic import appointments
from bot.content import Content
from bot.dialogue.answers import normalise
from bot.dialogue.engine import Engine
from bot.dialogue.session import Session
from bot.dialogue.texts import DEFAULT_LANGUAGE, LANGUAGES
from bot.dialogue.turn import Effect, Message, Option, Text, Turn
from bot.logsafe import chat_ref
from bot.outbox import APPOINTMENT_REMINDER, CHECKIN, CLINIC_NOTIFICATION, Payload
from bot.storage.base import Patient, Store, Transaction

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
BeforeCommit = Callable[["Reply"], Awaitable[None]]

# Service menus share the button space with answers; their values carry these prefixes.
LANGUAGE_CHOICE = "lang:"
FORGET_CHOICE = "forget:"
REMINDERS_CHOICE = "reminders:"
# The reminders a patient may stop; clinic notifications are the clinic's, not theirs.
PATIENT_REMINDERS = (CHECKIN, APPOINTMENT_REMINDER)
# A message the bot cannot read (sticker, photo, voice): answered with a note, never ignored.
UNSUPPORTED = "_unsupported"
# A forget button deletes only this soon after it was shown ("forget:yes:<unix seconds>"), so
# an old chat scrolled back to cannot erase a patient by one stray tap.
FORGET_VALID = timedelta(minutes=10)
# Clocks of several bot processes may differ a little; a button "from the future" by less is fine.
CLOCK_SKEW = timedelta(minutes=1)


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Action:
    """What a patient did: a command (``/back``), an answer, or a menu choice."""

    chat_id: int
    command: str | None = None
    text: str = ""
    seq: int | None = None
    update_id: int | None = None
    language_hint: str | None = None
    # Who the chat is, as the channel knows them (name, username), so the clinic can find them.
    contact: Contact | None = None


@dataclass(frozen=True)
class Contact:
    """A patient's name and username as their messenger shows them (either may be missing)."""

    name: str | None = None
    username: str | None = None

    def to_json(self) -> dict[str, str]:
        """JSON-ready data kept with the patient's care."""
        return {key: value for key, value in (("name", self.name), ("username", self.username))
                if value}


def remember_contact(session: Session, contact: Contact | None) -> None:
    """Keep the latest name and username the messenger gave (erased with the patient)."""
    if contact is not None and contact.to_json():
        session.care["contact"] = contact.to_json()


@dataclass(frozen=True)
class Reply:
    """What to show the patient: a Turn, in a language, with any service-menu buttons."""

    language: str
    turn: Turn
    menu: tuple[Option, ...] = ()
    duplicate: bool = False


def language_from_hint(hint: str | None) -> str:
    """Chinese for a ``zh*`` Telegram language, English otherwise."""
    return "zh" if hint and hint.lower().startswith("zh") else DEFAULT_LANGUAGE


def _say(*keys: str, **values: object) -> Turn:
    return Turn(messages=(Message(tuple(Text(key, values) for key in keys)),))


def _then(first: Turn, second: Turn) -> Turn:
    """Two turns as one: all the messages, and the second's question and effects."""
    return Turn((*first.messages, *second.messages), second.question, second.effects,
                first.answered)


class Conversations:
    """The screening and follow-up conversation for every patient, kept in a Store."""

    def __init__(  # noqa: PLR0913  # the clinic's settings travel with the service
        self,
        content: Content,
        store: Store,
        *,
        clock: Clock = system_clock,
        clinic_chat_id: int | None = None,
        clinic_language: str = DEFAULT_LANGUAGE,
        timezone: str = "UTC",
    ) -> None:
        """Serve patients with ``content``, keeping their sessions in ``store``."""
        self.content = content
        self.store = store
        self.clock = clock
        self.clinic_chat_id = clinic_chat_id
        self.clinic_language = clinic_language
        self.timezone = ZoneInfo(timezone)
        self.screening = content.engines["screening"]
        self.queue_rules = queue_items.load_rules(content.directory)

    async def respond(self, action: Action, before_commit: BeforeCommit | None = None) -> Reply:
        """Like ``handle``, but a fault on our side becomes a calm note, never a stack trace.

        Nothing of the failed step is kept (its transaction rolled back), so the patient can
        simply try again.
        """
        try:
            return await self.handle(action, before_commit)
        except Exception:
            log.exception("update for chat %s failed", chat_ref(action.chat_id))
            return Reply(language_from_hint(action.language_hint), _say("app.error"))

    async def handle(self, action: Action, before_commit: BeforeCommit | None = None) -> Reply:
        """Apply one action in one transaction; a repeated update id changes nothing.

        ``before_commit`` runs once the step is decided but before it is committed (not for a
        repeated update): an acknowledgement sent there is never sent for a committed step.
        """
        async with self.store.transaction(action.chat_id, self.clock()) as tx:
            fresh, patient = await tx.first_time_and_load(action.update_id)
            if not fresh:
                # Telegram redelivers an update whose reply may never have left before a crash:
                # change nothing, but show where the patient is so they are never left waiting.
                return self._repeat(patient, action)
            if patient is None or not patient.session:
                language = language_from_hint(action.language_hint)
                reply = await self._begin(tx, action, language)
                if before_commit is not None:
                    await before_commit(reply)
                return reply
            session = Session.from_json(patient.session)
            if not self._place_exists(session):
                reply = Reply(session.language, self._start_over(session))
            else:
                reply = await self._step(tx, action, session)
            if reply.turn is not _FORGOTTEN:
                reply = await self._settle(tx, session, reply)
                # After the step: a new course of care starts its record afresh.
                remember_contact(session, action.contact)
                await self._save(tx, session, reply.turn)
            if before_commit is not None:
                await before_commit(reply)
            return reply

    def _repeat(self, patient: Patient | None, action: Action) -> Reply:
        if patient is None or not patient.session:
            return Reply(language_from_hint(action.language_hint), Turn(), duplicate=True)
        session = Session.from_json(patient.session)
        if not self._place_exists(session):
            return Reply(session.language, Turn(), duplicate=True)
        return Reply(session.language, self._engine(session).current(session), duplicate=True)

    def _place_exists(self, session: Session) -> bool:
        """Whether the stored place is still in the dialogues (they may have been revised)."""
        engine = self.content.engines.get(session.dialogue)
        return engine is not None and session.state in engine.dialogue.states

    def _start_over(self, session: Session) -> Turn:
        """A place the revised dialogues no longer have: say so and ask question one again."""
        turn = self.screening.move_in(session, {})
        return Turn((Message((Text("app.revised"),)), *turn.messages), turn.question)

    async def _begin(self, tx: Transaction, action: Action, language: str) -> Reply:
        # Whatever a new patient sends first, they are greeted and asked question one.
        session, turn = self.screening.start(language)
        remember_contact(session, action.contact)
        await self._save(tx, session, turn)
        return Reply(language, turn)

    def _engine(self, session: Session) -> Engine:
        return self.content.engines[session.dialogue]

    async def _step(self, tx: Transaction, action: Action, session: Session) -> Reply:  # noqa: PLR0911  # one branch per kind of action
        if action.command is not None:
            return await self._command(tx, session, action.command)
        if action.text.startswith(LANGUAGE_CHOICE):
            return self._set_language(session, action.text.removeprefix(LANGUAGE_CHOICE))
        if action.text.startswith(FORGET_CHOICE):
            return await self._forget(tx, session, action.text.removeprefix(FORGET_CHOICE))
        if action.text.startswith(checkins.CHECKIN_CHOICE):
            return await self._checkin_choice(tx, session, action.text)
        if action.text.startswith(REMINDERS_CHOICE):
            return await self._stop_reminders(tx, session)
        if action.text.startswith(details.CHOICE):
            return Reply(session.language, self._details(session, action.text))
        if action.text.startswith(appointments.CHOICE):  # a reminder's button (bot/clinic)
            note = await appointments.choose(tx, session.language, action.text,
                                             self.notify_clinic)
            return Reply(session.language, self._with_current(session, note))
        engine = self._engine(session)
        return Reply(session.language, engine.answer(session, action.text, action.seq))

    async def _command(self, tx: Transaction, session: Session, command: str) -> Reply:
        """A /command; an unknown one is named back to the patient with the open question."""
        language = session.language
        simple: dict[str, Callable[[Session], Turn]] = {
            "start": self._welcome_back,
            "back": self._engine(session).back,
            "restart": self.screening.restart,
            "checkin": self._start_checkin,
            "help": lambda s: self._with_current(s, Text("app.help")),
            "mydata": self._mydata,
            "details": lambda s: self._details(s, details.choice(None, details.ALL)),
            UNSUPPORTED: lambda s: self._with_current(s, Text("app.unsupported")),
        }
        if command in simple:
            return Reply(language, simple[command](session))
        if command == "language":
            return Reply(language, _say("app.language_prompt"), self._language_menu())
        if command == "forget":
            return Reply(language, _say("app.forget_confirm"), self._forget_menu(tx.now))
        if command == "reminders":
            return await self._reminders(tx, session)
        return Reply(language, self._unknown(session, command))

    def _welcome_back(self, session: Session) -> Turn:
        current = self._engine(session).current(session)
        if current.question is None:
            return current
        return Turn((Message((Text("app.welcome"),)), *current.messages), current.question)

    def _details(self, session: Session, chosen: str) -> Turn:
        """A result's explanations on request; an open question follows, so none is lost."""
        shown = details.show(self.content.catalog, session, chosen)
        current = self._engine(session).current(session)
        return Turn((*shown, *current.messages) if current.question else shown, current.question)

    def _unknown(self, session: Session, command: str) -> Turn:
        return self._with_current(session, Text("app.unknown_command", {"command": f"/{command}"}))

    def _with_current(self, session: Session, note: Text) -> Turn:
        """A note, then the open question again (or the closing note)."""
        current = self._engine(session).current(session)
        return Turn((Message((note,)), *current.messages), current.question)

    def _language_menu(self) -> tuple[Option, ...]:
        return tuple(Option(Text(f"lang.{code}"), f"{LANGUAGE_CHOICE}{code}") for code in LANGUAGES)

    def _forget_menu(self, now: datetime) -> tuple[Option, ...]:
        shown = int(now.timestamp())
        return (Option(Text("opt.confirm_forget"), f"{FORGET_CHOICE}yes:{shown}"),
                Option(Text("opt.cancel"), f"{FORGET_CHOICE}no"))

    def _set_language(self, session: Session, code: str) -> Reply:
        if code not in LANGUAGES:  # a forged or outdated button: ask again, change nothing
            return Reply(session.language, _say("service.language_unknown"),
                         self._language_menu())
        session.language = code
        current = self._engine(session).current(session)
        return Reply(session.language, Turn((Message((Text("app.language_set"),)),
                                             *current.messages), current.question))

    def _mydata(self, session: Session) -> Turn:
        """What is stored, in the patient's words: each answer as given, and where they are."""
        engine, catalog = self._engine(session), self.content.catalog
        typed = {fact: entry.typed for entry in session.history for fact in entry.facts}
        answers = []
        for fact, value in session.facts.items():
            if not catalog.has(f"topic.{fact}"):
                continue  # not a question the patient answered (e.g. the check-in's week)
            label, said = engine.label(fact, value), typed.get(fact)
            # What they typed is shown where it is not simply the answer's own label.
            shown = said if said and normalise(said) != normalise(
                catalog.plain(label, session.language)) else None
            answers.append(Text("app.mydata_typed" if shown else "app.mydata_answer",
                                {"question": Text(f"topic.{fact}"), "answer": label,
                                 "typed": shown or ""}))
        question = engine.question(session)
        progress = (Text("app.mydata_at", {"question": Text(f"topic.{question.fact}")})
                    if question is not None and question.fact else Text("app.mydata_done"))
        note = Text("app.mydata", {"language": Text(f"lang.{session.language}"),
                                   "progress": progress,
                                   "answers": answers or [Text("app.mydata_none")]})
        current = engine.current(session)
        return Turn((Message((note,)), *current.messages), current.question)

    async def _forget(self, tx: Transaction, session: Session, choice: str) -> Reply:
        answer, _, shown = choice.partition(":")
        if answer != "yes":
            current = self._engine(session).current(session)
            return Reply(session.language, Turn((Message((Text("app.forget_cancelled"),)),
                                                 *current.messages), current.question))
        if not _still_valid(shown, tx.now):
            return Reply(session.language,
                         self._with_current(session, Text("service.forget_expired")))
        await tx.forget()
        return Reply(session.language, _FORGOTTEN)

    async def _save(self, tx: Transaction, session: Session, turn: Turn) -> None:
        if turn.answered is not None and session.history:
            last = session.history[-1]
            facts = {f: session.facts.get(f) for f in last.facts}
            await tx.record_event(ANSWER, answer_event(facts, last.typed,
                                                       self.content.fingerprint))
        await tx.save(Patient(chat_id=tx.chat_id, language=session.language,
                              session=session.to_json()))

    async def _settle(self, tx: Transaction, session: Session, reply: Reply) -> Reply:
        """Record the turn's effects and carry out those that change the conversation."""
        turn, menu = reply.turn, reply.menu
        done: list[Effect] = []
        while turn.effects[len(done):]:
            effect = turn.effects[len(done)]
            done.append(effect)
            await tx.record_event(effect.kind, dict(effect.data))
            if effect.kind == "notify_clinic":
                if await self._clinic_red_flag(tx, effect):
                    turn = _told_clinic(turn)
            elif effect.kind == "not_improving":
                response = Text(f"checkin.response.{effect.data['response']}")
                note = Text("clinic.not_improving", {"patient": str(tx.chat_id),
                                                     "week": effect.data["week"],
                                                     "response": response})
                if await self.notify_clinic(tx, note):
                    turn = _told_clinic(turn)
            elif effect.kind == "offer_checkins" and not menu:
                weeks = list(effect.data["weeks"])
                checkins.offer(session, weeks, tx.now)
                separator = self.content.catalog.template(session.language, "rec.weeks_separator")
                offer = Text("rec.checkin_offer", {"weeks": separator.join(map(str, weeks))})
                turn = replace(turn, messages=(*turn.messages, Message((offer,))))
                menu = self._checkin_menu()
            elif effect.kind == "step_up":
                response = Text(f"checkin.response.{effect.data['response']}")
                note = Text("clinic.step_up", {"patient": str(tx.chat_id),
                                               "week": effect.data["week"], "response": response})
                if await self.notify_clinic(tx, note):
                    turn = _told_clinic(turn)
                following = checkins.step_up(self.content, session, effect.data["facts"])
                turn = _then(turn, following)
                turn = replace(turn, effects=(*done, *following.effects))
        turn = details.remember(self.content, session, turn)
        return replace(reply, turn=turn, menu=menu)

    async def _clinic_red_flag(self, tx: Transaction, effect: Effect) -> bool:
        """Tell the clinic of red flags and alerts (spec §2, §3); whether a clinic was told."""
        disposition = str(effect.data["disposition"])
        flags = [Text(f"flag.{flag}") for flag in effect.data.get("flags", [])]
        alerts = [Text(f"clinic.alert.{alert}") for alert in effect.data.get("alerts", [])]
        parts = [Text(f"clinic.{disposition}", {"patient": str(tx.chat_id), "flags": flags})]
        if alerts:
            parts.append(Text("clinic.alerts", {"alerts": alerts}))
        return await self.notify_clinic(tx, *parts)

    # -- check-ins and reminders ------------------------------------------------------------

    def _checkin_menu(self) -> tuple[Option, ...]:
        return (Option(Text("opt.checkin_accept"), f"{checkins.CHECKIN_CHOICE}accept"),
                Option(Text("opt.checkin_decline"), f"{checkins.CHECKIN_CHOICE}decline"))

    def _start_checkin(self, session: Session) -> Turn:
        if session.dialogue == "screening" and self.screening.question(session) is not None:
            # A check-in would leave the screening half answered: finish it first.
            return self._with_current(session, Text("checkin.finish_screening_first"))
        turn = checkins.start(self.content, session, self.clock())
        if turn is None:
            return self._with_current(session, Text("checkin.no_screening"))
        return turn

    async def _checkin_choice(self, tx: Transaction, session: Session, choice: str) -> Reply:
        language = session.language
        what = choice.removeprefix(checkins.CHECKIN_CHOICE)
        if what == "start":
            return Reply(language, self._start_checkin(session))
        if what == "accept" and session.care.get("weeks"):
            await tx.cancel(tx.chat_id, [CHECKIN])  # a new course's plan replaces the old one
            await checkins.schedule(tx, session, f"{checkins.CHECKIN_CHOICE}start", self.timezone)
            return Reply(language, self._with_current(session, Text("rec.checkin_accepted")))
        return Reply(language, self._with_current(session, Text("rec.checkin_declined")))

    async def _reminders(self, tx: Transaction, session: Session) -> Reply:
        """What is scheduled for this patient, with a button to stop it all."""
        rows = [r for r in await tx.pending() if r.kind in PATIENT_REMINDERS]
        if not rows:
            return Reply(session.language, self._with_current(session, Text("reminders.none")))
        items = [Text("reminders.item", {"when": r.due_at.astimezone(self.timezone)
                                          .strftime("%Y-%m-%d %H:%M"),
                                          "what": Text(f"reminders.kind.{r.kind}")})
                 for r in rows]
        stop = Option(Text("opt.stop_reminders"), f"{REMINDERS_CHOICE}stop")
        return Reply(session.language, _say("reminders.list", items=items), (stop,))

    async def _stop_reminders(self, tx: Transaction, session: Session) -> Reply:
        await tx.cancel(tx.chat_id, PATIENT_REMINDERS)
        return Reply(session.language, self._with_current(session, Text("reminders.stopped")))

    async def notify_clinic(self, tx: Transaction, *parts: Text) -> bool:
        """Tell the clinic's chat, through this transaction's outbox; False with no clinic set.

        Whatever needs a person is also queued for the dashboard, with or without a clinic chat.
        """
        await queue_items.add(tx, self.queue_rules, parts)
        if self.clinic_chat_id is None:
            return False
        payload = Payload(self.clinic_language, (Message(parts),))
        await tx.enqueue(CLINIC_NOTIFICATION, self.clinic_chat_id, payload.to_json(), tx.now)
        return True


def _told_clinic(turn: Turn) -> Turn:
    """The turn, saying once that the clinic has been told (only ever when it was)."""
    told = Message((Text("app.clinic_told"),))
    if told in turn.messages:
        return turn
    return replace(turn, messages=(*turn.messages, told))


def _still_valid(shown: str, now: datetime) -> bool:
    """Whether a forget button shown at ``shown`` (unix seconds) may still delete."""
    if not shown.isdigit():
        return False
    age = now - datetime.fromtimestamp(int(shown), UTC)
    return -CLOCK_SKEW <= age <= FORGET_VALID


# The reply to a confirmed /forget: nothing is saved afterwards, and the channel says so.
_FORGOTTEN = _say("app.forgotten")
