"""The public lookup: reference and code (R-PUB-1), rate limits and lockout (R-PUB-2), and what the
answer shows (R-PUB-3)."""

import dataclasses
import datetime as dt
import json
import logging
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from admissions.models import Offer
from admissions.public import mask_reference
from admissions.services import applications as app_services
from admissions.services.lookup import (
    LookupLocked,
    LookupNotFound,
    public_lookup,
)
from tests.factories import FacilityFactory, actor, add_beds, intake, queued_application
from tests.spec import LOOKUP_FAILURES_PER_ADDRESS, LOOKUP_FAILURES_PER_REFERENCE, LOOKUP_LOCK_SECONDS

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
DIBAO = {"verify": ("dibao",), "categories": [{"code": "dibao", "evidence": "低保证 2024-001"}]}
ADDRESS = "203.0.113.7"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def submitted(**overrides):
    """A submitted application and the lookup code printed on its receipt."""
    FacilityFactory(code="YX01")
    overrides.setdefault("choices", ["YX01"])
    return app_services.application_create(data=intake(**overrides), submit=True, actor=actor("intake"))


def wrong(code: str) -> str:
    """Another well-formed code."""
    return "".join("Z" if c != "Z" else "Y" for c in code)


def unknown_reference(n: int = 0) -> str:
    return f"2026-9{n:05d}"


def fail(*, reference: str, address: str = ADDRESS, code: str = "ABCDEF") -> None:
    with pytest.raises(LookupNotFound):
        public_lookup(reference=reference, code=code, client_address=address)


# --- R-PUB-1 ------------------------------------------------------------------------------------
def test_the_right_reference_and_code_give_the_application():
    """R-PUB-1."""
    application, code = submitted()
    result = public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert result.reference == application.reference
    assert result.state == "submitted"


def test_a_wrong_reference_is_not_found():
    """R-PUB-1."""
    _, code = submitted()
    with pytest.raises(LookupNotFound):
        public_lookup(reference=unknown_reference(), code=code, client_address=ADDRESS)


def test_a_wrong_code_is_not_found():
    """R-PUB-1."""
    application, code = submitted()
    with pytest.raises(LookupNotFound):
        public_lookup(reference=application.reference, code=wrong(code), client_address=ADDRESS)


def test_the_code_is_read_without_regard_to_case_or_surrounding_spaces():
    """R-PUB-1: codes are read without regard to case."""
    application, code = submitted()
    result = public_lookup(reference=application.reference, code=f"  {code.lower()} ", client_address=ADDRESS)
    assert result.reference == application.reference


def test_a_new_code_ends_the_old_one():
    """R-PUB-1: staff can issue a new code, which ends the old."""
    application, old = submitted()
    new = app_services.lookup_code_issue(application=application, actor=actor("intake"))
    with pytest.raises(LookupNotFound):
        public_lookup(reference=application.reference, code=old, client_address=ADDRESS)
    assert public_lookup(reference=application.reference, code=new, client_address=ADDRESS).reference


@pytest.mark.parametrize("bad_code", ["", "ABC", "ABCDEFG", "0O1I00", "<script>", "ab cd", "陈秀英一二三", "A\x00BCDE"])
def test_a_malformed_code_is_the_same_not_found_as_a_wrong_one(bad_code):
    """R-PUB-1: the answer never says which part was wrong, or that the code was malformed."""
    application, code = submitted()
    with pytest.raises(LookupNotFound) as malformed:
        public_lookup(reference=application.reference, code=bad_code, client_address=ADDRESS)
    with pytest.raises(LookupNotFound) as mistyped:
        public_lookup(reference=application.reference, code=wrong(code), client_address="198.51.100.1")
    assert (malformed.value.status, str(malformed.value.title), malformed.value.message) == (
        mistyped.value.status,
        str(mistyped.value.title),
        mistyped.value.message,
    )


