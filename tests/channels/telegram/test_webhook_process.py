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
import threading
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


def _headers_only(port: int, length: int, secret: str | None) -> bytes:
    """Announce a body of ``length`` bytes, send none, and return what the server answers."""
    lines = ["POST /hook HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"Content-Length: {length}"]
    if secret is not None:
        lines.append(f"X-Telegram-Bot-Api-Secret-Token: {secret}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return conn.recv(4096)  # a server waiting for the body would time out here


def _post_big(port: int, size: int) -> None:
    """POST ``size`` bytes without the secret, as an attacker would; the server may hang up."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        head = f"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n"
        try:
            conn.sendall(head.encode())
            chunk = b"x" * (1 << 20)
            for _ in range(size // len(chunk)):
                conn.sendall(chunk)
        except OSError:
            pass  # cut off after the 403: the body was never wanted


def _peak_rss_mib(pid: int) -> int:
    """The process's peak resident memory so far."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    peak = next(line for line in status.splitlines() if line.startswith("VmHWM"))
    return int(peak.split()[1]) // 1024


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read().decode()


def _update(update_id: int, user_id: int, text: str) -> dict[str, object]:
    user = {"id": user_id, "is_bot": False, "first_name": "Pat", "language_code": "en"}
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": user_id, "type": "private", "first_name": "Pat"}, "from": user,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]
        if text.startswith("/") else [],
    }}


def test_webhook_mode_registers_and_checks_the_secret(standin: StandIn, tmp_path: Path) -> None:
    port, ops_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": standin.token, "LDH_EMERGENCY_NUMBER": "999",
        "LDH_TELEGRAM_API_URL": standin.base_url,
        "LDH_DATA_DIR": str(tmp_path),
        "LDH_WEBHOOK_URL": "https://bot.example.org/hook",
        "LDH_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "LDH_WEBHOOK_SECRET": SECRET,
        "LDH_OPS_LISTEN": f"127.0.0.1:{ops_port}",
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
        assert _post(port, b"[1, 2]", SECRET) == 400, "a JSON array is a bad request, not a 500"
        assert _post(port, b'"text"', SECRET) == 400
        assert _post(port, b"{}", SECRET) == 400
        time.sleep(1)
        assert len(standin.messages(patient)) == seen, "an update without the secret was served"

        # Judged on the headers: no secret is 403 and an oversized update 413, bodies unread.
        assert _headers_only(port, 90 << 20, None).startswith(b"HTTP/1.1 403")
        assert _headers_only(port, 2 << 20, SECRET).startswith(b"HTTP/1.1 413")
        before = _peak_rss_mib(bot.pid)
        attackers = [threading.Thread(target=_post_big, args=(port, 90 << 20)) for _ in range(6)]
        for attacker in attackers:
            attacker.start()
        for attacker in attackers:
            attacker.join()
        assert _peak_rss_mib(bot.pid) - before < 30, "unauthenticated bodies were held in memory"

        # The ops listener works in webhook mode too.
        assert _get(ops_port, "/healthz") == (
            200, '{"status": "ok", "database": "ok", "dispatcher": "running"}')
        _, metrics = _get(ops_port, "/metrics")
        assert 'ldh_webhook_refused_total{reason="secret"} 9.0' in metrics
        assert 'ldh_webhook_refused_total{reason="not_an_update"} 4.0' in metrics
        assert 'ldh_webhook_refused_total{reason="too_large"} 1.0' in metrics
        assert "ldh_updates_handled_total 1.0" in metrics
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=20)
    assert bot.returncode == 0
    assert standin.rejected == []
    assert "Traceback" not in (tmp_path / "bot.log").read_text(encoding="utf-8")


def _rss_mib(pid: int) -> float:
    """The process's resident memory now."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    rss = next(line for line in status.splitlines() if line.startswith("VmRSS"))
    return int(rss.split()[1]) / 1024


def _garbage(round_: int, user_id: int) -> bytes:
    """One of the bodies with the right secret that are no update, by turn."""
    kind = round_ % 4
    if kind == 0:  # nested without end, as large as a body may be
        return b'{"update_id": 1, "x": ' + b"[" * 400_000 + b"]" * 400_000 + b"}"
    if kind == 1:  # an update_id no database integer holds
        return json.dumps({**_update(round_, user_id, "/start"), "update_id": 2**70}).encode()
    if kind == 2:  # fields of the wrong type
        return json.dumps({"update_id": round_, "message": {"chat": "x", "text": 5}}).encode()
    return b'{"update_id": 3, "message": {"message_id": NaN}}'


GARBAGE = 1200


def test_garbage_with_the_right_secret_leaves_no_memory_no_reply_and_few_lines(
    standin: StandIn, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": standin.token, "LDH_EMERGENCY_NUMBER": "999",
        "LDH_TELEGRAM_API_URL": standin.base_url,
        "LDH_DATA_DIR": str(tmp_path),
        "LDH_WEBHOOK_URL": "https://bot.example.org/hook",
        "LDH_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "LDH_WEBHOOK_SECRET": SECRET,
    }
    env.pop("LDH_DATABASE_URL", None)
    log_path = tmp_path / "bot.log"
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env,
                           stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    try:
        standin.wait_for(lambda: standin.calls_to("setWebhook"), timeout=TIMEOUT)
        patient = standin.new_user("Pat")
        deadline = time.monotonic() + TIMEOUT
        while _post(port, _update(1, patient.id, "/start"), SECRET) != 200:
            assert time.monotonic() < deadline, "the webhook never answered 200"
            time.sleep(0.2)
        seen = len(standin.messages(patient))
        start = _rss_mib(bot.pid)
        # A first round settles the allocator and the caches; the second is measured.
        for n in range(100):
            assert _post(port, _garbage(n, patient.id), SECRET) == 400
        lines_before = len(log_path.read_text(encoding="utf-8").splitlines())
        before = _rss_mib(bot.pid)
        statuses = [_post(port, _garbage(n, patient.id), SECRET) for n in range(GARBAGE)]
        time.sleep(1)
        after = _rss_mib(bot.pid)
        lines = log_path.read_text(encoding="utf-8").splitlines()[lines_before:]
        print(f"\n{GARBAGE} garbage webhook requests: RSS {before:.1f} -> {after:.1f} MiB "  # noqa: T201  # the figures are the test's report
              f"({start:.1f} MiB before the first 100), {len(lines)} log line(s)")
        assert statuses == [400] * GARBAGE
        assert after - before < 8, f"RSS grew {before:.1f} -> {after:.1f} MiB"
        assert len(lines) <= 2, lines  # a summary a minute at most
        assert len(standin.messages(patient)) == seen, "garbage reached the patient's chat"
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=20)
    assert "Traceback" not in log_path.read_text(encoding="utf-8")
