"""Every Bot API call passes one counting client: 429s by method, calls that got no answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.botapi_standin import StandIn
from telegram import Bot
from telegram.error import NetworkError, RetryAfter

from bot.channels.telegram.counting_request import CountingRequest, api_method
from bot.ops import metrics


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


async def test_429s_from_the_bot_api_are_counted_by_method(standin: StandIn) -> None:
    standin.enable_rate_limits()
    patient = standin.new_user("Pat")
    before = sample("ldh_telegram_429_total", method="sendMessage")
    floods = 0
    async with Bot(standin.token, base_url=standin.base_url, request=CountingRequest()) as bot:
        for n in range(6):  # past the per-chat burst the stand-in answers 429
            try:
                await bot.send_message(patient.id, f"message {n}")
            except RetryAfter:
                floods += 1
    assert floods > 0
    assert sample("ldh_telegram_429_total", method="sendMessage") == before + floods


async def test_a_call_that_gets_no_answer_is_a_network_error() -> None:
    before = sample("ldh_errors_total", kind="network")
    request = CountingRequest(connect_timeout=1)
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.post("http://127.0.0.1:9/bot1:x/getMe")  # the discard port: refused
    finally:
        await request.shutdown()
    assert sample("ldh_errors_total", kind="network") == before + 1


def test_a_method_label_never_carries_a_file_path_or_the_token() -> None:
    assert api_method("https://api.telegram.org/bot1:x/sendMessage") == "sendMessage"
    assert api_method("https://api.telegram.org/file/bot1:x/photos/file_0.jpg") == "other"
    assert api_method("https://api.telegram.org/bot1:x") == "other"
