"""The hazard log (clinical spec §6) names tests that exist, and every hazard is complete."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "docs" / "clinical-safety" / "hazard-log.md"
TESTS = ROOT / "tests"
FIELDS = ("Cause", "Effect", "Before", "Mitigation", "After", "Status", "Tests")
_CITED_TEST = re.compile(r"`(test_\w+)`")
_CITED_STORY = re.compile(r"`(?:tests/scenarios/)?([a-z0-9_]+\.yaml)`")
_DEFINED = re.compile(r"^(?:async )?def (test_\w+)\(", re.MULTILINE)


def hazards() -> dict[str, str]:
    """Each hazard's heading and its text."""
    parts = re.split(r"^### ", LOG.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]
    return {part.splitlines()[0]: part for part in parts}


def defined_tests() -> set[str]:
    """Every test function in the test suite, by name."""
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        names |= set(_DEFINED.findall(path.read_text(encoding="utf-8")))
    return names


def test_s6_every_test_the_log_cites_exists() -> None:
    cited = set(_CITED_TEST.findall(LOG.read_text(encoding="utf-8")))
    assert len(cited) > 20
    assert sorted(cited - defined_tests()) == []


def test_s6_every_scenario_the_log_cites_exists() -> None:
    cited = set(_CITED_STORY.findall(LOG.read_text(encoding="utf-8")))
    assert cited
    assert sorted(name for name in cited if not (TESTS / "scenarios" / name).is_file()) == []


def test_s6_every_hazard_has_every_field_and_at_least_one_test() -> None:
    found = hazards()
    assert len(found) >= 12  # the twelve the clinical review named
    for heading, text in found.items():
        for field in FIELDS:
            assert f"- **{field}:**" in text, (heading, field)
        tests_part = text[text.index("- **Tests:**"):]
        assert _CITED_TEST.search(tests_part), heading
        for when in ("Before", "After"):
            line = next(line for line in text.splitlines() if line.startswith(f"- **{when}:**"))
            assert re.search(r"\u00d7 .+ \u2192 risk [1-5]", line), (heading, when)


def test_s6_the_log_names_the_hazards_the_clinical_review_found() -> None:
    headings = " ".join(hazards()).lower()
    for words in ("misread as no", "hedge", "unread answer", "going back", "emergency number",
                  "stale dialogue", "scan report", "sudden weakness", "both-leg",
                  "pregnancy", "not following", "reminder or clinic notification"):
        assert words in headings, words
