"""Which real components this machine has — redis-server and nginx — and what their absence
means: a skip in one line, or a failure under ``BDA_REQUIRE_REDIS=1`` /
``BDA_REQUIRE_BALANCER=1``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"
REDIS_SERVER = Path("/usr/bin/redis-server")
NGINX = Path("/usr/sbin/nginx")
#: component → (its program, the variable that makes its absence a failure, the package)
COMPONENTS = {
    "redis": (REDIS_SERVER, "BDA_REQUIRE_REDIS", "redis-server"),
    "balancer": (NGINX, "BDA_REQUIRE_BALANCER", "nginx"),
}
#: How long a component may take to answer after it was started (a bound, never asserted on).
START_TIMEOUT = 20.0


def missing(*components: str) -> str:
    """Why ``components`` (``"redis"``, ``"balancer"``) cannot run here, or ``""``."""
    return "; ".join(f"no {program}: apt-get install {package} (CI does)"
                     for program, _, package in (COMPONENTS[c] for c in components)
                     if not os.access(program, os.X_OK))


def required(*components: str) -> bool:
    """Whether any of ``components`` must run (``BDA_REQUIRE_<...>=1``, as in CI)."""
    return any(os.environ.get(COMPONENTS[c][1]) == "1" for c in components)


def require(*components: str) -> None:
    """Skip the test in one line when a component is not installed, or fail it when
    ``BDA_REQUIRE_REDIS=1`` / ``BDA_REQUIRE_BALANCER=1`` says it must run."""
    reason = missing(*components)
    if reason and required(*components):
        variables = " ".join(f"{COMPONENTS[c][1]}=1" for c in components if required(c))
        pytest.fail(f"{variables} but {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)
