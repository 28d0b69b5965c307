"""The stored form of person digests: salted, fixed size, the same for the same salt."""

import os

from dlp.state import DIGEST_SIZE, salted


def test_salted_digests_are_keyed_and_stable():
    digests = os.urandom(16 * 3)
    a = salted(b"s" * 32, digests)
    assert len(a) == 3 and all(len(d) == DIGEST_SIZE for d in a)
    assert a == salted(b"s" * 32, digests)
    assert a != salted(b"t" * 32, digests)
    assert set(a).isdisjoint(digests[i:i + 16] for i in range(0, 48, 16))   # never stored raw


def test_an_operator_salt_longer_than_a_blake2b_key_works():
    """``openssl rand -hex 32 > salt`` writes 65 bytes."""
    salt = os.urandom(32).hex().encode() + b"\n"
    digests = os.urandom(32)
    assert salted(salt, digests) == salted(salt, digests)
    assert salted(salt, digests) != salted(salt[:64], digests)


def test_redis_catches_up_with_what_was_counted_while_it_was_away(tmp_path):
    """Persons recorded locally during a Redis outage are copied into Redis when it is back
    (a drip timed to an outage still adds up afterwards, for every replica), and a Redis that
    came back empty gets the deployment's salt back."""
    import asyncio
    import time

    import pytest
    redis_mod = pytest.importorskip("redis")
    from servers import RedisServer

    from dlp.state import redis_store
    from dlp.state.redis_store import RedisState

    server = RedisServer().start()
    state = RedisState(server.url, "t:", tmp_path)
    day = 86400.0

    async def scenario():
        salt = await state.salt()
        now = time.time()
        before = [os.urandom(16) for _ in range(3)]
        await state.window_add("user:a", before, now - 10, day)
        server.stop()                                   # Redis goes away (and loses everything)
        during = [os.urandom(16) for _ in range(5)]
        assert await state.window_count("user:a", during, day, now) == 8 and not state.up  # local view
        await state.window_add("user:a", during, now, day)
        server.start()                                  # back, empty
        redis_store.RETRY_SECONDS = 0.0
        try:
            return salt, await state.window_count("user:a", [], day, now + 1)
        finally:
            await state.close()

    try:
        salt, count = asyncio.run(scenario())
        assert state.up
        assert count == 5                               # the outage's persons are in Redis again
        plain = redis_mod.Redis.from_url(server.url)
        assert plain.get("t:salt") == salt
        assert plain.zcard("t:w:user:a") == 5 and plain.ttl("t:w:user:a") > 0
    finally:
        redis_store.RETRY_SECONDS = 5.0
        server.stop()
