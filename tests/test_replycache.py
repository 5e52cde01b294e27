"""emulator.serve.replycache without a server: what is a candidate, the bounds, generations."""

from __future__ import annotations

from emulator.actions.results import Picture
from emulator.actions.services import Outcome
from emulator.serve.replycache import ReplyCache, ReplyKey, Reuse, candidate, header_facts
from emulator.testing import SECRET_ID, tc3_headers
from emulator.wire.request import RawRequest


def raw(method: str = "POST", path: str = "/", action: str = "SegmentPortraitPic",
        content_type: str = "application/json", body: bytes = b'{"Image":"x"}') -> RawRequest:
    headers = {k.lower(): v for k, v in tc3_headers("127.0.0.1:9527", body, action=action,
                                                    content_type=content_type).items()}
    return RawRequest(method, path, "", headers, body)


def reuse(size: int) -> Reuse:
    pic = Picture(b"p" * size, "0" * 64, 1, 1)
    return Reuse(Outcome(b'"A":1', pic), {"Head": True}, None)


def key(generation: int, name: str) -> ReplyKey:
    return (generation, "SegmentPortraitPic", "2020-03-24", "ap-guangzhou", SECRET_ID, "en-US",
            name)


def test_only_tc3_json_posts_of_image_actions_are_candidates() -> None:
    assert candidate(raw())
    assert candidate(raw(action="SegmentCustomizedPortraitPic"))
    assert not candidate(raw(action="CreateSegmentationTask"))
    assert not candidate(raw(method="GET"))
    assert not candidate(raw(path="/other"))
    assert not candidate(raw(content_type="application/x-www-form-urlencoded"))


def test_header_facts_read_the_headers_only() -> None:
    facts = header_facts(raw())
    assert (facts.action, facts.secret_id, facts.signature_method) == (
        "SegmentPortraitPic", SECRET_ID, "TC3-HMAC-SHA256")
    assert facts.url is None and dict(facts.options) == {}


def test_entries_and_bytes_are_bounded_least_recently_used_first() -> None:
    cache = ReplyCache(max_entries=2, max_bytes=1000)
    cache.put(key(0, "a"), reuse(100))
    cache.put(key(0, "b"), reuse(100))
    assert cache.get(key(0, "a")) is not None  # now the most recently used
    cache.put(key(0, "c"), reuse(100))
    assert cache.get(key(0, "b")) is None and len(cache) == 2
    cache.put(key(0, "d"), reuse(900))  # over the byte bound with the others: they go
    assert len(cache) == 1 and cache.get(key(0, "d")) is not None
    cache.put(key(0, "e"), reuse(2000))  # larger than the bound: never kept
    assert cache.get(key(0, "e")) is None


def test_a_new_generation_empties_and_refuses_late_replies() -> None:
    cache = ReplyCache(max_entries=8)
    cache.put(key(0, "a"), reuse(1))
    cache.bump()
    assert cache.generation == 1 and len(cache) == 0
    cache.put(key(0, "b"), reuse(1))  # computed before the bump: not kept
    assert len(cache) == 0
    cache.put(key(1, "b"), reuse(1))
    assert cache.get(key(1, "b")) is not None and cache.hits == 1


def test_size_zero_disables_it() -> None:
    cache = ReplyCache(max_entries=0)
    assert not cache.enabled
    cache.put(key(0, "a"), reuse(1))
    assert len(cache) == 0
