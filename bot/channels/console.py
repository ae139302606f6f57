"""The same conversation in a terminal: numbered buttons, typed answers, /commands.

The terminal has no buttons to tap, so it says some things its own way: a text
``console.KEY`` in ``dialogues/texts`` replaces ``KEY`` here. A message's own buttons (a
result's details) are Telegram's shortcut for a command the message names (``/details N``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TextIO

from bot import details
from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.config import SettingsError, default_database_url, emergency_number, urgent_contact
from bot.content import Content, load_content
from bot.conversation import LANGUAGE_CHOICE, Action, Conversations, Reply
from bot.dialogue.answers import normalise
from bot.dialogue.texts import DEFAULT_LANGUAGE, LANGUAGES, Catalog
from bot.dialogue.turn import Option, Text
from bot.storage import open_store

_QUIT = frozenset({"/quit", "/exit", "/q"})
_QUIT_COMMAND = "quit"
_OWN = "console."
_TYPED = "typed_commands."  # the words taken as a command without its slash, per language


def typed_commands(catalog: Catalog) -> dict[str, str]:
    """Each word that stands for a command without its slash ("back" → "back"), any language."""
    words: dict[str, str] = {}
    for table in catalog.templates.values():
        for key, listed in table.items():
            if key.startswith(_TYPED):
                for word in listed.split("|"):
                    words[normalise(word)] = key.removeprefix(_TYPED)
    return words


def console_catalog(catalog: Catalog) -> Catalog:
    """The texts as the terminal says them: ``console.KEY`` replaces ``KEY``."""
    templates = {
        language: {**table, **{k.removeprefix(_OWN): v for k, v in table.items()
                               if k.startswith(_OWN)}}
        for language, table in catalog.templates.items()
    }
    return replace(catalog, templates=templates)


class Console:
    """Renders replies as plain text and turns typed lines into actions."""

    def __init__(self, content: Content, output: TextIO) -> None:
        """Write to ``output`` using the texts of ``content``."""
        self.content = content
        self.catalog = console_catalog(content.catalog)
        self.output = output
        self.language = DEFAULT_LANGUAGE
        self.options: tuple[Option, ...] = ()
        self.seq: int | None = None
        self.numbered = False
        self.commands: Mapping[str, str] = typed_commands(content.catalog)

    def show(self, reply: Reply) -> None:
        """Print a reply and remember which numbers pick which button."""
        catalog, language = self.catalog, reply.language
        self.language = language
        for message in reply.turn.messages:
            self._print(catalog.message_plain(message, language))
        question = reply.turn.question
        if question is None and not reply.menu:
            # Nothing new to choose from (e.g. a result's details): the numbers shown last still
            # pick what they did, as the buttons of an earlier message stay in a Telegram chat.
            return
        self.options, self.seq, self.numbered = reply.menu, None, True
        if question is not None and not reply.menu:
            self._print(catalog.plain(question.text, language))
            self.options, self.seq = question.options, question.seq
            # Number buttons (the pain scale) are typed as they are, not picked by position.
            self.numbered = not all(o.value.isdigit() for o in question.options)
        if self.options:
            labels = [catalog.plain(o.label, language) for o in self.options]
            if self.numbered:
                labels = [f"{i}) {label}" for i, label in enumerate(labels, 1)]
            self._print("   ".join(labels))

    def action(self, chat_id: int, line: str, language: str | None) -> Action:
        """The action a typed line stands for."""
        text = line.strip()
        if text.startswith("/"):
            name, *arguments = text[1:].split() if len(text) > 1 else [""]
            if name.lower() == "details":  # /details, or /details N for one option
                which = arguments[0] if arguments else details.ALL
                return Action(chat_id, text=details.choice(None, which), language_hint=language)
            return Action(chat_id, command=name.lower(), language_hint=language)
        if self.numbered and text.isdigit() and 1 <= int(text) <= len(self.options):
            return Action(chat_id, text=self.options[int(text) - 1].value, seq=self.seq)
        bare = self.bare_command(text)
        if bare == "details":
            return Action(chat_id, text=details.choice(None, details.ALL), language_hint=language)
        if bare is not None:
            return Action(chat_id, command=bare, language_hint=language)
        return Action(chat_id, text=text)

    def bare_command(self, line: str) -> str | None:
        """The command a word typed without its slash stands for, unless it is a choice shown."""
        word = normalise(line)
        command = self.commands.get(word)
        if command is None:
            return None
        labels = {normalise(self.catalog.plain(option.label, language))
                  for option in self.options for language in self.catalog.templates}
        return None if word in labels else command

    def quits(self, line: str) -> bool:
        """Whether a typed line ends the chat (``/quit``, or ``quit`` without the slash)."""
        text = line.strip().lower()
        return text in _QUIT or self.bare_command(text) == _QUIT_COMMAND

    def say(self, key: str) -> None:
        """Print one text in the conversation's language."""
        self._print(self.catalog.plain(Text(key), self.language))

    def _print(self, text: str) -> None:
        self.output.write(f"{text}\n\n")
        self.output.flush()


