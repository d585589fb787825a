"""R-SEC-4: the lookup limits of R-PUB-2 count an attempt atomically *before* the code is checked,
so a parallel burst cannot test more codes than the limit; and R-SEC-8: lookup codes are hashed
with their own keys, so rotating SECRET_KEY breaks no code.

The SPEC's numbers are pinned here (5 per reference, 10 per address, locked for an hour), never read
from the module under test. Every test runs on both shared caches the product counts in: the
database cache (the default) and Redis (production's REDIS_CACHE_URL)."""

import hashlib
import hmac
import threading

import pytest
from django.core.cache import cache
from django.db import connection, connections

from admissions.models import Application
from admissions.services import applications as app_services
from admissions.services import lookup as lookup_module
from admissions.services.lookup import LookupLocked, LookupNotFound, public_lookup
from tests import spec
from tests.factories import FacilityFactory, actor, intake

PER_REFERENCE = spec.LOOKUP_FAILURES_PER_REFERENCE  # 5
PER_ADDRESS = spec.LOOKUP_FAILURES_PER_ADDRESS  # 10
HOUR = spec.LOOKUP_LOCK_SECONDS  # locked for an hour
ADDRESS = "203.0.113.7"


@pytest.fixture(autouse=True, params=["database cache", "redis"])
def _empty_cache(request):
    """An empty cache of each kind: the database cache (the default) and Redis (tests/conftest.py)."""
    if request.param == "redis":
        yield request.getfixturevalue("redis_cache")
        return
    cache.clear()
    yield
    cache.clear()


def submitted():
    FacilityFactory(code="YX01")
    return app_services.application_create(data=intake(choices=["YX01"]), submit=True, actor=actor("intake"))


