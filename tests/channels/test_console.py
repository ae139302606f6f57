"""The terminal chat end to end: scripted lines in, plain text out, sessions kept in SQLite."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.console import chat
from bot.content import Content
from bot.conversation import Conversations
from bot.dialogue.turn import Text
from bot.outbox import Payload
from bot.storage import open_store

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PATIENT = 1


@pytest.fixture(scope="module")
def texts(content: Content) -> dict[str, str]:
    """The first line of some texts as the terminal prints them; ``zh:`` keys in Chinese."""
    keys = ["q.saddle_numbness", "q.bladder_bowel", "q.bilateral_leg", "q.age",
            "app.welcome", "app.back_done", "app.back_none", "app.restart", "app.help",
            "app.forgotten", "app.forget_cancelled", "app.language_set", "rec.disclaimer",
            "resume.welcome_back"]
    plain = {}
    for key in keys:
        for language, prefix in (("en", ""), ("zh", "zh:")):
            text = content.catalog.plain(Text(key), language)
            plain[f"{prefix}{key}"] = text.splitlines()[0]
    return plain


async def converse(
    content: Content, database: str, lines: Iterable[str], language: str | None = None
) -> str:
    """Run the terminal chat on a fresh store object over ``database``; return what it printed."""
    store = open_store(database)
    await store.open()
    script = iter(lines)
    output = io.StringIO()
    try:
        conversations = Conversations(content, store, clock=lambda: NOW)
        await chat(content, conversations=conversations, patient=PATIENT, language=language,
                   read_line=lambda: next(script, None), output=output)
    finally:
        await store.close()
    return output.getvalue()


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'console.db'}"


async def test_a_new_patient_sees_the_welcome_and_numbered_buttons(
    content: Content, database: str, texts: dict[str, str]
) -> None:
    out = await converse(content, database, [])

    assert texts["app.welcome"] in out
    assert "not a certified medical device" in out
    assert texts["q.saddle_numbness"] in out
    assert "1) Yes   2) No" in out


async def test_quit_halfway_and_resume_at_the_same_question(
    content: Content, database: str, texts: dict[str, str]
) -> None:
    first = await converse(content, database, ["2", "no", "/quit", "yes"])

    assert texts["q.bilateral_leg"] in first
    assert "cauda equina" not in first  # nothing after /quit was read

    second = await converse(content, database, [])

    # A short welcome back, never the whole welcome again, then the open question.
    assert texts["resume.welcome_back"] in second
    assert texts["app.welcome"] not in second
    assert texts["q.bilateral_leg"] in second
    assert texts["q.saddle_numbness"] not in second
    assert texts["q.bladder_bowel"] not in second


async def test_back_restart_and_help(
    content: Content, database: str, texts: dict[str, str]
) -> None:
    out = await converse(content, database, ["/back", "2", "/back", "/help", "2", "2", "/restart"])

    assert texts["app.back_none"] in out
    assert texts["app.back_done"] in out
    assert texts["app.help"] in out
    assert "/mydata" in out
    assert texts["app.restart"] in out
    # After /restart the first question is asked again, last of all.
    assert out.rindex(texts["q.saddle_numbness"]) > out.rindex(texts["app.restart"])
    assert out.rindex(texts["app.restart"]) > out.rindex(texts["q.bilateral_leg"])


async def test_language_menu_by_number(
    content: Content, database: str, texts: dict[str, str]
) -> None:
    out = await converse(content, database, ["2", "/language", "2", "1"])
    after_menu = out.split("1) English   2) 中文", 1)[1]

    assert texts["zh:app.language_set"] in after_menu
    assert texts["zh:q.bladder_bowel"] in after_menu
    assert "1) 是   2) 否" in after_menu
    # "1" then picked 是 (yes) for the bladder question: an emergency, said in Chinese.
    assert "马尾综合征" in after_menu
    assert after_menu.count("不是诊断") == 1  # said once, by the emergency message itself


async def test_mydata_and_forget_with_confirmation(
    content: Content, database: str, texts: dict[str, str]
) -> None:
    out = await converse(content, database, ["2", "2", "/mydata", "/forget", "2", "/forget", "1"])

    assert "What is stored about you" in out
    assert "• New numbness around the bottom, genitals or inner thighs: No" in out
    assert "• New bladder, bowel or sexual problems: No" in out
    assert "1) Yes, delete everything   2) Cancel" in out
    assert texts["app.forget_cancelled"] in out
    assert texts["app.forgotten"] in out

    again = await converse(content, database, [])
    assert texts["app.welcome"] in again
    assert texts["q.saddle_numbness"] in again


async def test_typed_numbers_choices_and_a_whole_screening(
    content: Content, database: str, texts: dict[str, str]
) -> None:
    lines = ["no"] * 11 + ["fifty", "no", "yes", "7", "3", "2", "1", "4", "1", "2", "2"]

    out = await converse(content, database, lines)

    assert texts["q.age"] in out
    assert "0   1   2   3" in out  # pain buttons are typed as numbers, not by position
    assert "1) Not tried yet   2) Yes, less than 6 weeks   3) Yes, 6 weeks or more" in out
    assert "Minimally invasive treatment" in out
    assert "Percutaneous disc decompression" in out
    assert texts["rec.disclaimer"] in out
    # Every routine result ends by offering the check-ins, as numbered buttons (then, as the
    # input ends, the note that the answers are saved).
    saved = content.catalog.plain(Text("console.quit"), "en")
    assert out.rstrip().endswith(f"1) Yes, please   2) No, thanks\n\n{saved}")


async def test_the_chosen_language_is_used_from_the_start(
    content: Content, database: str, texts: dict[str, str]
) -> None:
    out = await converse(content, database, ["否"], language="zh")

    assert texts["zh:app.welcome"] in out
    assert texts["zh:q.bladder_bowel"] in out

    switched = await converse(content, database, [], language="en")
    assert texts["app.language_set"] in switched
    assert texts["q.bladder_bowel"] in switched


# --- the real command -------------------------------------------------------------------------


def run_chat(tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    env["LDH_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", *args],
        input=stdin, capture_output=True, text=True, encoding="utf-8", cwd=tmp_path, env=env,
        timeout=60, check=False,
    )


@pytest.mark.slow
def test_python_m_bot_chat_resumes_after_a_restart(
    tmp_path: Path, texts: dict[str, str]
) -> None:
    first = run_chat(tmp_path, "2\nno\n")

    assert first.returncode == 0, first.stderr
    assert texts["q.saddle_numbness"] in first.stdout
    assert texts["q.bilateral_leg"] in first.stdout
    assert (tmp_path / "data" / "ldh-bot.db").exists()

    second = run_chat(tmp_path, "")

    assert second.returncode == 0, second.stderr
    assert texts["q.bilateral_leg"] in second.stdout
    assert texts["q.saddle_numbness"] not in second.stdout

    chinese = run_chat(tmp_path, "是的\n", "--lang", "zh")
    assert texts["zh:q.bilateral_leg"] in chinese.stdout
    assert "马尾综合征" in chinese.stdout


async def test_s4_quit_says_the_conversation_is_saved_and_resumes(
    content: Content, database: str
) -> None:
    for language, saved in (("en", "Your answers are saved"), ("zh", "您的回答已保存")):
        out = await converse(content, database, ["/quit"], language=language)
        note = content.catalog.plain(Text("console.quit"), language)
        assert saved in note
        assert out.rstrip().endswith(note)


async def test_s4_the_terminal_numbers_its_answers_and_never_asks_to_tap(
    content: Content, database: str
) -> None:
    for language in ("en", "zh"):
        out = await converse(content, database, ["maybe so", "/help", "/restart"],
                             language=language)
        assert "tap" not in out.lower()
        assert "点击" not in out


async def test_s4_details_in_the_terminal_with_a_listed_command(
    content: Content, database: str
) -> None:
    no_flags = ["2"] * 11  # No to every red-flag question, by its number
    lines = [*no_flags, "38", "no", "yes", "6", "3", "2", "1", "4", "1", "no", "no",
             "/details 2", "/details"]
    out = await converse(content, database, lines)
    summary, _, asked = out.partition("/details 1")
    catalog = content.catalog
    assert "1. Percutaneous disc decompression" in summary
    assert "2. Endoscopic discectomy" in summary
    endoscope = catalog.plain(Text("method.endoscopic_discectomy.pros"), "en")
    needle = catalog.plain(Text("method.percutaneous_decompression.pros"), "en")
    assert endoscope not in summary
    one, _, everything = asked.partition(catalog.plain(Text("method.endoscopic_discectomy.note"),
                                                        "en"))
    assert endoscope in one
    assert needle not in one
    assert needle in everything
    assert endoscope in everything


async def test_s4_after_details_the_check_in_offer_still_answers_by_number(
    content: Content, database: str
) -> None:
    lines = [*["2"] * 11, "38", "no", "yes", "6", "3", "2", "1", "4", "1", "no", "no",
             "/details 1", "1"]
    out = await converse(content, database, lines)

    accepted = content.catalog.plain(Text("rec.checkin_accepted"), "en")
    assert out.index(accepted) > out.index("What it is:")


# --- a disposition stands, typed answers at menus, and the chat's paper cuts -------------------

CLINIC = -500


async def converse_with_clinic(content: Content, database: str, lines: Iterable[str],
                               language: str | None = None) -> tuple[str, list[str], list[str]]:
    """The chat with a clinic configured: what it printed, the record's events, clinic notes."""
    store = open_store(database)
    await store.open()
    script = iter(lines)
    output = io.StringIO()
    try:
        conversations = Conversations(content, store, clock=lambda: NOW, clinic_chat_id=CLINIC)
        await chat(content, conversations=conversations, patient=PATIENT, language=language,
                   read_line=lambda: next(script, None), output=output)
        events = [event.kind for event in await store.events(PATIENT)]
        notes = [content.catalog.message_plain(Payload.from_json(r.payload).messages[0], "en")
                 for r in await store.pending(CLINIC)]
    finally:
        await store.close()
    return output.getvalue(), events, notes


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_s2_yes_back_wrong_button_no_in_the_chat(
    content: Content, database: str, language: str
) -> None:
    """The held-out path: Yes on the saddle question, /back, the advice again, the wrong button."""
    catalog = content.catalog

    def said(key: str) -> str:
        return catalog.plain(Text(key), language).splitlines()[0]

    out, events, notes = await converse_with_clinic(
        content, database, ["1", "/back", "1", "2"], language)

    emergency = {"en": "cauda equina", "zh": "马尾综合征"}[language]  # said by the advice
    wrong = f"1) {catalog.plain(Text('menu.opt.wrong_button'), language)}"
    withdrawn = said("stands.withdrawn")
    line = next(line for line in out.splitlines() if emergency in line)
    before_choice = out.split(wrong, 1)[0]
    assert before_choice.count(line) == 2  # given, then shown again before anything is undone
    assert out.index(line) < out.index(wrong) < out.index(withdrawn)
    # After the wrong button and No, the next question: the screening goes on.
    assert out.rindex(said("q.bladder_bowel")) > out.index(withdrawn)
    assert "answer_withdrawn" in events
    assert "withdrawn_answer_replaced" in events
    assert events.count("recommendation") == 1  # the first result stays on the record
    assert any(f"Patient {PATIENT} withdrew an answer" in note for note in notes)
    assert any("first Yes, now No" in note for note in notes)


