"""deploy/ gets an operator from a token to a service: checked here as far as this machine can.

The compose file and the systemd units are read for what they promise (every container has a
health check, no password is written in them, the state is owner-only); the compose file is
validated by Docker Compose and the Caddyfile by Caddy when they are installed; the backup
scripts are run against real databases and their backups restored.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict
from support.docker_context import context_files
from support.storage_backends import PG_URL

from bot.ops.settings import read_settings
from bot.storage import Patient, open_store

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PATIENT = Patient(chat_id=4242, language="zh", session={"state": "pain_score"})


def _compose() -> dict[str, dict[str, dict[str, object]]]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's settings; a key may repeat (Environment=)."""
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


# -- compose --------------------------------------------------------------------------------------


def test_every_container_has_a_health_check_and_the_bots_use_healthz() -> None:
    services = _compose()["services"]
    assert set(services) == {"bot-1", "bot-2", "db", "caddy", "backup"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    for bot in ("bot-1", "bot-2"):
        check = services[bot]["healthcheck"]
        assert isinstance(check, dict)
        assert "http://127.0.0.1:9090/healthz" in " ".join(check["test"])


def test_two_bot_replicas_serve_the_webhook_behind_caddy_on_443() -> None:
    services = _compose()["services"]
    for bot in ("bot-1", "bot-2"):
        environment = services[bot]["environment"]
        assert isinstance(environment, dict)
        assert str(environment["LDH_WEBHOOK_URL"]).startswith("https://${LDH_DOMAIN")
        assert environment["LDH_OPS_LISTEN"] == "0.0.0.0:9090"
        assert "ports" not in services[bot], "a bot is reached through Caddy only"
    assert "443:443" in services["caddy"]["ports"]  # type: ignore[operator]  # a list
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    assert "reverse_proxy bot-1:8443 bot-2:8443" in caddyfile
    assert "health_uri /healthz" in caddyfile


def test_no_password_is_written_in_the_compose_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    passwords = re.findall(r"^ +(?:POSTGRES_PASSWORD|PGPASSWORD): *(.+)$", text, re.MULTILINE)
    assert passwords
    assert all(p.strip('"').startswith("${POSTGRES_PASSWORD:?") for p in passwords), passwords
    assert re.search(r"postgresql://ldh:\$\{POSTGRES_PASSWORD:\?", text)


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False
    ).returncode == 0:
        return ["docker", "compose"]
    return None


