"""/mydata: what is stored about the patient, in their words, and where they are."""

from __future__ import annotations

from bot.conversation.menus import Desk
from bot.dialogue.answers import normalise
from bot.dialogue.session import Session
from bot.dialogue.turn import Message, Text, Turn


def mydata(desk: Desk, session: Session) -> Turn:
    """Each answer as given (what was typed, where it is not the answer's own label)."""
    engine, catalog = desk.engine(session), desk.content.catalog
    typed = {fact: entry.typed for entry in session.history for fact in entry.facts}
    answers = []
    for fact, value in session.facts.items():
        if not catalog.has(f"topic.{fact}"):
            continue  # not a question the patient answered (e.g. the check-in's week)
        label, said = engine.label(fact, value), typed.get(fact)
        # What they typed is shown where it is not simply the answer's own label.
        shown = said if said and normalise(said) != normalise(
            catalog.plain(label, session.language)) else None
        answers.append(Text("app.mydata_typed" if shown else "app.mydata_answer",
                            {"question": Text(f"topic.{fact}"), "answer": label,
                             "typed": shown or ""}))
    question = engine.question(session)
    progress = (Text("app.mydata_at", {"question": Text(f"topic.{question.fact}")})
                if question is not None and question.fact else Text("app.mydata_done"))
    note = Text("app.mydata", {"language": Text(f"lang.{session.language}"),
                               "progress": progress,
                               "answers": answers or [Text("app.mydata_none")]})
    current = desk.current(session)
    return Turn((Message((note,)), *current.messages), current.question)
