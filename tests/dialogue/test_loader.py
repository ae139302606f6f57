"""What ``ldh-bot check`` finds: one broken copy of the shipped dialogues per kind of fault.

Each case copies the real ``dialogues/`` folder, changes one file with a string replacement and
expects exactly the problem it introduced: the file, the line and a plain sentence.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content import DIALOGUES_DIR, check_content, load_content
from bot.dialogue.problems import DialogueError, Problem


@pytest.fixture
def dialogues(tmp_path: Path) -> Path:
    copy = tmp_path / "dialogues"
    shutil.copytree(DIALOGUES_DIR, copy)
    return copy


def edit(directory: Path, name: str, old: str, new: str) -> Path:
    """Replace the one occurrence of ``old`` in ``directory/name``; return the file."""
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def line_of(path: Path, marker: str) -> int:
    """The 1-based number of the one line of ``path`` that contains ``marker``."""
    found = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if marker in line]
    assert len(found) == 1, f"{marker!r} is on lines {found} of {path.name}"
    return found[0]


def line_text(path: Path, marker: str) -> str:
    """The whole line (with its newline) of ``path`` that contains ``marker``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    return lines[line_of(path, marker) - 1]


def test_the_shipped_dialogues_have_no_problems() -> None:
    assert check_content(DIALOGUES_DIR) == []


def test_an_unchanged_copy_has_no_problems(dialogues: Path) -> None:
    assert check_content(dialogues) == []


def test_a_problem_reads_as_file_line_sentence(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "on_enter: [recommend]", "on_enter: [advise]")

    (problem,) = check_content(dialogues)

    assert str(problem) == f"{path}:{problem.line}: {problem.message}"
    with pytest.raises(DialogueError) as raised:
        load_content(dialogues)
    assert raised.value.problems == [problem]
    assert str(problem) in str(raised.value)


def test_yaml_syntax_error(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "    ask: leg_pain\n", "    ask: leg: pain\n")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "ask: leg: pain"), "mapping values are not allowed here"),
    ]


def test_duplicate_key(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "  leg_pain:\n    ask: leg_pain\n",
                "  leg_pain:\n    ask: leg_pain\n    ask: first_episode\n")
    first = line_of(path, "ask: leg_pain")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "ask: first_episode"),
                f"duplicate key 'ask' (first defined on line {first})"),
    ]


def test_duplicate_state(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "  result:\n",
                "  fever:\n    ask: fever\n    next:\n      - {to: result}\n  result:\n")
    lines = [n for n, text in enumerate(path.read_text().splitlines(), 1) if text == "  fever:"]

    assert check_content(dialogues) == [
        Problem(path, lines[1], f"duplicate key 'fever' (first defined on line {lines[0]})"),
    ]


def test_unknown_key_in_a_state(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "    buttons: false\n", "    button: false\n")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "button: false"), "unknown key 'button' in 'states.age'"),
    ]


def test_a_route_without_its_target(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "- {to: result, when: {fever: [yes, not_sure]}}",
                "- {to: rsult, when: {fever: [yes, not_sure]}}")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "rsult"),
                "state 'fever' goes to 'rsult', which is not defined"),
    ]


def test_a_condition_on_an_undeclared_fact(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "when: {fever: [yes, not_sure]}",
                "when: {fevers: [yes, not_sure]}")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "fevers"),
                "state 'fever': condition refers to undeclared fact 'fevers'"),
    ]


def test_a_condition_with_a_value_the_fact_cannot_take(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "when: {imaging: [none, unknown]}",
                "when: {imaging: [none, unclear]}")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "unclear"),
                "state 'imaging': fact 'imaging' cannot take the value 'unclear'"),
    ]


def test_a_number_compared_with_a_word(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "when: {age: {lt: 18}}", "when: {age: adult}")

    (problem,) = check_content(dialogues)

    assert (problem.path, problem.line) == (path, line_of(path, "age: adult"))
    assert problem.message == "state 'age': fact 'age' cannot take the value 'adult'"


