"""The treatment ladder against the clinical spec, sections 2 and 3, using dialogues/ladder.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.clinical.ladder import Exclusion, Ladder, Recommendation
from bot.clinical.ladder_loader import load_ladder

DIALOGUES = Path(__file__).parents[2] / "dialogues"

EMERGENCY_FLAGS = ["saddle_numbness", "bladder_bowel", "bilateral_leg", "severe_weakness"]
URGENT_FLAGS = [
    "leg_weakness", "fever", "cancer_history", "weight_loss", "major_trauma", "immune_risk",
    "other_warning_signs",
]
ALL_FLAGS = EMERGENCY_FLAGS + URGENT_FLAGS
MI = ["percutaneous_decompression", "endoscopic_discectomy"]
SURGICAL = [
    "fenestration_discectomy",
    "decompression_fusion",
    "hybrid_fusion_elastic",
    "elastic_fixation",
]


@pytest.fixture(scope="module")
def ladder() -> Ladder:
    return load_ladder(DIALOGUES)


def patient(**changes: int | str | None) -> dict[str, int | str]:
    """A routine adult: 6+ weeks of conservative care that did not help, a protrusion on MRI."""
    facts: dict[str, int | str | None] = dict.fromkeys(ALL_FLAGS, "no")
    facts |= {
        "age": 40,
        "pregnant": "no",
        "leg_pain": "yes",
        "pain_score": 7,
        "duration_weeks": 10,
        "first_episode": "yes",
        "conservative_course": "6_weeks_or_more",
        "conservative_response": "none",
        "previous_procedure": "none",
        "imaging": "protrusion",
        "huge_herniation": "no",
        "stenosis": "none",
        "instability": "no",
        "adjacent_degeneration": "no",
    }
    facts |= changes
    return {name: value for name, value in facts.items() if value is not None}


def excluded(rec: Recommendation) -> dict[str, tuple[str, ...]]:
    return {entry.method: entry.reasons for entry in rec.excluded}


# --- the loaded data --------------------------------------------------------------------------


def test_rungs_and_methods_in_spec_order(ladder):
    assert [rung.id for rung in ladder.rungs] == ["conservative", "minimally_invasive", "surgical"]
    assert [[m.id for m in rung.methods] for rung in ladder.rungs] == [
        ["conservative_care"],
        MI,
        SURGICAL,
    ]
    assert ladder.method("endoscopic_discectomy").rung == "minimally_invasive"
    assert list(ladder.methods) == ["conservative_care", *MI, *SURGICAL]


def test_accessors_for_texts_and_dialogue(ladder):
    assert ladder.path == DIALOGUES / "ladder.yaml"
    assert ladder.method_ids == ("conservative_care", *MI, *SURGICAL)
    assert ladder.step_ids == (
        "conservative",
        "minimally_invasive",
        "surgical",
        "specialist_review",
    )
    assert ladder.flag_codes == tuple(ALL_FLAGS)
    assert ladder.why_codes == (
        "no_leg_pain",
        "mild_pain",
        "no_course_yet",
        "short_course",
        "good_response",
        "course_not_enough",
        "incomplete_answers",
        "pregnancy",
        "no_imaging",
        "report_details_unknown",
        "no_method_suits",
    )
    assert ladder.alert_codes == ("not_sure", "severe_pain", "pregnancy", "not_following",
                                  "unclear_red_flag", "pain_worse")
    assert set(ladder.reason_codes) == {
        check.reason for method in ladder.methods.values() for check in method.checks
    }
    assert len(ladder.reason_codes) == 11


def test_followup_settings(ladder):
    assert ladder.followup_weeks == (2, 6, 12)
    assert ladder.step_up_from_week == 6
    assert (ladder.pain_worse.rise, ladder.pain_worse.at_least) == (2, 8)


def test_reason_codes_are_the_agreed_ones(ladder):
    reasons = {m.id: [c.reason for c in m.checks] for m in ladder.methods.values()}
    assert reasons == {
        "conservative_care": [],
        "percutaneous_decompression": [
            "age_over_55",
            "stenosis",
            "herniation_broken_through",
            "huge_herniation",
            "instability",
            "after_failed_procedure",
        ],
        "endoscopic_discectomy": [
            "bulging_only",
            "stenosis",
            "huge_herniation",
            "instability",
            "after_failed_procedure",
        ],
        "fenestration_discectomy": ["needs_stenosis_huge_or_failed_procedure", "instability"],
        "decompression_fusion": ["no_instability"],
        "hybrid_fusion_elastic": ["no_instability", "no_adjacent_degeneration"],
        "elastic_fixation": ["no_huge_herniation", "instability"],
    }


# --- dispositions (spec §2) -------------------------------------------------------------------


@pytest.mark.parametrize("flag", EMERGENCY_FLAGS)
def test_each_emergency_flag_alone_is_an_emergency(ladder, flag):
    rec = ladder.recommend(patient(**{flag: "yes"}))
    assert rec.disposition == "emergency"
    assert rec.flags == (flag,)
    assert rec.to_json() == {
        "disposition": "emergency",
        "step": None,
        "options": [],
        "excluded": [],
        "next": None,
        "followup_weeks": [],
        "alerts": [],
    }


@pytest.mark.parametrize("flag", URGENT_FLAGS)
def test_each_urgent_flag_alone_is_urgent(ladder, flag):
    rec = ladder.recommend(patient(**{flag: "yes"}))
    assert rec.disposition == "urgent"
    assert rec.flags == (flag,)
    assert (rec.step, rec.options, rec.excluded, rec.next, rec.followup_weeks) == (
        None,
        (),
        (),
        None,
        (),
    )


def test_flags_lists_every_yes_in_spec_table_order(ladder):
    rec = ladder.recommend(patient(**dict.fromkeys(reversed(ALL_FLAGS), "yes")))
    assert rec.disposition == "emergency"
    assert rec.flags == tuple(ALL_FLAGS)


def test_emergency_wins_over_urgent(ladder):
    rec = ladder.recommend(patient(fever="yes", bladder_bowel="yes"))
    assert rec.disposition == "emergency"
    assert rec.flags == ("bladder_bowel", "fever")


def test_emergency_wins_over_out_of_scope(ladder):
    assert ladder.recommend(patient(age=17, bilateral_leg="yes")).disposition == "emergency"


def test_urgent_wins_over_out_of_scope(ladder):
    rec = ladder.recommend(patient(age=17, major_trauma="yes"))
    assert rec.disposition == "urgent"
    assert rec.flags == ("major_trauma",)


@pytest.mark.parametrize(
    ("age", "disposition"), [(0, "out_of_scope"), (17, "out_of_scope"), (18, "routine")]
)
def test_adults_only(ladder, age, disposition):
    rec = ladder.recommend(patient(age=age))
    assert rec.disposition == disposition
    assert rec.flags == ()
    if disposition == "out_of_scope":
        assert rec.to_json()["step"] is None
        assert rec.options == ()
    else:
        assert rec.step == "minimally_invasive"


def test_disposition_from_the_facts_known_so_far(ladder):
    assert ladder.disposition({}) == "routine"
    assert ladder.disposition({"saddle_numbness": "no"}) == "routine"
    assert ladder.disposition({"saddle_numbness": "yes"}) == "emergency"
    assert ladder.disposition({"fever": "yes"}) == "urgent"
    assert ladder.disposition({"age": 16}) == "out_of_scope"


def test_an_emergency_answer_decides_at_once(ladder):
    rec = ladder.recommend({"bladder_bowel": "yes"})
    assert rec.disposition == "emergency"
    assert rec.flags == ("bladder_bowel",)


# --- rule 1: conservative ---------------------------------------------------------------------


def assert_conservative(rec: Recommendation, why: str) -> None:
    assert rec.to_json() == {
        "disposition": "routine",
        "step": "conservative",
        "options": ["conservative_care"],
        "excluded": [],
        "next": "minimally_invasive",
        "followup_weeks": [2, 6, 12],
        "alerts": [],
    }
    assert rec.why == (why,)
    assert rec.flags == ()


def test_back_pain_alone_stays_conservative(ladder):
    facts = patient(leg_pain="no", previous_procedure="open_surgery")
    assert_conservative(ladder.recommend(facts), "no_leg_pain")
    assert not ladder.step_up_due(facts)


def test_no_course_yet_stays_conservative(ladder):
    facts = patient(conservative_course="none", conservative_response=None, imaging=None)
    assert_conservative(ladder.recommend(facts), "no_course_yet")


def test_short_course_stays_conservative(ladder):
    assert_conservative(
        ladder.recommend(patient(conservative_course="under_6_weeks")), "short_course"
    )


@pytest.mark.parametrize("pain", [0, 3])
def test_s3_pain_of_3_or_less_stays_conservative(ladder, pain):
    facts = patient(pain_score=pain)
    assert_conservative(ladder.recommend(facts), "mild_pain")
    assert not ladder.step_up_due(facts)


def test_s3_pain_of_4_after_a_course_that_did_not_help_steps_up(ladder):
    assert ladder.recommend(patient(pain_score=4)).step == "minimally_invasive"


def test_good_response_stays_conservative(ladder):
    facts = patient(conservative_response="good", previous_procedure="minimally_invasive")
    assert_conservative(ladder.recommend(facts), "good_response")


def test_first_rule_that_applies_gives_the_why(ladder):
    facts = patient(leg_pain="no", conservative_course="none", conservative_response=None)
    assert ladder.recommend(facts).why == ("no_leg_pain",)
    facts = patient(conservative_course="under_6_weeks", conservative_response="good")
    assert ladder.recommend(facts).why == ("short_course",)


@pytest.mark.parametrize(("course", "why"), [("none", "no_course_yet"),
                                             ("under_6_weeks", "short_course")])
@pytest.mark.parametrize("previous", ["minimally_invasive", "open_surgery"])
def test_s3_a_new_episode_after_a_procedure_starts_with_conservative_care(
    ladder, course, why, previous
):
    facts = patient(
        conservative_course=course, conservative_response=None, previous_procedure=previous
    )
    assert_conservative(ladder.recommend(facts), why)
    assert not ladder.step_up_due(facts)


@pytest.mark.parametrize("previous", ["minimally_invasive", "open_surgery"])
def test_s3_after_a_failed_procedure_and_a_course_that_did_not_help_surgery_is_next(
    ladder, previous
):
    facts = patient(previous_procedure=previous)
    rec = ladder.recommend(facts)
    assert rec.step == "surgical"
    assert rec.why == ("course_not_enough",)
    assert excluded(rec)["endoscopic_discectomy"] == ("after_failed_procedure",)
    assert ladder.step_up_due(facts)


def test_a_course_without_its_response_stays_conservative(ladder):
    facts = patient(conservative_response=None)
    assert_conservative(ladder.recommend(facts), "incomplete_answers")
    assert not ladder.step_up_due(facts)


# --- rule 2: the next rung ----------------------------------------------------------------------


@pytest.mark.parametrize("response", ["partial", "none"])
def test_six_weeks_without_enough_help_steps_up_to_minimally_invasive(ladder, response):
    facts = patient(conservative_response=response)
    rec = ladder.recommend(facts)
    assert rec.to_json() == {
        "disposition": "routine",
        "step": "minimally_invasive",
        "options": MI,
        "excluded": [],
        "next": "surgical",
        "followup_weeks": [2, 6, 12],
        "alerts": [],
    }
    assert rec.why == ("course_not_enough",)
    assert ladder.step_up_due(facts)


def test_step_up_is_never_due_with_a_red_flag(ladder):
    assert ladder.step_up_due(patient())
    assert not ladder.step_up_due(patient(fever="yes"))
    assert not ladder.step_up_due(patient(age=17))


@pytest.mark.parametrize("imaging", ["none", "unknown", None])
def test_no_imaging_means_specialist_review(ladder, imaging):
    rec = ladder.recommend(patient(imaging=imaging))
    assert rec.to_json() == {
        "disposition": "routine",
        "step": "specialist_review",
        "options": [],
        "excluded": [],
        "next": None,
        "followup_weeks": [2, 6, 12],
        "alerts": [],
    }
    assert rec.why == ("course_not_enough", "no_imaging")


def test_no_imaging_after_a_failed_procedure(ladder):
    rec = ladder.recommend(patient(previous_procedure="open_surgery", imaging="unknown"))
    assert rec.step == "specialist_review"
    assert rec.why == ("course_not_enough", "no_imaging")


def test_s3_pregnancy_when_stepping_up_is_due_is_specialist_review(ladder):
    rec = ladder.recommend(patient(pregnant="yes"))
    assert rec.to_json() == {
        "disposition": "routine",
        "step": "specialist_review",
        "options": [],
        "excluded": [],
        "next": None,
        "followup_weeks": [2, 6, 12],
        "alerts": ["pregnancy"],
    }
    assert rec.why == ("course_not_enough", "pregnancy")


def test_s3_pregnancy_on_conservative_care_keeps_the_step_and_adds_the_alert(ladder):
    rec = ladder.recommend(patient(pregnant="yes", conservative_course="none"))
    assert rec.step == "conservative"
    assert rec.alerts == ("pregnancy",)


@pytest.mark.parametrize(
    ("pain", "alerts"), [(7, ()), (8, ("severe_pain",)), (10, ("severe_pain",))]
)
def test_s3_pain_of_8_or_more_is_a_severe_pain_alert_whatever_the_step(ladder, pain, alerts):
    assert ladder.recommend(patient(pain_score=pain)).alerts == alerts
    assert ladder.recommend(patient(pain_score=pain, leg_pain="no")).alerts == alerts


def test_s3_severe_pain_is_for_routine_patients_only(ladder):
    assert ladder.recommend(patient(pain_score=9, fever="yes")).alerts == ()


@pytest.mark.parametrize("flag", ALL_FLAGS)
def test_s3_a_not_sure_red_flag_is_an_alert_and_counts_as_yes(ladder, flag):
    rec = ladder.recommend(patient(**{flag: "not_sure"}))
    assert rec.disposition == ("emergency" if flag in EMERGENCY_FLAGS else "urgent")
    assert rec.flags == (flag,)
    assert rec.alerts == ("not_sure",)


@pytest.mark.parametrize(("baseline", "today", "worse"),
                         [(5, 7, True), (5, 6, False), (2, 8, True), (9, 8, True), (7, 7, False)])
def test_s5_pain_worse_is_two_points_up_or_eight_or_more(ladder, baseline, today, worse):
    assert ladder.pain_worse.applies(baseline, today) is worse


def test_the_spec_example_exactly(ladder):
    facts = {
        "age": 60,
        "leg_pain": "yes",
        "conservative_course": "6_weeks_or_more",
        "conservative_response": "none",
        "previous_procedure": "none",
        "imaging": "protrusion",
        "stenosis": "none",
        "instability": "no",
        "huge_herniation": "no",
    }
    assert ladder.recommend(facts).to_json() == {
        "disposition": "routine",
        "step": "minimally_invasive",
        "options": ["endoscopic_discectomy"],
        "excluded": [{"method": "percutaneous_decompression", "reasons": ["age_over_55"]}],
        "next": "surgical",
        "followup_weeks": [2, 6, 12],
        "alerts": [],
    }


def test_to_json_has_exactly_the_seven_keys_and_plain_lists(ladder):
    rec = ladder.recommend(patient(age=60))
    data = rec.to_json()
    assert list(data) == ["disposition", "step", "options", "excluded", "next", "followup_weeks",
                          "alerts"]
    assert isinstance(data["options"], list)
    assert isinstance(data["excluded"], list)
    assert isinstance(data["followup_weeks"], list)
    assert data["excluded"] == [
        {"method": "percutaneous_decompression", "reasons": ["age_over_55"]}
    ]
    assert json.loads(json.dumps(data)) == data


def test_unasked_findings_count_as_absent(ladder):
    facts = patient(
        huge_herniation=None, stenosis=None, instability=None, adjacent_degeneration=None
    )
    assert ladder.recommend(facts).options == tuple(MI)


# --- minimally invasive methods ---------------------------------------------------------------


@pytest.mark.parametrize(("age", "options"), [(55, MI), (56, MI[1:])])
def test_percutaneous_up_to_55(ladder, age, options):
    rec = ladder.recommend(patient(age=age))
    assert list(rec.options) == options
    assert excluded(rec) == ({} if age == 55 else {"percutaneous_decompression": ("age_over_55",)})


@pytest.mark.parametrize("imaging", ["extrusion", "sequestration"])
def test_broken_through_herniation_suits_endoscopic_only(ladder, imaging):
    rec = ladder.recommend(patient(imaging=imaging))
    assert rec.step == "minimally_invasive"
    assert rec.options == ("endoscopic_discectomy",)
    assert rec.excluded == (
        Exclusion("percutaneous_decompression", ("herniation_broken_through",)),
    )


def test_bulging_disc_suits_percutaneous_only(ladder):
    rec = ladder.recommend(patient(imaging="bulging"))
    assert rec.options == ("percutaneous_decompression",)
    assert rec.excluded == (Exclusion("endoscopic_discectomy", ("bulging_only",)),)


@pytest.mark.parametrize("stenosis", ["lateral", "central"])
def test_stenosis_rules_out_both_minimally_invasive_methods(ladder, stenosis):
    rec = ladder.recommend(patient(stenosis=stenosis))
    assert rec.step == "surgical"
    assert rec.options == ("fenestration_discectomy",)
    assert excluded(rec)["percutaneous_decompression"] == ("stenosis",)
    assert excluded(rec)["endoscopic_discectomy"] == ("stenosis",)


def test_s3_huge_herniation_rules_out_both_and_suits_fenestration_before_elastic_fixation(ladder):
    rec = ladder.recommend(patient(huge_herniation="yes"))
    assert rec.step == "surgical"
    assert rec.options == ("fenestration_discectomy", "elastic_fixation")
    assert excluded(rec)["percutaneous_decompression"] == ("huge_herniation",)
    assert excluded(rec)["endoscopic_discectomy"] == ("huge_herniation",)


def test_instability_rules_out_both_and_suits_fusion(ladder):
    rec = ladder.recommend(patient(instability="yes"))
    assert rec.step == "surgical"
    assert rec.options == ("decompression_fusion",)
    assert excluded(rec)["percutaneous_decompression"] == ("instability",)
    assert excluded(rec)["endoscopic_discectomy"] == ("instability",)


def test_every_percutaneous_reason_at_once_in_file_order(ladder):
    facts = patient(
        age=70,
        stenosis="central",
        imaging="sequestration",
        huge_herniation="yes",
        instability="yes",
        previous_procedure="minimally_invasive",
    )
    assert excluded(ladder.recommend(facts))["percutaneous_decompression"] == (
        "age_over_55",
        "stenosis",
        "herniation_broken_through",
        "huge_herniation",
        "instability",
        "after_failed_procedure",
    )


def test_every_endoscopic_reason_at_once_in_file_order(ladder):
    facts = patient(
        imaging="bulging",
        stenosis="lateral",
        huge_herniation="yes",
        instability="yes",
        previous_procedure="open_surgery",
    )
    assert excluded(ladder.recommend(facts))["endoscopic_discectomy"] == (
        "bulging_only",
        "stenosis",
        "huge_herniation",
        "instability",
        "after_failed_procedure",
    )


# --- surgical methods -------------------------------------------------------------------------


def test_surgical_step_lists_every_unsuitable_method_below_it(ladder):
    rec = ladder.recommend(patient(age=60, stenosis="lateral"))
    assert rec.to_json() == {
        "disposition": "routine",
        "step": "surgical",
        "options": ["fenestration_discectomy"],
        "excluded": [
            {"method": "percutaneous_decompression", "reasons": ["age_over_55", "stenosis"]},
            {"method": "endoscopic_discectomy", "reasons": ["stenosis"]},
            {"method": "decompression_fusion", "reasons": ["no_instability"]},
            {
                "method": "hybrid_fusion_elastic",
                "reasons": ["no_instability", "no_adjacent_degeneration"],
            },
            {"method": "elastic_fixation", "reasons": ["no_huge_herniation"]},
        ],
        "next": None,
        "followup_weeks": [2, 6, 12],
        "alerts": [],
    }
    assert rec.why == ("course_not_enough",)


@pytest.mark.parametrize("imaging", ["protrusion", "extrusion", "sequestration"])
@pytest.mark.parametrize("previous", ["minimally_invasive", "open_surgery"])
def test_fenestration_for_a_herniation_after_a_failed_procedure(ladder, imaging, previous):
    rec = ladder.recommend(patient(imaging=imaging, previous_procedure=previous))
    assert rec.step == "surgical"
    assert rec.options == ("fenestration_discectomy",)
    assert "after_failed_procedure" in excluded(rec)["percutaneous_decompression"]
    assert "after_failed_procedure" in excluded(rec)["endoscopic_discectomy"]


def test_open_surgery_starts_at_the_surgical_rung_even_when_mi_would_suit(ladder):
    rec = ladder.recommend(patient(previous_procedure="open_surgery"))
    assert rec.step == "surgical"
    assert rec.why == ("course_not_enough",)
    assert rec.excluded[:2] == (
        Exclusion("percutaneous_decompression", ("after_failed_procedure",)),
        Exclusion("endoscopic_discectomy", ("after_failed_procedure",)),
    )


def test_fenestration_needs_stenosis_a_huge_herniation_or_a_failed_procedure(ladder):
    rec = ladder.recommend(patient(age=60, imaging="bulging"))
    assert rec.step == "specialist_review"
    assert excluded(rec)["fenestration_discectomy"] == ("needs_stenosis_huge_or_failed_procedure",)
    huge = ladder.recommend(patient(age=60, imaging="bulging", huge_herniation="yes"))
    assert huge.options == ("fenestration_discectomy", "elastic_fixation")


def test_fenestration_not_for_a_bulging_disc_after_a_failed_procedure(ladder):
    rec = ladder.recommend(patient(imaging="bulging", previous_procedure="minimally_invasive"))
    assert excluded(rec)["fenestration_discectomy"] == ("needs_stenosis_huge_or_failed_procedure",)


def test_fenestration_not_with_instability(ladder):
    rec = ladder.recommend(patient(stenosis="central", instability="yes"))
    assert rec.options == ("decompression_fusion",)
    assert excluded(rec)["fenestration_discectomy"] == ("instability",)


def test_fusion_needs_instability(ladder):
    rec = ladder.recommend(patient(stenosis="lateral"))
    assert excluded(rec)["decompression_fusion"] == ("no_instability",)


def test_hybrid_listed_after_decompression_fusion(ladder):
    rec = ladder.recommend(patient(instability="yes", adjacent_degeneration="yes"))
    assert rec.options == ("decompression_fusion", "hybrid_fusion_elastic")
    assert rec.next is None


def test_hybrid_needs_adjacent_degeneration(ladder):
    rec = ladder.recommend(patient(instability="yes"))
    assert excluded(rec)["hybrid_fusion_elastic"] == ("no_adjacent_degeneration",)


def test_hybrid_needs_instability(ladder):
    rec = ladder.recommend(patient(stenosis="lateral", adjacent_degeneration="yes"))
    assert excluded(rec)["hybrid_fusion_elastic"] == ("no_instability",)


def test_elastic_fixation_not_with_instability(ladder):
    rec = ladder.recommend(patient(huge_herniation="yes", instability="yes"))
    assert rec.options == ("decompression_fusion",)
    assert excluded(rec)["elastic_fixation"] == ("instability",)


def test_surgical_options_simplest_first(ladder):
    rec = ladder.recommend(patient(stenosis="lateral", huge_herniation="yes"))
    assert rec.options == ("fenestration_discectomy", "elastic_fixation")


# --- nothing suits ----------------------------------------------------------------------------


def test_no_method_suits_means_specialist_review(ladder):
    rec = ladder.recommend(patient(age=60, imaging="bulging"))
    assert rec.to_json() == {
        "disposition": "routine",
        "step": "specialist_review",
        "options": [],
        "excluded": [
            {"method": "percutaneous_decompression", "reasons": ["age_over_55"]},
            {"method": "endoscopic_discectomy", "reasons": ["bulging_only"]},
            {
                "method": "fenestration_discectomy",
                "reasons": ["needs_stenosis_huge_or_failed_procedure"],
            },
            {"method": "decompression_fusion", "reasons": ["no_instability"]},
            {
                "method": "hybrid_fusion_elastic",
                "reasons": ["no_instability", "no_adjacent_degeneration"],
            },
            {"method": "elastic_fixation", "reasons": ["no_huge_herniation"]},
        ],
        "next": None,
        "followup_weeks": [2, 6, 12],
        "alerts": [],
    }
    assert rec.why == ("course_not_enough", "no_method_suits")


def test_no_method_suits_after_open_surgery(ladder):
    rec = ladder.recommend(patient(imaging="bulging", previous_procedure="open_surgery"))
    assert rec.step == "specialist_review"
    assert rec.why == ("course_not_enough", "no_method_suits")
    assert excluded(rec)["percutaneous_decompression"] == ("after_failed_procedure",)
    assert excluded(rec)["endoscopic_discectomy"] == ("bulging_only", "after_failed_procedure")
    assert [entry.method for entry in rec.excluded] == MI + SURGICAL


# --- the third edition: sudden weakness, more urgent signs, report details, adherence ---------


def test_s2_sudden_or_severe_weakness_is_an_emergency_and_slow_weakness_urgent(ladder):
    sudden = ladder.recommend(patient(severe_weakness="yes"))
    slow = ladder.recommend(patient(leg_weakness="yes"))
    assert (sudden.disposition, sudden.flags) == ("emergency", ("severe_weakness",))
    assert (slow.disposition, slow.flags) == ("urgent", ("leg_weakness",))
    assert ladder.flags_of("emergency") == tuple(EMERGENCY_FLAGS)
    assert ladder.flags_of("urgent") == tuple(URGENT_FLAGS)


@pytest.mark.parametrize("answer", ["yes", "not_sure"])
def test_s2_other_warning_signs_are_urgent_and_not_sure_counts_as_yes(ladder, answer):
    rec = ladder.recommend(patient(other_warning_signs=answer))
    assert rec.disposition == "urgent"
    assert rec.flags == ("other_warning_signs",)
    assert rec.alerts == (("not_sure",) if answer == "not_sure" else ())


@pytest.mark.parametrize(("answer", "step", "alerts"), [
    ("yes", "specialist_review", ("pregnancy",)),
    ("not_sure", "specialist_review", ("pregnancy",)),
    ("no", "minimally_invasive", ()),
    ("does_not_apply", "minimally_invasive", ()),
])
def test_s3_pregnancy_not_sure_counts_as_yes_and_does_not_apply_is_no_pregnancy(
    ladder, answer, step, alerts
):
    rec = ladder.recommend(patient(pregnant=answer))
    assert rec.step == step
    assert rec.alerts == alerts


@pytest.mark.parametrize("detail", [
    {"stenosis": "not_sure"},
    {"instability": "not_sure"},
    {"huge_herniation": "not_sure"},
    {"instability": "yes", "adjacent_degeneration": "not_sure"},
])
def test_s3_a_report_detail_not_sure_is_review_for_report_details_unknown_not_an_mri(
    ladder, detail
):
    rec = ladder.recommend(patient(imaging="extrusion", **detail))
    assert rec.step == "specialist_review"
    assert rec.options == ()
    assert rec.why == ("course_not_enough", "report_details_unknown")
    assert "no_imaging" not in rec.why


def test_s3_a_report_detail_not_sure_on_conservative_care_changes_nothing(ladder):
    rec = ladder.recommend(patient(conservative_course="none", stenosis="not_sure"))
    assert rec.step == "conservative"
    assert rec.why == ("no_course_yet",)


@pytest.mark.parametrize(("adherence", "alerts"), [
    ("no", ("not_following",)), ("partly", ()), ("yes", ()), (None, ()),
])
def test_s5_the_not_following_alert_is_for_adherence_no_only(ladder, adherence, alerts):
    assert ladder.recommend(patient(adherence=adherence)).alerts == alerts
