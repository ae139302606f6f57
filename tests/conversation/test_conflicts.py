"""A step whose chat another process changed before it committed is decided again, never lost."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from support.storage_backends import Backend, each_backend

from bot.conversation import Action, Conversations, Reply
from bot.dialogue.session import Session

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from bot.content import Content
    from bot.storage import Store, Transaction

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CHAT = 4242


class _Meanwhile:
    """A store whose next optimistic update lets another process act just before it commits."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.meanwhile: Callable[[], Awaitable[object]] | None = None
        self.tries: list[bool] = []  # each try's ``optimistic``

    def __getattr__(self, name: str) -> Any:  # the wrapped store's own
        return getattr(self._store, name)

    @asynccontextmanager
    async def transaction(self, chat_id: int, now: datetime, *, update_id: int | None = None,
                          optimistic: bool = False) -> AsyncIterator[Transaction]:
        self.tries.append(optimistic)
        async with self._store.transaction(chat_id, now, update_id=update_id,
                                           optimistic=optimistic) as tx:
            yield tx
            if optimistic and self.meanwhile is not None:
                act, self.meanwhile = self.meanwhile, None
                await act()


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with each_backend(request.param, tmp_path / "bot.db") as fresh:
        yield fresh


async def _two_processes(backend: Backend,
                         content: Content) -> tuple[Conversations, _Meanwhile, Conversations]:
    ours = _Meanwhile(await backend.open())
    other = await backend.open()
    return (Conversations(content, ours, clock=lambda: NOW),  # type: ignore[arg-type]
            ours, Conversations(content, other, clock=lambda: NOW))


def _asked(reply: Reply) -> str:
    assert reply.turn.question is not None
    return reply.turn.question.fact


async def _session(conversations: Conversations) -> Session:
    async with conversations.store.transaction(CHAT, NOW) as tx:
        patient = await tx.load()
    assert patient is not None
    return Session.from_json(patient.session)


async def test_an_update_served_meanwhile_by_another_process_is_a_repeat(
    backend: Backend, content: Content,
) -> None:
    ours, store, other = await _two_processes(backend, content)
    first = _asked(await other.handle(Action(CHAT, text="hello", update_id=1)))
    answer = Action(CHAT, text="no", update_id=2)
    store.meanwhile = lambda: other.handle(answer)  # Telegram delivered it to both

    reply = await ours.handle(answer)

    assert store.tries == [True, True]  # decided again from the chat as it is now
    assert reply.duplicate
    session = await _session(ours)
    assert session.facts == {first: "no"}
    assert _asked(reply) != first  # shown where the patient is: the next question
    answers = [e for e in await other.store.events(CHAT) if e.kind == "answer"]
    assert len(answers) == 1


async def test_another_update_of_the_chat_meanwhile_comes_first_and_ours_follows(
    backend: Backend, content: Content,
) -> None:
    ours, store, other = await _two_processes(backend, content)
    first = _asked(await other.handle(Action(CHAT, text="hello", update_id=1)))
    # The patient answered twice at once (two devices): the other process's answer commits
    # first, so ours is read as the answer to the question after it.
    store.meanwhile = lambda: other.handle(Action(CHAT, text="no", update_id=3))

    reply = await ours.handle(Action(CHAT, text="no", update_id=4))

    assert store.tries == [True, True]  # decided again from the chat as it is now
    assert not reply.duplicate
    session = await _session(ours)
    assert session.facts[first] == "no"
    assert list(session.facts.values()) == ["no", "no"]
    assert _asked(reply) not in session.facts
    answers = [e for e in await other.store.events(CHAT) if e.kind == "answer"]
    assert len(answers) == 2


async def test_updates_alternating_between_two_processes_are_each_kept_in_order(
    backend: Backend, content: Content,
) -> None:
    """Behind a balancer taking turns, as if one process served them; each is wrong once at most.

    Each process remembers the chat as it last wrote it (on PostgreSQL); the other's writes
    make that copy stale, which the checked write finds, and the chat is read first after.
    """
    first, second = _Meanwhile(await backend.open()), _Meanwhile(await backend.open())
    processes = [Conversations(content, store, clock=lambda: NOW)  # type: ignore[arg-type]
                 for store in (first, second)]
    asked = [_asked(await processes[0].handle(Action(CHAT, text="hello", update_id=1)))]
    for update_id in range(2, 12):
        reply = await processes[update_id % 2].handle(Action(CHAT, text="no", update_id=update_id))
        asked.append(_asked(reply))
    served = [6, 5]  # updates 1, 2, 4, ... 10 by the first; 3, 5, ... 11 by the second
    retries = [len(store.tries) - count for store, count in zip((first, second), served,
                                                                 strict=True)]

    session = await _session(processes[0])
    assert len(set(asked)) == len(asked)  # no question asked twice
    assert session.facts == dict.fromkeys(asked[:-1], "no")  # every answer kept, for its own
    answers = [e for e in await first.events(CHAT) if e.kind == "answer"]
    assert len(answers) == len(asked) - 1
    assert max(retries) <= 1  # each process decided one update twice at most


async def test_a_chat_changed_again_on_the_second_try_is_held_on_the_third(
    backend: Backend, content: Content,
) -> None:
    ours, store, other = await _two_processes(backend, content)
    first = _asked(await other.handle(Action(CHAT, text="hello", update_id=1)))

    async def answered_twice_meanwhile() -> None:
        store.meanwhile = lambda: other.handle(Action(CHAT, text="no", update_id=4))
        await other.handle(Action(CHAT, text="no", update_id=3))

    store.meanwhile = answered_twice_meanwhile
    reply = await ours.handle(Action(CHAT, text="no", update_id=5))

    assert store.tries == [True, True, False]
    assert not reply.duplicate
    session = await _session(ours)
    assert session.facts[first] == "no"
    assert list(session.facts.values()) == ["no", "no", "no"]
    answers = [e for e in await other.store.events(CHAT) if e.kind == "answer"]
    assert len(answers) == 3  # theirs, theirs, then ours