def wrong(code: str, n: int = 0) -> str:
    """The n-th well-formed code that is not `code` (all different for different n): the first
    character always moves by 1 … L-1 places, the second by n // (L-1)."""
    alphabet = app_services.LOOKUP_CODE_ALPHABET
    size = len(alphabet)
    first = alphabet[(alphabet.index(code[0]) + 1 + n % (size - 1)) % size]
    second = alphabet[(alphabet.index(code[1]) + n // (size - 1)) % size]
    return first + second + code[2:]


def counting_checks(monkeypatch) -> list[str]:
    """Record every code actually compared against a hash."""
    tested: list[str] = []
    lock = threading.Lock()
    real = lookup_module.lookup_code_matching_key

    def counting(expected, reference, code):
        with lock:
            tested.append(code)
        return real(expected, reference, code)

    monkeypatch.setattr(lookup_module, "lookup_code_matching_key", counting)
    return tested


# --- R-SEC-4 without threads: an attempt in flight already counts ------------------------------------
@pytest.mark.django_db
def test_lookups_still_being_checked_already_count_against_the_reference(monkeypatch):
    """R-SEC-4: while 5 lookups of one reference are between their count and their answer, a 6th
    is refused (429) without its code being checked, even the right one."""
    application, code = submitted()
    real_matching = lookup_module._application_matching
    depth = {"n": 0}
    outcomes = []

    def nested(reference, attempt):
        # Each lookup, while being checked, starts the next one: all of them in flight at once.
        depth["n"] += 1
        if depth["n"] < PER_REFERENCE + 1:
            try:
                public_lookup(reference=application.reference, code=wrong(code, depth["n"]), client_address=ADDRESS)
            except (LookupNotFound, LookupLocked) as exc:
                outcomes.append(type(exc))
        elif depth["n"] == PER_REFERENCE + 1:
            pytest.fail("a 6th lookup of one reference was checked while 5 were in flight")
        return real_matching(reference, attempt)

    monkeypatch.setattr(lookup_module, "_application_matching", nested)
    with pytest.raises(LookupNotFound):
        public_lookup(reference=application.reference, code=wrong(code, 0), client_address=ADDRESS)
    # The 6th (the innermost call) was refused before being checked; 4 others failed normally.
    assert outcomes[0] is LookupLocked
    assert outcomes[1:] == [LookupNotFound] * (PER_REFERENCE - 1)
    monkeypatch.setattr(lookup_module, "_application_matching", real_matching)
    with pytest.raises(LookupLocked) as locked:
        public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert HOUR - 5 <= locked.value.retry_after <= HOUR


@pytest.mark.django_db
def test_a_successful_lookup_gives_its_attempt_back():
    """R-PUB-2 counts failures only: ten right lookups and four wrong ones do not lock a reference."""
    application, code = submitted()
    for _ in range(PER_ADDRESS):
        assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    for n in range(PER_REFERENCE - 1):
        with pytest.raises(LookupNotFound):
            public_lookup(reference=application.reference, code=wrong(code, n), client_address=ADDRESS)
    assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS)


@pytest.mark.django_db
def test_a_refusal_for_the_reference_does_not_use_up_the_address():
    """R-PUB-2: a 429 is not a failure: the address's attempt claimed before the reference refused
    is given back."""
    locked_application, _ = submitted()
    other, other_code = submitted()
    for n in range(PER_REFERENCE):
        with pytest.raises(LookupNotFound):
            public_lookup(reference=locked_application.reference, code=wrong("ABCDEF", n), client_address=ADDRESS)
    for _ in range(3 * PER_ADDRESS):
        with pytest.raises(LookupLocked):
            public_lookup(reference=locked_application.reference, code="ABCDEF", client_address=ADDRESS)
    for n in range(PER_ADDRESS - PER_REFERENCE - 1):
        with pytest.raises(LookupNotFound):
            public_lookup(reference=other.reference, code=wrong(other_code, n), client_address=ADDRESS)
    assert public_lookup(reference=other.reference, code=other_code, client_address=ADDRESS)


# --- R-SEC-4 under real concurrency (PostgreSQL) ------------------------------------------------------
RACERS = 20


def burst(calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def lookup_call(reference, code, address=ADDRESS):
    return lambda: public_lookup(reference=reference, code=code, client_address=address)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serialises all writers")
def test_a_burst_of_wrong_codes_for_one_reference_tests_at_most_five(monkeypatch):
    """R-SEC-4: 20 simultaneous wrong codes for one reference from one address: at most 5 codes are
    checked, the others are refused with 429; afterwards the right code is refused too."""
    application, code = submitted()
    tested = counting_checks(monkeypatch)
    results = burst([lookup_call(application.reference, wrong(code, n)) for n in range(RACERS)])
    assert not [r for r in results if not isinstance(r, LookupNotFound | LookupLocked)], results
    assert sum(isinstance(r, LookupNotFound) for r in results) == PER_REFERENCE
    assert len(tested) == PER_REFERENCE
    with pytest.raises(LookupLocked):
        public_lookup(reference=application.reference, code=code, client_address="198.51.100.1")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serialises all writers")
def test_the_right_code_inside_a_burst_is_refused_once_the_limit_is_reached(monkeypatch):
    """R-SEC-4: three bursts of 20, the right code in each: no more than 5 codes are ever checked,
    and the right code is accepted only if it was among them."""
    application, code = submitted()
    tested = counting_checks(monkeypatch)
    accepted = 0
    for round_ in range(3):
        calls = [lookup_call(application.reference, wrong(code, round_ * RACERS + n)) for n in range(RACERS - 1)]
        calls.insert(round_ * 7, lookup_call(application.reference, code))
        results = burst(calls)
        assert not [r for r in results if not isinstance(r, LookupNotFound | LookupLocked | lookup_module.LookupResult)]
        accepted += sum(isinstance(r, lookup_module.LookupResult) for r in results)
    wrong_tested = [c for c in tested if c != code]
    assert len(wrong_tested) <= PER_REFERENCE
    assert len(tested) <= PER_REFERENCE + accepted
    assert accepted <= 1 or len(wrong_tested) < PER_REFERENCE
    with pytest.raises(LookupLocked):
        public_lookup(reference=application.reference, code=code, client_address="198.51.100.1")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serialises all writers")
def test_a_burst_from_one_address_over_many_references_tests_at_most_ten(monkeypatch):
    """R-SEC-4: 20 simultaneous lookups of 20 different references from one address: at most 10
    codes are checked."""
    tested = counting_checks(monkeypatch)
    results = burst([lookup_call(f"2026-9{n:05d}", "ABCDEF") for n in range(RACERS)])
    assert not [r for r in results if not isinstance(r, LookupNotFound | LookupLocked)], results
    assert sum(isinstance(r, LookupNotFound) for r in results) == PER_ADDRESS
    assert sum(isinstance(r, LookupLocked) for r in results) == RACERS - PER_ADDRESS
    assert len(tested) == PER_ADDRESS


# --- R-SEC-8: keys of their own -------------------------------------------------------------------------
def legacy_hash(reference: str, code: str, secret: str) -> str:
    """How codes were hashed before R-SEC-8: HMAC-SHA256 under SECRET_KEY."""
    return hmac.new(secret.encode(), f"{reference}:{code.upper()}".encode(), hashlib.sha256).hexdigest()


@pytest.mark.django_db
def test_a_code_issued_before_the_upgrade_keeps_working_and_moves_to_the_newest_key(settings):
    """R-SEC-8: on upgrade the oldest key is the current SECRET_KEY; a code matching under it is
    re-hashed under the newest key, after which rotating SECRET_KEY does not break it."""
    application, code = submitted()
    Application.objects.filter(pk=application.pk).update(
        lookup_code_hash=legacy_hash(application.reference, code, settings.SECRET_KEY)
    )
    settings.LOOKUP_CODE_KEYS = ["a-new-lookup-code-key"]
    assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    stored = Application.objects.get(pk=application.pk).lookup_code_hash
    assert stored == legacy_hash(application.reference, code, "a-new-lookup-code-key")
    settings.SECRET_KEY = "a-rotated-secret-key"
    assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS)


@pytest.mark.django_db
def test_with_no_lookup_code_keys_set_existing_codes_keep_working(settings):
    """R-SEC-8: an upgrade that sets nothing changes nothing for the families."""
    settings.LOOKUP_CODE_KEYS = []
    application, code = submitted()
    Application.objects.filter(pk=application.pk).update(
        lookup_code_hash=legacy_hash(application.reference, code, settings.SECRET_KEY)
    )
    assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS)


