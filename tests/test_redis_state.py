"""The Redis stores against a real redis-server: the same semantics as the in-memory ones.

The step script must be :data:`emulator.scenarios.counters.STEP_SEMANTICS` exactly as the
in-memory counters run it — checked here step for step on generated plans (times, sequences,
probabilities with their draws, rate-limit windows) — and two sharing processes (two
:class:`RedisSharing` on one Redis) must see each other's definitions.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.clock import Clock
from emulator.scenarios.counters import MemoryCounters
from emulator.scenarios.facts import Facts
from emulator.scenarios.loading import parse
from emulator.scenarios.store import ScenarioStore
from emulator.serve.journal import Coverage, Entry, Journal
from emulator.serve.sharing import RedisSharing
from emulator.state.counts import Plan
from emulator.state.redis_counters import RedisCounters, RedisRates
from emulator.state.redis_link import RedisLink
from emulator.state.redis_objects import RedisFiles, RedisTasks
from emulator.state.redis_records import RedisRecords
from emulator.state.tasks import FINISHED, PROCESSING, StateError, Task
from emulator.wire.credentials import Credentials
from tests.realservers import RedisServer


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    return redis_server.url(3)


def _link(url: str) -> RedisLink:
    return RedisLink(url, "t" + secrets.token_hex(6))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


PLANS = st.builds(
    Plan,
    times=st.none() | st.integers(0, 4),
    bound=st.none() | st.integers(1, 4),
    probability=st.none() | st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    seed=st.text("ab/0", min_size=1, max_size=6),
    rates=st.lists(st.none() | st.tuples(st.integers(1, 3), st.sampled_from([0.5, 1.0])),
                   min_size=1, max_size=3).map(tuple))
STEPS = st.lists(st.tuples(st.sampled_from(["AKIDA", "AKIDB"]),
                           st.floats(0, 3, allow_nan=False)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=PLANS, steps=STEPS)
def test_the_step_script_is_the_in_memory_step(url: str, plan: Plan,
                                               steps: list[tuple[str, float]]) -> None:
    async def both() -> tuple[list[Any], list[Any]]:
        link = _link(url)
        memory, shared = MemoryCounters(), RedisCounters(link)
        mine, theirs = [], []
        for key, now in sorted(steps, key=lambda s: s[1]):  # time moves forward
            mine.append(await memory.step("u", 0, plan, key, now))
            theirs.append(await shared.step("u", 0, plan, key, now))
        assert await memory.read("u", 1) == await shared.read("u", 1)
        await link.drop("*")
        await link.close()
        return mine, theirs

    mine, theirs = run(both())
    assert mine == theirs


def test_ordinals_and_tallies_agree(url: str) -> None:
    async def check() -> None:
        link = _link(url)
        plan = Plan(times=2, bound=None, probability=None, seed="s", rates=(None,))
        for counters in (MemoryCounters(), RedisCounters(link)):
            assert await counters.begin(["a", "b"]) == [1, 1]
            assert await counters.begin(["a"]) == [2]
            for _ in range(3):
                await counters.step("a", 1, plan, "K", 0.0)
            requests, tallies = await counters.read("a", 2)
            assert requests == 2 and (tallies[1].matched, tallies[1].hits) == (2, 2)
            await counters.forget(["a"])
            assert (await counters.read("a", 2))[0] == 0
        await link.close()

    run(check())


def test_times_one_acts_once_under_concurrent_steps(url: str) -> None:
    async def check() -> int:
        links = [_link(url) for _ in range(4)]
        for link in links[1:]:
            link.prefix = links[0].prefix  # four clients of one emulator
        plan = Plan(times=1, bound=None, probability=None, seed="s", rates=(None,))
        steps = await asyncio.gather(*[RedisCounters(links[i % 4]).step("u", 0, plan, "K", 0.0)
                                       for i in range(48)])
        for link in links:
            await link.close()
        return sum(step.acts for step in steps)

    assert run(check()) == 1


def test_documented_rate_windows_slide(url: str) -> None:
    async def check() -> list[bool]:
        link = _link(url)
        rates = RedisRates(link)
        allowed = [await rates.allow("AKIDA", "X", 2, t) for t in (0.0, 0.1, 0.2, 1.05, 1.5)]
        await link.close()
        return allowed

    assert run(check()) == [True, True, False, True, True]


def test_result_files_are_bounded_and_signed_with_one_secret(url: str) -> None:
    async def check() -> None:
        link = _link(url)
        files = RedisFiles(link, max_files=2, max_bytes=10**6)
        files.use_secret(b"s" * 32)
        keys = [await files.put(bytes([i]) * 100, "image/png") for i in range(3)]
        assert await files.get(keys[0]) is None  # the oldest went
        kept = await files.get(keys[2])
        assert kept is not None and kept.data == b"\x02" * 100
        assert kept.content_type == "image/png"
        await files.delete(keys[2])
        assert await files.get(keys[2]) is None
        small = RedisFiles(link, max_files=100, max_bytes=250)
        big = [await small.put(b"x" * 100, "video/mp4") for _ in range(3)]
        assert await small.get(big[0]) is None and await small.get(big[2]) is not None
        other = RedisFiles(link, 2, 10**6)
        other.use_secret(b"s" * 32)
        url_text = files.url("http://h", keys[1], "a.png", 0.0)
        sign_time = url_text.split("q-sign-time=")[1].split("&")[0]
        signature = url_text.split("q-signature=")[1]
        assert other.valid_until(keys[1], sign_time, signature) is not None
        await link.drop("*")
        await link.close()

    run(check())


def test_tasks_move_forward_only_and_the_oldest_finished_is_evicted(url: str) -> None:
    async def check() -> None:
        link = _link(url)
        evicted: list[str] = []

        async def on_evict(task: Task) -> None:
            evicted.append(task.task_id)

        tasks = RedisTasks(link, max_tasks=2, on_evict=on_evict)
        for i in range(2):
            await tasks.create(Task(task_id=str(i), owner="A", created_at=float(i),
                                    estimated_seconds=1.0, video={"Duration": 1}))
        await tasks.transition("0", PROCESSING, 5.0)
        done = await tasks.transition("0", FINISHED, 6.0, error="x")
        assert done.history == (("QUEUING", 0.0), ("PROCESSING", 5.0), ("FINISHED", 6.0))
        with pytest.raises(StateError):
            await tasks.transition("0", PROCESSING, 7.0)
        assert await tasks.running("A") == 1
        await tasks.create(Task(task_id="2", owner="A", created_at=2.0, estimated_seconds=1.0))
        assert evicted == ["0"] and [t.task_id for t in await tasks.all()] == ["1", "2"]
        got = await tasks.get("1")
        assert got is not None and got.video == {"Duration": 1}
        await link.drop("*")
        await link.close()

    run(check())


def test_journal_stream_is_capped_and_cleared_per_account(url: str) -> None:
    async def check() -> None:
        link = _link(url)
        records = RedisRecords(link, size=3)
        for i in range(5):
            entry = Entry(time=float(i), request_id=str(i), code="OK", latency_ms=1.0,
                          secret_id="A" if i % 2 else "B", options=("Head",))
            await records.record(entry.to_json(), "OK", "Act", "A" if i % 2 else None)
        entries, recorded = await records.entries()
        journal = Journal.restore(3, map(Entry.from_json, entries), recorded)
        assert [e.request_id for e in journal] == ["2", "3", "4"] and journal.recorded == 5
        assert journal.query()[0].options == ("Head",)
        assert await records.clear("A") == 1
        codes, per_action, _ = await records.counts()
        assert codes == {"OK": 5} and per_action == {"Act": {"OK": 5}}
        assert (await records.counts("A"))[0] == {"OK": 2}
        report = Coverage(0.0, {"Act": ("InternalError",)}).restore(codes, per_action).report()
        assert report["requests"] == 5 and report["actions"]["Act"]["ok"] == 5
        await link.drop("*")
        await link.close()

    run(check())


def _process(url: str, prefix: str) -> tuple[RedisSharing, ScenarioStore, Credentials, Clock]:
    """One process of an emulator sharing its state: its Redis stores and its mirror."""
    link = RedisLink(url, prefix)
    sharing = RedisSharing(link, RedisRecords(link, 10), RedisFiles(link, 10, 10**6),
                           Journal(10), Coverage(0.0))
    return sharing, ScenarioStore([], 0.0, counters=RedisCounters(link)), Credentials({}), \
        Clock(lambda: 1000.0)


def test_definitions_made_in_one_process_reach_the_other(url: str) -> None:
    async def check() -> None:
        prefix = "t" + secrets.token_hex(6)
        one, store_a, credentials_a, clock_a = _process(url, prefix)
        other, store_b, credentials_b, clock_b = _process(url, prefix)
        await one.start(store_a, credentials_a, clock_a)
        await other.start(store_b, credentials_b, clock_b)
        store_a.put(parse({"name": "once", "rules": [
            {"times": 1, "effect": {"error": {"code": "InternalError"}}}]}, "t"))
        await one.scenarios_changed(None)
        account = credentials_a.create()
        await one.account_saved(account)
        clock_a.shift(60)
        await one.clock_changed(None)
        await other.sync()
        assert list(store_b.active) == ["once"]
        assert credentials_b.find(account.secret_id) == account
        assert clock_b.now() == 1060.0
        decisions = [await store.decide(Facts(), 0.0) for store in (store_b, store_a)]
        assert [d.effect is not None for d in decisions] == [True, False]
        store_b.reset(0.0)
        await other.reset(None)
        await one.sync()
        assert not store_a.active
        assert (await store_a.decide(Facts(), 0.0)).effect is None
        await one.link.drop("*")
        await one.close()
        await other.close()

    run(check())


def test_a_redis_that_lost_its_data_gets_the_start_state_again(url: str) -> None:
    """Redis restarted without persistence: the next sync writes the start state (the start
    scenarios, fresh) instead of serving an empty or stale one."""
    async def check() -> None:
        prefix = "t" + secrets.token_hex(6)
        sharing, _, credentials, clock = _process(url, prefix)
        start = parse({"name": "boot", "rules": [{"effect": "pass"}]}, "boot.json")
        store = ScenarioStore([start], 0.0, counters=RedisCounters(sharing.link))
        await sharing.start(store, credentials, clock)
        store.put(parse({"name": "later", "rules": [{"effect": "pass"}]}, "t"))
        await sharing.scenarios_changed(None)
        first_uid = store.active["boot"].uid
        await sharing.link.drop("*")  # what a restart without persistence leaves
        await sharing.sync()
        assert list(store.active) == ["boot"] and store.active["boot"].uid != first_uid
        assert await sharing.link.client.get(sharing.link.key("init")) is not None
        await sharing.link.drop("*")
        await sharing.close()

    run(check())
