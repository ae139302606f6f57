"""Both languages are complete: every text the bot can send renders in English and Chinese.

The fact combinations below go well beyond what the screening asks, so every recommendation
the ladder can make (and every explanation of it) is rendered in both languages.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.clinical.explain import details, emergency_signs, explain
from bot.content import Content, load_content
from bot.dialogue.texts import LANGUAGES, placeholders
from bot.dialogue.turn import Message, Text

TELEGRAM_LIMIT = 4096
RED_FLAGS = [
    "saddle_numbness", "bladder_bowel", "bilateral_leg", "severe_weakness",
    "leg_weakness", "fever", "cancer_history", "weight_loss", "major_trauma",
    "immune_risk", "other_warning_signs",
]
ROUTINE: dict[str, Any] = {**dict.fromkeys(RED_FLAGS, "no"), "age": 40, "pregnant": "no",
                           "leg_pain": "yes", "pain_score": 6}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_TAG = re.compile(r"<(/?)([a-z]+)>")
_WORD = re.compile(r"\w")
# Texts that read the same in both languages.
SAME_IN_BOTH = {"app.answered", "lang.en", "lang.zh", "rec.option_title", "rec.option_item",
                "console.rec.option_item"}


def fact_combinations() -> Iterator[dict[str, Any]]:
    """Red flags, minors, and every mix of history and report findings for routine adults."""
    for flag in RED_FLAGS:
        yield {**ROUTINE, flag: "yes"}
    yield {**ROUTINE, "saddle_numbness": "yes", "fever": "yes", "bilateral_leg": "yes"}
    yield {**ROUTINE, "fever": "yes", "weight_loss": "yes", "age": 15}
    yield {**ROUTINE, "age": 17}
    yield {**ROUTINE, "leg_pain": "no"}
    for flag in RED_FLAGS:
        yield {**ROUTINE, flag: "not_sure"}
    yield {**ROUTINE, "pain_score": 3, "conservative_course": "6_weeks_or_more",
           "conservative_response": "none"}
    yield {**ROUTINE, "pregnant": "yes", "conservative_course": "6_weeks_or_more",
           "conservative_response": "none"}
    yield {**ROUTINE, "pain_score": 9, "conservative_course": "none"}
    stepping_up = {**ROUTINE, "conservative_course": "6_weeks_or_more",
                   "conservative_response": "none", "previous_procedure": "none",
                   "imaging": "protrusion"}
    yield {**stepping_up, "pregnant": "not_sure"}
    yield {**stepping_up, "stenosis": "not_sure"}
    yield {**stepping_up, "stenosis": "none", "instability": "not_sure"}
    optional = {
        "conservative_response": ["good", "partial", "none"],
        "imaging": ["none", "unknown", "bulging", "protrusion", "extrusion", "sequestration"],
        "stenosis": ["none", "lateral", "central"],
        "instability": ["yes", "no"],
        "huge_herniation": ["yes", "no"],
        "adjacent_degeneration": ["yes"],
    }
    choices = [[(name, None), *((name, v) for v in values)] for name, values in optional.items()]
    for age, procedure, course in itertools.product(
        [40, 60],
        ["none", "minimally_invasive", "open_surgery"],
        ["none", "under_6_weeks", "6_weeks_or_more"],
    ):
        base = {**ROUTINE, "age": age, "previous_procedure": procedure,
                "conservative_course": course}
        for picked in itertools.product(*choices):
            yield {**base, **{name: value for name, value in picked if value is not None}}


@pytest.fixture(scope="module")
def explained(content: Content) -> list[tuple[dict[str, Any], Any, list[Message]]]:
    """One (facts, recommendation, messages) per distinct explanation."""
    found: dict[tuple[str, bool], dict[str, Any]] = {}
    for facts in fact_combinations():
        recommendation = content.ladder.recommend(facts)
        regressing = facts.get("imaging") in {"extrusion", "sequestration"}
        found.setdefault((repr(recommendation), regressing), facts)
    cases = []
    for facts in found.values():
        recommendation = content.ladder.recommend(facts)
        cases.append((facts, recommendation, explain(recommendation, facts, content.ladder)))
    return cases


def test_the_combinations_reach_every_outcome(content: Content, explained: list[Any]) -> None:
    dispositions = {rec.disposition for _, rec, _ in explained}
    steps = {rec.step for _, rec, _ in explained}
    options = {method for _, rec, _ in explained for method in rec.options}
    reasons = {r for _, rec, _ in explained for e in rec.excluded for r in e.reasons}

    assert dispositions == {"emergency", "urgent", "out_of_scope", "routine"}
    assert steps == {None, "conservative", "minimally_invasive", "surgical", "specialist_review"}
    assert options == {
        "conservative_care", "percutaneous_decompression", "endoscopic_discectomy",
        "fenestration_discectomy", "decompression_fusion", "hybrid_fusion_elastic",
        "elastic_fixation",
    }
    assert reasons == set(content.ladder.reason_codes)
    whys = {code for _, rec, _ in explained for code in rec.why}
    assert whys == set(content.ladder.why_codes)


# --- the catalog ------------------------------------------------------------------------------


def test_both_languages_have_the_same_keys(content: Content) -> None:
    templates = content.catalog.templates
    assert set(templates) == set(LANGUAGES)
    assert templates["en"].keys() == templates["zh"].keys()
    assert len(templates["en"]) > 100


def test_both_languages_use_the_same_placeholders(content: Content) -> None:
    en, zh = content.catalog.templates["en"], content.catalog.templates["zh"]
    differing = [key for key in en if placeholders(en[key]) != placeholders(zh[key])]
    assert differing == []


def test_the_chinese_texts_are_translated(content: Content) -> None:
    en, zh = content.catalog.templates["en"], content.catalog.templates["zh"]
    untranslated = [key for key in zh if key not in SAME_IN_BOTH and zh[key] == en[key]]
    # A template that is only markup and punctuation around placeholders, e.g.
    # "<b>{label}:</b>{text}" with a full-width colon, needs no Chinese of its own.
    worded = [key for key in zh if _WORD.search(_TAG.sub("", re.sub(r"\{\w+\}", "", zh[key])))]
    no_chinese = [key for key in worded if key not in SAME_IN_BOTH and not _CJK.search(zh[key])]
    assert untranslated == []
    assert no_chinese == []


# --- rendering --------------------------------------------------------------------------------


def render_all(content: Content, message: Message) -> dict[str, str]:
    """A message as HTML and plain text in every language, checked as it is rendered."""
    rendered = {}
    for language in LANGUAGES:
        html = content.catalog.message_html(message, language)
        plain = content.catalog.message_plain(message, language)
        for text in (html, plain):
            assert text.strip()
            assert not re.search(r"\{[a-z_]+\}", text), f"unfilled placeholder in {text!r}"
            assert len(text) <= TELEGRAM_LIMIT
        assert "<" not in _TAG.sub("", html), f"markup Telegram cannot read in {html!r}"
        assert _balanced(html), f"unbalanced tags in {html!r}"
        rendered[f"{language}.html"], rendered[language] = html, plain
    return rendered


def _balanced(html: str) -> bool:
    stack: list[str] = []
    for closing, tag in _TAG.findall(html):
        if not closing:
            stack.append(tag)
        elif not stack or stack.pop() != tag:
            return False
    return not stack


def test_every_explanation_renders_in_both_languages(
    content: Content, explained: list[Any]
) -> None:
    for facts, recommendation, messages in explained:
        options, about = details(recommendation, facts, content.ladder)
        for message in (*messages, *options, *([about] if about else [])):
            render_all(content, message)


def test_every_recommendation_ends_with_the_disclaimer_and_the_emergency_signs(
    content: Content, explained: list[Any]
) -> None:
    """Spec §4; an emergency result is itself the go-now message, saying "not a diagnosis"."""
    catalog = content.catalog
    for _, recommendation, messages in explained:
        for language in LANGUAGES:
            last = catalog.message_plain(messages[-1], language)
            disclaimer = catalog.plain(Text("rec.disclaimer"), language)
            signs = catalog.plain(Text("rec.emergency_signs",
                                       {"signs": emergency_signs(content.ladder)}), language)
            if recommendation.disposition == "emergency":
                assert len(messages) == 1
                continue
            if recommendation.disposition == "routine":
                weakness = catalog.plain(Text("rec.weakness_24h"), language)
                assert last == f"{disclaimer}\n\n{weakness}\n\n{signs}", recommendation
            else:  # urgent and under 18: their own message lists the go-now signs
                assert last.endswith(disclaimer), recommendation
            earlier = [catalog.message_plain(m, language) for m in messages[:-1]]
            assert not any(signs in text for text in earlier)


def test_a_routine_recommendation_states_the_principle_once_and_every_exclusion(
    content: Content, explained: list[Any]
) -> None:
    catalog = content.catalog
    for facts, recommendation, messages in explained:
        if recommendation.disposition != "routine":
            continue
        options, about = details(recommendation, facts, content.ladder)
        everything = (*messages, *options, *([about] if about else []))
        for language in LANGUAGES:
            text = "\n\n".join(catalog.message_plain(m, language) for m in everything)
            passed_over = "\0"  # said only for a surgical step after a failed procedure
            principle = catalog.plain(Text("rec.principle"), language)
            assert text.count(principle) == (1 if recommendation.options else 0), facts
            for option in recommendation.options:
                assert catalog.plain(Text(f"method.{option}.pros"), language) in text
                assert catalog.plain(Text(f"method.{option}.cons"), language) in text
            if recommendation.step == "surgical" and facts.get("previous_procedure") != "none":
                # Said once for the whole passed-over rung, not method by method.
                passed_over = catalog.plain(Text("rec.passed_over.after_procedure"), language)
                assert passed_over in text
            for exclusion in recommendation.excluded:
                if passed_over in text and content.ladder.method(exclusion.method).rung == (
                        "minimally_invasive"):
                    continue
                assert catalog.plain(Text(f"method.{exclusion.method}.name"), language) in text
                for reason in exclusion.reasons:
                    assert catalog.plain(Text(f"reason.{reason}"), language) in text


def engine_messages(content: Content) -> Iterator[Message]:
    """Every message the engine and the conversation layer send outside a recommendation."""
    engine = content.engines["screening"]
    for key in engine.dialogue.intro:
        yield Message((Text(key),))
    for name, state in engine.dialogue.states.items():
        if not state.is_question:
            continue
        session, _ = engine.enter("en", name, {})
        question = engine.question(session)
        assert question is not None
        yield Message((question.text,))
        yield Message((question.hint,))
        for option in question.options:
            yield Message((Text("app.answered", {"answer": option.label}),))
    for key in ("back_none", "back_done", "restart", "finished", "stale_button", "help",
                "not_private", "unsupported", "error", "language_prompt", "language_set",
                "forget_confirm", "forgotten", "forget_cancelled"):
        yield Message((Text(f"app.{key}"),))
    yield Message((Text("app.unknown_command", {"command": "/frobnicate"}),))
    typed = Text("app.mydata_typed", {"question": Text("topic.age"), "answer": Text.raw("40"),
                                      "typed": "<q> — yes & no"})
    yield Message((Text("app.mydata", {"language": Text("lang.zh"),
                                       "progress": Text("app.mydata_at",
                                                        {"question": Text("topic.leg_pain")}),
                                       "answers": [typed]}),))
    for key in ("opt.confirm_forget", "opt.cancel", "opt.checkin_accept", "opt.checkin_decline",
                "rec.checkin_accepted", "rec.checkin_declined"):
        yield Message((Text(key),))
    yield Message((Text("rec.checkin_offer", {"weeks": "2, 6, 12"}),))


def test_every_question_and_service_text_renders_in_both_languages(content: Content) -> None:
    rendered = [render_all(content, message) for message in engine_messages(content)]

    assert len(rendered) > 60
    # Patient-supplied values are escaped in HTML and kept as typed in plain text.
    mydata = next(r for r in rendered if "yes &amp; no" in r["en.html"])
    assert "&lt;q&gt;" in mydata["en.html"]
    assert "<q> — yes & no" in mydata["en"]


def test_a_whole_screening_renders_in_both_languages(content: Content) -> None:
    engine = content.engines["screening"]
    answers = {**{k: str(v) for k, v in ROUTINE.items()}, "previous_procedure": "none",
               "conservative_course": "6_weeks_or_more", "conservative_response": "none",
               "imaging": "sequestration", "stenosis": "none", "instability": "no",
               "huge_herniation": "no", "pregnant": "no"}
    for language in LANGUAGES:
        session, turn = engine.start(language)
        turns = [turn]
        while turn.question is not None:
            turn = engine.answer(session, answers[turn.question.fact or ""])
            turns.append(turn)
        for step in turns:
            for message in step.messages:
                render_all(content, message)
        closing = content.catalog.message_plain(turns[-1].messages[-1], language)
        signs = Text("rec.emergency_signs", {"signs": emergency_signs(content.ladder)})
        assert closing.endswith(content.catalog.plain(signs, language))


def test_s2_load_content_fills_the_urgent_contact_in_every_language() -> None:
    contact = "Spine clinic 010-5555 1234"
    loaded = load_content(emergency_number="120", urgent_contact=contact)
    for language in LANGUAGES:
        urgent = loaded.catalog.plain(Text("rec.urgent", {"reported": "", "signs": []}),
                                      language)
        assert contact in urgent
        assert "120" in urgent
