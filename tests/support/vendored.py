"""Third-party scripts kept in the repository: where each came from, its version and licence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Vendored:
    """One script taken from an npm package as it was published, with its licence beside it."""

    package: str
    version: str
    version_marker: str  # how the script itself states its version
    script: Path
    licence: Path
    licence_name: str
    sha256: str


# Each was taken with `npm pack PACKAGE@VERSION`; to update, do the same and change the record.
VENDORED = (
    Vendored(
        package="axe-core",
        version="4.14.1",
        version_marker="axe v4.14.1",
        script=ROOT / "tests/support/axe/axe.min.js",
        licence=ROOT / "tests/support/axe/LICENSE",
        licence_name="Mozilla Public License, version 2.0",
        sha256="29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c",
    ),
    Vendored(
        package="htmx.org",
        version="4.0.1",
        version_marker='version="4.0.1"',
        script=ROOT / "bot/channels/web/static/htmx.min.js",
        licence=ROOT / "bot/channels/web/static/htmx.LICENSE.txt",
        licence_name="Zero-Clause BSD",
        sha256="a0abb04f2f45a1f89d1d4844023245537e5e6014c87b144553e0607b4cc32130",
    ),
)