@pytest.mark.parametrize("bad_reference", ["", "2026-000001\x00", "x" * 10_000, "' OR 1=1 --"])
def test_a_malformed_reference_is_the_same_not_found(bad_reference):
    """R-PUB-1: any mismatch is the same answer, never an error."""
    _, code = submitted()
    fail(reference=bad_reference, code=code)


def test_a_wrong_reference_and_a_wrong_code_give_the_same_answer():
    """R-PUB-1: wrong reference and wrong code give the same answer."""
    application, code = submitted()
    answers = []
    for reference, attempt in [(unknown_reference(), code), (application.reference, wrong(code))]:
        with pytest.raises(LookupNotFound) as caught:
            public_lookup(reference=reference, code=attempt, client_address=ADDRESS)
        error = caught.value
        answers.append((type(error), error.status, str(error.title), error.message, error.errors, error.extra))
    assert answers[0] == answers[1]


def test_an_unknown_reference_costs_the_same_hmacs_and_constant_time_comparisons(monkeypatch, settings):
    """R-PUB-1: the same work for an unknown reference as for a wrong code, so timing tells nothing:
    one HMAC and one constant-time comparison per lookup-code key (R-SEC-8), whichever matches."""
    settings.LOOKUP_CODE_KEYS = ["newest-lookup-key", "older-lookup-key"]
    application, code = submitted()
    calls = {"hmac": 0, "compare": 0}
    real_hash, real_compare = app_services.lookup_code_hash, app_services.hmac.compare_digest

    def counting_hash(*args, **kwargs):
        calls["hmac"] += 1
        return real_hash(*args, **kwargs)

    def counting_compare(a, b):
        calls["compare"] += 1
        return real_compare(a, b)

    monkeypatch.setattr(app_services, "lookup_code_hash", counting_hash)
    monkeypatch.setattr(app_services.hmac, "compare_digest", counting_compare)
    fail(reference=unknown_reference(), code=code)
    unknown = dict(calls)
    calls.update(hmac=0, compare=0)
    fail(reference=application.reference, code=wrong(code))
    # Two listed keys and SECRET_KEY, the oldest.
    assert unknown == calls == {"hmac": 3, "compare": 3}


# --- R-PUB-2 ------------------------------------------------------------------------------------
def test_an_address_is_locked_after_ten_failures_even_for_the_right_code():
    """R-PUB-2: 10 failed lookups an hour per address, then locked; the right code is refused too."""
    application, code = submitted()
    for n in range(LOOKUP_FAILURES_PER_ADDRESS):  # each a different reference: no reference reaches its limit
        fail(reference=unknown_reference(n))
    with pytest.raises(LookupLocked) as locked:
        public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert locked.value.status == 429
    assert 0 < locked.value.retry_after <= LOOKUP_LOCK_SECONDS
    # Another address is not affected.
    assert public_lookup(reference=application.reference, code=code, client_address="198.51.100.1").reference


def test_nine_failures_from_one_address_do_not_lock_it():
    """R-PUB-2: the limit is 10, not fewer."""
    application, code = submitted()
    for n in range(LOOKUP_FAILURES_PER_ADDRESS - 1):
        fail(reference=unknown_reference(n))
    assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS).reference


def test_a_reference_is_locked_after_five_failures_from_any_addresses_even_for_the_right_code():
    """R-PUB-2: 5 per reference string, wherever the attempts come from."""
    application, code = submitted()
    for n in range(LOOKUP_FAILURES_PER_REFERENCE):
        fail(reference=application.reference, address=f"198.51.100.{n}", code=wrong(code))
    with pytest.raises(LookupLocked):
        public_lookup(reference=application.reference, code=code, client_address="192.0.2.99")


def test_an_unknown_reference_is_locked_the_same_way_as_a_known_one():
    """R-PUB-2: per reference string, known or not (a lock says nothing about existence)."""
    for n in range(LOOKUP_FAILURES_PER_REFERENCE):
        fail(reference=unknown_reference(), address=f"198.51.100.{n}")
    with pytest.raises(LookupLocked):
        public_lookup(reference=unknown_reference(), code="ABCDEF", client_address="192.0.2.99")


