"""The real ``ldh-bot run`` process against the Bot API stand-in, killed and restarted midway.

Dozens of patients answer at once, press stale buttons, type garbage, send stickers and
commands; the bot is killed with SIGKILL mid-conversation and started again. Every patient
must finish the screening from the question they were on, with no call Telegram would refuse,
every callback query answered and no patient action left without a reply.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from support.botapi_standin import StandIn
from support.botapi_state import ChatMessage, User
from support.storage_backends import PG_URL, PostgresBackend

from bot.content import load_content
from bot.dialogue.turn import Text

PATIENTS = 30
ANSWERS_TO_FINISH = 15  # 11 red flags, age, pregnancy, leg pain, pain score (back pain only)
KILL_AFTER_ANSWERS = 4
TIMEOUT = 60.0

pytestmark = pytest.mark.slow


@dataclass
class Patient:
    """One simulated patient and what the test has seen of their chat."""

    user: User
    index: int
    acted_on: int = 0  # the newest bot message the patient has responded to
    answers: int = 0
    stale: tuple[int, str] | None = None
    stale_pressed: bool = False
    garbage_sent: bool = False
    finished: bool = False


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@dataclass(frozen=True)
class Database:
    """Where the bot keeps its data in a run: its URL, and how the test counts rows there."""

    url: str

    def answers_per_chat(self) -> dict[int, int]:
        """How many answers each chat gave, from the bot's history table."""
        sql = "SELECT chat_id, COUNT(*) FROM events WHERE kind = 'answer' GROUP BY chat_id"
        if self.url.startswith("sqlite:///"):
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as db:
                return dict(db.execute(sql).fetchall())
        with psycopg.connect(self.url) as db:
            return dict(db.execute(sql).fetchall())  # type: ignore[arg-type]  # (int, int) rows


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An SQLite file, or a PostgreSQL schema of its own (dropped afterwards)."""
    if request.param == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'ldh-bot.db'}")
        return
    schema = f"ldh_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield Database(PostgresBackend.url_with(options=f"-c search_path={schema}"))
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _start_bot(standin: StandIn, data_dir: Path, database: Database) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": standin.token, "LDH_EMERGENCY_NUMBER": "999",
        "LDH_TELEGRAM_API_URL": standin.base_url,
        "LDH_DATABASE_URL": database.url,
    }
    log = (data_dir / "bot.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=log)


def _snippets(key: str) -> tuple[str, ...]:
    """The start of a text in every language, to recognise the message it begins."""
    catalog = load_content().catalog
    return tuple(catalog.plain(Text(key), lang)[:20] for lang in ("en", "zh"))


FINISHED = _snippets("rec.disclaimer")
AGE_QUESTION = _snippets("q.age")


def _last_bot_message(standin: StandIn, patient: Patient) -> ChatMessage | None:
    return standin.last_bot_message(patient.user)


def _buttons(message: ChatMessage) -> list[str]:
    markup = message.reply_markup or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def _choose(buttons: list[str]) -> str:
    """Answer "no" to yes/no questions and 6 on the pain scale."""
    for wanted in (":no", ":6"):
        for data in buttons:
            if data.endswith(wanted):
                return data
    return buttons[0]


def _act(standin: StandIn, patient: Patient) -> bool:  # noqa: PLR0911  # one return per kind of patient move
    """Do the patient's next thing once the bot has asked something; True if acted."""
    message = _last_bot_message(standin, patient)
    if message is None or message.message_id <= patient.acted_on:
        return False
    text = message.text or ""
    if any(mark in (m.text or "") for m in standin.messages(patient.user) for mark in FINISHED):
        patient.finished = True  # the recommendation arrived (a check-in offer may follow it)
        return False
    buttons = _buttons(message)
    if not buttons and not any(mark in text for mark in AGE_QUESTION):
        return False  # the bot is still replying: a note comes before its question
    patient.acted_on = message.message_id
    # Misbehaviour, once each, by some patients: a typed answer then a stale button, garbage.
    if patient.index % 3 == 0 and buttons and patient.answers == 2 and patient.stale is None:
        patient.stale = (message.message_id, buttons[0])  # typing leaves these buttons live
        standin.send_text(patient.user, "no" if patient.index % 2 == 0 else "没有")
        patient.answers += 1
        return True
    if patient.stale is not None and not patient.stale_pressed:
        patient.stale_pressed = True
        standin.press(patient.user, *patient.stale)
        return True
    if patient.index % 3 == 1 and not patient.garbage_sent and patient.answers >= 1:
        patient.garbage_sent = True
        standin.send_text(patient.user, "purple elephant")
        return True
    if buttons:
        standin.press(patient.user, message.message_id, _choose(buttons))
    else:
        standin.send_text(patient.user, "45" if patient.index % 2 else "四十五")
    patient.answers += 1
    return True


