import asyncio
import threading

import pytest

from americano_pipeline.api.pool import BoundedPool, ComputeTimeout, Saturated


def test_a_full_pool_refuses_at_once_and_admits_again_when_a_place_frees():
    pool = BoundedPool(workers=1, queue=1, timeout=5)
    release = threading.Event()

    async def scenario():
        running = [asyncio.create_task(pool.run(release.wait)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(Saturated, match="1 workers and 1 waiting places"):
            await pool.run(lambda: None)
        release.set()
        await asyncio.gather(*running)
        return await pool.run(lambda: 42)

    assert asyncio.run(scenario()) == 42
    pool.shutdown()


def test_a_computation_longer_than_the_timeout_is_refused_and_frees_its_place_when_it_ends():
    pool = BoundedPool(workers=1, queue=0, timeout=0.05)
    release = threading.Event()

    async def scenario():
        with pytest.raises(ComputeTimeout, match="longer than"):
            await pool.run(release.wait)
        with pytest.raises(Saturated):
            await pool.run(lambda: None)
        release.set()
        await asyncio.sleep(0.05)
        return await pool.run(lambda: "free")

    assert asyncio.run(scenario()) == "free"
    pool.shutdown()


def test_the_pool_is_quiet_only_once_nothing_ran_for_the_given_time():
    pool = BoundedPool(workers=1, queue=1, timeout=5)
    release = threading.Event()

    async def scenario():
        running = asyncio.create_task(pool.run(release.wait))
        await asyncio.sleep(0.05)
        during = pool.quiet(0.0)
        release.set()
        await running
        just_after = pool.quiet(0.2)
        await asyncio.sleep(0.25)
        return during, just_after, pool.quiet(0.2)

    assert asyncio.run(scenario()) == (False, False, True)
    pool.shutdown()
