"""Reading dialogues/ladder.yaml: a broken file is refused with its name and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.clinical.ladder_loader import load_ladder
from bot.dialogue.yamlio import YamlError

DIALOGUES = Path(__file__).parents[2] / "dialogues"


# --- a broken ladder.yaml names the file and the line -----------------------------------------


def broken_ladder(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """Copy the real files with one change; return the ladder's path and the changed line."""
    shutil.copy(DIALOGUES / "facts.yaml", tmp_path / "facts.yaml")
    text = (DIALOGUES / "ladder.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    path = tmp_path / "ladder.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path, text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        pytest.param(
            "{imaging: [protrusion, extrusion, sequestration]}, reason: bulging_only",
            "{imaging: [protusion, extrusion, sequestration]}, reason: bulging_only",
            "protusion",
            id="unknown value",
        ),
        pytest.param(
            "{age: {gt: 55}}",
            "{patient_age: {gt: 55}}",
            "patient_age",
            id="unknown fact",
        ),
        pytest.param(
            "- {stenosis: [lateral, central]}\n",
            "- {stenosis: [lateral, centre]}\n",
            "centre",
            id="inside a nested any",
        ),
        pytest.param(
            "reason: no_adjacent_degeneration",
            "reasons: no_adjacent_degeneration",
            "reasons",
            id="unknown key",
        ),
        pytest.param(
            "- {major_trauma: [yes, not_sure]}",
            "- {major_trauma: [yes, maybe]}",
            "maybe",
            id="red flag value",
        ),
        pytest.param(
            "{id: unclear_red_flag, raised_by: answers}",
            "{id: unclear_red_flag, raised_by: facts}",
            "raised_by: answers",
            id="an alert raised by something else than the answers",
        ),
        pytest.param(
            "{id: unclear_red_flag, raised_by: answers}",
            "{id: unclear_red_flag}",
            "missing 'when'",
            id="an alert without when",
        ),
    ],
)
def test_broken_ladder_names_file_and_line(tmp_path, old, new, words):
    path, line = broken_ladder(tmp_path, old, new)
    with pytest.raises(YamlError) as caught:
        load_ladder(tmp_path)
    assert caught.value.path == path
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert words in caught.value.message