def _drive(standin: StandIn, patients: list[Patient], until: int) -> None:
    """Let every patient act until each has answered ``until`` times or finished."""
    deadline = time.monotonic() + TIMEOUT
    while any(not p.finished and p.answers < until for p in patients):
        if time.monotonic() > deadline:
            stuck = [p for p in patients if not p.finished and p.answers < until]
            pytest.fail(f"patients stuck: {[(p.index, p.answers) for p in stuck]}; the first's "
                        f"chat ends {_tail(standin, stuck[0])}")
        acted = False
        for patient in patients:
            if not patient.finished and patient.answers < until:
                acted = _act(standin, patient) or acted
        if not acted:
            time.sleep(0.02)


def _tail(standin: StandIn, patient: Patient) -> list[tuple[int, bool, str, list[str]]]:
    """The end of a patient's chat, for a failure message."""
    return [(m.message_id, m.from_bot, (m.text or m.kind)[:60], _buttons(m))
            for m in standin.history(patient.user)][-5:]


def _settle(standin: StandIn, seconds: float = 1.0) -> None:
    """Wait until the bot has made no call for ``seconds``."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        count = len(standin.calls)
        time.sleep(seconds)
        if len(standin.calls) == count:
            return
    pytest.fail("the bot never went quiet")


def test_patients_survive_sigkill_and_finish(
    standin: StandIn, tmp_path: Path, database: Database
) -> None:
    bot = _start_bot(standin, tmp_path, database)
    try:
        standin.wait_for(lambda: standin.calls_to("setMyCommands"), timeout=TIMEOUT)
        patients = [
            Patient(standin.new_user(f"P{i}", language_code="zh-hans" if i % 2 else "en"), i)
            for i in range(PATIENTS)
        ]
        for patient in patients:
            standin.send_text(patient.user, "/start")
        group = standin.new_group()
        standin.send_in_group(group, patients[0].user, "/start")
        standin.send_sticker(patients[1].user)
        _drive(standin, patients, until=KILL_AFTER_ANSWERS)

        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=10)
        answered_before_kill = {c.params["callback_query_id"]
                                for c in standin.calls_to("answerCallbackQuery") if c.ok}
        ready_calls = len(standin.calls_to("setMyCommands"))
        bot = _start_bot(standin, tmp_path, database)
        standin.wait_for(lambda: len(standin.calls_to("setMyCommands")) > ready_calls,
                         timeout=TIMEOUT)
        _settle(standin)
        # Redelivery answers whatever was in hand at the kill: nobody is left waiting.
        nothing = ChatMessage(0, 0, 0, from_bot=True, date=0)
        waiting = [p.index for p in patients if not p.finished
                   and (_last_bot_message(standin, p) or nothing).message_id <= p.acted_on]
        assert waiting == [], f"patients left without a reply after the restart: {waiting}"
        _drive(standin, patients, until=ANSWERS_TO_FINISH + 10)
        _settle(standin)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=20)

    unfinished = [p for p in patients if not p.finished]
    if unfinished:
        dump = tmp_path / "unfinished.txt"
        dump.write_text("\n".join(f"{p.index} {m.message_id} {'bot' if m.from_bot else 'pt '} "
                                   f"{(m.text or m.kind)[:50]!r} {_buttons(m)}"
                                   for p in unfinished for m in standin.history(p.user)))
        pytest.fail(f"{len(unfinished)} patient(s) did not finish; their chats are in {dump}")
    # The one refusal the kill may cause: a query answered just before it, whose step had not
    # yet committed, is answered again when Telegram redelivers it. Nothing else is refused.
    refused = [c for c in standin.rejected
               if not (c.method == "answerCallbackQuery"
                       and c.params["callback_query_id"] in answered_before_kill)]
    assert refused == [], refused[:3]
    print(f"figures: {database.url.split(':')[0]} patients={PATIENTS} calls={len(standin.calls)} "  # noqa: T201  # figures for the record
          f"re-answered_at_kill={len(standin.rejected)}")
    assert standin.unanswered_callback_queries() == []
    assert bot.returncode == 0, "SIGTERM must stop the bot cleanly"
    zh_first = [m.text or "" for m in standin.messages(patients[1].user)][:3]
    assert any("筛查" in text or "问题" in text for text in zh_first), zh_first
    group_replies = [m for m in standin.messages(group) if m.from_bot]
    assert len(group_replies) == 1

    # Nobody lost their place: each answered every question once, none started over.
    counts = database.answers_per_chat()
    for patient in patients:
        assert counts.get(patient.user.id) == ANSWERS_TO_FINISH, (patient.index, counts)
