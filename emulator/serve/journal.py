"""A bounded record of API requests and their outcomes, and which documented codes were answered.

The journal holds metadata only — never a secret key, a signature or the base64 payload — so it
can be dumped into CI logs. It is a ring buffer: the oldest entries fall out past ``size``.
Coverage counts every outcome since the last reset, independent of the ring's size, and lists
the documented codes the emulator never answered, grouped as the catalogue groups them.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from emulator.errors import ACTION_CODES, BDA_CODES, CATALOGUE, COMMON_CODES

OK = "OK"
#: Accounts whose coverage is kept apart (the oldest forgotten first).
MAX_ACCOUNTS = 10_000

#: Documented codes that are the service's failure rather than the request's: a client may
#: retry them (the dashboard colours them apart from client errors).
SERVICE_CODES = frozenset({
    "InternalError", "ServiceUnavailable", "ResourceInsufficient", "ResourceInUse",
    "RequestLimitExceeded", "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
    "RequestLimitExceeded.IPLimitExceeded", "RequestLimitExceeded.UinLimitExceeded",
    "FailedOperation", "FailedOperation.InnerError", "FailedOperation.RpcFail",
    "FailedOperation.SegmentFailed", "FailedOperation.ServerError",
    "FailedOperation.UnKnowError", "FailedOperation.RequestTimeout",
    "FailedOperation.JobQueueFull", "FailedOperation.AudioEncodeFailed",
    "FailedOperation.TerminateTaskFailed"})

#: Coverage groups: the action's documented codes, the rest of bda's, the common ones.
GROUPS: dict[str, tuple[str, ...]] = {
    "action": ACTION_CODES,
    "bda": tuple(code for code in BDA_CODES if code not in ACTION_CODES),
    "common": COMMON_CODES,
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One API request as the journal shows it (``code`` is ``"OK"`` for a success)."""

    time: float
    request_id: str
    code: str
    latency_ms: float
    http_method: str = ""
    action: str | None = None
    secret_id: str | None = None
    region: str | None = None
    signature_method: str | None = None
    options: tuple[str, ...] = ()
    image_sha256: str | None = None
    image_bytes: int | None = None
    image_width: int | None = None
    image_height: int | None = None
    rules: tuple[str, ...] = field(default=())
    #: why the request failed, for the test author (never on the wire); clipped
    explain: str | None = None
    #: the video task the request created, described or terminated, and its state then
    task_id: str | None = None
    task_state: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["options"] = list(self.options)
        data["rules"] = list(self.rules)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        """The entry :meth:`to_json` wrote (a shared journal's entries come back so)."""
        known = {f: data[f] for f in cls.__dataclass_fields__ if f in data}
        known["options"] = tuple(known.get("options", ()))
        known["rules"] = tuple(known.get("rules", ()))
        return cls(**known)


def outcome_class(code: str) -> str:
    """``success``, ``transport`` (a fault below the envelope), ``service`` (the service
    failed: :data:`SERVICE_CODES`) or ``client`` (any other code: the request was refused)."""
    if code == OK:
        return "success"
    if code.startswith("transport."):
        return "transport"
    return "service" if code in SERVICE_CODES else "client"


class Journal:
    """The last ``size`` entries, oldest first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: deque[Entry] = deque(maxlen=size)
        self.recorded = 0

    def record(self, entry: Entry) -> None:
        self._entries.append(entry)
        self.recorded += 1

    @classmethod
    def restore(cls, size: int, entries: Iterable[Entry], recorded: int) -> Journal:
        """A journal holding what a shared store kept (read back for one admin call)."""
        journal = cls(size)
        journal._entries.extend(entries)
        journal.recorded = recorded
        return journal

    def query(self, *, since: float | None = None, code: str | None = None,
              secret_id: str | None = None) -> list[Entry]:
        """Entries at or after ``since`` (epoch seconds) with the given code and SecretId."""
        return [e for e in self._entries
                if (since is None or e.time >= since) and (code is None or e.code == code)
                and (secret_id is None or e.secret_id == secret_id)]

    def clear(self, secret_id: str | None = None) -> int:
        """Forget every entry (or those of one SecretId); returns how many went."""
        if secret_id is not None:
            kept = [e for e in self._entries if e.secret_id != secret_id]
            removed = len(self._entries) - len(kept)
            self._entries = deque(kept, maxlen=self.size)
            return removed
        removed = len(self._entries)
        self._entries.clear()
        self.recorded = 0
        return removed

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def __reversed__(self) -> Iterator[Entry]:
        """Newest first (the dashboard reads back only to what it has already shown)."""
        return reversed(self._entries)


class Coverage:
    """How often each outcome was answered since ``since``, in total and per action.

    ``actions`` maps each emulated action to the codes its API page documents: the report
    shows, per action, which of them the client under test has seen and which never.
    """

    def __init__(self, since: float,
                 actions: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.since = since
        self.actions = dict(actions or {})
        self._counts: Counter[str] = Counter()
        self._per_action: dict[str, Counter[str]] = {name: Counter() for name in self.actions}
        self._accounts: dict[str, Coverage] = {}

    def count(self, code: str, action: str | None = None, account: str | None = None) -> None:
        self._counts[code] += 1
        if action in self._per_action:  # only emulated actions: a client names any it likes
            self._per_action[action][code] += 1
        if account is not None:  # a known account's namespace (bounded like the accounts)
            own = self._accounts.get(account)
            if own is None:
                if len(self._accounts) >= MAX_ACCOUNTS:
                    del self._accounts[next(iter(self._accounts))]
                own = self._accounts[account] = Coverage(self.since, self.actions)
            own.count(code, action)

    def restore(self, counts: Mapping[str, int],
                per_action: Mapping[str, Mapping[str, int]]) -> Coverage:
        """This coverage's shape with counts a shared store kept (read back for one call)."""
        self._counts = Counter(counts)
        for name, codes in per_action.items():
            if name in self._per_action:
                self._per_action[name] = Counter(codes)
        return self

    def reset(self, since: float, account: str | None = None) -> None:
        if account is not None:
            self._accounts.pop(account, None)
            return
        self.since = since
        self._counts.clear()
        self._accounts.clear()
        for counts in self._per_action.values():
            counts.clear()

    def report(self, account: str | None = None) -> dict[str, Any]:
        """Returned and never-returned documented codes per group and per action, plus the
        other outcomes (transport faults); of one account's namespace when asked."""
        if account is not None:
            return self._accounts.get(account, Coverage(self.since, self.actions)).report()
        groups = {name: _group(codes, self._counts) for name, codes in GROUPS.items()}
        others = {code: n for code, n in sorted(self._counts.items())
                  if code != OK and code not in CATALOGUE}
        actions = {name: {"requests": sum(self._per_action[name].values()),
                          "ok": self._per_action[name][OK],
                          **_group(codes, self._per_action[name])}
                   for name, codes in self.actions.items()}
        return {"since": self.since, "requests": sum(self._counts.values()),
                "ok": self._counts[OK], "documented": len(CATALOGUE),
                "returned": {c: n for g in groups.values() for c, n in g["returned"].items()},
                "never": [c for g in groups.values() for c in g["never"]],
                "groups": groups, "actions": actions, "transport": others}


def _group(codes: Iterable[str], counts: Counter[str]) -> dict[str, Any]:
    returned = {code: counts[code] for code in codes if counts[code]}
    return {"returned": returned, "never": [code for code in codes if not counts[code]]}
