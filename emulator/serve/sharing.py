"""What several emulator processes share, and how each keeps its copy current.

:class:`Sharing` (the default, ``--state memory``) shares nothing: the journal, coverage and
definitions are this process's own. :class:`RedisSharing` (``--state redis://…``) makes every
process one emulator:

* **definitions** — scenarios per namespace (and the bundled ones named per request), accounts
  created at run time, clock offsets — are written to Redis by the admin call that changes
  them, which then bumps a generation number; every request first reads that number (one
  ``GET``) and, when it moved, reloads the definitions into this process's mirror (the same
  objects the in-memory store uses, so nothing else changes);
* **counters** (:mod:`emulator.state.redis_counters`), **rate windows**, **tasks** and
  **result files** (:mod:`emulator.state.redis_objects`) live only in Redis, changed
  atomically;
* the **journal and coverage** (:mod:`emulator.state.redis_records`) are appended to by every
  process and read back whole by the admin API and the dashboard.

A Redis that cannot be reached fails the request (``InternalError``; the log names the cause,
at most once per :data:`LOG_EVERY` seconds) — never a hang: commands time out — and the next
request after Redis is back succeeds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from emulator.clock import Clock
from emulator.configerror import ConfigError
from emulator.scenarios.loading import Scenario, parse
from emulator.scenarios.store import ScenarioStore
from emulator.serve.journal import Coverage, Entry, Journal
from emulator.state.redis_link import cause, shown_url
from emulator.wire.credentials import Account, Credentials

if TYPE_CHECKING:
    from emulator.state.redis_link import RedisLink
    from emulator.state.redis_objects import RedisFiles
    from emulator.state.redis_records import RedisRecords

log = logging.getLogger("bda_emulator")

__all__ = ["LOG_EVERY", "RedisSharing", "Sharing", "StateUnreachable"]

#: Seconds between two log lines about an unreachable Redis (the count in between is said).
LOG_EVERY = 5.0
#: The global namespace's name in Redis (SecretIds are alphanumeric: no account is named so).
GLOBAL = "*"


class StateUnreachable(ConfigError):
    """The shared store cannot be reached at start; the message names it and the cause."""


class Sharing:
    """Nothing shared: this process's journal, coverage and definitions are the emulator's."""

    shared = False
    store_name = "the state store"

    def __init__(self, journal: Journal, coverage: Coverage) -> None:
        self._journal = journal
        self._coverage = coverage
        self._failures = 0
        self._logged = 0.0
        #: called when definitions another process changed were loaded (replies kept for the
        #: old ones must go: :mod:`emulator.serve.replycache`)
        self.on_reload: Callable[[], None] | None = None

    async def start(self, store: ScenarioStore, credentials: Credentials, clock: Clock) -> None:
        """Nothing to connect to: only the stores to keep."""
        self.store, self.credentials, self.clock = store, credentials, clock

    async def close(self) -> None:
        """Nothing to close."""

    async def sync(self) -> None:
        """Nothing to bring up to date."""

    # -- the journal and coverage ------------------------------------------------------------------

    async def record(self, entry: Entry, code: str, action: str | None,
                     scope: str | None) -> None:
        self._journal.record(entry)
        self._coverage.count(code, action, scope)

    async def journal(self) -> Journal:
        return self._journal

    async def coverage(self, account: str | None = None) -> dict[str, Any]:
        return self._coverage.report(account)

    async def clear_journal(self, secret_id: str | None) -> int:
        return self._journal.clear(secret_id)

    async def reset_coverage(self, since: float, account: str | None) -> None:
        self._coverage.reset(since, account)

    # -- definitions ---------------------------------------------------------------------------

    async def scenarios_changed(self, account: str | None) -> None:
        """A namespace's scenarios were put, deleted or cleared here."""
        await self.store.flush()

    async def reset(self, account: str | None) -> None:
        """The start state was restored here (of every namespace, or ``account``'s)."""
        await self.store.flush()

    async def account_saved(self, account: Account) -> None:
        """An account was created here (nobody else to tell)."""

    async def account_deleted(self, secret_id: str) -> None:
        """An account created at run time was deleted here."""

    async def clock_changed(self, account: str | None) -> None:
        """The clock (or ``account``'s) was set, shifted or reset here."""

    # -- failures --------------------------------------------------------------------------------

    def unreachable(self, error: BaseException, what: str) -> None:
        """Log that the shared store failed ``what`` (throttled: a down Redis fails every
        request at once)."""
        self._failures += 1
        now = time.monotonic()
        if now - self._logged >= LOG_EVERY:
            more = f" ({self._failures - 1} more since the last line)" if self._failures > 1 else ""
            log.error("%s failed %s: %s%s", self.store_name, what, cause(error), more)
            self._logged, self._failures = now, 0

    store: ScenarioStore
    credentials: Credentials
    clock: Clock


