"""The dashboard in Debian's headless Chromium: the whole path from the bot's link to reminders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from browser_site import Site, page_text, served_site, sign_in, wait_for
from selenium import webdriver
from selenium.webdriver.common.by import By
from support.accessibility import assert_accessible
from support.keyboard import assert_every_field_labelled, press, tab_to
from support.pages import browser_errors

from bot.content import Content


@pytest.fixture
def site(content: Content, tmp_path: Path) -> Iterator[Site]:
    with served_site(content, tmp_path) as served:
        yield served


def test_staff_link_queue_take_done_book_and_reminders_arrive(
        site: Site, browser: webdriver.Chrome) -> None:
    link = site.ask_link()
    sent = site.standin.calls_to("sendMessage")[-1]
    assert sent.params["link_preview_options"] == {"is_disabled": True}
    browser.get(link)
    assert f"Sign in as Dr ({site.staff.id})" in page_text(browser)
    browser.find_element(By.ID, "signin").click()
    wait_for(browser, lambda d: "Nothing is waiting here." in page_text(d))

    # An emergency screened through the bot appears without a reload, marked new.
    site.say(site.patient, "/start")
    site.say(site.patient, "yes")
    row = wait_for(browser, lambda d: [row.text for row in d.find_elements(
        By.CSS_SELECTOR, "tr.new") if str(site.patient.id) in row.text])[0]
    assert "Emergency" in row

    browser.find_element(By.CSS_SELECTOR, "button.take").click()
    wait_for(browser, lambda d: str(site.staff.id) in d.find_element(
        By.CSS_SELECTOR, "tr[data-item] td:nth-child(5)").text)
    browser.find_element(By.CSS_SELECTOR, "input.note").send_keys("Called; sent to A&E")
    browser.find_element(By.CSS_SELECTOR, "button.done").click()
    wait_for(browser, lambda d: "Nothing is waiting here." in page_text(d))
    browser.get(site.url("/?filter=done"))
    assert "Called; sent to A&E" in page_text(browser)

    # The patient's page, and a visit booked in the browser.
    browser.find_element(By.CSS_SELECTOR, f"a[href='/patients/{site.patient.id}']").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "book"))
    browser.find_element(By.ID, "date").send_keys("2025-03-10")
    browser.find_element(By.ID, "time").send_keys("14:30")
    browser.find_element(By.ID, "place").send_keys("Spine clinic, room 3")
    browser.find_element(By.ID, "book").click()
    notice = wait_for(browser, lambda d: d.find_elements(By.ID, "notice"))[0].text
    assert "Booked." in notice

    # The day before, at the same time, the patient's reminder arrives in their chat.
    site.clock.now = datetime(2025, 3, 9, 14, 31, tzinfo=ZoneInfo("Europe/London"))
    site.deliver_due()
    reminder = site.standin.last_bot_message(site.patient)
    assert reminder is not None
    assert "Spine clinic, room 3" in (reminder.text or "")
    assert len(reminder.callback_data()) == 2  # confirm, or ask for another time
    site.clock.now += timedelta(hours=22)
    site.deliver_due()
    last = site.standin.last_bot_message(site.patient)
    assert last is not None
    assert last.message_id != reminder.message_id  # the two-hour reminder came too


def test_a_used_link_is_refused(site: Site, browser: webdriver.Chrome) -> None:
    link = site.ask_link()
    browser.get(link)
    browser.find_element(By.ID, "signin").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "queue"))
    browser.delete_all_cookies()
    browser.get(link)
    assert "cannot be used" in browser.find_element(By.ID, "refusal").text


def test_an_expired_link_is_refused(site: Site, browser: webdriver.Chrome) -> None:
    link = site.ask_link()
    site.clock.now += timedelta(minutes=11)
    browser.get(link)
    assert "cannot be used" in browser.find_element(By.ID, "refusal").text


def test_a_foreign_link_is_refused(site: Site, browser: webdriver.Chrome) -> None:
    link = site.ask_link()
    forged = link[:-6] + ("AAAAAA" if not link.endswith("AAAAAA") else "BBBBBB")
    browser.get(forged)
    assert "cannot be used" in browser.find_element(By.ID, "refusal").text
    browser.get(link)  # the real one was not used up by the attempt
    assert browser.find_elements(By.ID, "signin")


def test_a_non_staff_id_gets_no_link(site: Site) -> None:
    replies = site.say(site.outsider, "/dashboard")
    assert replies
    assert all("/signin/" not in (m.text or "") for m in replies)


def test_a_form_without_its_csrf_token_is_refused(
        site: Site, browser: webdriver.Chrome) -> None:
    site.say(site.patient, "/start")
    site.say(site.patient, "yes")
    sign_in(site, browser)
    browser.execute_script(
        "document.querySelectorAll('input[name=csrf]').forEach(e => e.remove());")
    browser.find_element(By.CSS_SELECTOR, "button.take").click()
    assert "CSRF" in wait_for(browser, lambda d: d.find_elements(By.ID, "refusal"))[0].text


def test_a_session_past_its_idle_timeout_is_refused(
        site: Site, browser: webdriver.Chrome) -> None:
    sign_in(site, browser)
    site.clock.now += timedelta(minutes=31)
    browser.get(site.url("/patients"))
    assert "session ended" in browser.find_element(By.ID, "refusal").text


def test_an_id_removed_from_the_staff_list_is_out_at_once(
        site: Site, browser: webdriver.Chrome) -> None:
    sign_in(site, browser)
    assert site.web.signin is not None
    site.web.signin.staff_ids = frozenset()
    browser.get(site.url("/"))
    assert browser.find_elements(By.ID, "refusal")


def test_a_typed_script_is_shown_as_text(site: Site, browser: webdriver.Chrome) -> None:
    typed = "<script>document.title='owned'</script><b>bold</b>"
    site.say(site.patient, "/start")
    site.say(site.patient, "no")

    async def hostile() -> None:
        from bot.audit import ANSWER, answer_event  # noqa: PLC0415  # this test's only use

        async with site.store.transaction(site.patient.id, site.clock()) as tx:
            await tx.record_event(ANSWER, answer_event({"bladder_bowel": "no"}, typed, "t"))

    site.run(hostile())
    sign_in(site, browser)
    browser.get(site.url(f"/patients/{site.patient.id}"))
    assert typed in browser.find_element(By.ID, "timeline").text
    assert browser.title != "owned"
    assert not browser.find_elements(By.CSS_SELECTOR, "#timeline b")


def test_queue_and_booking_form_by_keyboard_only(
        site: Site, browser: webdriver.Chrome) -> None:
    site.say(site.patient, "/start")
    site.say(site.patient, "yes")
    sign_in(site, browser)
    tab_to(browser, label="Take")
    press(browser, "\ue007")  # Enter
    wait_for(browser, lambda d: str(site.staff.id) in d.find_element(
        By.CSS_SELECTOR, "tr[data-item] td:nth-child(5)").text)
    tab_to(browser, element_id=browser.find_element(By.CSS_SELECTOR, "input.note")
           .get_attribute("id"))
    press(browser, "seen")
    tab_to(browser, label="Done")
    press(browser, "\ue007")
    wait_for(browser, lambda d: "Nothing is waiting here." in page_text(d))
    browser.get(site.url(f"/patients/{site.patient.id}"))
    assert_every_field_labelled(browser)
    tab_to(browser, element_id="date")
    press(browser, "2025-03-11")
    tab_to(browser, element_id="time")
    press(browser, "09:15")
    tab_to(browser, element_id="place")
    press(browser, "Room 2")
    tab_to(browser, element_id="book")
    press(browser, "\ue007")
    assert "Booked." in wait_for(browser, lambda d: d.find_elements(By.ID, "notice"))[0].text


def test_no_serious_accessibility_violation_on_any_page(
        site: Site, browser: webdriver.Chrome) -> None:
    site.say(site.patient, "/start")
    site.say(site.patient, "yes")
    link = site.ask_link()
    browser.get(link)
    assert_accessible(browser)  # the sign-in page
    browser.find_element(By.ID, "signin").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "queue"))
    for path in ("/", "/?filter=done", "/patients", f"/patients/{site.patient.id}",
                 "/exports", "/audit", "/no/such/page"):
        browser.get(site.url(path))
        assert_accessible(browser)
        assert_every_field_labelled(browser)
        # Nothing the page asks for is refused by its own CSP, or missing (404s excepted).
        errors = [e for e in browser_errors(browser) if "no/such/page" not in e]
        assert errors == [], path


def test_refresh_keeps_the_filter_and_the_scroll(site: Site, browser: webdriver.Chrome) -> None:
    for chat in range(30):  # enough rows to scroll
        user = site.standin.new_user(f"P{chat}")
        site.say(user, "/start")
        site.say(user, "yes")
    sign_in(site, browser)
    browser.get(site.url("/?filter=red_flags"))
    browser.set_window_size(1280, 600)
    browser.execute_script("window.scrollTo(0, 400);")
    before = browser.execute_script("return window.scrollY;")
    assert before > 0
    late = site.standin.new_user("Late")
    site.say(late, "/start")
    site.say(late, "yes")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "tr.new"))
    assert browser.execute_script("return window.scrollY;") == before
    assert "filter=red_flags" in browser.current_url
    current = browser.find_element(By.CSS_SELECTOR, "nav.filters a[aria-current=page]")
    assert current.text.startswith("Red flags")


def test_an_unattended_queue_leaves_the_screen_when_the_session_ends(
        site: Site, browser: webdriver.Chrome) -> None:
    site.say(site.patient, "/start")
    site.say(site.patient, "yes")
    sign_in(site, browser)
    assert str(site.patient.id) in page_text(browser)
    site.clock.now += timedelta(minutes=31)
    refusal = wait_for(browser, lambda d: d.find_elements(By.ID, "refusal"))[0]
    assert "session ended" in refusal.text
    assert str(site.patient.id) not in page_text(browser)
