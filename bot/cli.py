"""The ``ldh-bot`` command: run, chat, simulate, check, graph, bench, forget."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from bot.content import DIALOGUE_NAMES, DIALOGUES_DIR, check_content, load_content
from bot.dialogue.problems import DialogueError
from bot.dialogue.texts import LANGUAGES
from bot.storage.base import StorageError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _check(args: argparse.Namespace) -> int:
    """Validate the dialogue files; list every problem with file and line."""
    problems = check_content(Path(args.directory))
    if not problems:
        print(f"{args.directory}: all dialogue files are valid")
        return EXIT_OK
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) found", file=sys.stderr)
    return EXIT_PROBLEMS


def _graph(args: argparse.Namespace) -> int:
    """Draw a dialogue from its YAML."""
    from bot.dialogue.graph import GraphError, render  # noqa: PLC0415  # only this command needs it

    content = load_content()
    try:
        data = render(content.engines[args.dialogue].dialogue, args.format)
    except GraphError as error:
        print(f"ldh-bot graph: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as error:
            print(f"ldh-bot graph: cannot write {args.output}: {error.strerror or error}",
                  file=sys.stderr)
            return EXIT_PROBLEMS
    else:
        sys.stdout.buffer.write(data)
    return EXIT_OK


def _simulate(args: argparse.Namespace) -> int:
    """Play the real dialogue from a facts file and print the JSON result."""
    from bot.config import (  # noqa: PLC0415  # keeps start-up light
        SettingsError,
        emergency_number,
        urgent_contact,
    )
    from bot.simulator import SimulationError, parse_checkin, simulate  # noqa: PLC0415

    try:
        facts = json.loads(Path(args.facts).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        print(f"ldh-bot simulate: cannot read {args.facts}: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(facts, dict):
        print(f"ldh-bot simulate: {args.facts} must hold one JSON object", file=sys.stderr)
        return EXIT_USAGE
    try:
        # Optional here, as for chat: unset, the texts say "your local emergency number" and
        # name no urgent contact.
        number, contact = emergency_number(), urgent_contact()
    except SettingsError as error:
        print(f"ldh-bot simulate: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        checkins = [parse_checkin(raw) for raw in args.checkin]
        content = load_content(emergency_number=number, urgent_contact=contact)
        result = simulate(content, facts, args.lang, checkins)
    except SimulationError as error:
        print(f"ldh-bot simulate: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return EXIT_OK


def _chat(args: argparse.Namespace) -> int:
    """The conversation in this terminal, stored like the bot stores it."""
    from bot.channels.console import run_console  # noqa: PLC0415  # only this command needs it

    return run_console(language=args.lang, database_url=_database(args), patient=args.patient)


def _run(args: argparse.Namespace) -> int:
    """Serve patients on Telegram."""
    del args
    from bot.channels.telegram.app import main as run_telegram  # noqa: PLC0415  # heavy import

    return run_telegram()


def _forget(args: argparse.Namespace) -> int:
    """Delete everything kept about one patient (a data-erasure request)."""
    import asyncio  # noqa: PLC0415  # only this command needs these

    from bot.clinic.erasure import erase_in, report  # noqa: PLC0415
    from bot.storage import StorageError  # noqa: PLC0415

    try:
        forgotten = asyncio.run(erase_in(_database(args), args.chat_id))
    except (StorageError, ValueError, OSError) as error:
        print(f"ldh-bot forget: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(report(args.chat_id, forgotten))
    return EXIT_OK if forgotten.anything else EXIT_PROBLEMS


def _bench(args: argparse.Namespace) -> int:
    """Measure the speed and memory targets on this machine."""
    from bot.bench import BenchError, run  # noqa: PLC0415  # only this command needs it

    if min(args.patients, args.conversations, args.rounds) < 1:
        print("ldh-bot bench: --patients, --conversations and --rounds must be at least 1",
              file=sys.stderr)
        return EXIT_USAGE
    if args.database is not None and not args.database.startswith(("postgresql://",
                                                                       "postgres://")):
        print("ldh-bot bench: --database takes a PostgreSQL URL (postgresql://...); "
              "SQLite is always measured", file=sys.stderr)
        return EXIT_USAGE
    try:
        return run(args.patients, args.conversations, args.rounds, as_json=args.json,
                   database=args.database)
    except BenchError as error:
        print(f"ldh-bot bench: {error}", file=sys.stderr)
        return EXIT_PROBLEMS


def _export_data(args: argparse.Namespace) -> int:
    """Write everything kept about one patient (a data request) as JSON, CSV or FHIR."""
    from bot.clinic import export_data  # noqa: PLC0415  # only this command needs it

    chat_id = export_data.chat_id_argument(args.chat_id)
    if chat_id is None:
        print(f"ldh-bot export-data: CHAT_ID must be a whole number, not {args.chat_id!r}",
              file=sys.stderr)
        return EXIT_USAGE
    output = Path(args.output) if args.output else None
    return export_data.run(export_data.Request(chat_id, args.format, output, _database(args),
                                               args.lang))


def _version() -> str:
    """The installed version of the project."""
    try:
        return metadata.version("ldh-bot")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _settings_help() -> str:
    from bot.config import settings_help  # noqa: PLC0415
    from bot.ops.settings import RunSettings  # noqa: PLC0415  # pydantic only for run's help

    return settings_help(RunSettings)


class _Parser(argparse.ArgumentParser):
    """Argument faults in one line that points to ``--help``, not the whole usage."""

    def error(self, message: str) -> NoReturn:
        """Say what is wrong in one line and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


class UsageError(Exception):
    """A fault of the command line or its settings: one line, exit 2."""


