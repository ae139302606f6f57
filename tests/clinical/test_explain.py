"""What the patient is told (clinical spec §4, with §2), in both languages, rule by rule."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.clinical.explain import details, explain
from bot.content import Content
from bot.dialogue.texts import LANGUAGES, Catalog, placeholders
from bot.dialogue.turn import Message, Text

NO_RED_FLAGS: dict[str, Any] = dict.fromkeys(
    ["saddle_numbness", "bladder_bowel", "bilateral_leg", "severe_weakness", "leg_weakness",
     "fever", "cancer_history", "weight_loss", "major_trauma", "immune_risk",
     "other_warning_signs"], "no")
ROUTINE: dict[str, Any] = {**NO_RED_FLAGS, "age": 40, "pregnant": "no", "leg_pain": "yes",
                           "pain_score": 6}
STEPPING_UP: dict[str, Any] = {**ROUTINE, "conservative_course": "6_weeks_or_more",
                               "conservative_response": "none", "previous_procedure": "none",
                               "stenosis": "none", "instability": "no", "huge_herniation": "no"}
BACK_PAIN_ONLY = {**ROUTINE, "leg_pain": "no"}


def said(content: Content, facts: dict[str, Any], language: str, *, everything: bool = False
         ) -> str:
    """What a patient with ``facts`` reads, first the result, then (maybe) every detail."""
    recommendation = content.ladder.recommend(facts)
    messages: list[Message] = explain(recommendation, facts, content.ladder)
    if everything:
        options, about = details(recommendation, facts, content.ladder)
        messages += [*options, *([about] if about else [])]
    return "\n\n".join(content.catalog.message_plain(m, language) for m in messages)


def plain(catalog: Catalog, key: str, language: str) -> str:
    """A text as the terminal shows it, its code-filled placeholders left empty."""
    filled = placeholders(catalog.template(language, key)) - set(catalog.settings)
    return catalog.plain(Text(key, dict.fromkeys(filled, "")), language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_back_pain_only_result_never_mentions_sciatica(
    content: Content, language: str
) -> None:
    for course in ("none", "under_6_weeks"):
        facts = {**BACK_PAIN_ONLY, "conservative_course": course}
        assert content.ladder.recommend(facts).step == "conservative"
        result = said(content, facts, language)
        everything = said(content, facts, language, everything=True)
        for word in ("sciatica", "坐骨神经痛", "may be considered", "可以考虑"):
            assert word not in everything, word
        # No procedure is held out as coming next (the principle, on request, names the ladder).
        for word in ("minimally invasive", "微创", "surgery may", "考虑手术"):
            assert word not in result, word
        assert plain(content.catalog, "rec.next.see_your_doctor", language) in result


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_mild_pain_is_not_told_of_a_procedure_to_come(content: Content, language: str) -> None:
    facts = {**ROUTINE, "pain_score": 3, "conservative_course": "6_weeks_or_more",
             "conservative_response": "none"}
    recommendation = content.ladder.recommend(facts)
    assert recommendation.step == "conservative"
    result = said(content, facts, language)
    assert plain(content.catalog, "rec.next.see_your_doctor", language) in result
    assert plain(content.catalog, "rec.next.minimally_invasive", language) not in result


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_a_surgical_step_says_why_minimally_invasive_was_passed_over(
    content: Content, language: str
) -> None:
    unsuitable = {**STEPPING_UP, "age": 60, "imaging": "extrusion", "stenosis": "lateral"}
    after_procedure = {**STEPPING_UP, "imaging": "protrusion",
                       "previous_procedure": "minimally_invasive"}
    for facts, key in ((unsuitable, "rec.passed_over.not_suitable"),
                       (after_procedure, "rec.passed_over.after_procedure")):
        recommendation = content.ladder.recommend(facts)
        assert recommendation.step == "surgical"
        summary = explain(recommendation, facts, content.ladder)[0]
        assert key in [part.key for part in summary.parts]
    text = said(content, unsuitable, language)
    for method in ("percutaneous_decompression", "endoscopic_discectomy"):
        assert plain(content.catalog, f"method.{method}.name", language) in text
    assert plain(content.catalog, "reason.age_over_55", language) in text


def test_s2_emergency_signs_name_exactly_the_emergency_flags_sudden_weakness_included(
    content: Content,
) -> None:
    """§2: never "go now" for a sign triaged as "within 24 hours", nor the reverse."""
    emergency = content.ladder.flags_of("emergency")
    assert emergency == ("saddle_numbness", "bladder_bowel", "bilateral_leg", "severe_weakness")
    signs = {"en": ("bottom", "bladder", "both legs", "sudden or severe weakness"),
             "zh": ("鞍区", "排尿", "双腿", "突然或严重无力")}
    for language in LANGUAGES:
        # The hand-written lists (help, error) name the same four signs.
        for key in ("app.help", "console.app.help", "app.error"):
            text = plain(content.catalog, key, language)
            assert all(sign in text for sign in signs[language]), (key, language)
        flag_texts = {plain(content.catalog, f"flag.{f}", language): f
                      for f in content.ladder.flag_codes}
        for facts in (ROUTINE, {**ROUTINE, "fever": "yes"}, {**ROUTINE, "age": 16}):
            result = said(content, facts, language)
            # The go-now list follows the last line that names the emergency number.
            number = plain(content.catalog, "setting.local_emergency_number", language)
            go_now = result[result.rindex(number):]
            listed = [flag_texts[line.removeprefix("• ")] for line in go_now.splitlines()
                      if line.removeprefix("• ") in flag_texts]
            assert listed == list(emergency), (facts, language)
        # Slow weakness is said apart, with its own time: within 24 hours, before the list.
        result = said(content, ROUTINE, language)
        weakness = plain(content.catalog, "rec.weakness_24h", language)
        assert "24" in weakness
        first_sign = plain(content.catalog, "flag.saddle_numbness", language)
        assert result.index(weakness) < result.index(first_sign)


def test_s4_the_urgent_message_never_reassures_and_says_24_hours_first(
    content: Content,
) -> None:
    for language, false_comfort in (("en", ("does not mean", "not necessarily")),
                                    ("zh", ("并不一定", "不一定说明"))):
        text = plain(content.catalog, "rec.urgent", language)
        assert not any(phrase in text for phrase in false_comfort)
        assert "24" in text.splitlines()[0]


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_the_emergency_message_says_go_now_first_and_not_a_diagnosis_once(
    content: Content, language: str
) -> None:
    text = said(content, {**ROUTINE, "saddle_numbness": "yes"}, language)
    first_line = text.splitlines()[0]
    assert ("emergency department now" in first_line) or ("立即去医院急诊科" in first_line)
    assert text.count("not a diagnosis") + text.count("不是诊断") == 1


def test_s4_fusion_is_a_last_resort_and_the_gold_standard_is_some_surgeons_view(
    content: Content,
) -> None:
    catalog = content.catalog
    for language, last_resort, surgeons in (("en", "last resort", "some surgeons consider"),
                                            ("zh", "最后的手段", "有些外科医生认为")):
        every = "\n".join(catalog.templates[language].values())
        assert "final solution" not in every
        assert "终极" not in every
        cons = plain(catalog, "method.decompression_fusion.cons", language)
        pros = plain(catalog, "method.decompression_fusion.pros", language)
        assert last_resort in cons
        assert surgeons in pros
        assert "NG59" in plain(catalog, "method.decompression_fusion.note", language)


def test_s4_each_methods_advantages_and_disadvantages_are_its_own(content: Content) -> None:
    catalog = content.catalog
    for language, muscle in (("en", "attach"), ("zh", "附着点")):
        assert muscle in plain(catalog, "method.endoscopic_discectomy.pros", language)
        assert muscle not in plain(catalog, "method.percutaneous_decompression.pros", language)
        assert muscle not in plain(catalog, "method.percutaneous_decompression.cons", language)
        needle_cons = plain(catalog, "method.percutaneous_decompression.cons", language)
        assert ("limited" in needle_cons) if language == "en" else ("有限" in needle_cons)
        pros = [plain(catalog, f"method.{m}.pros", language) for m in content.ladder.method_ids]
        cons = [plain(catalog, f"method.{m}.cons", language) for m in content.ladder.method_ids]
        assert len(set(pros)) == len(pros)
        assert len(set(cons)) == len(cons)


DRUGS = ("ibuprofen", "paracetamol", "acetaminophen", "naproxen", "diclofenac", "codeine",
         "tramadol", "gabapentin", "pregabalin", "amitriptyline", "diazepam", "opioid",
         "布洛芬", "对乙酰氨基酚", "萘普生", "双氯芬酸", "可待因", "曲马多", "加巴喷丁", "普瑞巴林")


def test_s4_conservative_care_is_guidelines_first_and_never_contradicts_itself(
    content: Content,
) -> None:
    catalog = content.catalog
    for language, helps, offered in (
        ("en", ("active", "exercise", "heat", "pharmacist"),
         ("Bed rest", "Massage", "Traction", "Electrical")),
        ("zh", ("保持日常活动", "锻炼", "热敷", "药师"), ("卧床休息", "按摩", "牵引", "电疗")),
    ):
        what = plain(catalog, "method.conservative_care.what", language)
        note = plain(catalog, "method.conservative_care.note", language)
        assert all(word in what for word in helps)
        # What the guideline does not recommend is never in the list of what helps.
        assert not any(word.lower() in what.lower() for word in offered)
        lines = note.splitlines()[1:]
        for word in offered:
            line = next(line for line in lines if word in line)
            assert "NICE" in line or "Cochrane" in line or "exercise" in line or "锻炼" in line
        text = "\n".join(catalog.templates[language].values()).lower()
        assert not any(drug in text for drug in DRUGS)
        assert not re.search(r"\d\s*(mg|毫克)\b", text)


def test_s4_chinese_says_large_and_procedure_as_strongly_as_english(content: Content) -> None:
    en, zh = content.catalog.templates["en"], content.catalog.templates["zh"]
    assert not [key for key, text in zh.items() if "较大" in text]
    large = [key for key, text in en.items() if "large, massive or giant" in text]
    assert large
    assert all("巨大" in zh[key] for key in large)
    procedure = [key for key, text in en.items()
                 if re.search(r"\bprocedures?\b", text) and key.startswith(
                     ("q.", "why.", "alert.", "clinic.alert.", "reason.", "topic."))]
    assert procedure
    assert [key for key in procedure if "手术操作" not in zh[key]] == []


def test_s4_no_emergency_number_is_written_into_any_text(content: Content) -> None:
    for language in LANGUAGES:
        for key, text in content.catalog.templates[language].items():
            assert not re.search(r"\b(120|999|911|112)\b", text), (language, key)


def test_s4_the_emergency_number_comes_from_the_setting_in_every_language(
    content: Content,
) -> None:
    users = [key for key, text in content.catalog.templates["en"].items()
             if "{emergency_number}" in text]
    assert {"rec.emergency", "rec.emergency_signs", "app.intended_use", "rec.urgent"} <= set(users)
    unset = content.catalog
    with_number = content.catalog.with_emergency_number("999")
    local = {"en": "your local emergency number", "zh": "本地急救电话"}
    for language in LANGUAGES:
        for key in users:
            assert "{emergency_number}" in content.catalog.templates[language][key]
            assert local[language] in plain(unset, key, language)
            shown = plain(with_number, key, language)
            assert "999" in shown
            assert local[language] not in shown
        escaped = with_number.with_emergency_number("<1>").html(
            Text("rec.emergency_signs", {"signs": []}), language)
        assert "&lt;1&gt;" in escaped  # a setting is escaped like any value


def test_s4_the_chinese_check_in_weeks_read_di_2_6_12_zhou(content: Content) -> None:
    separator = content.catalog.template("zh", "rec.weeks_separator")
    weeks = separator.join(["2", "6", "12"])
    offer = content.catalog.plain(Text("rec.checkin_offer", {"weeks": weeks}), "zh")
    assert "第2、6、12周" in offer


def test_s4_the_terminal_never_asks_to_tap(content: Content) -> None:
    from bot.channels.console import console_catalog  # noqa: PLC0415  # the terminal's view

    terminal = console_catalog(content.catalog)
    for key in ("app.help", "app.hint.yes_no", "app.hint.red_flag", "app.hint.pregnant",
                "app.hint.choice", "rec.details_hint", "reminders.list",
                "app.hint.huge_herniation", "app.hint.instability",
                "app.hint.adjacent_degeneration", "app.hint.stenosis"):
        for language, tap in (("en", "tap"), ("zh", "点击")):
            assert tap not in plain(terminal, key, language).lower(), (key, language)
            assert tap in plain(content.catalog, key, language).lower(), (key, language)


# --- the third edition (spec §2 and §4) --------------------------------------------------------


def first_message(content: Content, facts: dict[str, Any], language: str) -> str:
    """The first message of a result, as the patient reads it."""
    recommendation = content.ladder.recommend(facts)
    return content.catalog.message_plain(explain(recommendation, facts, content.ladder)[0],
                                         language)


@pytest.mark.parametrize(("flag", "worry"), [
    ("saddle_numbness", {"en": "worried about cauda equina syndrome", "zh": "担心是马尾综合征"}),
    ("severe_weakness", {"en": "worried about sudden leg weakness", "zh": "担心是腿突然无力"}),
])
@pytest.mark.parametrize("language", LANGUAGES)
def test_s2_the_emergency_message_says_what_to_do_in_the_order_of_the_spec(
    content: Content, flag: str, worry: dict[str, str], language: str
) -> None:
    text = said(content, {**ROUTINE, flag: "yes"}, language)
    steps = {"en": ["emergency department now", "Do not wait for an appointment",
                    "Do not drive yourself", "Show the staff this message", worry["en"]],
             "zh": ["立即去医院急诊科", "不要等门诊预约", "不要自己开车", "把这条消息给医护人员看",
                    worry["zh"]]}[language]
    places = [text.index(step) for step in steps]
    assert places == sorted(places)
    other = "sudden leg weakness" if flag == "saddle_numbness" else "cauda equina"
    assert other not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_s2_the_urgent_message_says_where_to_go_today_from_the_setting(
    content: Content, language: str
) -> None:
    facts = {**ROUTINE, "fever": "yes"}
    recommendation = content.ladder.recommend(facts)
    [message] = explain(recommendation, facts, content.ladder)
    unset = content.catalog.message_plain(message, language)
    local = {"en": "your doctor or an urgent care service", "zh": "您的医生或紧急诊疗服务"}
    assert local[language] in unset.splitlines()[0]
    otherwise = {"en": "urgent care centre or an emergency department",
                 "zh": "紧急诊疗中心或医院急诊科"}
    assert otherwise[language] in unset
    contact = "Spine clinic 010-5555 1234"
    shown = content.catalog.with_urgent_contact(contact).message_plain(message, language)
    assert contact in shown.splitlines()[0]
    assert local[language] not in shown
    escaped = content.catalog.with_urgent_contact("<GP>").message_html(message, language)
    assert "&lt;GP&gt;" in escaped


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_a_minimally_invasive_step_names_microdiscectomy_balance_and_the_epidural(
    content: Content, language: str
) -> None:
    facts = {**STEPPING_UP, "imaging": "protrusion"}
    recommendation = content.ladder.recommend(facts)
    assert recommendation.step == "minimally_invasive"
    text = said(content, facts, language)
    for key in ("note.microdiscectomy", "note.balance", "note.epidural",
                "rec.options_discuss", "rec.principle_short"):
        assert plain(content.catalog, key, language) in text, key
    # Microdiscectomy is an equal alternative, never "not suitable for you".
    assert plain(content.catalog, "rec.excluded", language).split("{")[0] not in text
    assert "fenestration_discectomy" not in {e.method for e in recommendation.excluded}


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_every_step_up_result_says_balance_and_the_epidural_and_no_other_does(
    content: Content, language: str
) -> None:
    step_ups = [{**STEPPING_UP, "imaging": "protrusion"},
                {**STEPPING_UP, "age": 60, "imaging": "extrusion", "stenosis": "lateral"},
                {**STEPPING_UP, "imaging": "none"},
                {**STEPPING_UP, "imaging": "extrusion", "stenosis": "not_sure"}]
    for facts in step_ups:
        text = said(content, facts, language)
        assert plain(content.catalog, "note.balance", language) in text, facts
        assert plain(content.catalog, "note.epidural", language) in text, facts
    text = said(content, {**ROUTINE, "conservative_course": "none"}, language)
    assert plain(content.catalog, "note.balance", language) not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_the_conservative_explanation_names_the_epidural_for_sciatica_only(
    content: Content, language: str
) -> None:
    epidural = plain(content.catalog, "note.epidural", language)
    sciatica = said(content, {**ROUTINE, "conservative_course": "none"}, language,
                    everything=True)
    back_only = said(content, {**BACK_PAIN_ONLY, "conservative_course": "none"}, language,
                     everything=True)
    assert epidural in sciatica
    assert epidural not in back_only


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_a_slipped_vertebra_says_the_surgeon_decides_decompression_alone_or_with_fusion(
    content: Content, language: str
) -> None:
    facts = {**STEPPING_UP, "imaging": "protrusion", "instability": "yes",
             "adjacent_degeneration": "no"}
    assert content.ladder.recommend(facts).step == "surgical"
    text = said(content, facts, language)
    assert plain(content.catalog, "note.slipped_vertebra", language) in text
    assert "Försth 2016" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_a_result_resting_on_a_bulging_disc_asks_a_specialist_to_confirm_it(
    content: Content, language: str
) -> None:
    bulging = plain(content.catalog, "note.bulging", language)
    for age in (40, 60):  # percutaneous decompression, then no method suits
        text = said(content, {**STEPPING_UP, "age": age, "imaging": "bulging"}, language)
        assert bulging in text, age
    assert bulging not in said(content, {**STEPPING_UP, "imaging": "protrusion"}, language)
    note = plain(content.catalog, "method.percutaneous_decompression.note", language)
    assert "IPG545" in note


@pytest.mark.parametrize("imaging", ["extrusion", "sequestration"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_regression_is_in_the_short_first_message(
    content: Content, imaging: str, language: str
) -> None:
    for facts in ({**ROUTINE, "imaging": imaging, "conservative_course": "none"},
                  {**STEPPING_UP, "imaging": imaging}):
        regression = plain(content.catalog, "note.regression", language)
        assert regression in first_message(content, facts, language)
        assert said(content, facts, language, everything=True).count(regression) == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_the_first_message_glosses_each_option_and_says_the_principle_in_one_line(
    content: Content, language: str
) -> None:
    facts = {**STEPPING_UP, "imaging": "protrusion"}
    first = first_message(content, facts, language)
    for method in content.ladder.recommend(facts).options:
        assert plain(content.catalog, f"method.{method}.gloss", language) in first
    principle = plain(content.catalog, "rec.principle_short", language)
    assert principle in first
    assert len(principle.splitlines()) == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_s4_a_specialist_review_first_message_lists_no_operation(
    content: Content, language: str
) -> None:
    facts = {**STEPPING_UP, "age": 60, "imaging": "bulging"}
    recommendation = content.ladder.recommend(facts)
    assert recommendation.step == "specialist_review"
    assert recommendation.excluded  # still said, in a message of its own (spec §3)
    first = first_message(content, facts, language)
    for method in content.ladder.method_ids:
        assert plain(content.catalog, f"method.{method}.name", language) not in first
    everything = said(content, facts, language)
    for exclusion in recommendation.excluded:
        assert plain(content.catalog, f"method.{exclusion.method}.name", language) in everything


def test_s4_every_procedure_names_its_usual_risks(content: Content) -> None:
    risks = {"en": ("infection", "bleeding", "nerve injury"), "zh": ("感染", "出血", "神经损伤")}
    dural = {"en": "dural tear", "zh": "硬脊膜撕裂"}
    for language in LANGUAGES:
        for method in content.ladder.method_ids[1:]:
            cons = plain(content.catalog, f"method.{method}.cons", language)
            assert all(risk in cons for risk in risks[language][:2]), (method, language)
            if method != "percutaneous_decompression":  # a needle does not open the dura
                assert dural[language] in cons, (method, language)
            assert "will explain" not in cons
            assert "会向您说明" not in cons
        endoscope = plain(content.catalog, "method.endoscopic_discectomy.cons", language)
        assert ("open surgery" in endoscope) or ("开放手术" in endoscope)
        for method in ("decompression_fusion", "hybrid_fusion_elastic"):
            cons = plain(content.catalog, f"method.{method}.cons", language)
            assert ("fail" in cons) or ("不融合" in cons or "没有融合" in cons), method
            assert ("screws" in cons) or ("螺钉" in cons), method
        pros = plain(content.catalog, "method.elastic_fixation.pros", language)
        assert ("aims to" in pros) or ("目的是" in pros)


def test_s4_the_chinese_terms_a_mainland_patient_knows(content: Content) -> None:
    zh = content.catalog.templates["zh"]
    assert "鞍区" in zh["q.saddle_numbness"]
    assert "发麻" in zh["q.saddle_numbness"]
    assert not [key for key, text in zh.items() if "刺痛" in text or "微创手术操作" in text]
    assert zh["opt.imaging.protrusion"] == "椎间盘突出（包含型）"  # noqa: RUF001  # the Chinese term
    assert not [key for key, text in zh.items() if "助产士" in text]
    assert "产科医生" in zh["alert.pregnancy"]
    assert "针灸" in zh["method.conservative_care.note"]


def test_s4_questions_that_list_several_things_are_bulleted(content: Content) -> None:
    for language in LANGUAGES:
        for key in ("q.bladder_bowel", "q.other_warning_signs", "checkin.q.bladder_bowel",
                    "checkin.q.other_warning_signs"):
            bullets = [line for line in plain(content.catalog, key, language).splitlines()
                       if line.startswith("• ")]
            assert len(bullets) == 3, (key, language)


def test_s3_the_pregnancy_alert_says_check_every_medicine_so_no_one_goes_without(
    content: Content,
) -> None:
    en = plain(content.catalog, "alert.pregnancy", "en")
    for words in ("without a prescription", "midwife, obstetrician, doctor or pharmacist",
                  "do not have to go without", "X-ray or CT"):
        assert words in en
    zh = plain(content.catalog, "alert.pregnancy", "zh")
    for words in ("不需要处方", "产科医生", "药师", "不必忍着疼痛", "X 光或 CT"):
        assert words in zh


def test_s1_both_legs_asks_new_or_worse_and_leaves_out_long_standing_symptoms(
    content: Content,
) -> None:
    for key in ("q.bilateral_leg", "checkin.q.bilateral_leg"):
        en = plain(content.catalog, key, "en")
        zh = plain(content.catalog, key, "zh")
        assert "new or getting worse" in en
        assert "have not changed, do not count here" in en
        assert "新出现或正在加重" in zh
        assert "一直没有变化" in zh