async def test_s2_back_over_an_emergency_by_a_typed_no_is_asked_again(
    content: Content, database: str
) -> None:
    out, events, _ = await converse_with_clinic(content, database, ["yes", "back", "no"])

    again = content.catalog.plain(Text("stands.again"), "en")
    assert again in out
    assert "answer_withdrawn" not in events


async def test_s4_bare_words_are_commands_in_both_languages(
    content: Content, database: str, texts: dict[str, str]
) -> None:
    out = await converse(content, database, ["2", "back", "help"])
    assert texts["app.back_done"] in out
    assert texts["app.help"] in out

    chinese = await converse(content, database, ["2", "返回", "退出", "2"], language="zh")
    assert texts["zh:app.back_done"] in chinese
    assert chinese.rstrip().endswith(content.catalog.plain(Text("console.quit"), "zh"))


async def test_s4_details_shows_the_check_in_offer_again_and_its_plural(
    content: Content, database: str
) -> None:
    lines = [*["2"] * 11, "38", "no", "yes", "6", "3", "2", "1", "4", "1", "no", "no",
             "/details 1", "/details 9"]
    out = await converse(content, database, lines)

    offer = "1) Yes, please   2) No, thanks"
    after_details = out.split("What it is:", 1)[1]
    assert offer in after_details  # never a bare prompt after the explanation
    assert "Your latest result has 2 options." in out
    assert "option(s)" not in out