def test_a_refused_lookup_does_not_count_as_another_failure():
    """R-PUB-2: a 429 is not a failure. The reference is locked after 5 failures from this address;
    twenty refused attempts later the address (limit 10) is still not locked."""
    locked_one, _ = submitted()
    other, other_code = submitted()
    for _ in range(LOOKUP_FAILURES_PER_REFERENCE):
        fail(reference=locked_one.reference)
    for _ in range(20):
        with pytest.raises(LookupLocked):
            public_lookup(reference=locked_one.reference, code="ABCDEF", client_address=ADDRESS)
    assert public_lookup(reference=other.reference, code=other_code, client_address=ADDRESS).reference


def test_the_lock_ends_after_an_hour():
    """R-PUB-2: locked for an hour, then the right code works again."""
    start = dt.datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        application, code = submitted()
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE):
            fail(reference=application.reference, code=wrong(code))
        with pytest.raises(LookupLocked) as locked:
            public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert locked.value.retry_after == LOOKUP_LOCK_SECONDS
    with time_machine.travel(start + dt.timedelta(minutes=59), tick=False):
        with pytest.raises(LookupLocked) as still:
            public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert still.value.retry_after == 60
    with time_machine.travel(start + dt.timedelta(minutes=60, seconds=1), tick=False):
        assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS).reference


def test_failures_older_than_an_hour_do_not_count():
    """R-PUB-2: failed lookups *an hour*: four now and four 61 minutes later do not make five."""
    start = dt.datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        application, code = submitted()
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE - 1):
            fail(reference=application.reference, code=wrong(code))
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE - 1):
            fail(reference=application.reference, code=wrong(code))
        assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS).reference


def test_failures_spread_over_the_hour_still_count_together():
    """R-PUB-2: failed lookups *an hour*: four now and the fifth 59 minutes later lock the reference."""
    start = dt.datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        application, code = submitted()
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE - 1):
            fail(reference=application.reference, code=wrong(code))
    with time_machine.travel(start + dt.timedelta(minutes=59), tick=False):
        fail(reference=application.reference, code=wrong(code))
        with pytest.raises(LookupLocked):
            public_lookup(reference=application.reference, code=code, client_address=ADDRESS)


def test_the_cache_holds_neither_the_reference_nor_the_address():
    """R-PUB-2: the keys are hashes."""
    from django.db import connection

    application, code = submitted()
    fail(reference=application.reference, code=wrong(code))
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM cache_table")
        keys = [row[0] for row in cursor.fetchall()]
    assert keys
    assert not any(application.reference in key or ADDRESS in key for key in keys)


def test_lookups_and_lockouts_are_logged_without_the_code_or_the_full_reference(caplog):
    """R-PUB-2: lookups and lockouts are logged without the code."""
    application, code = submitted()
    attempt = wrong(code)
    with caplog.at_level(logging.INFO, logger="admissions.lookup"):
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE):
            fail(reference=application.reference, code=attempt)
        with pytest.raises(LookupLocked):
            public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    records = [r for r in caplog.records if r.name == "admissions.lookup"]
    messages = [r.getMessage() for r in records]
    assert sum(m.startswith("lookup failed") for m in messages) == LOOKUP_FAILURES_PER_REFERENCE
    assert any("lockout" in m and r.levelno == logging.WARNING for m, r in zip(messages, records, strict=True))
    assert any("refused" in m for m in messages)
    for message in messages:
        assert attempt not in message and code not in message
        assert application.reference not in message
        assert ADDRESS not in message


def test_a_successful_lookup_is_logged_with_the_reference_masked(caplog):
    """R-PUB-2: lookups are logged; the reference only masked."""
    application, code = submitted()
    with caplog.at_level(logging.INFO, logger="admissions.lookup"):
        public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    messages = [r.getMessage() for r in caplog.records if r.name == "admissions.lookup"]
    assert any("lookup ok" in m and mask_reference(application.reference) in m for m in messages)
    assert not any(application.reference in m or code in m for m in messages)


