"""Every command through the faults of its arguments and environment, in a real process.

Each fault is exactly one line on standard error, never a traceback, with the documented exit
code: 2 for the command line and settings, 1 for what goes wrong at run time. A file that is
not the bot's is left exactly as it was, and a command that only reads creates nothing.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support.botapi_standin import StandIn

from bot import cli
from bot.content import load_content
from bot.conversation import Action, Conversations
from bot.storage import SqliteStore

pytestmark = pytest.mark.slow

USAGE, FAILED = 2, 1
PATIENT = 1001


def ldh_bot(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, encoding="utf-8",
        cwd=cwd, env={**clean, **env}, stdin=subprocess.DEVNULL, timeout=120, check=False,
    )


def one_line(done: subprocess.CompletedProcess[str], code: int, *says: str) -> str:
    """The one line on stderr, checked against the exit code and what it must say."""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for words in says:
        assert words in lines[0]
    return lines[0]


def unreachable_postgres() -> str:
    """A PostgreSQL URL whose port nothing listens on (taken, then freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://ldh:secret-pw@127.0.0.1:{port}/ldh"


@pytest.fixture
def not_a_database(tmp_path: Path) -> Path:
    """A clinic's spreadsheet, readable by others, where a database was expected."""
    path = tmp_path / "notes.csv"
    path.write_text("name,phone\nAnn,555 0100\n", encoding="utf-8")
    path.chmod(0o644)
    return path


@pytest.fixture
def foreign_sqlite(tmp_path: Path) -> Path:
    """Another program's SQLite database."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    path.chmod(0o644)
    return path


@pytest.fixture
def bot_database(tmp_path: Path) -> Path:
    """The bot's database under ./data, with one patient in it."""
    path = tmp_path / "data" / "ldh-bot.db"

    async def one_patient() -> None:
        store = SqliteStore(path)
        await store.open()
        try:
            conversations = Conversations(load_content(), store)
            await conversations.handle(Action(PATIENT, command="start"))
            await conversations.handle(Action(PATIENT, text="no"))
        finally:
            await store.close()

    asyncio.run(one_patient())
    return path


def unchanged(path: Path, content: bytes) -> bool:
    return path.read_bytes() == content and stat.S_IMODE(path.stat().st_mode) == 0o644


# --- a missing folder -------------------------------------------------------------------------


def test_graph_into_a_missing_folder(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "graph", "-o", "/missing/dir/x.md")
    one_line(done, FAILED, "ldh-bot graph: cannot write /missing/dir/x.md")


@pytest.mark.parametrize("command", ["forget", "export-data"])
def test_a_database_in_a_missing_folder_is_not_created(tmp_path: Path, command: str) -> None:
    done = ldh_bot(tmp_path, command, "5", "--database", "sqlite:///nonexist/x.db")
    one_line(done, FAILED, f"ldh-bot {command}: there is no database at nonexist/x.db")
    assert not (tmp_path / "nonexist").exists()


def test_export_data_into_a_missing_folder(tmp_path: Path, bot_database: Path) -> None:
    del bot_database
    done = ldh_bot(tmp_path, "export-data", str(PATIENT), "-o", "/missing/dir/p.json")
    one_line(done, FAILED, "cannot write /missing/dir/p.json: there is no folder /missing/dir")


def test_simulate_a_facts_file_in_a_missing_folder(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "simulate", "/missing/dir/facts.json")
    one_line(done, USAGE, "ldh-bot simulate: cannot read /missing/dir/facts.json")


# --- a wrong scheme ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["chat"], ["forget", "5"], ["export-data", "5"]])
def test_a_database_url_of_a_wrong_scheme(tmp_path: Path, command: list[str]) -> None:
    done = ldh_bot(tmp_path, *command, "--database", "mysql://ldh:pw@db/ldh")
    line = one_line(done, USAGE, f"ldh-bot {command[0]}: --database must be sqlite:///path.db",
                    "'mysql' URL")
    assert "pw" not in line


def test_a_database_setting_of_a_wrong_scheme(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "forget", "5", LDH_DATABASE_URL="mysql://x")
    one_line(done, USAGE, "ldh-bot forget: LDH_DATABASE_URL must be sqlite:///path.db")


# --- an unreachable server --------------------------------------------------------------------


@pytest.mark.parametrize("command", [["chat"], ["forget", "5"], ["export-data", "5"]])
def test_an_unreachable_postgresql(tmp_path: Path, command: list[str]) -> None:
    done = ldh_bot(tmp_path, *command, "--database", unreachable_postgres())
    line = one_line(done, FAILED, f"ldh-bot {command[0]}: cannot connect to PostgreSQL at ldh@")
    assert "secret-pw" not in line


# --- a file that is not a database ------------------------------------------------------------


@pytest.mark.parametrize("command", [["chat"], ["forget", "5"], ["export-data", "5"]])
def test_a_file_that_is_not_a_database_is_refused_untouched(
    tmp_path: Path, not_a_database: Path, command: list[str]
) -> None:
    before = not_a_database.read_bytes()
    done = ldh_bot(tmp_path, *command, "--database", f"sqlite:///{not_a_database}")
    one_line(done, FAILED, f"{not_a_database} is not an SQLite database (nothing was changed)")
    assert unchanged(not_a_database, before)


@pytest.mark.parametrize("command", [["chat"], ["forget", "5"], ["export-data", "5"]])
def test_another_programs_sqlite_database_is_refused_untouched(
    tmp_path: Path, foreign_sqlite: Path, command: list[str]
) -> None:
    before = foreign_sqlite.read_bytes()
    done = ldh_bot(tmp_path, *command, "--database", f"sqlite:///{foreign_sqlite}")
    one_line(done, FAILED, "is an SQLite database without the ldh-bot tables")
    assert unchanged(foreign_sqlite, before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


@pytest.mark.parametrize("command", [["chat"], ["forget", "5"], ["export-data", "5"]])
def test_an_existing_empty_file_does_not_become_a_database(
    tmp_path: Path, command: list[str]
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    empty.chmod(0o644)
    done = ldh_bot(tmp_path, *command, "--database", f"sqlite:///{empty}")
    one_line(done, FAILED, "is an empty file, not an ldh-bot database")
    assert unchanged(empty, b"")


# --- a closed pipe ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv", "fhir"])
def test_export_data_into_a_closed_pipe_ends_quietly(
    tmp_path: Path, bot_database: Path, fmt: str
) -> None:
    del bot_database
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "export-data", str(PATIENT), "--format", fmt],
        cwd=tmp_path, env=clean, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()  # the reader is gone before a byte is written, as `| head` does
        errors = process.stderr.read().decode()
        code = process.wait(timeout=120)
    assert errors == ""
    assert code == FAILED


def test_graph_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    done = subprocess.run(  # noqa: S602  # a shell pipeline is the fault under test
        f"{sys.executable} -m bot graph | true", shell=True,
        capture_output=True, text=True, cwd=tmp_path, env=clean, timeout=120, check=False)
    assert done.stderr == ""


# --- arguments and settings -------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["forget", "abc"], ["export-data", "1", "--format", "xml"], ["graph", "nonesuch"],
    ["frobnicate"], [], ["chat", "--patient", "x"], ["bench", "--patients", "0"],
])
def test_a_wrong_argument_is_one_line_pointing_to_help(tmp_path: Path, args: list[str]) -> None:
    one_line(ldh_bot(tmp_path, *args), USAGE, "ldh-bot")


