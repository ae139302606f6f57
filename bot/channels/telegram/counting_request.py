"""Every Bot API call goes through here, so 429s and network faults are counted in one place."""

from __future__ import annotations

from http import HTTPStatus

from telegram._utils.types import ODVInput  # the library's own type for its timeout arguments
from telegram.error import NetworkError
from telegram.request import HTTPXRequest, RequestData

from bot.ops import metrics


class CountingRequest(HTTPXRequest):
    """python-telegram-bot's HTTP client, counting 429 answers by method and failed calls."""

    async def do_request(  # noqa: PLR0913, PLR0917  # the signature python-telegram-bot calls
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make the call; count a 429 or a call that got no answer."""
        try:
            code, payload = await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )
        except NetworkError:
            metrics.error("network")
            raise
        if code == HTTPStatus.TOO_MANY_REQUESTS:
            metrics.TELEGRAM_429.labels(api_method(url)).inc()
        return code, payload


def api_method(url: str) -> str:
    """The Bot API method a URL calls; "other" for file downloads (whose names vary)."""
    last = url.rstrip("/").rpartition("/")[2]
    # Method names are letters only; anything else (a file path) would grow the label set.
    return last if last.isascii() and last.isalpha() else "other"
