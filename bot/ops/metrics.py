"""Every Prometheus metric the bot exposes, in one registry; call sites stay one line each.

Label values are always from a small fixed set (an outbox kind, a Bot API method name, an
error kind): never a chat id or anything a patient wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, get_args

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)

# A "_created" series beside every counter doubles what a scrape carries, for nothing here.
disable_created_metrics()  # type: ignore[no-untyped-call]  # the library leaves it unannotated
# Its own registry, so what /metrics shows is exactly what is declared here (plus the usual
# process figures: memory, CPU, open files).
REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

ErrorKind = Literal["update", "telegram", "network", "send", "storage"]
ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)

UPDATES = Counter(
    "ldh_updates_handled", "Telegram updates handled, by long polling or webhook",
    registry=REGISTRY,
)
# From a second to a minute: a reply waits for its chat's pace and for Telegram's answers.
UPDATE_SECONDS = Histogram(
    "ldh_update_seconds", "Time to handle one update, its replies sent",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=REGISTRY,
)
REMINDERS_DUE = Counter(
    "ldh_reminders_due", "Outbox rows (reminders, clinic messages) claimed as due, by kind",
    ["kind"], registry=REGISTRY,
)
REMINDERS_SENT = Counter(
    "ldh_reminders_sent", "Outbox rows Telegram accepted, by kind", ["kind"], registry=REGISTRY,
)
TELEGRAM_429 = Counter(
    "ldh_telegram_429", "Bot API answers 429 Too Many Requests, by method", ["method"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "ldh_errors",
    "Errors by kind: update (a step failed), telegram (an error Telegram or the library "
    "reported), network (a Bot API call that got no answer), send (an outbox row that could "
    "not be sent), storage (the database refused)",
    ["kind"], registry=REGISTRY,
)
WEBHOOK_REFUSED = Counter(
    "ldh_webhook_refused", "Webhook requests refused, by reason", ["reason"], registry=REGISTRY,
)
WebhookRefusal = Literal["secret", "too_large", "not_an_update"]

# Every error kind and refusal shows from the start (at 0), so a rate over it is defined.
for _kind in ERROR_KINDS:
    ERRORS.labels(_kind)
for _reason in get_args(WebhookRefusal):
    WEBHOOK_REFUSED.labels(_reason)


def error(kind: ErrorKind) -> None:
    """Count one error of ``kind``."""
    ERRORS.labels(kind).inc()


def refused(reason: WebhookRefusal) -> None:
    """Count one refused webhook request."""
    WEBHOOK_REFUSED.labels(reason).inc()


@contextmanager
def handling_update() -> Iterator[None]:
    """Count an update and time its handling, whether it succeeds or fails."""
    try:
        with UPDATE_SECONDS.time():
            yield
    finally:
        UPDATES.inc()