def test_run_without_the_emergency_number_names_it_and_exits_2(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "run", TELEGRAM_BOT_TOKEN="123:abc")  # noqa: S106  # a token's shape
    assert done.returncode == USAGE
    assert done.stderr.splitlines() == [
        ("ldh-bot run: cannot start: LDH_EMERGENCY_NUMBER is required by ldh-bot run: the number "
         "every emergency message names (e.g. 999, 112 or 120)"),
    ]


def test_run_reads_a_dot_env_file_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=123:abc\nLDH_SEND_RATE=fast\n",
                                   encoding="utf-8")
    done = ldh_bot(tmp_path, "run", LDH_EMERGENCY_NUMBER="999")
    assert done.returncode == USAGE
    assert done.stderr.splitlines() == [
        ("ldh-bot run: cannot start: LDH_SEND_RATE must be messages per second, above 0 and at "
         "most 1000, not 'fast'"),
    ]


def test_chat_with_a_wrong_emergency_number_is_one_line(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "chat", LDH_EMERGENCY_NUMBER="call 999")
    one_line(done, USAGE, "ldh-bot chat: LDH_EMERGENCY_NUMBER must be a phone number")
    assert not (tmp_path / "data").exists()


def test_simulate_with_a_wrong_emergency_number_is_one_line(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text("{}", encoding="utf-8")
    done = ldh_bot(tmp_path, "simulate", str(facts), LDH_EMERGENCY_NUMBER="<b>120</b>")
    one_line(done, USAGE, "ldh-bot simulate: LDH_EMERGENCY_NUMBER must be a phone number")


# --- a fault nobody foresaw -------------------------------------------------------------------


def _broken_check(args: object) -> int:
    del args
    msg = "the unforeseen\nsecond line"
    raise RuntimeError(msg)


def test_an_unforeseen_error_is_one_line_naming_its_type(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LDH_LOG_LEVEL", raising=False)
    monkeypatch.setattr(cli, "_check", _broken_check)
    assert cli.main(["check"]) == FAILED
    assert capsys.readouterr().err.splitlines() == [
        ("ldh-bot check: unexpected RuntimeError: the unforeseen second line "
        "(LDH_LOG_LEVEL=DEBUG shows where)")]


def test_at_log_level_debug_an_unforeseen_error_shows_its_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LDH_LOG_LEVEL", "debug")
    monkeypatch.setattr(cli, "_check", _broken_check)
    with pytest.raises(RuntimeError, match="the unforeseen"):
        cli.main(["check"])


# --- run --------------------------------------------------------------------------------------


def test_run_refuses_a_file_that_is_not_a_database_untouched(
    tmp_path: Path, not_a_database: Path
) -> None:
    before = not_a_database.read_bytes()
    with StandIn() as standin:
        done = ldh_bot(tmp_path, "run", TELEGRAM_BOT_TOKEN=standin.token,
                       LDH_TELEGRAM_API_URL=standin.base_url, LDH_EMERGENCY_NUMBER="999",
                       LDH_DATABASE_URL=f"sqlite:///{not_a_database}")
    output = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == FAILED
    assert len(output) == 1, output
    assert output[0].endswith(f"cannot open the database: {not_a_database} is not an SQLite "
                              "database (nothing was changed); set LDH_DATABASE_URL or "
                              "LDH_DATA_DIR")
    assert unchanged(not_a_database, before)