@pytest.mark.django_db
def test_rotating_secret_key_breaks_no_code_and_keys_rotate(settings):
    """R-SEC-8: codes are hashed with the newest of LOOKUP_CODE_KEYS, not SECRET_KEY; adding a newer
    key keeps older codes working (re-hashed on use); a key dropped from the list ends its codes."""
    settings.LOOKUP_CODE_KEYS = ["key-2026"]
    application, code = submitted()
    assert application.lookup_code_hash == legacy_hash(application.reference, code, "key-2026")
    settings.SECRET_KEY = "rotated-secret-key-one"
    assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    settings.LOOKUP_CODE_KEYS = ["key-2027", "key-2026"]
    assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS)
    assert Application.objects.get(pk=application.pk).lookup_code_hash == legacy_hash(
        application.reference, code, "key-2027"
    )
    settings.LOOKUP_CODE_KEYS = ["key-2027"]
    assert public_lookup(reference=application.reference, code=code, client_address=ADDRESS)


@pytest.mark.django_db
def test_a_code_under_a_key_no_longer_listed_does_not_match(settings):
    settings.LOOKUP_CODE_KEYS = ["key-a"]
    application, code = submitted()
    settings.LOOKUP_CODE_KEYS = ["key-b"]
    with pytest.raises(LookupNotFound):
        public_lookup(reference=application.reference, code=code, client_address=ADDRESS)


# --- R-SEC-4: whose address counts --------------------------------------------------------------------
def api_lookup(reference, code, *, remote, forwarded):
    from rest_framework.test import APIClient

    return APIClient().post(
        "/api/v1/public/lookup/",
        {"reference": reference, "code": code},
        format="json",
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.mark.django_db
def test_a_client_cannot_escape_the_address_limit_by_writing_x_forwarded_for(settings):
    """R-SEC-4: without a trusted proxy the address is REMOTE_ADDR, whatever X-Forwarded-For says."""
    settings.TRUSTED_PROXIES = []
    application, code = submitted()
    for n in range(PER_ADDRESS):
        assert api_lookup(f"2026-9{n:05d}", "ABCDEF", remote=ADDRESS, forwarded=f"192.0.2.{n}").status_code == 404
    locked = api_lookup(application.reference, code, remote=ADDRESS, forwarded="192.0.2.200")
    assert locked.status_code == 429


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_is_counted_by_its_forwarded_address(settings):
    """R-SEC-4: from a trusted proxy the client is the nearest untrusted X-Forwarded-For address."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    application, code = submitted()
    for n in range(PER_ADDRESS):
        response = api_lookup(f"2026-9{n:05d}", "ABCDEF", remote="10.0.0.2", forwarded=f"1.2.3.{n}, {ADDRESS}")
        assert response.status_code == 404
    assert api_lookup(application.reference, code, remote="10.0.0.2", forwarded=ADDRESS).status_code == 429
    # Another client behind the same proxy is not locked out.
    assert api_lookup(application.reference, code, remote="10.0.0.2", forwarded="198.51.100.4").status_code == 200
