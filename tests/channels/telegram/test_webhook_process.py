"""``ldh-bot run`` in webhook mode: it registers its webhook and trusts only the secret token.

It answers Telegram only once an update is handled (200), so the reply is already out.
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

SECRET = "webhook-secret-of-this-test"  # noqa: S105  # a test value, not a credential
TIMEOUT = 30.0


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _post(port: int, update: dict[str, object] | bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hook", data=body, headers=headers, method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  # http on this machine
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def _update(update_id: int, user_id: int, text: str) -> dict[str, object]:
    user = {"id": user_id, "is_bot": False, "first_name": "Pat", "language_code": "en"}
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": user_id, "type": "private", "first_name": "Pat"}, "from": user,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]
        if text.startswith("/") else [],
    }}


def test_webhook_mode_registers_and_checks_the_secret(standin: StandIn, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": standin.token,
        "LDH_TELEGRAM_API_URL": standin.base_url,
        "LDH_DATA_DIR": str(tmp_path),
        "LDH_WEBHOOK_URL": "https://bot.example.org/hook",
        "LDH_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "LDH_WEBHOOK_SECRET": SECRET,
    }
    env.pop("LDH_DATABASE_URL", None)
    log = (tmp_path / "bot.log").open("wb")
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=log)
    try:
        registered = standin.wait_for(lambda: standin.calls_to("setWebhook"), timeout=TIMEOUT)
        assert registered[0].params["url"] == "https://bot.example.org/hook"
        assert registered[0].params["secret_token"] == SECRET
        patient = standin.new_user("Pat")
        deadline = time.monotonic() + TIMEOUT
        while (status := _post(port, _update(1, patient.id, "/start"), SECRET)) != 200:
            assert time.monotonic() < deadline, f"the webhook never answered 200 ({status})"
            time.sleep(0.2)

        # Answered 200 only after handling: the greeting and first question are already sent.
        assert standin.last_bot_message(patient) is not None
        seen = len(standin.messages(patient))
        assert _post(port, _update(2, patient.id, "no"), "wrong-secret") == 403
        assert _post(port, _update(3, patient.id, "no"), None) == 403
        assert _post(port, b"{not json", SECRET) == 400
        time.sleep(1)
        assert len(standin.messages(patient)) == seen, "an update without the secret was served"
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=20)
    assert bot.returncode == 0
    assert standin.rejected == []
