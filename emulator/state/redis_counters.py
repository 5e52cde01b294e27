"""Scenario counters and request-rate windows in Redis, each decision one Lua script.

The step script is :data:`emulator.scenarios.counters.STEP_SEMANTICS` line for line, so a
``times: 1`` rule acts once in total however many processes evaluate it at once, a sequence
hands out each step once, and draw *n* of a rule is the same number in every process (SHA-1 of
``seed/n``, the first 52 bits). State is storage only here: the plan arrives as primitives.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from emulator.state.counts import Plan, Step, Tally
from emulator.state.redis_link import RedisLink

__all__ = ["RedisCounters", "RedisRates"]

_STEP = """
local h, i = KEYS[1], ARGV[1]
local hits = tonumber(redis.call('HGET', h, i .. ':h') or '0')
local pos = tonumber(redis.call('HGET', h, i .. ':p') or '0')
local times, bound = tonumber(ARGV[2]), tonumber(ARGV[3])
if (times >= 0 and hits >= times) or (bound >= 0 and pos >= bound) then
  return {0, 0, hits, 0}
end
local matched = redis.call('HINCRBY', h, i .. ':m', 1)
local probability = tonumber(ARGV[4])
if probability >= 0 then
  local hex = redis.sha1hex(ARGV[5] .. '/' .. matched)
  if tonumber(string.sub(hex, 1, 13), 16) / 4503599627370496 >= probability then
    return {0, 0, hits, 0}
  end
end
local position = pos % tonumber(ARGV[6])
local limit = tonumber(ARGV[8 + position * 2])
local count = 0
if limit >= 0 then
  local per, now = tonumber(ARGV[9 + position * 2]), tonumber(ARGV[7])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - per)
  redis.call('ZADD', KEYS[2], now, redis.call('HINCRBY', h, 'seq', 1))
  redis.call('PEXPIRE', KEYS[2], math.ceil(per * 1000) + 1000)
  count = redis.call('ZCARD', KEYS[2])
  if count <= limit then return {0, position, hits, count} end
end
redis.call('HINCRBY', h, i .. ':h', 1)
redis.call('HINCRBY', h, i .. ':p', 1)
return {1, position, hits + 1, count}
"""

_ALLOW = """
local now, per, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - per)
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(per * 1000) + 1000)
return 1
"""


class RedisCounters:
    """:class:`emulator.scenarios.counters.Counters` in Redis: one hash per scenario loading
    (``c:<uid>``), one sorted set per rate-limit window (``w:<uid>:<rule>:<SecretId>``)."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._step = link.script(_STEP)

    async def begin(self, uids: Sequence[str]) -> list[int]:
        pipe = self.link.client.pipeline(transaction=False)
        for uid in uids:
            pipe.hincrby(self.link.key("c", uid), "requests", 1)
        return [int(n) for n in await pipe.execute()]

    async def step(self, uid: str, index: int, plan: Plan, key: str, now: float) -> Step:
        rates = []
        for rate in plan.rates:
            rates += ["-1", "0"] if rate is None else [str(rate[0]), repr(float(rate[1]))]
        args = [str(index), str(-1 if plan.times is None else plan.times),
                str(-1 if plan.bound is None else plan.bound),
                repr(-1.0 if plan.probability is None else float(plan.probability)),
                plan.seed, str(len(plan.rates)), repr(now), *rates]
        acts, position, hit, count = await self._step(
            keys=[self.link.key("c", uid), self.link.key("w", uid, str(index), key)], args=args)
        return Step(bool(acts), int(position), int(hit), int(count))

    async def read(self, uid: str, rules: int) -> tuple[int, list[Tally]]:
        raw = await self.link.client.hgetall(self.link.key("c", uid))
        values = {k.decode(): int(v) for k, v in raw.items()}
        return values.get("requests", 0), [
            Tally(values.get(f"{i}:m", 0), values.get(f"{i}:h", 0), values.get(f"{i}:p", 0))
            for i in range(rules)]

    async def forget(self, uids: Sequence[str]) -> None:
        if uids:
            await self.link.client.unlink(*(self.link.key("c", uid) for uid in uids))


class RedisRates:
    """The documented per-action request rate, one sliding window per (SecretId, action)."""

    def __init__(self, link: RedisLink, per_seconds: float = 1.0) -> None:
        self.link = link
        self.per_seconds = per_seconds
        self._allow = link.script(_ALLOW)

    async def allow(self, account: str, action: str, limit: int, now: float) -> bool:
        allowed = await self._allow(keys=[self.link.key("rate", account, action)],
                                    args=[repr(now), repr(self.per_seconds), str(limit),
                                          secrets.token_hex(8)])
        return bool(allowed)
