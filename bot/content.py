"""Everything in ``dialogues/`` loaded, cross-checked and ready to run."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.clinical import guards
from bot.clinical.ladder import Ladder
from bot.clinical.ladder_loader import load_ladder
from bot.dialogue.answers import Vocabulary, load_vocabulary
from bot.dialogue.conditions import FactDomain
from bot.dialogue.engine import Engine
from bot.dialogue.facts import load_fact_domains
from bot.dialogue.loader import load_dialogue
from bot.dialogue.problems import DialogueError, Problem
from bot.dialogue.registry import Registry
from bot.dialogue.texts import Catalog, load_catalog
from bot.dialogue.yamlio import YamlError

# An installed package (e.g. in a container) is told where the dialogues are.
DIALOGUES_DIR = Path(
    os.environ.get("LDH_DIALOGUES_DIR") or Path(__file__).resolve().parent.parent / "dialogues"
)
DIALOGUE_NAMES = ("screening", "followup")


@dataclass(frozen=True)
class Content:
    """The loaded dialogues with their engines, texts, vocabulary and ladder."""

    directory: Path
    domains: Mapping[str, FactDomain]
    catalog: Catalog
    vocabulary: Vocabulary
    ladder: Ladder
    engines: Mapping[str, Engine]
    # A content hash of every file in dialogues/: which version asked a recorded answer.
    fingerprint: str


def check_content(directory: Path = DIALOGUES_DIR) -> list[Problem]:
    """Every problem in the dialogue files, each with file and line; empty when all is well."""
    try:
        load_content(directory)
    except DialogueError as error:
        return error.problems
    return []


def load_content(
    directory: Path = DIALOGUES_DIR,
    *,
    emergency_number: str | None = None,
    urgent_contact: str | None = None,
) -> Content:
    """Load and check all dialogue files; DialogueError lists every problem found.

    ``emergency_number`` is the clinic's (LDH_EMERGENCY_NUMBER); without it every text says
    "your local emergency number" in its own language. ``urgent_contact`` (LDH_URGENT_CONTACT)
    is where a patient with an urgent sign goes today; without it, "your doctor or an urgent
    care service".
    """
    try:
        domains = load_fact_domains(directory)
        vocabulary = load_vocabulary(directory)
        ladder = load_ladder(directory)
    except YamlError as error:
        raise DialogueError([Problem(error.path, error.line, error.message)]) from error
    catalog, problems = load_catalog(directory)
    catalog = catalog.with_emergency_number(emergency_number).with_urgent_contact(urgent_contact)
    problems.extend(_ladder_texts(ladder, catalog))
    # The engine knows no clinical name; the clinical layer registers its own.
    registry = guards.register(Registry(), ladder)
    # Which questions are red flags, and what they lead to, is the ladder's to say.
    red_flags = {flag.code: d.id for d in ladder.dispositions for flag in d.red_flags}
    version = fingerprint(directory)
    engines: dict[str, Engine] = {}
    for name in DIALOGUE_NAMES:
        dialogue, found = load_dialogue(directory / f"{name}.yaml", domains, catalog, registry,
                                        vocabulary)
        problems.extend(found)
        if dialogue is not None:
            engines[name] = Engine(dialogue, domains, vocabulary, catalog, registry,
                                   red_flags=red_flags, fingerprint=version)
    if problems:
        raise DialogueError(sorted(set(problems)))
    return Content(directory, domains, catalog, vocabulary, ladder, engines, version)


def fingerprint(directory: Path) -> str:
    """A short SHA-256 over the names and bytes of every file under ``directory``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _ladder_texts(ladder: Ladder, catalog: Catalog) -> list[Problem]:
    """Every method, step and reason the ladder can name must have text in every language."""
    path = ladder.path
    needed = [f"method.{m}.{part}" for m in ladder.method_ids
              for part in ("name", "what", "suits", "pros", "cons", "note")]
    needed += [f"reason.{code}" for code in ladder.reason_codes]
    needed += [f"step.{step}" for step in ladder.step_ids]
    needed += [f"why.{code}" for code in ladder.why_codes]
    needed += [f"flag.{code}" for code in ladder.flag_codes]
    needed += [f"rec.emergency_{part}.{code}" for code in ladder.flags_of("emergency")
               for part in ("meaning", "worry")]
    needed += [f"topic.{code}" for code in ladder.flag_codes]
    needed += [f"clinic.alert.{code}" for code in ladder.alert_codes]
    # An alert can be told to the clinic beside any disposition (e.g. an unclear red flag).
    needed += [f"clinic.{d.id}" for d in ladder.dispositions] + ["clinic.routine"]
    # not_sure is said with the red flags it concerns (rec.reported), the others on their own.
    needed += [f"alert.{code}" for code in ladder.alert_codes if code != "not_sure"]
    return [Problem(path, 1, f"text '{key}' is missing from the text files of some language")
            for key in needed if not catalog.has(key)]