# --- R-PUB-3 ------------------------------------------------------------------------------------
def answer_text(result) -> str:
    return json.dumps(dataclasses.asdict(result), default=str, ensure_ascii=False)


def test_the_answer_shows_the_name_masked_and_never_the_id_number():
    """R-PUB-3: the applicant's own name only masked (陈*英), the ID number never."""
    application, code = submitted(name="陈秀英")
    result = public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert result.applicant_name_masked == "陈*英"
    text = answer_text(result)
    id_number = application.applicant.id_number
    assert "陈秀英" not in text
    assert id_number not in text and id_number[-4:] not in text and application.applicant.masked_id_number not in text
    assert application.applicant.phone not in text


def test_the_answer_holds_no_other_applicants_data():
    """R-PUB-3: no other person's data, even in the same queue."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=2)  # full: both wait
    other = queued_application(choices=["YX01"], name="王大明", grade=3)
    mine = queued_application(choices=["YX01"], name="陈秀英", **DIBAO)
    code = app_services.lookup_code_issue(application=mine, actor=actor("intake"))
    result = public_lookup(reference=mine.reference, code=code, client_address=ADDRESS)
    text = answer_text(result)
    assert result.positions[0].position == 1
    for value in [other.reference, "王大明", "王*明", other.applicant.id_number, mask_reference(other.reference)]:
        assert value not in text


def test_a_waiting_application_shows_its_position_score_and_channel():
    """R-PUB-3 (STORIES 3): position, ahead for the same care level, score with its breakdown, channel."""
    with time_machine.travel(dt.datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI), tick=False):
        home = FacilityFactory(code="YX01", name="越秀区老人院")
        add_beds(home, nursing=2)
        queued_application(choices=["YX01"], grade=4)  # ordinary: behind the special channel
        queued_application(choices=["YX01"], grade=3, **DIBAO)  # special, higher score: ahead
        application = queued_application(choices=["YX01"], grade=2, lives_alone=True, **DIBAO)
        code = app_services.lookup_code_issue(application=application, actor=actor("intake"))
        result = public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert result.state == "waiting"
    assert result.channel == "special"
    assert "低保" in result.channel_reason
    assert result.care_level == "nursing"
    assert result.assessment_valid_until == application.current_assessment.valid_until
    assert result.offer is None
    [position] = result.positions
    assert (position.facility, position.facility_name) == ("YX01", "越秀区老人院")
    assert (position.position, position.ahead_same_care_level, position.ahead_on_hold) == (2, 1, 0)
    assert position.score == 28
    assert position.score_breakdown == {"care": 20, "age": 5, "family": 3, "waiting": 0}
    assert position.estimated_wait is None  # no admissions history yet (R-Q-5)
    assert result.next_steps


def test_an_offered_application_shows_the_offer_and_how_to_answer_it():
    """R-PUB-3: a live offer with its deadlines, and what to do next."""
    home = FacilityFactory(code="YX01", name="越秀区老人院", phone="020-8888 0000", address="越秀区 2 号")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"], grade=3)
    offer = Offer.objects.get(application=application, state="pending")
    code = app_services.lookup_code_issue(application=application, actor=actor("intake"))
    result = public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert result.state == "offered"
    assert result.offer.facility == "YX01"
    assert result.offer.address == "越秀区 2 号"
    assert result.offer.respond_by == offer.respond_by
    assert result.offer.admit_by is None
    assert any("020-8888 0000" in step for step in result.next_steps)


def test_the_state_label_is_in_the_active_language():
    """R-PUB-3: the state in plain words, in the reader's language."""
    from django.utils import translation

    application, code = submitted()
    with translation.override("en"):
        result = public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert result.state_label == "submitted"


