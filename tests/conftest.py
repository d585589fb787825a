import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Uploaded evidence written by tests goes to a throwaway folder.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _lookup_phases_forgotten():
    """The lookup keeps each home's waiting-point phases per process, by (home, queue version): a
    rolled-back test leaves the same pair to the next test with other entries (issue 18)."""
    from admissions.services import lookup

    lookup.forget_phases()
    yield
    lookup.forget_phases()


@pytest.fixture(autouse=True)
def _english_by_default():
    """Tests read messages in English unless they choose a language.

    Outside a request Django uses LANGUAGE_CODE, which is zh-hans: without this, every message
    raised by a service would be Chinese. Tests of the Chinese text override it explicitly
    (tests/test_translations.py); requests made with the test client still choose their own
    language (LocaleMiddleware), and a test that changed it is reset afterwards.
    """
    translation.activate("en")
    yield
    translation.deactivate()


# There is no DNS here: webhook hosts (R-SEC-5) resolve through this table in every test. Names
# not in it do not resolve. A test that needs another answer patches `resolve` itself.
FAKE_DNS = {
    "example.org": ["93.184.215.14"],
    "hooks.example.org": ["93.184.215.15"],
    "x.org": ["93.184.215.16"],
}


@pytest.fixture(autouse=True)
def _fake_dns(monkeypatch):
    import socket

    from admissions import webhook_hosts

    def resolve(host: str, port: int) -> list[str]:
        if host not in FAKE_DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(FAKE_DNS[host])

    monkeypatch.setattr(webhook_hosts, "resolve", resolve)


@pytest.fixture
def empty_cache():
    """The public lookup's failure counts and lockouts (R-PUB-2) live in the cache, which no test
    database flush empties: a test that looks up starts and ends with it empty."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def redis_cache(settings):
    """Production's cache (config/redis_cache.py) on the machine's Redis, under a key prefix of this
    test's own (never a FLUSHDB: another run may share the server), its keys removed afterwards."""
    import os
    import uuid

    import redis
    from django.core.cache import cache

    location = os.environ.get("TEST_REDIS_CACHE_URL", "redis://127.0.0.1:6379/3")
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {"BACKEND": "config.redis_cache.ReusingRedisCache", "LOCATION": location, "KEY_PREFIX": prefix}
    }
    yield cache
    server = redis.Redis.from_url(location)
    keys = list(server.scan_iter(f"{prefix}:*"))
    if keys:
        server.delete(*keys)
