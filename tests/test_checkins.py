"""The ladder over time (spec §5): a patient followed for 12 simulated weeks, the clock moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.clock import ManualClock

from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.dialogue.turn import Text
from bot.outbox import CHECKIN, CLINIC_NOTIFICATION, Payload
from bot.storage import Store

START = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # 07:30 next morning in Shanghai
CHAT = 2002
CLINIC = -700
RED_FLAGS_NO = ["no"] * 11  # the four emergency flags, then the seven urgent ones


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def conversations(content: Content, store: Store, clock: ManualClock) -> Conversations:
    return Conversations(content, store, clock=clock, clinic_chat_id=CLINIC,
                         timezone="Asia/Shanghai")


async def say(conversations: Conversations, *inputs: str) -> Reply:
    reply: Reply | None = None
    for text in inputs:
        if text.startswith("/"):
            reply = await conversations.handle(Action(CHAT, command=text[1:]))
        else:
            reply = await conversations.handle(Action(CHAT, text=text))
    assert reply is not None
    return reply


def keys(reply: Reply) -> list[str]:
    return [part.key for message in reply.turn.messages for part in message.parts]


def effect(reply: Reply, kind: str) -> dict[str, object] | None:
    found = [dict(e.data) for e in reply.turn.effects if e.kind == kind]
    return found[0] if found else None


async def screened_conservative(conversations: Conversations, pain: str = "7") -> Reply:
    """A routine patient with sciatica who has not tried treatment without surgery yet."""
    return await say(conversations, "/start", *RED_FLAGS_NO, "40", "no", "yes", pain, "none")


async def clinic_notes(store: Store, at: datetime) -> list[str]:
    due = await store.claim_due(at, 100, timedelta(minutes=5))
    for item in due:
        await store.mark_sent(item.id, at)
    return [Payload.from_json(i.payload).messages[0].parts[0].key
            for i in due if i.kind == CLINIC_NOTIFICATION]


async def test_a_conservative_result_offers_checkins_at_2_6_and_12_weeks(
    conversations: Conversations,
) -> None:
    reply = await screened_conservative(conversations)

    assert "rec.checkin_offer" in keys(reply)
    offer = next(p for m in reply.turn.messages for p in m.parts if p.key == "rec.checkin_offer")
    assert offer.values["weeks"] == "2, 6, 12"
    assert [o.value for o in reply.menu] == ["checkin:accept", "checkin:decline"]


async def test_accepting_schedules_three_reminders_at_ten_in_the_morning_local(
    conversations: Conversations, store: Store
) -> None:
    await screened_conservative(conversations)
    reply = await say(conversations, "checkin:accept")

    assert "rec.checkin_accepted" in keys(reply)
    rows = await store.pending(CHAT)
    assert [r.kind for r in rows] == [CHECKIN] * 3
    # The screening was on 3 March, Shanghai time; each reminder is at 10:00 there (02:00 UTC).
    assert [r.due_at for r in rows] == [
        datetime(2026, 3, 17, 2, 0, tzinfo=UTC),
        datetime(2026, 4, 14, 2, 0, tzinfo=UTC),
        datetime(2026, 5, 26, 2, 0, tzinfo=UTC),
    ]
    payload = Payload.from_json(rows[0].payload)
    assert payload.messages[0].parts[0] == Text("checkin.due", {"week": 2})
    assert [b.data for b in payload.buttons] == ["checkin:start"]


async def test_declining_schedules_nothing(conversations: Conversations, store: Store) -> None:
    await screened_conservative(conversations)
    reply = await say(conversations, "checkin:decline")

    assert "rec.checkin_declined" in keys(reply)
    assert await store.pending(CHAT) == []


async def test_twelve_weeks_partial_early_then_a_step_up_at_week_6(
    conversations: Conversations, store: Store, clock: ManualClock
) -> None:
    await screened_conservative(conversations, pain="7")
    await say(conversations, "checkin:accept")

    clock.now = START + timedelta(weeks=2, hours=3)
    # A 40-year-old whose pregnancy answer was no is asked again at every check-in (§5).
    week2 = await say(conversations, "checkin:start", *RED_FLAGS_NO, "6", "yes", "no")
    # 7 → 6 fell by 1 point: partial, and before week 6 no step-up.
    assert effect(week2, "checkin") == {"week": 2, "pain_score": 6, "response": "partial",
                                        "adherence": "yes", "alerts": []}
    assert effect(week2, "pain_chart") == {"baseline": 7}
    assert "checkin.give_it_time" in keys(week2)
    assert effect(week2, "step_up") is None
    assert week2.turn.question is None

    clock.now = START + timedelta(weeks=6, hours=3)
    week6 = await say(conversations, "checkin:start", *RED_FLAGS_NO, "6", "yes", "no")
    assert effect(week6, "checkin") == {"week": 6, "pain_score": 6, "response": "partial",
                                        "adherence": "yes", "alerts": []}
    assert "checkin.step_up" in keys(week6)
    assert "app.clinic_told" in keys(week6)
    assert week6.turn.question is not None
    # The earlier procedure and the scan are asked now, not before.
    assert week6.turn.question.fact == "previous_procedure"
    assert await clinic_notes(store, clock.now) == ["clinic.step_up"]

    result = await say(conversations, "none", "protrusion", "none", "no", "no")
    recommendation = effect(result, "recommendation")
    assert recommendation is not None
    assert recommendation["recommendation"] == {
        "disposition": "routine",
        "step": "minimally_invasive",
        "options": ["percutaneous_decompression", "endoscopic_discectomy"],
        "excluded": [],
        "next": "surgical",
        "followup_weeks": [2, 6, 12],
        "alerts": [],
    }
    # The new step is followed up too; accepting replaces the plan instead of adding to it.
    assert [o.value for o in result.menu] == ["checkin:accept", "checkin:decline"]
    await say(conversations, "checkin:accept")
    rows = await store.pending(CHAT)
    assert [r.kind for r in rows] == [CHECKIN] * 3
    assert rows[0].due_at > clock.now + timedelta(days=13)


async def test_after_a_step_already_due_at_screening_a_checkin_does_not_step_up_again(
    conversations: Conversations, clock: ManualClock
) -> None:
    await say(conversations, "/start", *RED_FLAGS_NO, "60", "yes", "7",
              "6_weeks_or_more", "none", "none", "protrusion", "none", "no", "no")
    clock.now = START + timedelta(weeks=6)
    reply = await say(conversations, "/checkin", *RED_FLAGS_NO, "7", "yes")

    assert effect(reply, "checkin") == {"week": 6, "pain_score": 7, "response": "none",
                                        "adherence": "yes", "alerts": []}
    assert effect(reply, "step_up") is None
    assert "checkin.planned_step" in keys(reply)
    assert reply.turn.question is None


async def test_a_good_response_keeps_conservative_care(
    conversations: Conversations, clock: ManualClock
) -> None:
    await screened_conservative(conversations, pain="8")
    clock.now = START + timedelta(weeks=6)
    reply = await say(conversations, "/checkin", *RED_FLAGS_NO, "5", "yes", "no")

    # 8 → 5 fell by 3 points and 37.5 %: good; no step-up even at week 6.
    assert effect(reply, "checkin") == {"week": 6, "pain_score": 5, "response": "good",
                                        "adherence": "yes", "alerts": []}
    assert "checkin.keep_going" in keys(reply)
    assert effect(reply, "step_up") is None


async def test_s5_not_following_the_plan_is_never_stepped_up_and_is_told_to_restart_one(
    conversations: Conversations, store: Store, clock: ManualClock
) -> None:
    await screened_conservative(conversations)
    clock.now = START + timedelta(weeks=6)
    reply = await say(conversations, "/checkin", *RED_FLAGS_NO, "7", "no", "no")

    # Week 6, no response: a patient following the plan would step up; this one does not.
    assert effect(reply, "checkin") == {"week": 6, "pain_score": 7, "response": "none",
                                        "adherence": "no", "alerts": ["not_following"]}
    assert effect(reply, "step_up") is None
    assert "alert.not_following" in keys(reply)
    assert "checkin.step_up" not in keys(reply)
    assert "checkin.not_improving" not in keys(reply)
    assert reply.turn.question is None  # no imaging questions
    assert "app.clinic_told" in keys(reply)
    assert await clinic_notes(store, clock.now) == ["clinic.routine"]
    text = conversations.content.catalog.message_plain(reply.turn.messages[0], "en")
    assert "doctor or physiotherapist to restart a plan" in text
    assert "6 weeks" not in text.replace("6 weeks or more", "")


async def test_s5_partly_following_the_plan_steps_up_as_following_it_does(
    conversations: Conversations, clock: ManualClock
) -> None:
    await screened_conservative(conversations)
    clock.now = START + timedelta(weeks=6)
    reply = await say(conversations, "/checkin", *RED_FLAGS_NO, "7", "partly", "no")

    assert effect(reply, "checkin")["adherence"] == "partly"  # type: ignore[index]
    assert effect(reply, "step_up") is not None
    assert reply.turn.question is not None
    assert reply.turn.question.fact == "previous_procedure"


async def test_s5_a_new_pregnancy_at_a_checkin_is_an_alert_and_the_step_up_a_review(
    conversations: Conversations, clock: ManualClock
) -> None:
    await screened_conservative(conversations)
    clock.now = START + timedelta(weeks=6)
    reply = await say(conversations, "/checkin", *RED_FLAGS_NO, "7", "yes", "not sure")

    assert effect(reply, "checkin")["alerts"] == ["pregnancy"]  # type: ignore[index]
    assert "alert.pregnancy" in keys(reply)
    recommendation = effect(reply, "recommendation")
    assert recommendation is not None
    assert recommendation["recommendation"]["step"] == "specialist_review"  # type: ignore[index]
    assert recommendation["why"] == ["course_not_enough", "pregnancy"]
    assert reply.turn.question is None  # no imaging questions: the obstetric team plans it


async def test_s5_does_not_apply_is_not_asked_again_at_a_checkin(
    conversations: Conversations, clock: ManualClock
) -> None:
    await say(conversations, "/start", *RED_FLAGS_NO, "40", "does not apply", "yes", "7",
              "none")
    clock.now = START + timedelta(weeks=2)
    reply = await say(conversations, "/checkin", *RED_FLAGS_NO, "6", "yes")

    assert effect(reply, "checkin") is not None
    assert reply.turn.question is None


async def test_s5_history_questions_are_worded_for_the_time_since_the_screening(
    conversations: Conversations, clock: ManualClock
) -> None:
    await screened_conservative(conversations)
    clock.now = START + timedelta(weeks=2)
    reply = await say(conversations, "/checkin", *["no"] * 6)

    assert reply.turn.question is not None
    assert reply.turn.question.fact == "cancer_history"
    catalog = conversations.content.catalog
    assert catalog.plain(reply.turn.question.text, "en").startswith(
        "Since your screening, have you been told you have cancer?")
    assert catalog.plain(reply.turn.question.text, "zh").startswith("自筛查以来")
    for language in ("en", "zh"):
        asked = catalog.plain(reply.turn.question.text, language)
        assert "ever had cancer" not in asked
        assert "以前得过癌症" not in asked


async def test_s5_sudden_weakness_at_a_checkin_is_an_emergency(
    conversations: Conversations, store: Store, clock: ManualClock
) -> None:
    await screened_conservative(conversations)
    clock.now = START + timedelta(weeks=2)
    reply = await say(conversations, "/checkin", "no", "no", "no", "yes")

    assert "rec.emergency" in keys(reply)
    text = conversations.content.catalog.message_plain(reply.turn.messages[0], "en")
    assert "sudden leg weakness" in text
    assert await clinic_notes(store, clock.now) == ["clinic.emergency"]


async def test_a_red_flag_at_a_checkin_stops_it_and_tells_the_clinic(
    conversations: Conversations, store: Store, clock: ManualClock
) -> None:
    await screened_conservative(conversations)
    clock.now = START + timedelta(weeks=2)
    reply = await say(conversations, "/checkin", "no", "yes")

    assert reply.turn.question is None
    assert "rec.emergency" in keys(reply)
    assert effect(reply, "checkin") is None
    assert await clinic_notes(store, clock.now) == ["clinic.emergency"]


async def test_s5_not_sure_at_a_checkin_red_flag_is_acted_on_as_yes(
    conversations: Conversations, store: Store, clock: ManualClock
) -> None:
    await screened_conservative(conversations)
    clock.now = START + timedelta(weeks=2)
    unclear = await say(conversations, "/checkin", "no", "no feeling down there")
    assert unclear.turn.question is not None
    assert unclear.turn.question.fact == "bladder_bowel"  # asked again, never guessed

    confirm = await say(conversations, "不太确定")  # a hedge on a red flag: confirmed once
    assert "reading.confirm.emergency" in keys(confirm)
    reply = await say(conversations, "不太确定")  # a second hedge is not sure

    assert "rec.emergency" in keys(reply)
    assert await clinic_notes(store, clock.now) == ["clinic.emergency"]


async def test_s5_pain_worse_at_any_checkin_says_see_a_doctor_and_tells_the_clinic(
    conversations: Conversations, store: Store, clock: ManualClock
) -> None:
    await screened_conservative(conversations, pain="5")
    clock.now = START + timedelta(weeks=2)
    reply = await say(conversations, "/checkin", *RED_FLAGS_NO, "7", "yes", "no")

    assert effect(reply, "checkin")["alerts"] == ["pain_worse"]  # type: ignore[index]
    assert "alert.pain_worse" in keys(reply)
    assert "checkin.give_it_time" not in keys(reply)
    assert "app.clinic_told" in keys(reply)
    assert await clinic_notes(store, clock.now) == ["clinic.routine"]


async def test_s5_pain_still_severe_is_said_apart_from_pain_worse_and_never_beside_a_rise(
    conversations: Conversations, store: Store, clock: ManualClock
) -> None:
    await screened_conservative(conversations, pain="9")
    clock.now = START + timedelta(weeks=2)
    reply = await say(conversations, "/checkin", *RED_FLAGS_NO, "8", "yes", "no")

    # 9 → 8 fell: the alert is pain_worse for the clinic, said as "still severe".
    assert effect(reply, "checkin")["alerts"] == ["pain_worse"]  # type: ignore[index]
    assert "alert.pain_still_severe" in keys(reply)
    assert "alert.pain_worse" not in keys(reply)
    assert "checkin.give_it_time" not in keys(reply)
    # The screening's severe pain was told too, then this check-in.
    assert await clinic_notes(store, clock.now) == ["clinic.routine", "clinic.routine"]


async def test_s5_back_pain_alone_not_improving_by_week_6_is_no_step_up(
    conversations: Conversations, store: Store, clock: ManualClock
) -> None:
    await say(conversations, "/start", *RED_FLAGS_NO, "60", "no", "6")
    clock.now = START + timedelta(weeks=6)
    reply = await say(conversations, "/checkin", *RED_FLAGS_NO, "6", "yes")

    assert effect(reply, "step_up") is None
    assert "checkin.step_up" not in keys(reply)
    assert "checkin.not_improving" in keys(reply)
    assert reply.turn.question is None  # no imaging questions
    assert await clinic_notes(store, clock.now) == ["clinic.not_improving"]


async def test_s5_without_a_clinic_chat_nobody_is_said_to_have_been_told(
    content: Content, store: Store, clock: ManualClock
) -> None:
    alone = Conversations(content, store, clock=clock, timezone="Asia/Shanghai")
    reply = await say(alone, "/start", "yes")

    assert "rec.emergency" in keys(reply)
    assert "app.clinic_told" not in keys(reply)


async def test_s4_a_checkin_during_the_screening_says_to_finish_it_first(
    conversations: Conversations,
) -> None:
    """Never /restart, which would wipe the answers given so far (issue 7 item 3)."""
    await say(conversations, "/start", "no")
    reply = await say(conversations, "/checkin")

    assert keys(reply)[0] == "checkin.finish_screening_first"
    catalog = conversations.content.catalog
    for language in ("en", "zh"):
        assert "/restart" not in catalog.plain(Text("checkin.finish_screening_first"), language)
    assert reply.turn.question is not None
    assert reply.turn.question.fact == "bladder_bowel"  # the screening goes on where it was


async def test_reminders_lists_what_is_scheduled_and_stops_it(
    conversations: Conversations, store: Store
) -> None:
    await screened_conservative(conversations)
    await say(conversations, "checkin:accept")

    listing = await say(conversations, "/reminders")
    items = listing.turn.messages[0].parts[0].values["items"]
    assert [item.values["when"] for item in items] == [
        "2026-03-17 10:00", "2026-04-14 10:00", "2026-05-26 10:00"]
    assert [o.value for o in listing.menu] == ["reminders:stop"]

    stopped = await say(conversations, "reminders:stop")
    assert "reminders.stopped" in keys(stopped)
    assert await store.pending(CHAT) == []
    assert "reminders.none" in keys(await say(conversations, "/reminders"))


async def test_s2_an_emergency_with_a_clinic_says_do_not_wait_for_them_to_contact_you(
    conversations: Conversations,
) -> None:
    reply = await say(conversations, "/start", "no", "no", "no", "yes")

    assert keys(reply)[-1] == "app.clinic_told"
    catalog = conversations.content.catalog
    last = catalog.message_plain(reply.turn.messages[-1], "en")
    assert last == "Your clinic has been told. Do not wait for them to contact you."
    assert "请不要等待诊所联系您" in catalog.message_plain(reply.turn.messages[-1], "zh")
