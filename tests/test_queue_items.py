"""Which clinic notifications wait for a person: their kind and rank, from the queue's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content import Content
from bot.dialogue.turn import Text
from bot.queue_items import QueueRules, alerts_of, kind_of, load_rules


@pytest.fixture
def rules(content: Content) -> QueueRules:
    return load_rules(content.directory)


def test_kind_is_the_last_part_of_the_first_text_key() -> None:
    assert kind_of([Text("clinic.emergency", {"patient": "1"})]) == "emergency"
    assert kind_of([Text("appointment.clinic.reschedule")]) == "reschedule"


def test_a_routine_screening_with_alerts_is_an_alert() -> None:
    parts = [Text("clinic.routine", {"patient": "1", "flags": []}),
             Text("clinic.alerts", {"alerts": [Text("clinic.alert.severe_pain")]})]
    assert kind_of(parts) == "alert"
    assert alerts_of(parts) == ["severe_pain"]


def test_s2_emergency_ranks_before_urgent_before_step_ups(rules: QueueRules) -> None:
    ranks = [rules.rank(kind).rank for kind in ("emergency", "urgent", "step_up", "reschedule")]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)


def test_an_unknown_kind_is_queued_as_a_red_flag_not_below_routine(rules: QueueRules) -> None:
    unknown = rules.rank("a_kind_added_later")
    assert unknown.group == "red_flags"
    assert unknown.rank <= rules.rank("step_up").rank
    assert unknown.rank > rules.rank("urgent").rank


def test_rules_file_must_name_groups_and_ranks(tmp_path: Path) -> None:
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "dashboard" / "queue.yaml").write_text(
        "version: 1\nunknown: {group: red_flags, rank: 2}\nkinds:\n  x: {group: nowhere}\n")
    with pytest.raises(TypeError, match="needs a group"):
        load_rules(tmp_path)