async def test_s4_one_option_is_named_once_and_singular(
    content: Content, database: str
) -> None:
    lines = [*["2"] * 11, "38", "no", "yes", "6", "1", "/details 2"]
    out = await converse(content, database, lines)

    name = content.catalog.plain(Text("method.conservative_care.name"), "en")
    summary = out.split(content.catalog.plain(Text("rec.disclaimer"), "en"), 1)[0]
    assert summary.count(name) == 1  # the step's name, not again as its only option
    assert "Your latest result has 1 option." in out


def test_s4_ctrl_c_leaves_at_once_saying_the_answers_are_saved(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    env["LDH_DATA_DIR"] = str(tmp_path / "data")
    chat_process = subprocess.Popen(  # stdin stays open, as a terminal's does
        [sys.executable, "-m", "bot", "chat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, encoding="utf-8", cwd=tmp_path, env=env)
    try:
        assert chat_process.stdout is not None
        while not chat_process.stdout.readline().startswith("1) Yes"):
            pass  # the first question is on the screen
        chat_process.send_signal(signal.SIGINT)
        out, err = chat_process.communicate(timeout=10)  # no Enter is ever sent
    finally:
        if chat_process.poll() is None:
            chat_process.kill()
    assert chat_process.returncode == 0, err
    assert "Your answers are saved" in out
    assert err == ""


@pytest.mark.slow
def test_s2_the_chat_process_tells_a_configured_clinic_of_a_withdrawn_answer(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    env["LDH_DATA_DIR"] = str(tmp_path / "data")
    env["LDH_CLINIC_CHAT_ID"] = str(CLINIC)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat"], input="1\n/back\n1\n2\n", capture_output=True,
        text=True, encoding="utf-8", cwd=tmp_path, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr

    async def outbox() -> list[str]:
        store = open_store(f"sqlite:///{tmp_path / 'data' / 'ldh-bot.db'}")
        await store.open()
        try:
            return [Payload.from_json(r.payload).messages[0].parts[0].key
                    for r in await store.pending(CLINIC)]
        finally:
            await store.close()

    assert asyncio.run(outbox()) == ["clinic.emergency", "stands.clinic.withdrawn",
                                     "stands.clinic.answered"]


def test_a_bad_clinic_chat_id_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    env["LDH_DATA_DIR"] = str(tmp_path / "data")
    env["LDH_CLINIC_CHAT_ID"] = "the clinic"
    done = subprocess.run([sys.executable, "-m", "bot", "chat"], input="", capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        ("ldh-bot chat: LDH_CLINIC_CHAT_ID must be a whole number (a Telegram chat id), "
         "not 'the clinic'")]