def test_migrate_makes_the_table_of_the_database_cache_the_lookup_limits_live_in_r_pub_2():
    """Without it every lookup answered 500 on a database that had only been migrated."""
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE cache_table")
    assert "cache_table" not in connection.introspection.table_names()
    import_module("admissions.migrations.0012_cache_table").create_cache_table(
        apps, SimpleNamespace(connection=connection)
    )
    assert "cache_table" in connection.introspection.table_names()
    cache.set("lookup-probe", 1)
    assert cache.get("lookup-probe") == 1


# --- R-PUB-3: what to do next, state by state ------------------------------------------------------
def family_steps(state, *, offer=None, valid_until=None, now=None):
    """next_steps for an application in `state`, read in English (it reads only these two fields)."""
    from types import SimpleNamespace

    from django.utils import translation

    from admissions.services.lookup import next_steps

    assessment = SimpleNamespace(valid_until=valid_until) if valid_until is not None else None
    application = SimpleNamespace(pk=None, state=state, current_assessment=assessment)
    with translation.override("en"):
        return next_steps(application, offer=offer, now=now or dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC))


def an_offer(**overrides):
    from admissions.services.lookup import LookupOffer

    values = {
        "facility": "YX01",
        "facility_name": "Yuexiu Home",
        "address": "2 Yuexiu Road",
        "phone": "020-8888 0000",
        "state": "pending",
        # 23:30 in Shanghai is the next day's date: the deadline is written in local time.
        "respond_by": dt.datetime(2026, 6, 5, 15, 30, tzinfo=dt.UTC),
        "admit_by": dt.datetime(2026, 6, 12, 1, 5, tzinfo=dt.UTC),
    }
    return LookupOffer(**{**values, **overrides})


@pytest.mark.parametrize(
    ("state", "first_words"),
    [
        ("draft", "The application has not been handed in yet."),
        ("submitted", "The intake office is checking the application."),
        ("assessment_pending", "An assessor will visit"),
        ("review", "The assessment is being reviewed."),
        ("waiting", "The application is in the queue."),
        ("suspended", "The application keeps its place but gets no offer while suspended."),
        ("admitted", "The applicant has been admitted."),
        ("rejected", "This application is closed."),
        ("withdrawn", "This application is closed."),
        ("removed", "This application is closed."),
    ],
)
def test_each_state_tells_the_family_its_own_next_step(state, first_words):
    """R-PUB-3: what the family can do next depends on the state, and only the states that wait
    for an offer mention the assessment's end."""
    steps = family_steps(state, valid_until=dt.date(2027, 5, 31))
    assert steps[0].startswith(first_words)
    valid_step = "The assessment is valid until 31 May 2027; a new one is needed after that."
    assert (valid_step in steps) == (state in ("waiting", "suspended"))
    assert (valid_step == steps[-1]) == (state in ("waiting", "suspended"))


def test_a_waiting_family_reads_the_waiting_points_of_the_policy_and_that_a_text_will_come():
    """R-PUB-3, R-Q-3: the score rises by 1 every 30 days (§9), said in the policy's numbers."""
    from tests.spec import WAITING_PERIOD_DAYS, WAITING_POINTS_PER_PERIOD

    steps = family_steps("waiting")
    assert steps == [
        "The application is in the queue. There is nothing you need to do now.",
        f"The score rises by {WAITING_POINTS_PER_PERIOD} every {WAITING_PERIOD_DAYS} days of waiting.",
        "When a bed is offered you will get a text message with the deadline to answer.",
    ]


def test_an_offered_family_reads_the_deadline_in_local_time_the_home_and_the_refusal_rule():
    """R-PUB-3, R-OFF-1, R-OFF-5: answer by the deadline (Asia/Shanghai, minutes), 3 refusals in
    365 days remove the application (§9's numbers)."""
    from tests.spec import REFUSAL_LIMIT, REFUSAL_WINDOW_DAYS

    steps = family_steps("offered", offer=an_offer())
    assert steps[0] == "Answer the offer by 5 June 2026, 23:30 by calling Yuexiu Home at 020-8888 0000."
    assert f"after {REFUSAL_LIMIT} refusals within {REFUSAL_WINDOW_DAYS} days" in steps[1]
    assert len(steps) == 2
    assert family_steps("offered", offer=an_offer(phone=""))[0].endswith("at —.")


