"""The vendored scripts are the published ones, at the recorded version, with their licences."""

from __future__ import annotations

import hashlib

import pytest
from support.accessibility import AXE_SCRIPT, AXE_VERSION
from support.vendored import VENDORED, Vendored


@pytest.mark.parametrize("vendored", VENDORED, ids=lambda vendored: vendored.package)
def test_vendored_script_is_the_recorded_version(vendored: Vendored) -> None:
    script = vendored.script.read_bytes()
    assert hashlib.sha256(script).hexdigest() == vendored.sha256
    assert vendored.version_marker.encode() in script


@pytest.mark.parametrize("vendored", VENDORED, ids=lambda vendored: vendored.package)
def test_vendored_script_ships_with_its_licence(vendored: Vendored) -> None:
    assert vendored.licence.parent == vendored.script.parent
    assert vendored.licence_name in vendored.licence.read_text(encoding="utf-8")


def test_axe_helper_uses_the_vendored_axe() -> None:
    axe = next(vendored for vendored in VENDORED if vendored.package == "axe-core")
    assert axe.script == AXE_SCRIPT
    assert axe.version == AXE_VERSION
