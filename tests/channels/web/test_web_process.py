"""``ldh-bot run`` serves the dashboard in its own event loop, by long polling and by webhook."""

from __future__ import annotations

import json
import os
import re
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
SECRET = "webhook-secret-of-this-test"  # noqa: S105  # a test value, not a credential


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310  # http on this machine
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read().decode()
    except OSError:
        return 0, ""


def _webhook_update(port: int, update_id: int, user_id: int, text: str) -> int:
    update = {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": user_id, "type": "private", "first_name": "Dr"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Dr", "language_code": "en"},
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hook", data=json.dumps(update).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  # http on this machine
            return int(answer.status)
    except (urllib.error.HTTPError, OSError):
        return 0


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_run_serves_the_dashboard_and_the_bot_sends_its_link(
        standin: StandIn, tmp_path: Path, mode: str) -> None:
    port = _free_port()
    staff = standin.new_user("Dr")
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": standin.token,
        "LDH_EMERGENCY_NUMBER": "999",
        "LDH_TELEGRAM_API_URL": standin.base_url,
        "LDH_DATA_DIR": str(tmp_path),
        "LDH_STAFF_IDS": str(staff.id),
        "LDH_DASHBOARD_LISTEN": f"127.0.0.1:{port}",
        "LDH_DASHBOARD_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("LDH_DATABASE_URL", None)
    hook = _free_port()
    if mode == "webhook":
        env |= {"LDH_WEBHOOK_URL": "https://bot.example.org/hook",
                "LDH_WEBHOOK_LISTEN": f"127.0.0.1:{hook}", "LDH_WEBHOOK_SECRET": SECRET}
    log = (tmp_path / "bot.log").open("wb")
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + TIMEOUT
        while (answer := _get(f"http://127.0.0.1:{port}/"))[0] != 401:
            assert time.monotonic() < deadline, "the dashboard never answered"
            time.sleep(0.2)
        assert "not signed in" in answer[1]
        if mode == "webhook":
            while _webhook_update(hook, 1, staff.id, "/dashboard") != 200:
                assert time.monotonic() < deadline, "the webhook never answered"
                time.sleep(0.2)
        else:
            standin.send_text(staff, "/dashboard")
        sent = standin.wait_for(lambda: [m for m in standin.messages(staff)
                                         if "/signin/" in (m.text or "")], timeout=TIMEOUT)
        found = re.search(rf"http://127\.0\.0\.1:{port}/signin/\S+", sent[0].text or "")
        assert found is not None
        status, page = _get(found.group())
        assert status == 200
        assert f"Sign in as Dr ({staff.id})" in page
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=20)
    assert bot.returncode == 0
    assert standin.rejected == []
    assert "Traceback" not in (tmp_path / "bot.log").read_text(encoding="utf-8")
