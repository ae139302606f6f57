"""Mixed patient traffic as Telegram updates: presses, typed answers, /start, stale buttons."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import count
from typing import Any

from telegram import Bot, Update

from bot.bench.fake_telegram import BOT_USER, FakeTelegram, Keyboard, plain_text
from bot.channels.telegram.render import split_html
from bot.content import Content
from bot.dialogue.session import Session
from bot.dialogue.texts import LANGUAGES
from bot.dialogue.turn import Question

# What a routine patient answers to each screening question (a minimally invasive result).
ROUTINE = {
    "saddle_numbness": "no", "bladder_bowel": "no", "bilateral_leg": "no", "severe_weakness": "no",
    "progressive_weakness": "no", "fever": "no", "cancer_history": "no", "weight_loss": "no",
    "major_trauma": "no", "other_warning_signs": "no", "age": "60", "leg_pain": "yes",
    "pain_score": "7",
    "previous_procedure": "none", "conservative_course": "6_weeks_or_more",
    "conservative_response": "none", "imaging": "protrusion", "stenosis": "none",
    "instability": "no", "adjacent_degeneration": "no", "huge_herniation": "no",
}
# The mix, as cumulative shares of a patient's updates.
RESTART_SHARE = 0.04  # /start in the middle of a screening
STALE_SHARE = 0.10  # a button of an older message
PRESS_SHARE = 0.70  # the rest is typed
MAX_UPDATES_PER_PATIENT = 40  # a patient who never gets through stops here
DATE = 1767607200

JsonDict = dict[str, Any]


def screening_questions(content: Content) -> list[Question]:
    """Every question of the screening, in the order the dialogue file lists them."""
    engine = content.engines["screening"]
    questions = []
    for name in engine.dialogue.states:
        session = Session(dialogue="screening", state=name, language="en")
        question = engine.question(session)
        if question is not None:
            questions.append(question)
    return questions


def question_texts(content: Content) -> dict[str, str]:
    """The last message of each question as sent (HTML), in every language: text → fact."""
    known: dict[str, str] = {}
    for question in screening_questions(content):
        for language in LANGUAGES:
            markup = content.catalog.html(question.text, language)
            known[split_html(markup)[-1]] = question.fact or question.state
    return known


@dataclass
class Patient:
    """One patient in the traffic: their chat, language and how far they got."""

    chat_id: int
    language: str
    updates: int = 0


class Traffic:
    """Builds each patient's next update from what their screen shows, as a person would."""

    def __init__(self, api: FakeTelegram, questions: dict[str, str], seed: int,
                 first_update: int = 1) -> None:
        """Read screens from ``api``; ``questions`` maps a question's text to its fact."""
        self.api = api
        self.questions = questions
        self.random = random.Random(seed)  # noqa: S311  # repeatable traffic, not secrets
        # Instances sharing a database number their updates apart, as Telegram's never repeat.
        self._update_ids = count(first_update)
        self._message_ids = count(1_000_000_000)
        self.kinds: dict[str, int] = {"start": 0, "press": 0, "typed": 0, "stale": 0}

    def next_update(self, patient: Patient, bot: Bot) -> Update | None:  # noqa: PLR0911  # one return per kind of update
        """The patient's next update, or None once their screening is over."""
        if patient.updates >= MAX_UPDATES_PER_PATIENT:
            return None
        patient.updates += 1
        if patient.updates == 1:
            return self._text(patient, "/start", bot)
        view = self.api.chats.get(patient.chat_id)
        fact = self.questions.get(view.last_text) if view else None
        if view is None or fact is None:
            return None
        roll = self.random.random()
        keyboards = view.keyboards
        newest = keyboards[-1] if keyboards and keyboards[-1].text == view.last_text else None
        older = [k for k in keyboards if k is not newest]
        if roll < RESTART_SHARE:
            return self._text(patient, "/start", bot)
        if roll < STALE_SHARE and older:
            board = self.random.choice(older)
            return self._press(patient, board, self.random.choice(board.buttons)[1], bot, "stale")
        answer = ROUTINE.get(fact)
        button = None
        if newest is not None:
            matching = [b for b in newest.buttons if b[1].endswith(f":{answer}")]
            button = matching[0] if matching else self.random.choice(newest.buttons)
        if newest is not None and button is not None and roll < PRESS_SHARE:
            return self._press(patient, newest, button[1], bot, "press")
        typed = button[0] if button is not None else (answer or "?")
        return self._text(patient, typed, bot)

    def _user(self, patient: Patient) -> JsonDict:
        return {"id": patient.chat_id, "is_bot": False, "first_name": "Patient",
                "language_code": patient.language}

    def _chat(self, patient: Patient) -> JsonDict:
        return {"id": patient.chat_id, "type": "private", "first_name": "Patient"}

    def _text(self, patient: Patient, text: str, bot: Bot) -> Update:
        message: JsonDict = {"message_id": next(self._message_ids), "date": DATE,
                             "chat": self._chat(patient), "from": self._user(patient),
                             "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
            self.kinds["start"] += 1
        else:
            self.kinds["typed"] += 1
        data = {"update_id": next(self._update_ids), "message": message}
        return Update.de_json(data, bot)

    def _press(self, patient: Patient, board: Keyboard, data: str, bot: Bot, kind: str) -> Update:
        self.kinds[kind] += 1
        message = {"message_id": board.message_id, "date": DATE, "chat": self._chat(patient),
                   "from": BOT_USER, "text": plain_text(board.text),
                   "reply_markup": {"inline_keyboard": [[{"text": label, "callback_data": d}]
                                                        for label, d in board.buttons]}}
        query = {"id": str(next(self._message_ids)), "from": self._user(patient),
                 "chat_instance": str(patient.chat_id), "data": data, "message": message}
        return Update.de_json({"update_id": next(self._update_ids), "callback_query": query}, bot)