def test_an_unknown_guard(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "{guard: step_up_due}", "{guard: step_up_now}")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "step_up_now"),
                "state 'imaging_due': unknown guard 'step_up_now' (known guards: step_up_due)"),
    ]


def test_an_unknown_action(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "on_enter: [recommend]", "on_enter: [advise]")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "on_enter: [advise]"),
                "state 'result' names unknown action 'advise' (known: checkin_outcome, recommend)"),
    ]


def test_a_dotted_python_path_is_not_an_action(dialogues: Path) -> None:
    edit(dialogues, "screening.yaml", "on_enter: [recommend]", "on_enter: [os.system]")

    (problem,) = check_content(dialogues)

    assert "unknown action 'os.system'" in problem.message


def test_a_text_missing_in_one_language(dialogues: Path) -> None:
    zh = dialogues / "texts" / "zh.yaml"
    en = dialogues / "texts" / "en.yaml"
    key_line = line_of(en, "  back_done:")
    edit(dialogues, "texts/zh.yaml", line_text(zh, "  back_done:"), "")

    assert check_content(dialogues) == [
        Problem(en, key_line, "text 'app.back_done' has no zh version"),
    ]


def test_a_question_text_missing_in_one_language(dialogues: Path) -> None:
    zh = dialogues / "texts" / "zh.yaml"
    en = dialogues / "texts" / "en.yaml"
    screening = dialogues / "screening.yaml"
    edit(dialogues, "texts/zh.yaml", line_text(zh, '  age: "您今年'), "")

    problems = check_content(dialogues)

    assert Problem(en, line_of(en, '  age: "How old'), "text 'q.age' has no zh version") in problems
    assert Problem(screening, line_of(screening, "ask: age"),
                   "text 'q.age' is missing from the text files of some language") in problems
    assert len(problems) == 2


def test_a_text_only_in_the_second_language(dialogues: Path) -> None:
    zh = edit(dialogues, "texts/zh.yaml", "  back_done:", '  back_gone: "多余"\n  back_done:')

    assert check_content(dialogues) == [
        Problem(zh, line_of(zh, "back_gone"), "text 'app.back_gone' has no en version"),
    ]


def test_placeholders_that_differ_between_languages(dialogues: Path) -> None:
    zh = edit(dialogues, "texts/zh.yaml", "请输入{min}到{max}", "请输入{minimum}到{max}")

    assert check_content(dialogues) == [
        Problem(zh, line_of(zh, "{minimum}"),
                "text 'app.hint.number' uses placeholders ['max', 'minimum'] "
                "but the en version uses ['max', 'min']"),
    ]


def test_an_unreachable_state(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "  result:\n",
                "  orphan:\n    ask: fever\n    next:\n      - {to: result}\n  result:\n")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "orphan:"),
                "state 'orphan' cannot be reached from 'saddle_numbness'"),
    ]


def test_a_dead_end_state(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "    next:\n      - {to: leg_pain}\n", "")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "  pregnant:"),
                "state 'pregnant' is a dead end: give it 'next' or mark it 'final'"),
    ]


def test_a_last_route_with_a_condition(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "      - {to: pain_score}\n",
                "      - {to: pain_score, when: {leg_pain: yes}}\n")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "{to: pain_score, when"),
                "the last route of state 'leg_pain' must have no 'when', "
                "so the patient is never stuck"),
    ]


def test_asking_an_undeclared_fact(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "    ask: leg_pain\n", "    ask: sciatica\n")

    assert check_content(dialogues) == [
        Problem(path, line_of(path, "ask: sciatica"),
                "state 'leg_pain' asks undeclared fact 'sciatica'"),
    ]


def test_every_problem_is_reported_not_only_the_first(dialogues: Path) -> None:
    path = edit(dialogues, "screening.yaml", "on_enter: [recommend]", "on_enter: [advise]")
    edit(dialogues, "screening.yaml", "{guard: step_up_due}", "{guard: step_up_now}")

    problems = check_content(dialogues)

    assert [p.line for p in problems] == sorted(
        [line_of(path, "step_up_now"), line_of(path, "[advise]")]
    )