async def chat(  # noqa: PLR0913  # both ends of the terminal plus whom and what to talk about
    content: Content,
    *,
    conversations: Conversations,
    patient: int,
    language: str | None,
    read_line: Callable[[], str | None],
    output: TextIO,
) -> None:
    """Converse until the patient quits or input ends; every step is saved as it happens."""
    console = Console(content, output)
    first = await conversations.respond(Action(patient, command="start", language_hint=language))
    if language is not None and first.language != language:
        first = await conversations.respond(Action(patient, text=f"{LANGUAGE_CHOICE}{language}"))
    console.show(first)
    try:
        while True:
            line = await _next_line(read_line)
            if line is None or console.quits(line):
                break
            if line.strip():
                console.show(await conversations.respond(console.action(patient, line, language)))
    except asyncio.CancelledError:  # Ctrl-C: every step is saved already, so say so and stop
        console.say("console.quit")
        raise
    console.say("console.quit")  # the session is already saved: say so


async def _next_line(read_line: Callable[[], str | None]) -> str | None:
    """The next typed line, read on a daemon thread: Ctrl-C never waits for one more Enter.

    (``asyncio.to_thread`` would: its worker is joined when the loop closes.)
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def settle(line: str | None, error: BaseException | None) -> None:
        if future.done():
            return  # given up on (Ctrl-C) while the line was being typed
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(line)

    def read() -> None:
        try:
            line = read_line()
        except Exception as error:  # noqa: BLE001  # handed to the loop, raised there
            loop.call_soon_threadsafe(settle, None, error)
        else:
            loop.call_soon_threadsafe(settle, line, None)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return await future


def _read_line() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None


def clinic_chat(env: Mapping[str, str]) -> tuple[int | None, str]:
    """The clinic's chat and language (``LDH_CLINIC_CHAT_ID``, ``LDH_CLINIC_LANGUAGE``), if set.

    Set, the chat writes what the clinic must hear to the outbox of the same database, and a
    bot serving it (``ldh-bot run``) delivers it, as it does for Telegram patients.
    """
    raw = env.get("LDH_CLINIC_CHAT_ID", "").strip()
    language = env.get("LDH_CLINIC_LANGUAGE", "").strip() or DEFAULT_LANGUAGE
    if language not in LANGUAGES:
        msg = f"LDH_CLINIC_LANGUAGE must be one of {', '.join(LANGUAGES)}, not {language!r}"
        raise SettingsError(msg)
    if not raw:
        return None, language
    try:
        return int(raw), language
    except ValueError:
        msg = f"LDH_CLINIC_CHAT_ID must be a whole number (a Telegram chat id), not {raw!r}"
        raise SettingsError(msg) from None


def run_console(language: str | None, database_url: str | None, patient: int) -> int:
    """Run the terminal chat on the configured store (SQLite under ./data by default)."""
    try:
        number, contact = emergency_number(), urgent_contact()
        clinic, clinic_language = clinic_chat(os.environ)
    except SettingsError as error:
        print(f"ldh-bot chat: {error}", file=sys.stderr)  # noqa: T201  # the operator reads this
        return 2
    content = load_content(emergency_number=number, urgent_contact=contact)

    async def main() -> None:
        store = open_store(database_url or default_database_url())
        await store.open()
        try:
            conversations = Conversations(content, store, clinic_chat_id=clinic,
                                          clinic_language=clinic_language,
                                          menus=(APPOINTMENT_MENU,))
            await chat(content, conversations=conversations, patient=patient, language=language,
                       read_line=_read_line, output=sys.stdout)
        finally:
            await store.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        # Ctrl-C: the store is closed and the chat has said that the answers are saved. The
        # thread still waiting for a line holds stdin's lock, which would abort the normal
        # interpreter shutdown; nothing is left to clean up, so leave at once, status 0.
        sys.stdout.flush()
        os._exit(0)
    return 0