def test_an_admission_check_family_reads_where_to_come_and_by_when():
    """R-PUB-3, R-OFF-1: the home, its address and the admission deadline in local time."""
    steps = family_steps("admission_check", offer=an_offer(state="accepted"))
    assert steps == [
        "Come to Yuexiu Home, 2 Yuexiu Road, for the admission check by 12 June 2026, 09:05.",
        "Bring the resident ID card, the receipt and recent medical records.",
    ]
    assert family_steps("admission_check", offer=an_offer(address=""))[0].startswith("Come to Yuexiu Home, —,")


@pytest.mark.parametrize("state", ["offered", "admission_check"])
def test_without_a_live_offer_no_deadline_is_promised(state):
    """R-PUB-3: no offer (or an accepted one without its admission deadline): no deadline invented."""
    steps = family_steps(state, offer=None if state == "offered" else an_offer(admit_by=None))
    assert not any("by 20" in step for step in steps)


def test_the_answer_counts_the_waiting_points_at_the_moment_asked():
    """R-PUB-3 with R-Q-3: the portal's answer for a given moment adds a point for every full 30 days
    waited (§9) to the position's score and its breakdown."""
    from admissions.services.lookup import lookup_result
    from tests.spec import WAITING_PERIOD_DAYS, WAITING_POINTS_PER_PERIOD

    start = dt.datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        home = FacilityFactory(code="YX01")
        add_beds(home, nursing=1)
        application = queued_application(choices=["YX01"], grade=2)
        now_score = lookup_result(application).positions[0].score
    later = start + dt.timedelta(days=2 * WAITING_PERIOD_DAYS, hours=1)
    [position] = lookup_result(application, now=later).positions
    assert position.score_breakdown["waiting"] == 2 * WAITING_POINTS_PER_PERIOD
    assert (position.facility, position.care_level) == ("YX01", "nursing")  # grade 2 (R-CARE-1)
    assert position.score == now_score + 2 * WAITING_POINTS_PER_PERIOD


def test_a_refusal_names_the_wait_in_minutes_and_carries_retry_after():
    """R-PUB-2: a locked lookup says when to try again, in whole minutes for people and in seconds
    (retry_after, the API's Retry-After) for programs."""
    start = dt.datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        application, code = submitted()
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE):
            fail(reference=application.reference, code=wrong(code))
    with time_machine.travel(start + dt.timedelta(minutes=58, seconds=30), tick=False):
        from django.utils import translation

        with translation.override("en"), pytest.raises(LookupLocked) as locked:
            public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert locked.value.retry_after == 90
    assert locked.value.extra == {"retry_after": 90}
    assert locked.value.message == "Too many failed lookups. Please try again in 2 minutes."


def test_a_subject_whose_attempts_are_all_in_flight_is_told_to_wait_at_least_a_second():
    """R-SEC-4, R-PUB-2: five attempts of one reference still being checked fill its slots; a sixth
    is refused until the oldest leaves the hour, and never told to retry in less than a second."""
    from admissions.services import lookup as lookup_module

    start = dt.datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI)
    reference = unknown_reference()
    subject = lookup_module._subject_key("reference", reference.upper())
    with time_machine.travel(start, tick=False):
        now = start.timestamp()
        keys = lookup_module._slot_keys(subject, "reference", lookup_module._generation(now))
        assert len(keys) == LOOKUP_FAILURES_PER_REFERENCE
        oldest = now - LOOKUP_LOCK_SECONDS + 0.25  # leaves the window in a quarter of a second
        for n, key in enumerate(keys):
            cache.set(key, oldest + n, timeout=2 * LOOKUP_LOCK_SECONDS)
        with pytest.raises(LookupLocked) as refused:
            public_lookup(reference=reference, code="ABCDEF", client_address=ADDRESS)
    assert refused.value.retry_after == 1


