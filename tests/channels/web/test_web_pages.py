"""The dashboard over HTTP: signing in, the queue fed by the bot, the patient page, refusals."""

from __future__ import annotations

from datetime import timedelta

import httpx
from support.clock import ManualClock
from web_support import EMERGENCY, NOW, OTHER_STAFF, STAFF, Clinic, text_of

from bot.channels.web.serve import WebChannel
from bot.channels.web.settings import WebSettings
from bot.content import Content
from bot.conversation import Contact
from bot.storage import Patient, Store


async def test_emergency_screening_appears_in_queue_and_is_taken_then_done(clinic: Clinic) -> None:
    await clinic.screen(1001, EMERGENCY)
    me = await clinic.client()
    page = text_of((await me.http.get("/")).text)
    assert "Emergency" in page
    assert "1001" in page
    answer = await me.http.get("/?filter=red_flags")
    assert "1001" in text_of(answer.text)
    item = int(answer.text.split('data-item="')[1].split('"')[0])
    taken = await me.post(f"/queue/{item}/take", filter="open")
    assert taken.status_code == 303
    mine = text_of((await me.http.get("/?filter=mine")).text)
    assert "1001" in mine
    done = await me.post(f"/queue/{item}/done", note="called; went to A&E", filter="open")
    assert done.status_code == 303
    assert "1001" not in text_of((await me.http.get("/")).text)
    finished = text_of((await me.http.get("/?filter=done")).text)
    assert f"done by {STAFF}" in finished
    assert "called; went to A&E" in finished


async def test_routine_screening_is_not_queued(clinic: Clinic) -> None:
    await clinic.screen(1002)
    me = await clinic.client()
    assert "Nothing is waiting here." in text_of((await me.http.get("/")).text)


async def test_link_get_consumes_nothing_and_post_signs_in_once(clinic: Clinic) -> None:
    link = await clinic.link()
    async with httpx.AsyncClient() as http:
        for _ in range(3):  # a link preview fetcher opening it changes nothing
            shown = await http.get(link)
            assert shown.status_code == 200
            assert f"Sign in as {STAFF}" in text_of(shown.text)
        first = await http.post(link)
        assert first.status_code == 303
        cookie = first.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        again = await http.post(link)
        assert again.status_code == 403
        assert "cannot be used" in text_of(again.text)


async def test_link_expires_after_ten_minutes(clinic: Clinic) -> None:
    link = await clinic.link()
    clinic.clock.advance(timedelta(minutes=10, seconds=1))
    async with httpx.AsyncClient() as http:
        assert (await http.get(link)).status_code == 403
        assert (await http.post(link)).status_code == 403


async def test_unknown_link_and_no_session_get_clear_pages(clinic: Clinic) -> None:
    async with httpx.AsyncClient(base_url=clinic.url) as http:
        unknown = await http.get("/signin/" + "x" * 43)
        assert unknown.status_code == 403
        assert "Traceback" not in unknown.text
        page = await http.get("/")
        assert page.status_code == 401
        assert "not signed in" in text_of(page.text)
        missing = await http.get("/no/such/page")
        assert missing.status_code == 404
        assert "There is no such page." in text_of(missing.text)


async def test_non_staff_gets_no_link(clinic: Clinic) -> None:
    assert await clinic.web.new_link(99) is None
    assert await clinic.web.new_link(STAFF) is not None


async def test_link_requests_are_rate_limited(clinic: Clinic) -> None:
    links = [await clinic.web.new_link(STAFF) for _ in range(6)]
    assert all(link is not None for link in links[:5])
    assert links[5] is None
    assert "Too many sign-in links" in await clinic.web.link_text(STAFF, "en")


async def test_post_without_csrf_token_is_refused(clinic: Clinic) -> None:
    await clinic.screen(1003, EMERGENCY)
    me = await clinic.client()
    answer = await me.http.get("/")
    item = int(answer.text.split('data-item="')[1].split('"')[0])
    refused = await me.http.post(f"/queue/{item}/take", data={"filter": "open"})
    assert refused.status_code == 403
    assert "CSRF" in text_of(refused.text)
    assert "nobody yet" in text_of((await me.http.get("/")).text)


async def test_session_ends_after_thirty_idle_minutes(clinic: Clinic) -> None:
    me = await clinic.client()
    clinic.clock.advance(timedelta(minutes=29))
    assert (await me.http.get("/")).status_code == 200
    clinic.clock.advance(timedelta(minutes=30))
    assert (await me.http.get("/")).status_code == 401


async def test_session_ends_after_eight_hours_in_all(clinic: Clinic) -> None:
    me = await clinic.client()
    for _ in range(17):  # active every 28 minutes: never idle, but 7 h 56 min in all
        clinic.clock.advance(timedelta(minutes=28))
        assert (await me.http.get("/")).status_code == 200
    clinic.clock.advance(timedelta(minutes=5))
    assert (await me.http.get("/")).status_code == 401


