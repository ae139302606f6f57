"""A session's JSON form: every field, nothing shared with the live session."""

from __future__ import annotations

from dataclasses import asdict

from bot.dialogue.session import Answered, Session


def _session() -> Session:
    return Session(
        dialogue="screening", state="age", language="zh",
        facts={"fever": "no", "pain_score": 7},
        history=[Answered("fever", ["fever"], {"fever": None}),
                 Answered("pain_score", ["pain_score"], {})],
        seq=3, version=2, care={"weeks": [2, 6, 12], "plan": {"start": "2026-01-05"}},
    )


def test_to_json_holds_every_field_as_plain_data() -> None:
    session = _session()

    assert session.to_json() == asdict(session)
    assert Session.from_json(session.to_json()) == session


def test_changing_the_json_leaves_the_session_as_it_was() -> None:
    session = _session()
    data = session.to_json()

    data["facts"]["fever"] = "yes"
    data["history"][0]["facts"].append("age")
    data["history"][0]["before"]["fever"] = "yes"
    data["care"]["weeks"].append(24)
    data["care"]["plan"]["start"] = "later"

    assert session == _session()
