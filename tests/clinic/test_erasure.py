"""The clinic erases a patient on request: everything that names them, and a plain account."""

from __future__ import annotations

from datetime import timedelta

from clinic_support import CLINIC, Clock

from bot.clinic.erasure import erase, report
from bot.conversation import Action, Conversations
from bot.outbox import Payload
from bot.storage import Store
from bot.storage.base import Forgotten

PATIENT, OTHER = 1001, 1002


async def test_an_erasure_deletes_the_patient_and_the_clinic_notes_about_them(
    conversations: Conversations, store: Store, clock: Clock
) -> None:
    for chat in (PATIENT, OTHER):  # an emergency each: a red flag told to the clinic
        await conversations.handle(Action(chat, command="start"))
        await conversations.handle(Action(chat, text="yes"))
    [sent, *_] = await store.claim_due(clock(), 10, timedelta(minutes=1))
    await store.mark_sent(sent.id, clock())

    forgotten = await erase(store, PATIENT, clock())

    assert forgotten.patient
    assert forgotten.events >= 2  # the recommendation and the clinic alert, at least
    assert forgotten.notifications == 1
    assert [p.chat_id for p in await store.patients(10, 0)] == [OTHER]
    assert await store.events(PATIENT) == []
    left = await store.claim_due(clock() + timedelta(minutes=5), 10, timedelta(minutes=1))
    assert [item.chat_id for item in left] == [CLINIC]
    note = Payload.from_json(left[0].payload).messages[0].parts[0]
    assert note.values["patient"] == str(OTHER)


def test_the_report_names_each_kind_of_record() -> None:
    told = report(5, Forgotten(patient=True, events=1, outbox=2, notifications=1))
    assert told == ("deleted everything kept about chat 5: the patient record, 1 history event, "
                    "2 messages to them, 1 clinic notification about them")
    assert report(6, Forgotten()) == (
        "nothing is kept about chat 6: no patient record, history or messages")