def test_failures_on_both_sides_of_the_hour_mark_lock_for_a_full_hour():
    """R-PUB-2: failures *within an hour*, wherever the clock's hour starts: four at 20:30 and a fifth
    at 21:10 lock the reference for an hour from the fifth (not only until the first four age out)."""
    start = dt.datetime(2026, 11, 2, 20, 30, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        application, code = submitted()
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE - 1):
            fail(reference=application.reference, code=wrong(code))
    with time_machine.travel(start + dt.timedelta(minutes=40), tick=False):
        fail(reference=application.reference, code=wrong(code))
        with pytest.raises(LookupLocked) as locked:
            public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert locked.value.retry_after == LOOKUP_LOCK_SECONDS
    # 21:40: the four of 20:30 have left the window; the lock set at 21:10 holds until 22:10.
    with time_machine.travel(start + dt.timedelta(minutes=70), tick=False):
        with pytest.raises(LookupLocked) as still:
            public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert still.value.retry_after == 30 * 60


def test_the_lock_holds_for_its_hour_after_the_failures_that_set_it_leave_the_window():
    """R-PUB-2: locked for an hour from the failure that reached the limit: four failures at 20:00,
    the fifth at 20:50; at 21:10 the first four are out of the window, the lock still holds."""
    start = dt.datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        application, code = submitted()
    assert four_and_a_fifth_fifty_minutes_later(application, code, start).retry_after == 40 * 60
    with time_machine.travel(start + dt.timedelta(minutes=110, seconds=1), tick=False):
        assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS).reference


def test_an_accepted_offer_shows_the_admission_deadline():
    """R-PUB-3, R-OFF-1: once accepted, the answer gives the admission deadline and the check's step."""
    from admissions.services.offers import offer_accept

    home = FacilityFactory(code="YX01", name="越秀区老人院", address="越秀区 2 号")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"], grade=3)
    offer = offer_accept(offer=Offer.objects.get(application=application, state="pending"), actor=actor("facility"))
    code = app_services.lookup_code_issue(application=application, actor=actor("intake"))
    result = public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert result.state == "admission_check" and result.offer.state == "accepted"
    assert result.offer.admit_by == offer.admit_by is not None
    assert any("越秀区 2 号" in step for step in result.next_steps)


def test_a_failure_counts_until_the_last_second_of_its_hour():
    """R-PUB-2: failed lookups *an hour*: four at 20:00 and a fifth at 20:59:59 lock the reference (the
    four are still inside the hour, so their slots must still be there at its last second)."""
    start = dt.datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        application, code = submitted()
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE - 1):
            fail(reference=application.reference, code=wrong(code))
    with time_machine.travel(start + dt.timedelta(seconds=LOOKUP_LOCK_SECONDS - 1), tick=False):
        fail(reference=application.reference, code=wrong(code))
        with pytest.raises(LookupLocked) as locked:
            public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert locked.value.retry_after == LOOKUP_LOCK_SECONDS


def test_a_failure_exactly_an_hour_old_no_longer_counts():
    """R-PUB-2: the hour is the last 3,600 seconds: four failures at 20:00:00 have left it at 21:00:00,
    so a fifth then does not lock the reference and the right code is answered."""
    start = dt.datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        application, code = submitted()
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE - 1):
            fail(reference=application.reference, code=wrong(code))
    with time_machine.travel(start + dt.timedelta(seconds=LOOKUP_LOCK_SECONDS), tick=False):
        fail(reference=application.reference, code=wrong(code))
        assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS).reference


