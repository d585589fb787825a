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


@pytest.mark.parametrize("bad_reference", ["", "2026-000001\x00", "x" * 10_000, "２０２６-000001", "' OR 1=1 --"])
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
