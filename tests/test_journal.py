"""The journal's ring buffer and filters, and the coverage report's groups."""

from __future__ import annotations

from emulator.errors import ACTION_CODES, BDA_CODES, CATALOGUE, COMMON_CODES
from emulator.serve.journal import GROUPS, OK, Coverage, Entry, Journal


def entry(n: int, code: str = OK, secret_id: str = "AKIDA") -> Entry:
    return Entry(time=1000.0 + n, request_id=f"id-{n}", code=code, latency_ms=1.5,
                 secret_id=secret_id, options=("Head",), rules=("s#r",))


def test_ring_buffer_keeps_the_newest() -> None:
    journal = Journal(3)
    for n in range(5):
        journal.record(entry(n))
    assert [e.request_id for e in journal] == ["id-2", "id-3", "id-4"]
    assert (len(journal), journal.recorded, journal.size) == (3, 5, 3)
    assert journal.clear() == 3 and len(journal) == 0 and journal.recorded == 0


def test_filters_combine() -> None:
    journal = Journal(100)
    journal.record(entry(1, "InternalError"))
    journal.record(entry(2, OK, "AKIDB"))
    journal.record(entry(3, "InternalError", "AKIDB"))
    assert [e.request_id for e in journal.query(since=1002)] == ["id-2", "id-3"]
    assert [e.request_id for e in journal.query(code="InternalError")] == ["id-1", "id-3"]
    assert [e.request_id for e in journal.query(code="InternalError", secret_id="AKIDB")] == \
        ["id-3"]
    assert journal.query(since=2000) == []


def test_entries_are_metadata_only() -> None:
    data = entry(1).to_json()
    assert data["options"] == ["Head"] and data["rules"] == ["s#r"]
    assert set(data) == {"time", "request_id", "code", "latency_ms", "http_method", "action",
                         "secret_id", "region", "signature_method", "options", "image_sha256",
                         "image_bytes", "image_width", "image_height", "rules", "explain",
                         "task_id", "task_state"}


def test_coverage_groups_cover_the_catalogue_once() -> None:
    grouped = [code for codes in GROUPS.values() for code in codes]
    assert sorted(grouped) == sorted(CATALOGUE)
    assert GROUPS["action"] == ACTION_CODES
    assert set(GROUPS["bda"]) == set(BDA_CODES) - set(ACTION_CODES)
    assert GROUPS["common"] == COMMON_CODES


def test_coverage_report() -> None:
    coverage = Coverage(since=5.0)
    for code in (OK, OK, "InternalError", "FailedOperation.RpcFail", "InternalError",
                 "transport.reset"):
        coverage.count(code)
    report = coverage.report()
    assert (report["since"], report["requests"], report["ok"]) == (5.0, 6, 2)
    assert report["documented"] == 73 and len(report["never"]) == 71
    assert report["returned"] == {"FailedOperation.RpcFail": 1, "InternalError": 2}
    assert report["groups"]["common"]["returned"] == {"InternalError": 2}
    assert report["groups"]["action"]["returned"] == {"FailedOperation.RpcFail": 1}
    assert "InternalError" not in report["groups"]["common"]["never"]
    assert len(report["groups"]["bda"]["never"]) == 12
    assert report["transport"] == {"transport.reset": 1}
    coverage.reset(9.0)
    assert coverage.report()["returned"] == {} and coverage.report()["since"] == 9.0