def test_a_reference_locked_before_is_locked_again_for_a_full_hour():
    """R-PUB-2: once a lock has run out, the next five failures within an hour lock the reference
    again for an hour from the fifth (not only until the oldest of them leaves the window)."""
    start = dt.datetime(2026, 11, 2, 20, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        application, code = submitted()
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE):
            fail(reference=application.reference, code=wrong(code))
    again = start + dt.timedelta(hours=2)  # the first lock (20:00–21:00) is over
    with time_machine.travel(again, tick=False):
        assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS).reference
    # 23:10: the four of 22:00 have left the window; the lock set at 22:50 holds until 23:50.
    assert four_and_a_fifth_fifty_minutes_later(application, code, again).retry_after == 40 * 60


def four_and_a_fifth_fifty_minutes_later(application, code: str, start: dt.datetime) -> LookupLocked:
    """Four failed lookups of the reference at `start`, a fifth 50 minutes later; the refusal of the
    right code 70 minutes after `start` (the four have left the window by then)."""
    with time_machine.travel(start, tick=False):
        for _ in range(LOOKUP_FAILURES_PER_REFERENCE - 1):
            fail(reference=application.reference, code=wrong(code))
    with time_machine.travel(start + dt.timedelta(minutes=50), tick=False):
        fail(reference=application.reference, code=wrong(code))
    with time_machine.travel(start + dt.timedelta(minutes=70), tick=False):
        with pytest.raises(LookupLocked) as locked:
            public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    return locked.value


def test_the_positions_come_in_the_order_of_the_applicant_s_choices():
    """R-PUB-3: a position for each chosen home, in the order the applicant chose them (the second
    home's code sorts first)."""
    for code in ("YX01", "YX02"):
        add_beds(FacilityFactory(code=code), nursing=1)  # full: the application waits at both
    application = queued_application(choices=["YX02", "YX01"], grade=2)
    code = app_services.lookup_code_issue(application=application, actor=actor("intake"))
    result = public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert [p.facility for p in result.positions] == ["YX02", "YX01"]


def test_the_answer_built_from_the_database_alone_counts_at_the_moment_asked():
    """R-PUB-3 with R-Q-3, R-Q-4: `lookup_answer` without the queue versions counts the positions in
    the database (`positions_for_application`), for the moment given, as the cached answer does."""
    from admissions.services.lookup import lookup_answer, lookup_result
    from tests.spec import WAITING_PERIOD_DAYS, WAITING_POINTS_PER_PERIOD

    start = dt.datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        home = FacilityFactory(code="YX01")
        add_beds(home, nursing=1)
        queued_application(choices=["YX01"], grade=4)
        application = queued_application(choices=["YX01"], grade=2)
    later = start + dt.timedelta(days=2 * WAITING_PERIOD_DAYS, hours=1)
    built = lookup_answer(application, now=later)
    [position] = built.positions
    assert position.score_breakdown["waiting"] == 2 * WAITING_POINTS_PER_PERIOD
    assert (position.facility, position.position, position.ahead_same_care_level) == ("YX01", 2, 1)
    assert built == lookup_result(application, now=later)


def test_a_single_applicant_s_answer_reads_no_couple_beyond_its_own_facts():
    """Issue 18 (R-PUB-3 in a few queries): whether the application is in a live couple is read with
    its other facts; another couple's link makes no couple query for a single applicant's answer."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from admissions.services.couples import couple_link
    from admissions.services.lookup import lookup_answer

    add_beds(FacilityFactory(code="YX01"), nursing=1)
    single = queued_application(choices=["YX01"], grade=2)
    wife = queued_application(choices=["YX01"], grade=2, date_of_birth=dt.date(1940, 1, 1), sex="F")
    husband = queued_application(choices=["YX01"], grade=0, date_of_birth=dt.date(1939, 1, 1), sex="M")
    couple_link(
        applications=[wife.reference, husband.reference], mode="together", reason="married", actor=actor("intake")
    )
    with CaptureQueriesContext(connection) as queries:
        steps = lookup_answer(single).next_steps
    couple_queries = [q["sql"] for q in queries.captured_queries if "couple" in q["sql"].lower()]
    assert len(couple_queries) == 1  # the facts' EXISTS
    assert not any("spouse" in step for step in steps)
