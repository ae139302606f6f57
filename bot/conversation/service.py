"""One patient action in, one reply out: load, step, save and record in a single transaction.

Channels (Telegram, the terminal) turn what the patient did into an ``Action`` and render the
``Reply``; everything that must survive a crash happens here, inside the store's transaction.
Commands, menus and the rules around results live in their own modules of this package; a
feature that adds buttons registers its ``Menu`` and this service does not grow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from bot import queue_items
from bot.audit import ANSWER, answer_event
from bot.clock import Clock, system_clock
from bot.content import Content
from bot.conversation import commands, details_menu, disposition, effects, service_menus
from bot.conversation.menus import (
    Again,
    Menu,
    Menus,
    OpenMenu,
    Reader,
    Step,
    close,
    keep_open,
    open_menu,
)
from bot.conversation.reply import (
    Action,
    BeforeCommit,
    Contact,
    Reply,
    language_from_hint,
    say,
)
from bot.dialogue.engine import Engine
from bot.dialogue.session import Session
from bot.dialogue.texts import DEFAULT_LANGUAGE
from bot.dialogue.turn import Message, Text, Turn
from bot.logsafe import chat_ref
from bot.outbox import CLINIC_NOTIFICATION, Payload
from bot.storage.base import ConflictError, Patient, Store, Transaction

log = logging.getLogger(__name__)

# An update is decided without holding its chat, then once more from the chat as the failed
# write found it, before it holds the chat: two processes that keep changing one chat in turn
# are rare, and holding costs more round trips.
OPTIMISTIC_TRIES = 2


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
        menus: Iterable[Menu] = (),
    ) -> None:
        """Serve patients with ``content``, keeping their sessions in ``store``.

        ``menus`` are the buttons features outside the conversation add (e.g. the clinic's
        appointment reminders).
        """
        self.content = content
        self.store = store
        self.clock = clock
        self.clinic_chat_id = clinic_chat_id
        self.clinic_language = clinic_language
        self.timezone = ZoneInfo(timezone)
        self.screening = content.engines["screening"]
        self.queue_rules = queue_items.load_rules(content.directory)
        self.menus = Menus((*service_menus.MENUS, disposition.MENU, details_menu.MENU, *menus))

    async def respond(self, action: Action, before_commit: BeforeCommit | None = None) -> Reply:
        """Like ``handle``, but a fault on our side becomes a calm note, never a stack trace.

        Nothing of the failed step is kept (its transaction rolled back), so the patient can
        simply try again.
        """
        try:
            return await self.handle(action, before_commit)
        except Exception:
            log.exception("update for chat %s failed", chat_ref(action.chat_id))
            return Reply(language_from_hint(action.language_hint), say("app.error"))

    async def handle(self, action: Action, before_commit: BeforeCommit | None = None) -> Reply:
        """Apply one action in one transaction; a repeated update id changes nothing.

        ``before_commit`` runs once the step is decided but before it is committed (not for a
        repeated update): an acknowledgement sent there is never sent for a committed step.
        """
        for _ in range(OPTIMISTIC_TRIES):
            try:
                return await self._decide(action, before_commit, optimistic=True)
            except ConflictError:
                # Another process changed the chat (or served this very update) between the
                # step's read and its write, and nothing of the step was kept: decide it again
                # on what is there now (the store starts from what its failed write found).
                log.info("chat %s changed by another process during an update; deciding it "
                         "again", chat_ref(action.chat_id))
        # Changed again meanwhile: hold the chat this time, so that nothing can change it.
        return await self._decide(action, before_commit, optimistic=False)

    async def _decide(self, action: Action, before_commit: BeforeCommit | None, *,
                      optimistic: bool) -> Reply:
        """``handle``'s one try."""
        async with self.store.transaction(action.chat_id, self.clock(),
                                          update_id=action.update_id,
                                          optimistic=optimistic) as tx:
            fresh, patient = await tx.first_time_and_load(action.update_id)
            if not fresh:
                # Telegram redelivers an update whose reply may never have left before a crash:
                # change nothing, but show where the patient is so they are never left waiting.
                return self._repeat(patient, action)
            if patient is None or not patient.session:
                language = language_from_hint(action.language_hint)
                reply = await self._begin(tx, language, action.contact)
                if before_commit is not None:
                    await before_commit(reply)
                return reply
            session = Session.from_json(patient.session)
            if not self._place_exists(session):
                reply = Reply(session.language, self._start_over(session))
            else:
                reply = await self._step(Step(self, tx, session), action)
            if not isinstance(reply, service_menus.Forgotten):
                reply = await effects.settle(self, tx, session, reply)
                # After the step: a new course of care starts its record afresh.
                _remember_contact(session, action.contact)
                await self._save(tx, session, reply.turn)
            if before_commit is not None:
                await before_commit(reply)
            return reply

    # -- what a menu's handler may use (menus.Desk) --------------------------------------------

    def engine(self, session: Session) -> Engine:
        """The engine of the session's dialogue."""
        return self.content.engines[session.dialogue]

    def current(self, session: Session) -> Turn:
        """The open question; at a result, the emergency or urgent advice that stands."""
        engine = self.engine(session)
        if engine.question(session) is None and (advice := disposition.advice(session)):
            return Turn(advice)
        return engine.current(session)

    def with_current(self, session: Session, note: Text) -> Turn:
        """A note, then the open question again (or the advice, or the closing note)."""
        current = self.current(session)
        return Turn((Message((note,)), *current.messages), current.question)

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

    # -- one step ------------------------------------------------------------------------------

    def _repeat(self, patient: Patient | None, action: Action) -> Reply:
        if patient is None or not patient.session:
            return Reply(language_from_hint(action.language_hint), Turn(), duplicate=True)
        session = Session.from_json(patient.session)
        if not self._place_exists(session):
            return Reply(session.language, Turn(), duplicate=True)
        reply = _reshown(Reply(session.language, self.current(session)), open_menu(session))
        return replace(reply, duplicate=True)

    def _place_exists(self, session: Session) -> bool:
        """Whether the stored place is still in the dialogues (they may have been revised)."""
        engine = self.content.engines.get(session.dialogue)
        return engine is not None and session.state in engine.dialogue.states

    def _start_over(self, session: Session) -> Turn:
        """A place the revised dialogues no longer have: say so and ask question one again."""
        close(session)
        turn = self.screening.move_in(session, {})
        return Turn((Message((Text("app.revised"),)), *turn.messages), turn.question)

    async def _begin(self, tx: Transaction, language: str, contact: Contact | None) -> Reply:
        # Whatever a new patient sends first, they are greeted and asked question one.
        session, turn = self.screening.start(language)
        _remember_contact(session, contact)
        await self._save(tx, session, turn)
        return Reply(language, turn)

    async def _step(self, step: Step, action: Action) -> Reply:
        """Act; a menu left open by a command that only shows something is shown again."""
        session = step.session
        shown = open_menu(session)
        keeps = (commands.passive(action.command) if action.command is not None
                 else self._passive_value(action.text))
        if not keeps:
            close(session)  # the patient moved on; a handler may open a menu of its own
        reply = await self._act(step, action, shown)
        if keeps and not reply.menu and (still := open_menu(session)) is not None:
            reply = _reshown(reply, still)
        await disposition.answered_again(step, reply.turn)
        return reply

    def _passive_value(self, text: str) -> bool:
        found = self.menus.find(text)
        return found is not None and found[0].passive

    async def _act(self, step: Step, action: Action, shown: OpenMenu | None) -> Reply:
        if action.command is not None:
            return await commands.command(step, action.command)
        if self.menus.find(action.text) is not None:
            return await self._chosen(step, action.text)
        if action.seq is None and (read := await self._read_typed(step, action.text, shown)):
            return read
        session = step.session
        return step.reply(self.engine(session).answer(session, action.text, action.seq))

    async def _read_typed(self, step: Step, typed: str, shown: OpenMenu | None) -> Reply | None:
        """Typed text read by the menu waiting for it, or by one that reads it after a result.

        None: no menu reads it, and the dialogue's open question (if any) does.
        """
        if shown is not None and (menu := self.menus.get(shown.prefix)) is not None \
                and menu.read is not None:
            return await self._read_open(step, typed, shown, menu.read)
        session = step.session
        if self.engine(session).question(session) is not None:
            return None
        for menu in self.menus.idle():
            found = await menu.idle(step, typed) if menu.idle is not None else None
            if isinstance(found, str):
                return await self._chosen(step, found)
            if isinstance(found, Again):
                return _ask_again(step, found, OpenMenu(menu.prefix, found.prompt, found.options))
        return None

    async def _read_open(self, step: Step, typed: str, shown: OpenMenu, reader: Reader
                         ) -> Reply:
        """The open menu's reading of typed text: its choice, or the menu asked again."""
        read = await reader(step, typed, shown)
        if isinstance(read, str):
            return await self._chosen(step, read)
        if (passive := await self._passive_reading(step, typed)) is not None:
            # Not this menu's answer but a request that leaves it open (a method named after
            # a result): shown, then the menu again.
            keep_open(step.session, shown.prefix, shown.prompt, shown.options)
            return _reshown(await self._chosen(step, passive), shown)
        return _ask_again(step, read, shown)

    async def _passive_reading(self, step: Step, typed: str) -> str | None:
        for menu in self.menus.idle():
            if menu.passive and menu.idle is not None:
                found = await menu.idle(step, typed)
                if isinstance(found, str):
                    return found
        return None

    async def _chosen(self, step: Step, value: str) -> Reply:
        found = self.menus.find(value)
        if found is None:  # a reader returns only values of registered menus
            return step.noted("app.stale_button")
        menu, rest = found
        return await menu.handle(step, rest)

    # -- after the step ------------------------------------------------------------------------

    def _own_label(self, session: Session, answered: Text) -> dict[str, Any] | None:
        """The answer's words where they are not its value's own ("Does not apply" for no)."""
        last = session.history[-1]
        if len(last.facts) != 1:
            return None
        fact = last.facts[0]
        value = session.facts.get(fact)
        if value is None or answered == self.engine(session).label(fact, value):
            return None
        return answered.to_json()

    async def _save(self, tx: Transaction, session: Session, turn: Turn) -> None:
        if turn.answered is not None and session.history:
            last = session.history[-1]
            facts = {f: session.facts.get(f) for f in last.facts}
            await tx.record_event(ANSWER, answer_event(facts, last.typed,
                                                       self.content.fingerprint,
                                                       self._own_label(session, turn.answered)))
        await tx.save(Patient(chat_id=tx.chat_id, language=session.language,
                              session=session.to_json()))


def _reshown(reply: Reply, shown: OpenMenu | None) -> Reply:
    """The reply, then the open menu's words and buttons again, so it is never a bare prompt."""
    if shown is None or reply.menu:
        return reply
    turn = reply.turn
    return replace(reply, turn=Turn((*turn.messages, *shown.prompt), turn.question,
                                    turn.effects, turn.answered), menu=shown.options)


def _ask_again(step: Step, again: Again, shown: OpenMenu) -> Reply:
    """Typed text a menu could not read: say so, and ask again with its buttons."""
    keep_open(step.session, shown.prefix, shown.prompt, shown.options)
    return step.reply(Turn((Message((again.note,)), *shown.prompt)), shown.options)


def _remember_contact(session: Session, contact: Contact | None) -> None:
    """Keep the latest name and username the messenger gave (erased with the patient)."""
    if contact is not None and contact.to_json():
        session.care["contact"] = contact.to_json()
