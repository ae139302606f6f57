"""/mydata: what is stored about the patient, in their words, and where they are."""

from __future__ import annotations

from collections.abc import Mapping

from bot.audit import ANSWER, recorded_facts
from bot.conversation.menus import Step
from bot.dialogue.answers import normalise
from bot.dialogue.turn import Message, Text, Turn
from bot.dialogue.unread import unread_lines


async def mydata(step: Step) -> Turn:
    """Each answer as given: its button's words, and what was typed where that differs."""
    desk, session = step.desk, step.session
    engine, catalog = desk.engine(session), desk.content.catalog
    typed = {fact: entry.typed for entry in session.history for fact in entry.facts}
    shown_as = await _labels(step)
    answers = []
    for fact, value in session.facts.items():
        if not catalog.has(f"topic.{fact}"):
            continue  # not a question the patient answered (e.g. the check-in's week)
        # The words of the button chosen ("Does not apply"), where they record this value.
        label = shown_as.get((fact, value)) or engine.label(fact, value)
        said = typed.get(fact)
        # What they typed is shown where it is not simply the answer's own label.
        shown = said if said and normalise(said) != normalise(
            catalog.plain(label, session.language)) else None
        answers.append(Text("app.mydata_typed" if shown else "app.mydata_answer",
                            {"question": Text(f"topic.{fact}"), "answer": label,
                             "typed": shown or ""}))
    # Spec §2a: what they typed and the bot could not take is kept, and shown too.
    answers += unread_lines(session, lambda fact: catalog.has(f"topic.{fact}"))
    question = engine.question(session)
    progress = (Text("app.mydata_at", {"question": Text(f"topic.{question.fact}")})
                if question is not None and question.fact else Text("app.mydata_done"))
    note = Text("app.mydata", {"language": Text(f"lang.{session.language}"),
                               "progress": progress,
                               "answers": answers or [Text("app.mydata_none")]})
    current = desk.current(session)
    return Turn((Message((note,)), *current.messages), current.question)


async def _labels(step: Step) -> dict[tuple[str, object], Text]:
    """The label each recorded answer was given, by fact and value, latest first to last."""
    found: dict[tuple[str, object], Text] = {}
    catalog = step.desk.content.catalog
    for event in await step.tx.events():
        label = event.data.get("label") if event.kind == ANSWER else None
        facts = recorded_facts(event.data)
        if not isinstance(label, Mapping) or len(facts) != 1:
            continue
        text = Text.from_json(label)
        if text.key and not catalog.has(text.key):
            continue  # a label the revised texts no longer have: the value's own is used
        [(fact, value)] = facts.items()
        found[fact, value] = text
    return found
