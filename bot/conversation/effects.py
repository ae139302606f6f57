"""What a turn's effects do: recorded as events, the clinic told, check-ins offered, step-ups."""

from __future__ import annotations

from dataclasses import replace

from bot import checkins, details
from bot.conversation import disposition, service_menus
from bot.conversation.menus import Desk
from bot.conversation.reply import Reply, then
from bot.dialogue.session import Session
from bot.dialogue.turn import Effect, Message, Text, Turn
from bot.dialogue.unread import clinic_alert
from bot.storage.base import Transaction


async def settle(desk: Desk, tx: Transaction, session: Session, reply: Reply) -> Reply:
    """Record the turn's effects and carry out those that change the conversation."""
    turn, menu = reply.turn, reply.menu
    done: list[Effect] = []
    while turn.effects[len(done):]:
        effect = turn.effects[len(done)]
        done.append(effect)
        await tx.record_event(effect.kind, dict(effect.data))
        if effect.kind == "notify_clinic":
            if await _clinic_red_flag(desk, tx, effect):
                turn = _told_clinic(turn)
        elif effect.kind == "not_improving":
            response = Text(f"staff.response.{effect.data['response']}")
            note = Text("clinic.not_improving", {"patient": str(tx.chat_id),
                                                 "week": effect.data["week"],
                                                 "response": response})
            if await desk.notify_clinic(tx, note):
                turn = _told_clinic(turn)
        elif effect.kind == "offer_checkins" and not menu:
            weeks = list(effect.data["weeks"])
            checkins.offer(session, weeks, tx.now)
            separator = desk.content.catalog.template(session.language, "rec.weeks_separator")
            offer = Message((Text("rec.checkin_offer",
                                  {"weeks": separator.join(map(str, weeks))}),))
            turn = replace(turn, messages=(*turn.messages, offer))
            menu = service_menus.offer_checkins(session, offer)
        elif effect.kind == "step_up":
            response = Text(f"staff.response.{effect.data['response']}")
            note = Text("clinic.step_up", {"patient": str(tx.chat_id),
                                           "week": effect.data["week"], "response": response})
            if await desk.notify_clinic(tx, note):
                turn = _told_clinic(turn)
            following = checkins.step_up(desk.content, session, effect.data["facts"])
            turn = then(turn, following)
            turn = replace(turn, effects=(*done, *following.effects))
    turn = details.remember(desk.content, session, turn)
    disposition.remember(session, turn)
    return replace(reply, turn=turn, menu=menu)


async def _clinic_red_flag(desk: Desk, tx: Transaction, effect: Effect) -> bool:
    """Tell the clinic of red flags and alerts (spec §2, §3); whether a clinic was told."""
    disposition_name = str(effect.data["disposition"])
    flags = [Text(f"flag.{flag}") for flag in effect.data.get("flags", [])]
    alerts = [clinic_alert(alert, effect.data) for alert in effect.data.get("alerts", [])]
    parts = [Text(f"clinic.{disposition_name}", {"patient": str(tx.chat_id), "flags": flags})]
    if alerts:
        parts.append(Text("clinic.alerts", {"alerts": alerts}))
    return await desk.notify_clinic(tx, *parts)


def _told_clinic(turn: Turn) -> Turn:
    """The turn, saying once that the clinic has been told (only ever when it was)."""
    told = Message((Text("app.clinic_told"),))
    if told in turn.messages:
        return turn
    return replace(turn, messages=(*turn.messages, told))
