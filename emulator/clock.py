"""The emulator's notion of now, injectable so signature expiry is tested without sleeping.

One global offset (``POST /_emulator/clock``) plus, for accounts used as namespaces, an offset
per SecretId (``POST /_emulator/clock?account=…``): a test that moves its own account's clock
expires its own signatures and windows, nobody else's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Accounts that may hold an offset of their own (runtime accounts are bounded likewise).
MAX_ACCOUNT_OFFSETS = 10_000


class Clock:
    """Wall-clock time plus an adjustable offset, and per-account offsets on top."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self.offset = 0.0
        self._accounts: dict[str, float] = {}

    def now(self, account: str | None = None) -> float:
        """Seconds since the epoch as the emulator sees them (for ``account``, if it has its
        own offset)."""
        extra = self._accounts.get(account, 0.0) if account else 0.0
        return self._source() + self.offset + extra

    def set(self, epoch: float, account: str | None = None) -> None:
        """Make ``now(account)`` return ``epoch`` at this instant (and advance from there)."""
        if account is None:
            self.offset = epoch - self._source()
        else:
            self._put(account, epoch - self._source() - self.offset)

    def shift(self, seconds: float, account: str | None = None) -> None:
        """Move the emulator's time (or one account's) by ``seconds``."""
        if account is None:
            self.offset += seconds
        else:
            self._put(account, self._accounts.get(account, 0.0) + seconds)

    def account_offset(self, account: str) -> float:
        return self._accounts.get(account, 0.0)

    def reset(self, account: str | None = None) -> None:
        """Back to the wall clock (one account: back to the global clock)."""
        if account is None:
            self.offset = 0.0
            self._accounts.clear()
        else:
            self._accounts.pop(account, None)

    def offsets(self) -> dict[str, float]:
        """Every account's own offset (a shared store writes them out)."""
        return dict(self._accounts)

    def load(self, offset: float, accounts: dict[str, float]) -> None:
        """Take offsets another process set (a shared store's mirror)."""
        self.offset = offset
        self._accounts = dict(list(accounts.items())[-MAX_ACCOUNT_OFFSETS:])

    def _put(self, account: str, offset: float) -> None:
        if account not in self._accounts and len(self._accounts) >= MAX_ACCOUNT_OFFSETS:
            self._accounts.pop(next(iter(self._accounts)))
        self._accounts[account] = offset