def _database(args: argparse.Namespace) -> str:
    """``--database``, else ``LDH_DATABASE_URL``, else SQLite under ``LDH_DATA_DIR``: checked."""
    from bot.config import default_database_url, parse_database_url  # noqa: PLC0415  # light

    url: str = args.database or default_database_url()
    try:
        return parse_database_url(url)
    except ValueError as error:
        given = "--database" if args.database else "LDH_DATABASE_URL"
        raise UsageError(str(error).replace("LDH_DATABASE_URL", given, 1)) from None


def _dashboard_demo(args: argparse.Namespace) -> int:
    """Show the clinic's dashboard on 127.0.0.1 with made-up patients (no Telegram needed)."""
    from bot.channels.web.demo import main as demo  # noqa: PLC0415  # only this command needs it

    return demo(args.port)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ldh-bot",
        description="Screening and follow-up for lumbar disc herniation: information and "
        "triage for adults, not a diagnosis; the treating clinician decides.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {}

    def command(name: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        handlers[name] = handler
        sub = commands.add_parser(name, help=(handler.__doc__ or "").strip())
        sub.set_defaults(handler=handler)
        return sub

    run = command("run", _run)
    run.formatter_class = argparse.RawDescriptionHelpFormatter
    run.description = (
        "Serve patients on Telegram. Settings come from the environment, then from a file "
        "./.env (the environment wins); every fault is listed at once and exits 2.")
    run.epilog = "settings:\n" + _settings_help()
    chat = command("chat", _chat)
    chat.add_argument("--lang", choices=LANGUAGES, default=None,
                      help="language of the conversation (default: the stored one, else en)")
    chat.add_argument("--database", default=None,
                      help="database URL (default: LDH_DATABASE_URL or SQLite under ./data)")
    chat.add_argument("--patient", type=int, default=1, help="which local patient to resume")
    simulate = command("simulate", _simulate)
    simulate.add_argument("facts", help="JSON file of facts (clinical spec §1)")
    simulate.add_argument("--lang", choices=LANGUAGES, default="en")
    simulate.add_argument("--checkin", action="append", default=[],
                          metavar="WEEK:PAIN[:FACT=VALUE,...]",
                          help="play a check-in (repeatable, in order); FACT is adherence, "
                               "pregnant or a red flag")
    check = command("check", _check)
    check.add_argument("directory", nargs="?", default=str(DIALOGUES_DIR))
    graph = command("graph", _graph)
    graph.add_argument("dialogue", nargs="?", default="screening", choices=DIALOGUE_NAMES)
    graph.add_argument("--format", choices=("mermaid", "dot", "svg", "png"), default="mermaid")
    graph.add_argument("--output", "-o", help="file to write (default: standard output)")
    forget = command("forget", _forget)
    forget.add_argument("chat_id", type=int, metavar="CHAT_ID", help="the patient's chat id")
    forget.add_argument("--database", default=None,
                        help="database URL (default: LDH_DATABASE_URL or SQLite under ./data)")
    export = command("export-data", _export_data)
    export.add_argument("chat_id", metavar="CHAT_ID", help="the patient's chat id")
    export.add_argument("--format", choices=("json", "csv", "fhir"), default="json",
                        help="json: everything kept; csv, fhir: the screening as /export has it")
    export.add_argument("--output", "-o", help="file to write, owner-only (default: stdout)")
    export.add_argument("--database", default=None,
                        help="database URL (default: LDH_DATABASE_URL or SQLite under ./data)")
    export.add_argument("--lang", choices=LANGUAGES, default="en",
                        help="language of the FHIR answers' display texts")
    demo = command("dashboard-demo", _dashboard_demo)
    demo.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (default 8090)")
    bench = command("bench", _bench)
    bench.add_argument("--patients", type=int, default=100_000,
                       help="patients in the store the sizes marked 100k are measured at")
    bench.add_argument("--conversations", type=int, default=300,
                       help="screenings played through each timed session")
    bench.add_argument("--rounds", type=int, default=3,
                       help="runs of each session, interleaved; the best run counts")
    bench.add_argument("--json", action="store_true", help="print one JSON object, no table")
    bench.add_argument("--database", default=None,
                       help="also measure on this PostgreSQL database (postgresql://...), in "
                            "schemas of the bench's own that are dropped after")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): nothing more to say, and nobody to say it to.
        # Standard output goes to /dev/null so the interpreter's last flush stays quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PROBLEMS
    except Exception as error:
        if not isinstance(error, _FORESEEN) and _debugging():
            raise  # the whole traceback, for whoever asked for it
        text, code = _failure(error)
        print(f"ldh-bot {args.command}: {text}", file=sys.stderr)
        return code


# Faults with a message of their own; anything else is named by its type, one line too.
_FORESEEN = (DialogueError, UsageError, StorageError, OSError, ValueError)


def _debugging() -> bool:
    """``LDH_LOG_LEVEL=DEBUG``: an unforeseen error shows its traceback."""
    return os.environ.get("LDH_LOG_LEVEL", "").strip().upper() == "DEBUG"


def _failure(error: Exception) -> tuple[str, int]:
    """What a command that failed says, and its exit code: never a traceback."""
    if isinstance(error, DialogueError):
        return f"the dialogue files have problems:\n{error}", EXIT_PROBLEMS
    if isinstance(error, UsageError):
        return str(error), EXIT_USAGE
    if isinstance(error, StorageError):
        return _one_line(error), EXIT_PROBLEMS
    if isinstance(error, _FORESEEN):
        return f"{type(error).__name__}: {_one_line(error)}", EXIT_PROBLEMS
    return (f"unexpected {type(error).__name__}: {_one_line(error)} "
            "(LDH_LOG_LEVEL=DEBUG shows where)"), EXIT_PROBLEMS


def _one_line(error: BaseException) -> str:
    """An error's message on one line (libpq's, for one, adds a hint on a second)."""
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