async def test_staff_removed_from_list_is_out_at_once(clinic: Clinic) -> None:
    me = await clinic.client()
    assert clinic.web.signin is not None
    clinic.web.signin.staff_ids = frozenset({OTHER_STAFF})
    assert (await me.http.get("/")).status_code == 401


async def test_sign_out_ends_the_session(clinic: Clinic) -> None:
    me = await clinic.client()
    assert (await me.post("/signout")).status_code == 200
    assert (await me.http.get("/")).status_code == 401


async def test_security_headers_on_pages_and_refusals(clinic: Clinic) -> None:
    me = await clinic.client()
    async with httpx.AsyncClient(base_url=clinic.url) as anonymous:
        for answer in (await me.http.get("/"), await anonymous.get("/")):
            csp = answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert answer.headers["x-content-type-options"] == "nosniff"


async def test_patient_page_shows_typed_script_as_text_and_is_audited(clinic: Clinic) -> None:
    typed = "<script>alert(1)</script>"
    await clinic.screen(1004)
    await clinic.record_typed(1004, typed)
    me = await clinic.client()
    page = await me.http.get("/patients/1004")
    assert page.status_code == 200
    assert typed not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert typed in text_of(page.text)
    audit = text_of((await me.http.get("/audit")).text)
    assert "viewed the patient" in audit
    assert "1004" in audit
    table = (await me.http.get("/audit.csv")).text.splitlines()
    assert table[0] == "id,at,staff_id,action,patient,detail"
    assert any(",view_patient,1004," in line for line in table)


async def test_booking_in_browser_writes_the_appointment_reminders(clinic: Clinic) -> None:
    await clinic.screen(1005)
    me = await clinic.client()
    booked = await me.post("/patients/1005/appointment", date="2025-03-10", time="14:30",
                           place="Room 3", note="bring your scans")
    assert booked.status_code == 200
    page = text_of(booked.text)
    assert "Booked: 2025-03-10 14:30, Room 3" in page
    assert "Reminders: 2025-03-09 14:30, 2025-03-10 12:30" in page
    pending = await clinic.web.store.pending(1005)
    reminders = [row for row in pending if row.kind == "appointment_reminder"]
    assert len(reminders) == 2  # the day before and two hours before
    cancelled = await me.post("/patients/1005/appointment/cancel")
    assert "was cancelled" in text_of(cancelled.text)
    assert [r for r in await clinic.web.store.pending(1005)
            if r.kind == "appointment_reminder"] == []


async def test_booking_in_the_past_is_refused_with_a_reason(clinic: Clinic) -> None:
    await clinic.screen(1006)
    me = await clinic.client()
    refused = await me.post("/patients/1006/appointment", date="2025-03-01", time="10:00",
                            place="Room 3")
    assert refused.status_code == 400
    assert "in the future" in text_of(refused.text)


async def test_erasure_needs_the_chat_id_typed_again(clinic: Clinic) -> None:
    await clinic.screen(1007, EMERGENCY)
    me = await clinic.client()
    wrong = await me.post("/patients/1007/erase", confirm="1008")
    assert wrong.status_code == 400
    assert "nothing was erased" in text_of(wrong.text)
    erased = await me.post("/patients/1007/erase", confirm="1007")
    assert "was erased" in text_of(erased.text)
    assert (await me.http.get("/patients/1007")).status_code == 404
    assert "1007" not in text_of((await me.http.get("/")).text)


async def test_exports_stream_every_screening(clinic: Clinic) -> None:
    for chat in (1010, 1011):
        await clinic.screen(chat)
    me = await clinic.client()
    table = await me.http.get("/exports/screenings.csv")
    assert table.status_code == 200
    lines = table.text.strip().splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("1010,")
    bundle = (await me.http.get("/exports/screenings.fhir.json")).json()
    assert bundle["resourceType"] == "Bundle"
    assert len(bundle["entry"]) == 2


async def test_language_switch_is_kept_for_the_person(clinic: Clinic) -> None:
    me = await clinic.client()
    switched = await me.post("/language", language="zh", back="/patients")
    assert switched.status_code == 303
    assert "患者" in text_of((await me.http.get("/patients")).text)


async def test_patients_are_found_by_name_username_or_chat_id(clinic: Clinic) -> None:
    await clinic.screen(1020, contact=Contact("Wang Fang", "wangf"))
    await clinic.screen(1021, contact=Contact("Li Lei", None))
    await clinic.screen(1022)
    me = await clinic.client()
    for term, found in (("fang", "Wang Fang"), ("@wangf", "Wang Fang"), ("1021", "Li Lei"),
                        ("LI LEI", "Li Lei")):
        page = text_of((await me.http.get("/patients", params={"q": term})).text)
        assert found in page, term
    only = text_of((await me.http.get("/patients", params={"q": "wang"})).text)
    assert "Li Lei" not in only
    assert "1022" not in only
    assert "No patients found." in text_of(
        (await me.http.get("/patients", params={"q": "100%"})).text)


