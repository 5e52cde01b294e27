"""pytest plugin: ``bda_emulator`` and ``bda_client`` fixtures and the ``bda_scenario`` marker.

Registered through the ``pytest11`` entry point, so installing the package is enough. Importing
this module loads nothing heavy: the server (aiohttp, Pillow) starts on first use of a fixture.

* one emulator per test session (per xdist worker) on a free loopback port, in a background
  thread, reset through the admin API before each test;
* remote mode: with ``BDA_EMULATOR_URL`` set, the fixtures drive that running server instead
  (for example the Compose service) — everything goes through the admin API either way;
* ``@pytest.mark.bda_scenario("errors/InternalError", "my/drill.json", {...})`` loads
  scenarios (bundled name, path or dict) for one test;
* an exception inside the local server thread fails the test that caused it.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from emulator.serve.server import EmulatorServer

DEFAULT_SECRET_ID = "AKIDEMULATOR000000000000000000000000"
DEFAULT_SECRET_KEY = "emulatorsecretkey000000000000000"
DEFAULT_REGION = "ap-guangzhou"

Scenario = str | Path | Mapping[str, Any]


class AdminError(RuntimeError):
    """The admin API refused a call; the message carries its answer."""


class BdaEmulator:
    """A handle on a running emulator: connection facts and the admin API, as methods."""

    secret_id = DEFAULT_SECRET_ID
    secret_key = DEFAULT_SECRET_KEY
    region = DEFAULT_REGION

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._token = token

    @property
    def endpoint(self) -> str:
        """``host:port``, for ``HttpProfile(endpoint=..., protocol="http")``."""
        return self.url.split("://", 1)[-1]

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call ``/_emulator/<path>``; JSON in and out."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data,
                                         method=method)
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("X-Emulator-Token", self._token)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise AdminError(f"{method} /_emulator/{path}: {exc.code} "
                             f"{exc.read().decode(errors='replace')}") from None
        return json.loads(text) if text else None

    def reset(self) -> None:
        """Back to the start state: scenarios loaded at start, counters, journal, clock."""
        self.admin("POST", "reset")

    def load_scenario(self, *scenarios: Scenario) -> None:
        """Load scenarios: a bundled name (``drills/flaky-10``), a file or folder, or a dict."""
        for scenario in scenarios:
            for document in _documents(scenario):
                self.admin("PUT", "scenarios", document)

    def clear_scenarios(self) -> None:
        self.admin("DELETE", "scenarios")

    def scenarios(self) -> Any:
        return self.admin("GET", "scenarios")

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The journal, optionally filtered by ``since``, ``code``, ``secret_id``."""
        query = "&".join(f"{k}={urllib.parse.quote(str(v))}" for k, v in filters.items())
        answer = self.admin("GET", "requests" + (f"?{query}" if query else ""))
        return list(answer["requests"])

    def coverage(self) -> dict[str, Any]:
        return dict(self.admin("GET", "coverage"))

    def set_clock(self, epoch: float | None = None, *, offset: float | None = None) -> None:
        """Set the emulator's now (``epoch``) or move it by ``offset`` seconds."""
        body = {"set": epoch} if epoch is not None else {"offset": offset or 0}
        self.admin("POST", "clock", body)


def _documents(scenario: Scenario) -> Iterator[Mapping[str, Any]]:
    if isinstance(scenario, Mapping):
        yield scenario
        return
    from emulator.settings import scenario_path
    from emulator.testing import json_files

    path = scenario_path(str(scenario))
    if not path.exists():
        raise FileNotFoundError(f"no bundled scenario or file named {scenario!r}")
    for file in json_files(path):
        yield json.loads(file.read_text(encoding="utf-8"))


class _ErrorCollector(logging.Handler):
    """Keeps the server thread's logged exceptions so the test that caused them fails."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bda_scenario(*scenarios): load bda-emulator scenarios (bundled name, "
                   "path or dict) for this test")


@pytest.fixture(scope="session")
def _bda_emulator_session() -> Iterator[tuple[BdaEmulator, _ErrorCollector | None]]:
    remote = os.environ.get("BDA_EMULATOR_URL")
    token = os.environ.get("BDA_EMULATOR_ADMIN_TOKEN")
    if remote:
        yield BdaEmulator(remote, token), None
        return
    from emulator.serve.server import EmulatorServer
    from emulator.settings import Settings

    collector = _ErrorCollector()
    logger = logging.getLogger("bda_emulator")
    logger.addHandler(collector)
    settings = Settings.load(overrides={"port": 0, "host": "127.0.0.1", "workers": 1})
    server: EmulatorServer = EmulatorServer(settings).start()
    try:
        yield BdaEmulator(server.url, token), collector
    finally:
        server.stop()
        logger.removeHandler(collector)


@pytest.fixture
def bda_emulator(request: pytest.FixtureRequest,
                 _bda_emulator_session: tuple[BdaEmulator, _ErrorCollector | None],
                 ) -> Iterator[BdaEmulator]:
    """The session's emulator, reset for this test, with this test's marked scenarios."""
    emulator, collector = _bda_emulator_session
    emulator.reset()
    for marker in request.node.iter_markers("bda_scenario"):
        emulator.load_scenario(*marker.args)
    seen = len(collector.records) if collector else 0
    yield emulator
    if collector and len(collector.records) > seen:
        record = collector.records[seen]
        text = logging.Formatter().format(record)
        pytest.fail(f"the bda emulator failed inside its server thread:\n{text}", pytrace=False)


@pytest.fixture
def bda_client(bda_emulator: BdaEmulator) -> Any:
    """An official ``BdaClient`` pointed at the emulator (skips without the SDK)."""
    try:
        from tencentcloud.bda.v20200324 import bda_client as sdk
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
    except ImportError:
        pytest.skip("bda_client needs the official SDK: pip install tencentcloud-sdk-python-bda")
    cred = credential.Credential(bda_emulator.secret_id, bda_emulator.secret_key)
    http = HttpProfile(endpoint=bda_emulator.endpoint, protocol="http")
    return sdk.BdaClient(cred, bda_emulator.region, ClientProfile(httpProfile=http))
