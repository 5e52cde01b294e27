"""The byte budget: bounded holdings, arrival order, timeouts and cancellation give back."""

from __future__ import annotations

import asyncio

import pytest

from emulator.serve.budget import ByteBudget

pytestmark = pytest.mark.asyncio


async def test_holds_up_to_the_limit_and_grants_in_arrival_order() -> None:
    budget = ByteBudget(10)
    order: list[str] = []
    release = asyncio.Event()

    async def user(name: str, size: int) -> None:
        async with budget.hold(size, timeout=5):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(user("a", 6))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(user("b", 6)), asyncio.create_task(user("c", 1))]
    await asyncio.sleep(0.01)
    assert order == ["a"] and budget.waiting == 2  # c fits but waits its turn behind b
    release.set()
    await asyncio.gather(first, *rest)
    assert order == ["a", "b", "c"] and budget.used == 0 and budget.peak <= 10


async def test_a_body_larger_than_the_budget_waits_until_alone() -> None:
    budget = ByteBudget(10)
    async with budget.hold(3, timeout=1):
        with pytest.raises(TimeoutError):
            async with budget.hold(50, timeout=0.05):
                pass
    async with budget.hold(50, timeout=1):
        assert budget.used == 10
    assert budget.used == 0 and budget.waiting == 0


async def test_cancelled_waiters_leave_no_reservation_behind() -> None:
    budget = ByteBudget(10)
    async with budget.hold(10, timeout=1):
        waiter = asyncio.create_task(budget.hold(5, timeout=5).__aenter__())
        await asyncio.sleep(0.01)
        waiter.cancel()
        await asyncio.sleep(0)
    await asyncio.gather(waiter, return_exceptions=True)
    assert budget.used == 0 and budget.waiting == 0
    async with budget.hold(10, timeout=0.1):
        pass