async def test_queue_and_patient_page_show_the_name_given_by_the_messenger(
        clinic: Clinic) -> None:
    await clinic.screen(1023, EMERGENCY, contact=Contact("Zhang <Wei>", "zw"))
    me = await clinic.client()
    queue = text_of((await me.http.get("/")).text)
    assert "Zhang <Wei>" in queue
    assert "@zw" in queue
    page = await me.http.get("/patients/1023")
    assert "Patient Zhang <Wei>" in text_of(page.text)
    assert "<Wei>" not in page.text


async def test_patients_filter_by_open_item_reminder_and_step(clinic: Clinic) -> None:
    await clinic.screen(1030, EMERGENCY)
    await clinic.screen(1031)
    await clinic.screen(1032)
    me = await clinic.client()
    await me.post("/patients/1032/appointment", date="2025-03-10", time="14:30", place="Room 3")
    with_items = text_of((await me.http.get("/patients", params={"open": "1"})).text)
    assert "1030" in with_items
    assert "1031" not in with_items
    visits = text_of((await me.http.get(
        "/patients", params={"pending": "appointment_reminder"})).text)
    assert "1032" in visits
    assert "1031" not in visits
    conservative = text_of((await me.http.get(
        "/patients", params={"step": "conservative"})).text)
    assert "1031" in conservative
    assert "1030" not in conservative


async def test_patients_are_paged_by_key(clinic: Clinic) -> None:
    for chat in range(1100, 1153):  # 53: a page of 50, then three
        async with clinic.web.store.transaction(chat, clinic.clock()) as tx:
            await tx.save(Patient(chat, "en", {"dialogue": "screening", "state": "x"}))
    me = await clinic.client()
    first = await me.http.get("/patients")
    assert "1149" in text_of(first.text)
    assert "1150" not in text_of(first.text)
    following = first.text.split('rel="next"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    second = text_of((await me.http.get(following.replace("&amp;", "&"))).text)
    assert "1150" in second
    assert "1152" in second
    assert "1149" not in second
    assert "Next page" not in second


async def test_over_https_the_cookie_is_secure_with_the_host_prefix(
        content: Content, store: Store) -> None:
    clock = ManualClock(NOW)
    web = WebChannel(WebSettings("127.0.0.1", 0, "https://clinic.example.org", "en"), content,
                     store, staff_ids={STAFF}, timezone="Europe/London", clock=clock)
    await web.start()
    try:
        link = await web.new_link(STAFF)
        assert link is not None
        assert link.startswith("https://clinic.example.org/signin/")
        local = link.replace("https://clinic.example.org", f"http://127.0.0.1:{web.port}")
        async with httpx.AsyncClient() as http:
            signed = await http.post(local)
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("__Host-ldh_session=")
        assert "Secure" in cookie
        assert "Path=/" in cookie
        assert "Domain" not in cookie
    finally:
        await web.stop()


async def test_the_queues_own_refresh_does_not_keep_a_session_alive(clinic: Clinic) -> None:
    me = await clinic.client()
    clinic.clock.advance(timedelta(minutes=20))
    assert (await me.http.get("/", params={"rows": "1"})).status_code == 200
    clinic.clock.advance(timedelta(minutes=15))  # 35 minutes since the person did anything
    assert (await me.http.get("/", params={"rows": "1"})).status_code == 401


async def test_language_switch_goes_back_only_within_the_site(clinic: Clinic) -> None:
    me = await clinic.client()
    for back in ("//evil.example", "/\\\\evil.example", "https://evil.example/", "javascript:x"):
        answer = await me.post("/language", language="en", back=back)
        assert answer.headers["location"] == "/", back
    assert (await me.post("/language", language="en", back="/patients?q=a")).headers[
        "location"] == "/patients?q=a"


async def test_patient_header_and_timeline_tell_age_alerts_options_and_clinic_actions(
        clinic: Clinic) -> None:
    await clinic.screen(1040, ("no",) * 11 + ("60", "no", "9"))  # severe pain: an alert
    me = await clinic.client()
    await me.post("/patients/1040/appointment", date="2025-03-10", time="14:30", place="Room 3")
    await me.post("/patients/1040/appointment/cancel")
    page = text_of((await me.http.get("/patients/1040")).text)
    assert "Age 60" in page
    assert "severe pain (8 or more out of 10)" in page
    assert "options: " in page
    assert f"appointment cancelled by the clinic ({STAFF})" in page
    assert "recorded: pain_chart" not in page
