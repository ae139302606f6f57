"""Shared fixtures for the dialogue tests: the screening engine of the shipped content."""

from __future__ import annotations

import pytest

from bot.content import Content
from bot.dialogue.engine import Engine


@pytest.fixture(scope="session")
def engine(content: Content) -> Engine:
    return content.engines["screening"]
