"""dlp/admission.py: the byte semaphore that bounds how much body the proxy holds at once."""

import asyncio

import pytest

from dlp.admission import SMALL, Admission

MIB = 2**20


def run(coro):
    return asyncio.run(coro)


def test_small_bodies_are_never_counted_or_held_back():
    adm = Admission(4 * MIB)
    assert adm.try_acquire(4 * MIB)
    assert adm.counted(SMALL - 1) == 0 and adm.try_acquire(SMALL - 1)
    assert adm.used == 4 * MIB


def test_large_bodies_wait_in_order_and_pass_when_room_is_made():
    async def scenario():
        adm = Admission(4 * MIB)
        assert adm.try_acquire(3 * MIB)
        order: list[str] = []

        async def ask(name: str, size: int) -> None:
            assert await adm.acquire(size, timeout=5)
            order.append(name)

        first = asyncio.create_task(ask("first", 2 * MIB))
        await asyncio.sleep(0)
        second = asyncio.create_task(ask("second", 1 * MIB))  # would fit now, but waits its turn
        await asyncio.sleep(0.05)
        assert order == [] and adm.waiting == 2
        adm.release(3 * MIB)
        await asyncio.gather(first, second)
        return order, adm.used

    order, used = run(scenario())
    assert order == ["first", "second"] and used == 3 * MIB


def test_a_body_larger_than_the_capacity_passes_alone():
    async def scenario():
        adm = Admission(4 * MIB)
        assert adm.try_acquire(2 * MIB)
        waiter = asyncio.create_task(adm.acquire(10 * MIB, timeout=5))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        adm.release(2 * MIB)
        assert await waiter
        return adm.used

    assert run(scenario()) == 4 * MIB  # counted as the whole capacity


def test_a_wait_that_runs_out_gives_up_its_place():
    async def scenario():
        adm = Admission(4 * MIB)
        assert adm.try_acquire(4 * MIB)
        assert not await adm.acquire(2 * MIB, timeout=0.1)
        assert adm.waiting == 0
        adm.release(4 * MIB)
        return adm.try_acquire(2 * MIB), adm.used

    assert run(scenario()) == (True, 2 * MIB)


def test_a_cancelled_wait_leaves_nothing_held():
    async def scenario():
        adm = Admission(4 * MIB)
        assert adm.try_acquire(4 * MIB)
        waiter = asyncio.create_task(adm.acquire(2 * MIB, timeout=5))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        adm.release(4 * MIB)
        return adm.used, adm.waiting

    assert run(scenario()) == (0, 0)