def _filled_deploy(tmp_path: Path) -> Path:
    """deploy/ copied with a .env made from .env.example, its required secrets filled in."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    example = (copy / ".env.example").read_text(encoding="utf-8")
    filled = {"TELEGRAM_BOT_TOKEN": "123:abc", "POSTGRES_PASSWORD": "pw0123456789",
              "LDH_WEBHOOK_SECRET": "hook-secret", "LDH_DOMAIN": "bot.example.org",
              "LDH_EMERGENCY_NUMBER": "999"}
    for name, value in filled.items():
        example = example.replace(f"\n{name}=\n", f"\n{name}={value}\n")
    (copy / ".env").write_text(example, encoding="utf-8")
    return copy


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("Docker Compose is not installed here; the structure is checked above")
    copy = _filled_deploy(tmp_path)
    checked = subprocess.run([*command, "-f", str(copy / "compose.yaml"), "config"],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert "postgresql://ldh:pw0123456789@db:5432/ldh" in checked.stdout


def test_docker_compose_refuses_to_start_without_a_password(tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("Docker Compose is not installed here")
    copy = _filled_deploy(tmp_path)
    env_file = copy / ".env"
    env_file.write_text(env_file.read_text().replace("POSTGRES_PASSWORD=pw0123456789\n", ""))
    checked = subprocess.run([*command, "-f", str(copy / "compose.yaml"), "config"],
                             capture_output=True, text=True, check=False,
                             env={k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"})
    assert checked.returncode != 0
    assert "set POSTGRES_PASSWORD in deploy/.env" in checked.stderr


def test_docker_compose_refuses_the_example_until_the_domain_is_set(tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("Docker Compose is not installed here")
    copy = _filled_deploy(tmp_path)
    env_file = copy / ".env"
    env_file.write_text(env_file.read_text().replace("LDH_DOMAIN=bot.example.org\n",
                                                     "LDH_DOMAIN=\n"))
    checked = subprocess.run([*command, "-f", str(copy / "compose.yaml"), "config"],
                             capture_output=True, text=True, check=False,
                             env={k: v for k, v in os.environ.items() if k != "LDH_DOMAIN"})
    assert checked.returncode != 0
    assert "set LDH_DOMAIN in deploy/.env" in checked.stderr


def test_the_dashboard_is_served_by_both_replicas_behind_caddy() -> None:
    services = _compose()["services"]
    for bot in ("bot-1", "bot-2"):
        environment = services[bot]["environment"]
        assert isinstance(environment, dict)
        assert environment["LDH_DASHBOARD_LISTEN"] == "0.0.0.0:8090"
        assert str(environment["LDH_DASHBOARD_URL"]).startswith("https://${LDH_DOMAIN")
        assert str(environment["LDH_DASHBOARD_URL"]).endswith("}/")
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    assert "reverse_proxy bot-1:8090 bot-2:8090" in caddyfile
    assert "respond 404" not in caddyfile
    assert "path /telegram" in caddyfile  # the webhook's path is as it was


def test_caddy_accepts_the_caddyfile() -> None:
    if shutil.which("caddy") is None:
        pytest.skip("Caddy is not installed here")
    env = {**os.environ, "LDH_DOMAIN": "bot.example.org", "LDH_WEBHOOK_SECRET": "hook-secret"}
    adapted = subprocess.run(["caddy", "adapt", "--config", str(DEPLOY / "Caddyfile"),
                              "--adapter", "caddyfile"], capture_output=True, text=True,
                             env=env, check=False)
    assert adapted.returncode == 0, adapted.stderr
    assert '"dial":"bot-2:8443"' in adapted.stdout
    assert '"dial":"bot-2:8090"' in adapted.stdout


# -- systemd --------------------------------------------------------------------------------------


def test_the_systemd_unit_makes_its_user_and_owner_only_state() -> None:
    unit = _unit("ldh-bot.service")
    assert unit["DynamicUser"] == ["yes"]
    assert unit["StateDirectory"] == ["ldh-bot"]
    assert unit["StateDirectoryMode"] == ["0700"]
    assert unit["UMask"] == ["0077"]
    assert "LDH_DATA_DIR=/var/lib/ldh-bot" in unit["Environment"]
    assert "User" not in unit, "DynamicUser names the user after the unit"


def test_matplotlib_has_a_writable_folder_under_the_unit_and_in_the_image() -> None:
    unit = _unit("ldh-bot.service")
    assert unit["CacheDirectory"] == ["ldh-bot"]
    assert "MPLCONFIGDIR=/var/cache/ldh-bot" in unit["Environment"]
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "MPLCONFIGDIR=/var/cache/ldh-bot" in dockerfile
    assert "install -d -o ldh -g ldh -m 0700 /var/cache/ldh-bot" in dockerfile


def test_the_backup_unit_runs_as_the_bots_user_with_the_script_here() -> None:
    unit = _unit("ldh-bot-backup.service")
    assert unit["DynamicUser"] == ["yes"]
    assert unit["User"] == ["ldh-bot"]
    assert unit["UMask"] == ["0077"]
    assert "/opt/ldh-bot/deploy/sqlite-backup.py backup /var/lib/ldh-bot/ldh-bot.db" in (
        unit["ExecStart"][0])
    assert "OnCalendar" in _unit("ldh-bot-backup.timer")


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd is not installed here; the units' settings are checked above")
    names = ["ldh-bot.service", "ldh-bot-backup.service", "ldh-bot-backup.timer"]
    for name in names:
        shutil.copy(DEPLOY / name, tmp_path / name)
    checked = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in names)],
                             capture_output=True, text=True, check=False)
    # The project is not installed under /opt here: that is the one complaint allowed.
    complaints = [line for line in (checked.stdout + checked.stderr).splitlines()
                  if line and "is not executable: No such file or directory" not in line]
    assert complaints == []


# -- settings documentation -----------------------------------------------------------------------


def test_every_setting_the_code_reads_is_in_the_readme_and_env_example() -> None:
    read = set()
    for source in (ROOT / "bot").rglob("*.py"):
        read |= set(re.findall(r"\"(LDH_[A-Z_]+|TELEGRAM_BOT_TOKEN)\"", source.read_text()))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Settings for `ldh-bot run`"):]
    documented = set(re.findall(r"`(LDH_[A-Z_]+|TELEGRAM_BOT_TOKEN)`", table))
    assert read - documented == set(), "settings missing from README's table"
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    assert {name for name in documented if name not in example} == set()


def _example() -> dict[str, str]:
    """The assignments of .env.example (commented lines are not settings)."""
    found = {}
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            name, _, value = line.partition("=")
            found[name.strip()] = value.strip()
    return found


def test_the_env_example_sets_nothing_but_the_documented_defaults() -> None:
    example = _example()
    assert example["LDH_DOMAIN"] == "", "a domain that works by accident is someone else's"
    assert example["LDH_EMERGENCY_NUMBER"] == ""
    assert example["TELEGRAM_BOT_TOKEN"] == ""
    assert example["LDH_CLINIC_LANGUAGE"] == "en"
    assert example["LDH_TIMEZONE"] == "UTC"
    required = {"TELEGRAM_BOT_TOKEN": "123:abc", "LDH_EMERGENCY_NUMBER": "999"}
    settings = {k: v for k, v in example.items() if k.startswith("LDH_") and v}
    assert read_settings({**settings, **required}) == read_settings(required)


def test_secrets_and_backups_are_ignored_by_git() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for path in ("deploy/.env", "deploy/backups/ldh-bot-20250303T033000Z.dump", ".env",
                 "data/ldh-bot.db"):
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", path],
                                 check=False)
        assert ignored.returncode == 0, f"{path} is not git-ignored"
    kept = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q",
                           "deploy/.env.example"], check=False)
    assert kept.returncode == 1


# -- the image's build context --------------------------------------------------------------------

FORBIDDEN = (
    "deploy/.env", "deploy/backups/ldh-bot-20250303T033000Z.dump", "data/ldh-bot.db",
    "data/ldh-bot.db-wal", ".venv/bin/python", ".venv/lib/site.py", ".git/config", ".env",
    "bot/__pycache__/cli.cpython-311.pyc", "bot/.env", "dialogues/notes.db", "backups/x.dump",
)


def _copied_sources() -> list[str]:
    """What deploy/Dockerfile copies from the context (not from an earlier stage)."""
    sources = []
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources.extend(words[1:-1])
    return sources


def test_a_build_would_send_no_secret_backup_database_or_virtualenv(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    needed = ["pyproject.toml", "README.md", "bot/cli.py", "bot/storage/sqlite.py",
              "dialogues/screening.yaml", "dialogues/texts/en.yaml"]
    for path in [*FORBIDDEN, *needed, "deploy/Dockerfile", "tests/test_cli.py"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x", encoding="utf-8")

    sent = context_files(tmp_path)

    assert sent == set(needed)


def test_the_real_context_holds_what_the_image_copies_and_nothing_secret() -> None:
    sent = context_files(ROOT)
    sources = _copied_sources()
    assert sources == ["pyproject.toml", "README.md", "bot", "dialogues"]
    for source in sources:
        assert any(path == source or path.startswith(f"{source}/") for path in sent), source
    assert not [path for path in sent if path.startswith((".venv/", ".git/", "data/", "deploy/"))]
    assert not [path for path in sent if path.endswith((".env", ".db", ".dump", ".pyc"))]


# -- backups: SQLite ------------------------------------------------------------------------------


def _sqlite_script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DEPLOY / "sqlite-backup.py"), *map(str, args)],
                          capture_output=True, text=True, check=False)


async def _write_patient(url: str) -> None:
    store = open_store(url)
    await store.open()
    try:
        async with store.transaction(PATIENT.chat_id, NOW) as tx:
            await tx.save(PATIENT)
            await tx.enqueue("checkin", PATIENT.chat_id, {"week": 6}, NOW)
    finally:
        await store.close()


async def _read_patient(url: str) -> tuple[Patient | None, int]:
    store = open_store(url)
    await store.open()
    try:
        async with store.transaction(PATIENT.chat_id, NOW) as tx:
            patient = await tx.load()
        return patient, len(await store.pending(PATIENT.chat_id))
    finally:
        await store.close()


async def _backup_while_open(database: Path, backups: Path) -> subprocess.CompletedProcess[str]:
    """Run the backup while a store holds the database open, as the running bot does."""
    running = open_store(f"sqlite:///{database}")
    await running.open()
    try:
        return await asyncio.to_thread(_sqlite_script, "backup", database, backups)
    finally:
        await running.close()


def test_an_sqlite_backup_taken_while_the_bot_runs_restores_its_data(tmp_path: Path) -> None:
    database = tmp_path / "data" / "ldh-bot.db"
    asyncio.run(_write_patient(f"sqlite:///{database}"))
    made = asyncio.run(_backup_while_open(database, tmp_path / "backups"))
    assert made.returncode == 0, made.stderr
    copy = Path(made.stdout.strip().removeprefix("backup written: "))
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600, "a backup holds patient data"

    database.write_bytes(b"")  # the disaster: the database is lost
    restored = _sqlite_script("restore", copy, database)

    assert restored.returncode == 0, restored.stderr
    assert "the replaced file is kept as" in restored.stdout
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    patient, pending = asyncio.run(_read_patient(f"sqlite:///{database}"))
    assert patient is not None
    assert (patient.language, patient.session) == ("zh", {"state": "pain_score"})
    assert pending == 1


def test_a_damaged_backup_is_refused_and_the_database_left_alone(tmp_path: Path) -> None:
    database = tmp_path / "ldh-bot.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE kept (x)")
    damaged = tmp_path / "ldh-bot-damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    refused = _sqlite_script("restore", damaged, database)
    assert refused.returncode != 0
    assert "is not an intact database" in refused.stderr
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("kept",)]


def test_a_restore_after_a_crash_keeps_the_old_files_last_writes_with_it(tmp_path: Path) -> None:
    backup = tmp_path / "ldh-bot-backup.db"
    with sqlite3.connect(backup) as db:
        db.execute("CREATE TABLE from_backup (x)")
    live = tmp_path / "live.db"
    writer = sqlite3.connect(live)
    writer.execute("PRAGMA journal_mode=wal")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE last_writes (x)")
    writer.execute("INSERT INTO last_writes VALUES (1)")
    writer.commit()
    crashed = tmp_path / "data"  # the files as a killed process leaves them: the log not merged
    crashed.mkdir()
    shutil.copy(live, crashed / "ldh-bot.db")
    shutil.copy(f"{live}-wal", crashed / "ldh-bot.db-wal")
    writer.close()

    restored = _sqlite_script("restore", backup, crashed / "ldh-bot.db")

    assert restored.returncode == 0, restored.stderr
    with sqlite3.connect(crashed / "ldh-bot.db") as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("from_backup",)]
    kept = next(crashed.glob("ldh-bot.db.before-restore-*[0-9Z]"))
    with sqlite3.connect(kept) as db:
        assert db.execute("SELECT x FROM last_writes").fetchall() == [(1,)]


def test_old_sqlite_backups_are_pruned(tmp_path: Path) -> None:
    database = tmp_path / "ldh-bot.db"
    sqlite3.connect(database).close()
    backups = tmp_path / "backups"
    backups.mkdir()
    old = backups / "ldh-bot-20200101T000000Z.db"
    old.write_bytes(b"")
    os.utime(old, (0, 0))
    assert _sqlite_script("backup", database, backups, "--keep-days", "14").returncode == 0
    names = [p.name for p in backups.iterdir()]
    assert old.name not in names
    assert len(names) == 1


# -- backups: PostgreSQL --------------------------------------------------------------------------


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    """Two new, empty PostgreSQL databases (dropped afterwards): a live one and a spare."""
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("the PostgreSQL client tools are not installed here")
    names = [f"ldh_backup_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield names[0], names[1]
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq_env(database: str, backups: Path) -> dict[str, str]:
    info = conninfo_to_dict(PG_URL)
    env = {**os.environ, "PGDATABASE": database, "BACKUP_DIR": str(backups)}
    env.update({var: str(info[key]) for key, var in
                (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"),
                 ("password", "PGPASSWORD")) if info.get(key)})
    return env


def _url(database: str) -> str:
    info = conninfo_to_dict(PG_URL)
    user = info.get("user") or "postgres"
    return f"postgresql://{user}@{info.get('host')}:{info.get('port') or 5432}/{database}"


def _dumped(database: str, backups: Path) -> Path:
    """Run backup-postgres.sh on ``database``; the one dump it wrote into ``backups``."""
    made = subprocess.run(["sh", str(DEPLOY / "backup-postgres.sh")], capture_output=True,
                          text=True, env=_libpq_env(database, backups), check=False)
    assert made.returncode == 0, made.stderr
    dumps = list(backups.glob("ldh-bot-*.dump"))
    assert len(dumps) == 1
    return dumps[0]


def _restored(dump: Path, database: str) -> subprocess.CompletedProcess[str]:
    """Run restore-postgres.sh with ``dump`` into ``database``."""
    return subprocess.run(["sh", str(DEPLOY / "restore-postgres.sh"), str(dump)],
                          capture_output=True, text=True,
                          env=_libpq_env(database, dump.parent), check=False)


def test_a_postgresql_dump_restores_into_an_empty_database(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    source, spare = two_databases
    asyncio.run(_write_patient(_url(source)))
    dump = _dumped(source, tmp_path / "backups")
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600

    restored = _restored(dump, spare)

    assert restored.returncode == 0, restored.stderr
    patient, pending = asyncio.run(_read_patient(_url(spare)))
    assert patient is not None
    assert patient.session == {"state": "pain_score"}
    assert pending == 1


async def _save_patient(url: str, times: int) -> int:
    """Save the patient ``times`` times; the revision the last save gave them."""
    store = open_store(url)
    await store.open()
    try:
        for n in range(times):
            async with store.transaction(PATIENT.chat_id, NOW) as tx:
                await tx.save(replace(PATIENT, session={"n": n}))
    finally:
        await store.close()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT revision FROM patients WHERE chat_id = %s",
                           (PATIENT.chat_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_restore_never_gives_a_revision_again(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    """A running process may hold a revision given after the dump: the sequence goes on."""
    live, _ = two_databases
    asyncio.run(_write_patient(_url(live)))
    dump = _dumped(live, tmp_path / "backups")
    given_since = asyncio.run(_save_patient(_url(live), 5))

    restored = _restored(dump, live)

    assert restored.returncode == 0, restored.stderr
    assert asyncio.run(_save_patient(_url(live), 1)) > given_since


def test_restoring_needs_a_readable_dump() -> None:
    refused = subprocess.run(["sh", str(DEPLOY / "restore-postgres.sh"), "/nonexistent.dump"],
                             capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert refused.stderr.startswith("usage: restore-postgres.sh DUMP")
