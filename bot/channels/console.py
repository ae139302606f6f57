"""The same conversation in a terminal: numbered buttons, typed answers, /commands.

The terminal has no buttons to tap, so it says some things its own way: a text
``console.KEY`` in ``dialogues/texts`` replaces ``KEY`` here. A message's own buttons (a
result's details) are Telegram's shortcut for a command the message names (``/details N``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

from bot import details
from bot.config import SettingsError, default_database_url, emergency_number, urgent_contact
from bot.content import Content, load_content
from bot.conversation import LANGUAGE_CHOICE, Action, Conversations, Reply
from bot.dialogue.texts import DEFAULT_LANGUAGE, Catalog
from bot.dialogue.turn import Option, Text
from bot.storage import open_store

_QUIT = frozenset({"/quit", "/exit", "/q"})
_OWN = "console."


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
        return Action(chat_id, text=text)

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
    while True:
        line = await asyncio.to_thread(read_line)
        if line is None or line.strip().lower() in _QUIT:
            console.say("console.quit")  # the session is already saved: say so
            return
        if not line.strip():
            continue
        console.show(await conversations.respond(console.action(patient, line, language)))


def _read_line() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None


def run_console(language: str | None, database_url: str | None, patient: int) -> int:
    """Run the terminal chat on the configured store (SQLite under ./data by default)."""
    try:
        number, contact = emergency_number(), urgent_contact()
    except SettingsError as error:
        print(f"ldh-bot chat: {error}", file=sys.stderr)  # noqa: T201  # the operator reads this
        return 2
    content = load_content(emergency_number=number, urgent_contact=contact)

    async def main() -> None:
        store = open_store(database_url or default_database_url())
        await store.open()
        try:
            conversations = Conversations(content, store)
            await chat(content, conversations=conversations, patient=patient, language=language,
                       read_line=_read_line, output=sys.stdout)
        finally:
            await store.close()

    asyncio.run(main())
    return 0
