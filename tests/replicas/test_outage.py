"""Redis killed (SIGKILL) and restarted on the same port in the middle of a bounded load — 200
signed requests, 8 at a time, each with a 15 s client timeout: every reply is either a success
or the Tencent envelope ``InternalError`` (HTTP 200, ``application/json``, a RequestId), none
hangs, the emulator's log names the Redis cause, and once Redis is back requests succeed again
without restarting the emulator. The worker that takes request 40 kills Redis and the one that
takes request 100 restarts it, while the other seven have requests in flight."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from emulator.testing import tc3_headers
from tests.realservers import LOOPBACK, Emulator, RedisServer
from tests.replicas.calls import PORTRAIT, journal
from tests.replicas.conftest import new_prefix

TOTAL, CONCURRENCY, KILL_AT, RESTART_AT = 200, 8, 40, 100
ACTION = "SegmentPortraitPic"
BODY = json.dumps({"Image": PORTRAIT}).encode()
#: Words of an error line that says why Redis failed (redis-py's exception names and errnos).
CAUSES = ("ConnectionError", "TimeoutError", "refused", "reset", "Connection closed")
#: Requests sent after the load, 0.1 s apart, until one succeeds (a bound, not a timing check).
RECOVERY_POLLS = 100


def _outcome(emu: Emulator) -> tuple[str, str]:
    """One signed request: ``("OK" | "InternalError" | "unexpected", detail)``."""
    headers = tc3_headers(emu.endpoint, BODY, action=ACTION)
    try:
        resp = requests.post(emu.url + "/", data=BODY, headers=headers, timeout=15)
    except requests.RequestException as exc:
        return "unexpected", f"no reply: {exc!r}"
    detail = f"{resp.status_code} {resp.headers.get('Content-Type')} {resp.text[:200]}"
    if resp.status_code != 200 or resp.headers.get("Content-Type") != "application/json":
        return "unexpected", detail
    try:
        reply = resp.json()["Response"]
    except (ValueError, KeyError):
        return "unexpected", detail
    if not isinstance(reply.get("RequestId"), str) or len(reply["RequestId"]) != 36:
        return "unexpected", detail
    if "Error" not in reply:
        return ("OK", "") if "ResultImage" in reply else ("unexpected", detail)
    error = reply["Error"]
    if error.get("Code") == "InternalError" and isinstance(error.get("Message"), str):
        return "InternalError", error["Message"]
    return "unexpected", detail


def test_a_redis_outage_under_load_answers_internal_error_and_recovers(
        own_redis: RedisServer, start_emulator: Callable[..., Emulator]) -> None:
    emu = start_emulator(["--state", own_redis.url(), "--state-prefix", new_prefix("outage"),
                          "--workers", "1"], name="outage")
    assert _outcome(emu)[0] == "OK"
    lock = threading.Lock()
    taken = iter(range(TOTAL))

    def one(_: int) -> tuple[str, str]:
        with lock:
            index = next(taken)
        if index == KILL_AT:
            own_redis.kill()  # the other workers' requests are in flight
        elif index == RESTART_AT:
            own_redis.start()
        return _outcome(emu)

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        outcomes = list(pool.map(one, range(TOTAL)))
    kinds = Counter(kind for kind, _ in outcomes)
    unexpected = [detail for kind, detail in outcomes if kind == "unexpected"]
    assert not unexpected, f"{kinds}: {unexpected[:5]}"
    assert kinds["InternalError"] >= 1, f"no request noticed the outage: {kinds}"
    assert kinds["OK"] >= KILL_AT - CONCURRENCY, kinds  # before the kill, they succeeded

    # an error line naming Redis (by name or address) and what failed
    address = f"{LOOPBACK}:{own_redis.port}"
    causes = [line for line in emu.log().splitlines() if " ERROR " in line
              and (address in line or "redis" in line.lower())
              and any(word in line for word in CAUSES)]
    assert causes, "no log line names the Redis cause:\n" + "\n".join(
        line for line in emu.log().splitlines()[-400:] if "bda_emulator.access" not in line)

    for _ in range(RECOVERY_POLLS):  # Redis is back (empty): it recovers by itself
        if _outcome(emu)[0] == "OK":
            break
        time.sleep(0.1)
    after = [_outcome(emu) for _ in range(10)]
    assert [kind for kind, _ in after] == ["OK"] * 10, after
    assert emu.process.running()
    assert len(journal(emu.url)) >= 10  # the journal is kept again, in the new Redis
