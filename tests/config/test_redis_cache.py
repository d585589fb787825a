"""config/redis_cache.py: production's cache (REDIS_CACHE_URL) keeps one redis.Redis client per
connection pool instead of building one per command (issue 18), and is still Django's cache.
Runs against the machine's Redis (tests/conftest.py's `redis_cache`)."""

from __future__ import annotations

from django.core.cache import caches

from config.redis_cache import ReusingRedisCache


def test_the_production_setting_names_this_backend(monkeypatch):
    import importlib

    import config.settings

    monkeypatch.setenv("REDIS_CACHE_URL", "redis://127.0.0.1:6379/1")
    try:
        reloaded = importlib.reload(config.settings)
        assert reloaded.CACHES["default"] == {
            "BACKEND": "config.redis_cache.ReusingRedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
        }
    finally:
        monkeypatch.delenv("REDIS_CACHE_URL")
        importlib.reload(config.settings)


def test_one_client_serves_every_command(redis_cache):
    assert isinstance(caches["default"], ReusingRedisCache)
    backend = caches["default"]._cache
    assert backend.get_client(write=True) is backend.get_client(write=False) is backend.get_client("key")


def test_it_is_still_djangos_cache(redis_cache):
    assert redis_cache.get("missing") is None
    assert redis_cache.add("slot", 1.5, timeout=60) is True
    assert redis_cache.add("slot", 2.5, timeout=60) is False  # atomic: SET NX (R-SEC-4 relies on it)
    redis_cache.set("failed", [1.5, "failed"], timeout=60)
    assert redis_cache.get_many(["slot", "failed", "missing"]) == {"slot": 1.5, "failed": [1.5, "failed"]}
    redis_cache.delete_many(["slot", "failed"])
    assert redis_cache.get_many(["slot", "failed"]) == {}
