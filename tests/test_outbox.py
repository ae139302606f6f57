"""Outbox payloads survive the trip through JSON exactly, nested texts and expiry included."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.dialogue.turn import Message, Text
from bot.outbox import Button, Payload, expires_at


def test_a_payload_round_trips_through_json() -> None:
    payload = Payload(
        "zh",
        (Message((Text("rec.emergency", {"flags": [Text("flag.fever"), Text("flag.weight_loss")]}),
                  Text.raw("<literal> & text"))),),
        (Button(Text("opt.checkin_start"), "checkin:start"),),
        chart_of=42,
        expires_at=datetime(2026, 3, 5, 14, 0, tzinfo=UTC),
    )

    assert Payload.from_json(json.loads(json.dumps(payload.to_json()))) == payload


def test_a_payload_without_expiry_never_expires() -> None:
    data = Payload("en", (Message((Text("rec.disclaimer"),)),)).to_json()
    assert expires_at(data) is None
    assert expires_at({}) is None
