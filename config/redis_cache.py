"""The Redis cache backend, with one `redis.Redis` client per connection pool instead of one per
command (issue 18).

Django's RedisCacheClient builds a new `redis.Redis` for every cache call. Building one fills its
table of ~170 reply callbacks, about 0.2 ms of CPU: a public lookup makes eight cache calls (its
rate limits and its cached answer), so a sixth of its CPU went on building clients it threw away.
A client holds no connection of its own (it borrows one from the pool for each command) and redis-py
says one may be shared between threads; Django's cache handler gives each thread its own backend
anyway. Everything else is Django's.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