def _doc(scenario: Scenario) -> str:
    return json.dumps({"document": scenario.document, "source": scenario.source,
                       "loaded_at": scenario.loaded_at, "uid": scenario.uid},
                      separators=(",", ":"), allow_nan=False)


class RedisSharing(Sharing):
    """Definitions mirrored from Redis; journal and coverage kept there (module docstring)."""

    shared = True

    def __init__(self, link: RedisLink, records: RedisRecords, files: RedisFiles,
                 journal: Journal, coverage: Coverage) -> None:
        super().__init__(journal, coverage)
        self.store_name = f"Redis at {shown_url(link.url)} (--state)"
        self.link = link
        self.records = records
        self.files = files
        self._generation = -1
        self._reloading = asyncio.Lock()
        self._parsed: dict[str, Scenario] = {}  # uid -> the scenario built from its document

    async def start(self, store: ScenarioStore, credentials: Credentials, clock: Clock) -> None:
        """Reach Redis (or fail with a message naming it), take the shared Url secret, and
        either set the emulator's start state (the first process) or load it."""
        from emulator.state.redis_objects import shared_secret

        await super().start(store, credentials, clock)
        store.adopt = self._adopt
        try:
            await self.link.ping()
            self.files.use_secret(await shared_secret(self.link))
            await self._initialise(fresh=False)
            await self.sync()
        except Exception as exc:
            raise StateUnreachable(f"--state {shown_url(self.link.url)}: cannot use Redis "
                                   f"({cause(exc)})") from exc

    async def close(self) -> None:
        await self.link.close()

    async def _initialise(self, fresh: bool) -> None:
        """The first process (of a Redis holding none of this emulator's keys) writes the
        start state; ``fresh``: this process's copy goes back to it first (Redis lost its
        data: restarted without persistence)."""
        if await self.link.client.set(self.link.key("init"), "1", nx=True):
            if fresh:
                self.store.reset(self.clock.now())
            await self._write_space(None)
            await self.records.reset_counts(self.clock.now(), None)
            await self._bump()

    async def sync(self) -> None:
        """Reload the definitions when another process changed them (one GET otherwise;
        concurrent requests share one reload)."""
        raw = await self.link.client.get(self.link.key("gen"))
        if raw is not None and int(raw) == self._generation:
            return
        async with self._reloading:
            if raw is None:  # no keys of ours: Redis lost them (restarted without persistence)
                await self._initialise(fresh=True)
            generation = int(await self.link.client.get(self.link.key("gen")) or 0)
            if generation != self._generation:
                await self._reload(generation)

    async def _reload(self, generation: int) -> None:
        key, client = self.link.key, self.link.client
        pipe = client.pipeline(transaction=True)
        pipe.hgetall(key("accounts"))
        pipe.hgetall(key("clock"))
        pipe.smembers(key("spaces"))
        accounts, offsets, spaces = await pipe.execute()
        names = sorted(s.decode() for s in spaces)
        pipe = client.pipeline(transaction=True)
        for name in names:
            pipe.hgetall(key("scen", name))
            pipe.hgetall(key("req", name))
        held = await pipe.execute()
        runtime = {sid.decode(): Account(**json.loads(doc)) for sid, doc in accounts.items()}
        self.credentials.runtime.clear()
        self.credentials.runtime.update(runtime)
        clocks = {k.decode(): float(v) for k, v in offsets.items()}
        self.clock.load(clocks.pop(GLOBAL, 0.0), clocks)
        mirror: dict[str | None, tuple[list[Scenario], list[Scenario]]] = {}
        parsed: dict[str, Scenario] = {}
        for index, name in enumerate(names):
            active = self._scenarios(held[2 * index], parsed)
            per_request = self._scenarios(held[2 * index + 1], parsed)
            mirror[None if name == GLOBAL else name] = (active, per_request)
        self._parsed = parsed
        self.store.mirror(mirror)
        self._generation = generation
        if self.on_reload is not None:
            self.on_reload()

    def _scenarios(self, docs: dict[bytes, bytes], parsed: dict[str, Scenario]) -> list[Scenario]:
        found = []
        for text in docs.values():
            data = json.loads(text)
            scenario = self._parsed.get(data["uid"]) or parse(
                data["document"], data["source"], data["loaded_at"], data["uid"])
            parsed[scenario.uid] = scenario
            found.append(scenario)
        return found

    async def _bump(self) -> None:
        await self.link.client.incr(self.link.key("gen"))

    async def _write_space(self, account: str | None) -> None:
        name = GLOBAL if account is None else account
        active, per_request = self.store.held(account)
        key = self.link.key
        pipe = self.link.client.pipeline(transaction=True)
        pipe.unlink(key("scen", name), key("req", name))
        if active:
            pipe.hset(key("scen", name), mapping={s.name: _doc(s) for s in active})
        if per_request:
            pipe.hset(key("req", name), mapping={s.name: _doc(s) for s in per_request})
        pipe.sadd(key("spaces"), name)
        await pipe.execute()

    async def _adopt(self, account: str | None, scenario: Scenario) -> Scenario:
        """The loading of a bundled scenario first named by a request: this one, unless
        another process adopted it first (then theirs, with its counters)."""
        name = GLOBAL if account is None else account
        key = self.link.key("req", name)
        if await self.link.client.hsetnx(key, scenario.name, _doc(scenario)):
            await self.link.client.sadd(self.link.key("spaces"), name)
            return scenario
        text = await self.link.client.hget(key, scenario.name)
        if text is None:
            return scenario
        data = json.loads(text)
        return parse(data["document"], data["source"], data["loaded_at"], data["uid"])

    # -- the journal and coverage ------------------------------------------------------------------

    async def record(self, entry: Entry, code: str, action: str | None,
                     scope: str | None) -> None:
        counted = action if action in self._coverage.actions else None
        await self.records.record(entry.to_json(), code, counted, scope)

    async def journal(self) -> Journal:
        entries, recorded = await self.records.entries()
        return Journal.restore(self.records.size, map(Entry.from_json, entries), recorded)

    async def coverage(self, account: str | None = None) -> dict[str, Any]:
        codes, per_action, since = await self.records.counts(account)
        shape = Coverage(self._coverage.since if since is None else since,
                         self._coverage.actions)
        return shape.restore(codes, per_action).report()

    async def clear_journal(self, secret_id: str | None) -> int:
        return await self.records.clear(secret_id)

    async def reset_coverage(self, since: float, account: str | None) -> None:
        await self.records.reset_counts(since, account)

    # -- definitions ---------------------------------------------------------------------------

    async def scenarios_changed(self, account: str | None) -> None:
        await self._write_space(account)
        await self.store.flush()
        await self._bump()

    async def reset(self, account: str | None) -> None:
        key = self.link.key
        if account is not None:
            await self.link.client.unlink(key("scen", account), key("req", account))
            await self.link.client.srem(key("spaces"), account)
        else:
            names = [s.decode() for s in await self.link.client.smembers(key("spaces"))]
            for name in names:
                await self.link.client.unlink(key("scen", name), key("req", name))
            await self.link.client.unlink(key("spaces"))
            await self.link.drop("c:*")
            await self.link.drop("w:*")
            await self.link.drop("rate:*")
            await self._write_space(None)
        await self.store.flush()
        await self._bump()

    async def account_saved(self, account: Account) -> None:
        await self.link.client.hset(self.link.key("accounts"), account.secret_id,
                                    json.dumps(asdict(account)))
        await self._bump()

    async def account_deleted(self, secret_id: str) -> None:
        await self.link.client.hdel(self.link.key("accounts"), secret_id)
        await self._bump()

    async def clock_changed(self, account: str | None) -> None:
        key = self.link.key("clock")
        if account is None and not self.clock.offsets():
            pipe = self.link.client.pipeline(transaction=True)
            pipe.unlink(key)
            pipe.hset(key, GLOBAL, repr(self.clock.offset))
            await pipe.execute()
        elif account is None:
            await self.link.client.hset(key, GLOBAL, repr(self.clock.offset))
        elif account in self.clock.offsets():
            await self.link.client.hset(key, account, repr(self.clock.account_offset(account)))
        else:
            await self.link.client.hdel(key, account)
        await self._bump()
