"""axe-core, vendored under ``axe/``, run on the page a browser shows; its violations as dicts."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, TypedDict, cast

from selenium.webdriver.remote.webdriver import WebDriver

AXE_DIR = Path(__file__).parent / "axe"
AXE_SCRIPT = AXE_DIR / "axe.min.js"
AXE_VERSION = "4.14.1"
SERIOUS = ("serious", "critical")

# Runs axe on the whole document and hands back only what a report needs: the full result also
# lists every rule that passed, which is large and slow to carry back over WebDriver.
_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]})
  .then((result) => done(result.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    helpUrl: violation.helpUrl,
    nodes: violation.nodes.map((node) => ({
      target: node.target.map(String),
      html: node.html,
      failureSummary: node.failureSummary || "",
    })),
  }))))
  .catch((error) => done({error: String(error)}));
"""


class AxeNode(TypedDict):
    """One element that breaks a rule."""

    target: list[str]
    html: str
    failureSummary: str


class AxeViolation(TypedDict):
    """One axe rule the page breaks, with the elements that break it."""

    id: str
    impact: str | None
    help: str
    helpUrl: str
    nodes: list[AxeNode]


class AxeError(RuntimeError):
    """axe could not run on the page."""


@cache
def axe_source() -> str:
    """The vendored axe-core script."""
    return AXE_SCRIPT.read_text(encoding="utf-8")


def inject_axe(driver: WebDriver) -> None:
    """Load axe into the current page unless it is there (WebDriver scripts pass the CSP)."""
    if not driver.execute_script("return typeof window.axe === 'object';"):
        driver.execute_script(axe_source())


def axe_violations(
    driver: WebDriver, impacts: Iterable[str] | None = SERIOUS
) -> list[AxeViolation]:
    """axe's violations on the current page whose impact is in ``impacts`` (None: all)."""
    inject_axe(driver)
    result: Any = driver.execute_async_script(_RUN_AXE)
    if isinstance(result, dict):
        msg = f"axe failed on {driver.current_url}: {result.get('error')}"
        raise AxeError(msg)
    violations = cast("list[AxeViolation]", result)
    if impacts is None:
        return violations
    wanted = set(impacts)
    return [violation for violation in violations if violation["impact"] in wanted]


def describe_violations(violations: Iterable[AxeViolation]) -> str:
    """A readable list of violations and the elements behind them, for an assertion message."""
    lines: list[str] = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        lines.extend(
            f"    at {' '.join(node['target'])}: {node['html'][:160]}"
            for node in violation["nodes"]
        )
    return "\n".join(lines) or "no violations"


def assert_accessible(driver: WebDriver, impacts: Iterable[str] = SERIOUS) -> None:
    """Fail, naming each rule and element, when axe finds a violation of these impacts."""
    violations = axe_violations(driver, impacts)
    assert not violations, (
        f"axe {AXE_VERSION} found violations on {driver.current_url}:\n"
        f"{describe_violations(violations)}"
    )
