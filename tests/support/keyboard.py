"""Using a page without a mouse: Tab until a control has focus, press keys, check every label."""

from __future__ import annotations

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

# More stops than any dashboard page has before its last control; a page that needs more is
# itself a finding (too many stops for staff who work from the keyboard).
MAX_TABS = 60

_DESCRIBE_JS = """
const el = arguments[0];
let text = el.id ? "#" + el.id : "";
if (el.name) { text += "[name=" + el.name + "]"; }
return el.tagName.toLowerCase() + text;
"""

# A field counts as labelled by a <label> with text, aria-label or aria-labelledby pointing at
# text: what a screen reader announces. A placeholder or a title is not a label.
_UNLABELLED_JS = """
const skipped = new Set(["hidden", "submit", "button", "reset", "image"]);
const hasText = (el) => !!el && (el.textContent || "").trim() !== "";
const unlabelled = [];
for (const field of document.querySelectorAll("input, select, textarea")) {
  if (field.tagName === "INPUT" && skipped.has((field.type || "").toLowerCase())) { continue; }
  const byLabel = Array.from(field.labels || []).some(hasText);
  const byAria = (field.getAttribute("aria-label") || "").trim() !== "";
  const byReference = (field.getAttribute("aria-labelledby") || "")
    .split(/\\s+/).filter(Boolean).some((id) => hasText(document.getElementById(id)));
  if (!(byLabel || byAria || byReference)) {
    let text = field.tagName.toLowerCase() + (field.id ? "#" + field.id : "");
    if (field.name) { text += "[name=" + field.name + "]"; }
    unlabelled.push(text);
  }
}
return unlabelled;
"""


def focused(driver: WebDriver) -> WebElement:
    """The element that has keyboard focus (the body when nothing does)."""
    return driver.switch_to.active_element


def describe(driver: WebDriver, element: WebElement) -> str:
    """``tag#id[name=...]`` and the accessible name of ``element``, for messages."""
    where = str(driver.execute_script(_DESCRIBE_JS, element))
    name = " ".join(element.accessible_name.split())
    return f"{where} {name!r}" if name else where


def press(driver: WebDriver, *keys: str) -> None:
    """Press ``keys`` on whatever has focus, as a person at the keyboard would."""
    ActionChains(driver).send_keys(*keys).perform()


def _matches(element: WebElement, element_id: str | None, label: str | None) -> bool:
    """True when ``element`` has the wanted id, or the wanted accessible name."""
    if element_id is not None:
        return element.get_attribute("id") == element_id
    return " ".join(element.accessible_name.split()) == label


def tab_to(
    driver: WebDriver,
    *,
    element_id: str | None = None,
    label: str | None = None,
    backwards: bool = False,
    max_tabs: int = MAX_TABS,
) -> WebElement:
    """Press Tab (Shift+Tab if ``backwards``) until the element with this id or label has focus."""
    if (element_id is None) == (label is None):
        msg = "tab_to needs exactly one of element_id and label"
        raise ValueError(msg)
    path: list[str] = []
    for _ in range(max_tabs):
        if backwards:
            shift_tab = ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB)
            shift_tab.key_up(Keys.SHIFT).perform()
        else:
            press(driver, Keys.TAB)
        element = focused(driver)
        if _matches(element, element_id, label):
            return element
        path.append(describe(driver, element))
    wanted = f"id {element_id!r}" if element_id is not None else f"label {label!r}"
    msg = (
        f"keyboard focus never reached the element with {wanted} in {max_tabs} presses of Tab; "
        f"it went: {' -> '.join(path)}"
    )
    raise AssertionError(msg)


def unlabelled_fields(driver: WebDriver) -> list[str]:
    """Form fields on the page that no label names, as ``tag#id[name=...]``."""
    return [str(field) for field in driver.execute_script(_UNLABELLED_JS)]


def assert_every_field_labelled(driver: WebDriver) -> None:
    """Fail, naming the fields, when a form field on the page has no label."""
    missing = unlabelled_fields(driver)
    assert not missing, f"fields without a label on {driver.current_url}: {', '.join(missing)}"
