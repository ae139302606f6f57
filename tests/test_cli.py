"""``ldh-bot check`` and ``ldh-bot graph`` as a user runs them, in a real process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content import DIALOGUES_DIR, load_content
from bot.conversation import Action, Conversations
from bot.ops.settings import RunSettings
from bot.storage import SqliteStore

pytestmark = pytest.mark.slow


def ldh_bot(
    cwd: Path, *args: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True, text=True, encoding="utf-8", cwd=cwd, env=env,
        timeout=60, check=False,
    )


# --- check ------------------------------------------------------------------------------------


def test_check_passes_the_shipped_dialogues(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "check")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"{DIALOGUES_DIR}: all dialogue files are valid"
    assert done.stderr == ""


def test_check_names_file_and_line_of_each_problem(tmp_path: Path) -> None:
    broken = tmp_path / "dialogues"
    shutil.copytree(DIALOGUES_DIR, broken)
    screening = broken / "screening.yaml"
    text = screening.read_text(encoding="utf-8")
    assert text.count("{guard: step_up_due}") == 1
    screening.write_text(text.replace("{guard: step_up_due}", "{guard: step_up_now}"),
                         encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "step_up_due}" in row)

    done = ldh_bot(tmp_path, "check", str(broken))

    assert done.returncode == 1
    message = "state 'imaging_due': unknown guard 'step_up_now' (known guards: step_up_due)"
    assert done.stdout.splitlines() == [f"{screening}:{line}: {message}"]
    assert "1 problem(s) found" in done.stderr


def test_check_of_a_folder_without_dialogues_fails_with_the_file(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "check", str(tmp_path))

    assert done.returncode == 1
    assert re.match(rf"{re.escape(str(tmp_path / 'facts.yaml'))}:\d+: ", done.stdout)


# --- graph ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mermaid(tmp_path_factory: pytest.TempPathFactory) -> str:
    done = ldh_bot(tmp_path_factory.mktemp("graph"), "graph")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_graph_draws_every_state_and_every_route(mermaid: str) -> None:
    dialogue = load_content().engines["screening"].dialogue
    lines = mermaid.splitlines()

    assert lines[0] == "stateDiagram-v2"
    assert f"    [*] --> {dialogue.start}" in lines
    for name, state in dialogue.states.items():
        assert re.search(rf"\b{name}\b", mermaid), f"state {name} is not drawn"
        for route in state.routes:
            assert any(line.startswith(f"    {name} --> {route.to}") for line in lines), (
                f"route {name} --> {route.to} is not drawn"
            )
        for extra in state.spec.extra_options:
            assert f"    {name} --> {extra.to}: {extra.label}" in lines
        if state.spec.ask:
            assert f"    {name}: {name} (asks {state.spec.ask})" in lines
    assert "    result --> [*]" in lines


def test_graph_labels_keep_the_meaning_of_conditions(mermaid: str) -> None:
    lines = mermaid.splitlines()
    (edge,) = [line for line in lines if line.startswith("    saddle_numbness --> result")]

    # A list of values means any of them, and is drawn as such, never as a bare value.
    assert edge == "    saddle_numbness --> result: saddle_numbness=[yes, not_sure]"
    assert "    age --> pregnant: age=le=55" in lines
    assert "    imaging_due --> previous_procedure: guard=step_up_due" in lines


def test_graph_in_dot_written_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "screening.dot"

    done = ldh_bot(tmp_path, "graph", "--format", "dot", "--output", str(out))

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    dot = out.read_text(encoding="utf-8")
    assert dot.startswith('digraph "screening" {')
    assert '"saddle_numbness" -> "result"' in dot
    assert '"result" [shape=doublecircle];' in dot


def test_graph_svg_without_graphviz_exits_2_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()

    done = ldh_bot(tmp_path, "graph", "--format", "svg", path=str(empty))

    assert done.returncode == 2
    assert done.stdout == ""
    assert "Graphviz" in done.stderr
    assert "'dot'" in done.stderr


def test_graph_svg_is_drawn_by_graphviz_dot(tmp_path: Path) -> None:
    # A stand-in for Graphviz's dot: checks it is given DOT on stdin and answers with an SVG.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dot = bin_dir / "dot"
    dot.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "source = sys.stdin.read()\n"
        "assert sys.argv[1:] == ['-Tsvg'], sys.argv\n"
        "assert source.startswith('digraph'), source[:40]\n"
        "sys.stdout.write('<svg><!-- %d states --></svg>' % source.count('shape='))\n",
        encoding="utf-8",
    )
    dot.chmod(0o755)

    done = ldh_bot(tmp_path, "graph", "--format", "svg", path=str(bin_dir))

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<svg>")
    states = len(load_content().engines["screening"].dialogue.states)
    assert f"<!-- {states + 1} states -->" in done.stdout  # every state, plus the node style


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed here")
def test_graph_svg_with_the_real_graphviz(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "graph", "--format", "svg")

    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout
    assert "saddle_numbness" in done.stdout


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "frobnicate")

    assert done.returncode == 2
    assert "invalid choice" in done.stderr


# --- forget -----------------------------------------------------------------------------------


def test_forget_deletes_a_patient_and_says_what(tmp_path: Path) -> None:
    database = tmp_path / "data" / "ldh-bot.db"
    asyncio.run(_one_patient(database, 1001))

    done = ldh_bot(tmp_path, "forget", "1001")
    again = ldh_bot(tmp_path, "forget", "1001")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deleted everything kept about chat 1001: the patient record, ")
    assert again.returncode == 1
    assert again.stdout.strip() == (
        "nothing is kept about chat 1001: no patient record, history or messages")


def test_forget_never_creates_a_database(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "forget", "1001")

    assert done.returncode == 1
    assert done.stderr.strip() == (
        "ldh-bot forget: there is no database at data/ldh-bot.db; "
        "set LDH_DATABASE_URL or LDH_DATA_DIR")
    assert not (tmp_path / "data").exists()


async def _one_patient(database: Path, chat: int) -> None:
    store = SqliteStore(database)
    await store.open()
    try:
        conversations = Conversations(load_content(), store)
        await conversations.handle(Action(chat, command="start"))
        await conversations.handle(Action(chat, text="no"))
    finally:
        await store.close()


# --- the emergency number ---------------------------------------------------------------------


def _emergency_facts() -> dict[str, str]:
    """Every yes/no fact no, but loss of bladder or bowel control: an emergency."""
    domains = load_content().domains
    return {**{fact: "no" for fact, domain in domains.items() if domain.is_yes_no},
            "bladder_bowel": "yes"}


def _emergency_transcript(tmp_path: Path, **env: str) -> str:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(_emergency_facts()), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LDH_")}
    done = subprocess.run([sys.executable, "-m", "bot", "simulate", str(facts)],
                          capture_output=True, text=True, encoding="utf-8", cwd=tmp_path,
                          env={**clean, **env}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.dumps(json.loads(done.stdout)["transcript"])


def test_simulate_names_the_emergency_number_when_set_and_says_local_when_not(
    tmp_path: Path,
) -> None:
    generic = _emergency_transcript(tmp_path)
    named = _emergency_transcript(tmp_path, LDH_EMERGENCY_NUMBER="999")

    assert "your local emergency number" in generic
    assert "999" not in generic
    assert "999" in named
    assert "your local emergency number" not in named


# --- export-data ------------------------------------------------------------------------------


def test_export_data_replaces_a_file_others_could_read_by_an_owner_only_one(
    tmp_path: Path,
) -> None:
    asyncio.run(_one_patient(tmp_path / "data" / "ldh-bot.db", 1001))
    target = tmp_path / "patient.json"
    target.write_text("an older export\n", encoding="utf-8")
    target.chmod(0o644)

    done = ldh_bot(tmp_path, "export-data", "1001", "--output", str(target))

    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text(encoding="utf-8"))["patient"] == 1001
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "patient.json"]


def test_export_data_of_an_unknown_patient_leaves_an_existing_file_alone(tmp_path: Path) -> None:
    asyncio.run(_one_patient(tmp_path / "data" / "ldh-bot.db", 1001))
    target = tmp_path / "patient.json"
    target.write_text("an older export\n", encoding="utf-8")

    done = ldh_bot(tmp_path, "export-data", "404", "--output", str(target))

    assert done.returncode == 1
    assert done.stderr == "ldh-bot export-data: there is no patient 404\n"
    assert target.read_text(encoding="utf-8") == "an older export\n"


# --- help and version -------------------------------------------------------------------------


def test_run_help_lists_every_setting_with_its_default(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "run", "--help")

    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines()
              if line.startswith(("  LDH_", "  TELEGRAM_"))}
    assert listed == {str(f.validation_alias) for f in RunSettings.model_fields.values()}
    assert "LDH_SEND_RATE" in done.stdout
    assert "(default: 30)" in done.stdout
    assert ".env" in done.stdout


def test_version_is_the_installed_release(tmp_path: Path) -> None:
    done = ldh_bot(tmp_path, "--version")

    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"ldh-bot \d+\.\d+\.\d+\S*\n", done.stdout)
