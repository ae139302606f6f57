"""``ldh-bot run`` as an operator starts it: bad settings, a refused token, no network, ops.

Every start-up fault is one clear line, never a traceback, and the token is never printed.
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
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.botapi_standin import StandIn

pytestmark = pytest.mark.slow

TIMEOUT = 30.0
SECRET_HALF = "THISisTHEsecretPARTofTHEtoken"  # noqa: S105  # a test value, not a credential


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(standin: StandIn, tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": standin.token, "LDH_EMERGENCY_NUMBER": "999",
           "LDH_TELEGRAM_API_URL": standin.base_url, "LDH_DATA_DIR": str(tmp_path)}
    for name in ("LDH_DATABASE_URL", "LDH_SEND_RATE", "LDH_OPS_LISTEN", "LDH_LOG_FORMAT",
                 "LDH_WEBHOOK_URL"):
        env.pop(name, None)
    env.update(settings)
    return env


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "run"], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read().decode()


def _until(predicate: object, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():  # type: ignore[operator]  # a callable
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


def test_every_bad_setting_is_one_line_and_exit_2(standin: StandIn, tmp_path: Path) -> None:
    ran = _run(_env(standin, tmp_path, LDH_DATABASE_URL="foo://", LDH_SEND_RATE="fast"))
    assert ran.returncode == 2
    assert ran.stderr.splitlines() == [
        "ldh-bot run: cannot start:",
        "LDH_DATABASE_URL must be sqlite:///path.db or postgresql://user@host/db, not a 'foo' URL",
        "LDH_SEND_RATE must be messages per second, above 0 and at most 1000, not 'fast'",
    ]


def test_a_refused_token_is_one_line_without_its_secret_half(
    standin: StandIn, tmp_path: Path
) -> None:
    ran = _run(_env(standin, tmp_path, TELEGRAM_BOT_TOKEN=f"123456:{SECRET_HALF}"))
    assert ran.returncode == 2
    output = ran.stdout + ran.stderr
    assert SECRET_HALF not in output
    assert "Traceback" not in output
    assert output.strip().endswith(
        "Telegram refused the bot token 123456:[redacted]: check TELEGRAM_BOT_TOKEN with "
        "@BotFather")
    assert len(output.strip().splitlines()) == 1


def test_no_network_at_start_is_retried_with_one_line_each_and_health_says_starting(
    standin: StandIn, tmp_path: Path
) -> None:
    ops_port = _free_port()
    env = _env(standin, tmp_path, LDH_TELEGRAM_API_URL=f"http://127.0.0.1:{_free_port()}/bot",
               LDH_OPS_LISTEN=f"127.0.0.1:{ops_port}")
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=out,
                               stderr=out)
    try:
        _until(lambda: log.read_text().count("cannot reach Telegram") >= 2, "two retries")
        status, body = _get(ops_port, "/healthz")
        assert status == 503
        assert json.loads(body)["dispatcher"] == "starting"
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=20)
    assert bot.returncode == 0, "SIGTERM while waiting for Telegram is a clean stop"
    lines = log.read_text().splitlines()
    retries = [line for line in lines if "cannot reach Telegram" in line]
    assert retries[0].endswith(
        "cannot reach Telegram (NetworkError: httpx.ConnectError: All connection attempts "
        "failed); retrying in 1 s")
    assert retries[1].endswith("retrying in 2 s")
    assert "Traceback" not in log.read_text()


def test_polling_serves_health_metrics_and_json_logs(standin: StandIn, tmp_path: Path) -> None:
    ops_port = _free_port()
    env = _env(standin, tmp_path, LDH_OPS_LISTEN=f"127.0.0.1:{ops_port}",
               LDH_LOG_FORMAT="json")
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=out,
                               stderr=out)
    try:
        standin.wait_for(lambda: standin.calls_to("deleteWebhook"), timeout=TIMEOUT)
        _until(lambda: _get(ops_port, "/healthz")[0] == 200, "healthy")
        patient = standin.new_user("Pat")
        standin.send_text(patient, "/start")
        standin.wait_for(lambda: standin.last_bot_message(patient), timeout=TIMEOUT)
        _until(lambda: "ldh_updates_handled_total 1.0" in _get(ops_port, "/metrics")[1],
               "the update counted")
        _, metrics = _get(ops_port, "/metrics")
        assert "ldh_update_seconds_count 1.0" in metrics
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=20)
    assert bot.returncode == 0
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(entry["message"].startswith("ready:") for entry in entries)
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert str(patient.id) not in log.read_text(), "a chat id reached the log"


def test_a_database_that_cannot_be_opened_is_one_line_without_its_password(
    standin: StandIn, tmp_path: Path
) -> None:
    url = f"postgresql://ldh:{SECRET_HALF}@127.0.0.1:{_free_port()}/ldh"
    ran = _run(_env(standin, tmp_path, LDH_DATABASE_URL=url))
    assert ran.returncode == 1, "a supervisor restarts it; the database may be starting"
    output = (ran.stdout + ran.stderr).strip()
    assert len(output.splitlines()) == 1, output
    assert "cannot open the database: cannot connect to PostgreSQL at ldh@127.0.0.1:" in output
    assert SECRET_HALF not in output


def test_an_ops_address_in_use_is_one_line(standin: StandIn, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = _run(_env(standin, tmp_path, LDH_OPS_LISTEN=f"127.0.0.1:{port}"))
    assert ran.returncode == 1
    output = (ran.stdout + ran.stderr).strip()
    assert output.endswith(
        f"cannot listen on LDH_OPS_LISTEN 127.0.0.1:{port}: Address already in use")
    assert len(output.splitlines()) == 1
