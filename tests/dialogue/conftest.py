"""Shared fixtures for the dialogue tests: the shipped content, loaded once."""

from __future__ import annotations

import pytest

from bot.content import DIALOGUES_DIR, Content, load_content
from bot.dialogue.engine import Engine


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(DIALOGUES_DIR)


@pytest.fixture(scope="session")
def engine(content: Content) -> Engine:
    return content.engines["screening"]
