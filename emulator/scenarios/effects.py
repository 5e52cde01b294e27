"""The closed set of scenario effects: small frozen objects built from scenario files.

Data only; :mod:`emulator.serve.transport` acts out the transport faults on a connection.

* :class:`ErrorEffect` — a documented API error, rendered by :mod:`emulator.wire.envelope`;
* :class:`Delay` — sleep (fixed, or drawn from a seeded uniform / log-normal), then go on;
* :class:`RateLimit` — per SecretId, ``RequestLimitExceeded`` once over ``limit`` per window;
* :class:`Pass` — process normally (the "succeed" step of a sequence);
* :class:`TransportFault` — what a broken network or gateway does, below the Tencent envelope.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from emulator.errors import ApiError
from emulator.state.tasks import JobPlan

FaultKind = Literal["reset", "close", "truncated", "malformed_json", "gateway", "hang"]
FAULT_KINDS: tuple[FaultKind, ...] = ("reset", "close", "truncated", "malformed_json",
                                      "gateway", "hang")


@dataclass(frozen=True, slots=True)
class ErrorEffect:
    """Answer a documented code; the message follows the request's language unless given."""

    code: str
    message: str | None = None
    details: tuple[tuple[str, str], ...] = ()

    def error(self) -> ApiError:
        return ApiError(self.code, message=self.message, **dict(self.details))


@dataclass(frozen=True, slots=True)
class Delay:
    """Wait before normal processing; random kinds draw from the rule's seeded generator."""

    kind: Literal["fixed", "uniform", "lognormal"] = "fixed"
    seconds: float = 0.0
    low: float = 0.0
    high: float = 0.0
    median: float = 0.0
    sigma: float = 0.0
    cap: float = 60.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            value = rng.uniform(self.low, self.high)
        elif self.kind == "lognormal":
            value = rng.lognormvariate(math.log(self.median), self.sigma)
        else:
            value = self.seconds
        return min(max(value, 0.0), self.cap)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``limit`` requests per SecretId in any ``per_seconds`` window."""

    limit: int
    per_seconds: float = 1.0

    def error(self, count: int) -> ApiError:
        """The documented message shape: "... equals to `7` in a second ... limit `5` ..."."""
        return ApiError("RequestLimitExceeded", count=str(count), limit=str(self.limit))


@dataclass(frozen=True, slots=True)
class Pass:
    """Process the request normally."""


@dataclass(frozen=True, slots=True)
class TransportFault:
    """A network or gateway failure; ``status`` for ``gateway``, ``max_seconds`` for ``hang``."""

    kind: FaultKind
    status: int = 502
    max_seconds: float = 120.0

    @property
    def label(self) -> str:
        """How the journal shows the outcome, e.g. ``transport.gateway_503``."""
        suffix = f"_{self.status}" if self.kind == "gateway" else ""
        return f"transport.{self.kind}{suffix}"


@dataclass(frozen=True, slots=True)
class JobEffect:
    """Process the request normally, but the video task it creates follows ``plan``."""

    plan: JobPlan


Effect = ErrorEffect | Delay | RateLimit | Pass | TransportFault | JobEffect
