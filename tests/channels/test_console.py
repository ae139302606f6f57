"""The terminal chat end to end: scripted lines in, plain text out, sessions kept in SQLite."""

from __future__ import annotations

import io
import os
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
from bot.storage import open_store

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PATIENT = 1


@pytest.fixture(scope="module")
def texts(content: Content) -> dict[str, str]:
    """The first line of some texts as the terminal prints them; ``zh:`` keys in Chinese."""
    keys = ["q.saddle_numbness", "q.bladder_bowel", "q.bilateral_leg", "q.age",
            "app.welcome", "app.back_done", "app.back_none", "app.restart", "app.help",
            "app.forgotten", "app.forget_cancelled", "app.language_set", "rec.disclaimer"]
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

    assert texts["app.welcome"] in second
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
