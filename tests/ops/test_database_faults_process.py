"""Fault injection under a running ``ldh-bot run``: its PostgreSQL database dropped and re-created.

The bot must notice (``/healthz`` 503, storage errors counted) while it cannot serve, and come
back by itself on the next use, without a restart: the store's tables and the shared pacer's
tables and functions re-made by one path, the next clinic notification and the next reminder
delivered, paced (the stand-in answers 429 beyond Telegram's limits, and none is met).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from support.botapi_standin import StandIn
from support.botapi_state import RateLimits
from support.instances import seed_reminders
from support.storage_backends import PG_URL

pytestmark = pytest.mark.slow

TIMEOUT = 60.0


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def fault_database() -> Iterator[tuple[str, str]]:
    """A database of its own (never the shared ``test``), dropped afterwards: (name, URL)."""
    name = f"ldh_fault_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    finally:
        _drop(name)


def _drop(name: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        address = f"http://127.0.0.1:{port}{path}"
        with urllib.request.urlopen(address, timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read().decode()
    except OSError:
        return 0, ""


def _until(predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _storage_errors(port: int) -> float:
    _, text = _get(port, "/metrics")
    line = next(x for x in text.splitlines() if x.startswith('ldh_errors_total{kind="storage"}'))
    return float(line.split()[-1])


def test_a_database_recreated_under_the_bot_is_noticed_and_served_again(
    standin: StandIn, fault_database: tuple[str, str], tmp_path: Path
) -> None:
    name, url = fault_database
    ops = _free_port()
    clinic = standin.new_group("Spine clinic")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": standin.token, "LDH_EMERGENCY_NUMBER": "999",
           "LDH_TELEGRAM_API_URL": standin.base_url, "LDH_DATA_DIR": str(tmp_path),
           "LDH_DATABASE_URL": url, "LDH_CLINIC_CHAT_ID": str(clinic.chat_id),
           "LDH_OPS_LISTEN": f"127.0.0.1:{ops}"}
    for setting in ("LDH_WEBHOOK_URL", "LDH_WEBHOOK_LISTEN", "LDH_WEBHOOK_SECRET",
                    "LDH_SEND_RATE", "LDH_STAFF_IDS"):
        env.pop(setting, None)
    log_path = tmp_path / "bot.log"
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env,
                           stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    try:
        _until(lambda: _get(ops, "/healthz")[0] == 200, "the bot to be ready")
        standin.enable_rate_limits(RateLimits())
        errors_before = _storage_errors(ops)

        # The database vanishes: /healthz must say so while nothing can be stored or sent.
        _drop(name)
        _until(lambda: _get(ops, "/healthz")[0] == 503, "/healthz to report the fault", 20)
        status, body = _get(ops, "/healthz")
        assert status == 503, body
        assert json.loads(body)["status"] == "unavailable"
        assert _storage_errors(ops) > errors_before

        # Re-created empty, as an operator restoring a server would: no restart of the bot.
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        _until(lambda: _get(ops, "/healthz")[0] == 200, "/healthz to recover")

        # The next clinic notification (a red flag answered yes) and the next reminder arrive.
        patient = standin.new_user("Pat")
        standin.send_text(patient, "/start")
        question = standin.wait_for(
            lambda: next((m for m in standin.messages(patient) if m.reply_markup), None),
            timeout=TIMEOUT)
        buttons = [b["callback_data"] for row in question.reply_markup["inline_keyboard"]  # type: ignore[index]  # a keyboard was shown
                   for b in row]
        standin.press(patient, question.message_id, next(b for b in buttons
                                                         if b.endswith(":yes")))
        reader = standin.new_user("Reader")
        seed_reminders(url, [reader.chat_id])
        standin.wait_for(lambda: standin.messages(clinic), timeout=TIMEOUT)
        standin.wait_for(lambda: standin.messages(reader), timeout=TIMEOUT)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=30)

    assert standin.too_many_requests == 0
    with psycopg.connect(url) as db:
        paced = {row[0] for row in db.execute("SELECT chat_id FROM pacer_chats")}
    # Booked in the re-made pacer tables: paced, not sent around a missing pacer.
    assert {clinic.chat_id, reader.chat_id, patient.chat_id} <= paced
    log = log_path.read_text(encoding="utf-8")
    assert "unpaced" not in log
    assert "Traceback" not in log
    assert bot.returncode == 0
