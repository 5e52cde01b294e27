"""pytest plugin: ``bda_emulator`` and ``bda_client`` fixtures and the ``bda_scenario`` marker.

Registered through the ``pytest11`` entry point, so installing the package is enough. Importing
this module loads nothing heavy: the server (aiohttp, Pillow) starts on first use of a fixture.

* one emulator per test session (per xdist worker) on a free loopback port, in a background
  thread; remote mode: with ``BDA_EMULATOR_URL`` set, the fixtures drive that running server
  instead (for example the Compose service shared by several suites);
* each test gets **its own account** (``POST /_emulator/accounts``), its namespace: the
  marker's scenarios, ``requests()``, ``coverage()`` and ``set_clock()`` are scoped to it, and
  nothing resets the shared server, so parallel workers and other clients never meet;
* ``@pytest.mark.bda_scenario("errors/InternalError", "my/drill.json", {...})`` loads
  scenarios (bundled name, path or dict) for one test, **strict** unless ``strict=False``:
  a sequence step or ``times`` left unused fails the test, naming the rule;
* ``bda_emulator.assert_requests(count=…, action=…, code=…)`` fails with the closest journal
  entries and what differed (near misses);
* a failing test's report gets a section with the emulator's explanation of every request it
  rejected; an exception inside the local server thread fails the test that caused it.
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
    """A handle on a running emulator: connection facts and the admin API, as methods.

    Bound to an account (``secret_id``/``secret_key``): scenario, journal, coverage, clock and
    reset calls are about that account's namespace; unbound, about the global one.
    """

    region = DEFAULT_REGION

    def __init__(self, url: str, token: str | None = None,
                 account: tuple[str, str] | None = None,
                 proxy: tuple[str, Path] | None = None) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._account = account
        self.proxy = proxy  # (proxy Url, CA file) when the emulator intercepts HTTPS

    @property
    def secret_id(self) -> str:
        return self._account[0] if self._account else DEFAULT_SECRET_ID

    @property
    def secret_key(self) -> str:
        return self._account[1] if self._account else DEFAULT_SECRET_KEY

    @property
    def endpoint(self) -> str:
        """``host:port``, for ``HttpProfile(endpoint=..., protocol="http")``."""
        return self.url.split("://", 1)[-1]

    def admin(self, method: str, path: str, body: Any = None, *, scoped: bool = False) -> Any:
        """Call ``/_emulator/<path>``; JSON in and out (``scoped``: in this account's
        namespace)."""
        if scoped and self._account:
            path += ("&" if "?" in path else "?") + "account=" + self._account[0]
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

    def with_new_account(self) -> BdaEmulator:
        """A handle bound to a fresh account (its own namespace)."""
        created = self.admin("POST", "accounts", {"name": "pytest"})
        return BdaEmulator(self.url, self._token, (created["secret_id"], created["secret_key"]),
                           self.proxy)

    def delete_account(self) -> None:
        if self._account:
            self.admin("DELETE", f"accounts/{self._account[0]}")

    def reset(self) -> None:
        """Back to the start state (of this account's namespace, when bound)."""
        self.admin("POST", "reset", scoped=True)

    def load_scenario(self, *scenarios: Scenario, strict: bool | None = None) -> None:
        """Load scenarios: a bundled name (``drills/flaky-10``), a file or folder, or a dict
        (``strict``: set the scenarios' ``strict`` flag)."""
        for scenario in scenarios:
            for document in _documents(scenario):
                if strict is not None and "strict" not in document:
                    document = {**document, "strict": strict}
                self.admin("PUT", "scenarios", document, scoped=True)

    def clear_scenarios(self) -> None:
        self.admin("DELETE", "scenarios", scoped=True)

    def scenarios(self) -> Any:
        return self.admin("GET", "scenarios", scoped=True)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The journal (this account's requests, when bound), optionally filtered by
        ``since`` and ``code``."""
        if self._account:
            filters.setdefault("secret_id", self._account[0])
        query = "&".join(f"{k}={urllib.parse.quote(str(v))}" for k, v in filters.items())
        answer = self.admin("GET", "requests" + (f"?{query}" if query else ""))
        return list(answer["requests"])

    def coverage(self) -> dict[str, Any]:
        return dict(self.admin("GET", "coverage", scoped=True))

    def set_clock(self, epoch: float | None = None, *, offset: float | None = None) -> None:
        """Set this account's now (``epoch``) or move it by ``offset`` seconds."""
        body = {"set": epoch} if epoch is not None else {"offset": offset or 0}
        self.admin("POST", "clock", body, scoped=True)

    def pending(self) -> list[dict[str, Any]]:
        """What strict scenarios have left unused."""
        return list(self.scenarios().get("pending", []))

    def assert_requests(self, count: int | None = None, *, min: int | None = None,
                        max: int | None = None, **match: Any) -> list[dict[str, Any]]:
        """The journal entries matching every given field (``action``, ``code``,
        ``options`` …), checked against ``count``/``min``/``max``; on failure the closest
        entries are shown with the field that differed (near misses)."""
        entries = self.requests()
        hits = [e for e in entries if not _differences(e, match)]
        low = count if count is not None else min
        high = count if count is not None else max
        if (low is None or len(hits) >= low) and (high is None or len(hits) <= high):
            return hits
        bounds = (("at least", low), ("at most", high))
        wanted = f"exactly {count}" if count is not None else \
            " and ".join(f"{k} {v}" for k, v in bounds if v is not None)
        raise AssertionError(_near_misses(f"expected {wanted} requests matching {match}, "
                                          f"found {len(hits)}", entries, match))


def _differences(entry: Mapping[str, Any], match: Mapping[str, Any]) -> list[str]:
    diffs = []
    for field, want in match.items():
        have = entry.get(field)
        if field == "options":
            have = sorted(have or [])
            want = sorted(want if isinstance(want, list | tuple) else [want])
        if have != want:
            diffs.append(f"{field}: {have!r} (wanted {want!r})")
    return diffs


def _near_misses(headline: str, entries: list[dict[str, Any]],
                 match: Mapping[str, Any]) -> str:
    scored = sorted((len(_differences(e, match)), i, e) for i, e in enumerate(entries))
    lines = [headline + "."]
    close = [(n, e) for n, _, e in scored if n > 0][:5]
    if close:
        lines.append("closest requests in the journal:")
        for _, entry in close:
            lines.append(f"  {entry['request_id']} {entry.get('action')} -> {entry['code']}: "
                         + "; ".join(_differences(entry, match)))
    elif not entries:
        lines.append("the journal of this test's account is empty: did the client use the "
                     "bda_emulator's secret_id/secret_key?")
    return "\n".join(lines)


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
        "markers", "bda_scenario(*scenarios, strict=True): load bda-emulator scenarios "
                   "(bundled name, path or dict) for this test; strict: unused steps fail it")


@pytest.fixture(scope="session")
def _bda_emulator_session() -> Iterator[tuple[BdaEmulator, _ErrorCollector | None]]:
    remote = os.environ.get("BDA_EMULATOR_URL")
    token = os.environ.get("BDA_EMULATOR_ADMIN_TOKEN")
    if remote:
        yield BdaEmulator(remote, token), None
        return
    import tempfile

    from emulator.serve.server import EmulatorServer
    from emulator.settings import Settings

    collector = _ErrorCollector()
    logger = logging.getLogger("bda_emulator")
    logger.addHandler(collector)
    tls_dir = tempfile.mkdtemp(prefix="bda-emulator-tls-")  # a CA of this session's own
    settings = Settings.load(overrides={"port": 0, "host": "127.0.0.1", "workers": 1,
                                        "proxy_port": 0, "tls_dir": Path(tls_dir)})
    server: EmulatorServer = EmulatorServer(settings).start()
    assert server.bound is not None
    try:
        yield BdaEmulator(server.url, token, proxy=(
            f"http://127.0.0.1:{server.bound.proxy_port}", Path(tls_dir) / "ca.pem")), collector
    finally:
        server.stop()
        logger.removeHandler(collector)


@pytest.fixture
def bda_emulator(request: pytest.FixtureRequest,
                 _bda_emulator_session: tuple[BdaEmulator, _ErrorCollector | None],
                 ) -> Iterator[BdaEmulator]:
    """The session's emulator, bound to a fresh account for this test, with this test's
    marked scenarios (strict unless ``strict=False``); nothing else is reset."""
    shared, collector = _bda_emulator_session
    emulator = shared.with_new_account()
    for marker in request.node.iter_markers("bda_scenario"):
        emulator.load_scenario(*marker.args, strict=marker.kwargs.get("strict", True))
    seen = len(collector.records) if collector else 0
    request.node.stash[_HANDLE] = emulator
    try:
        yield emulator
        if collector and len(collector.records) > seen:
            record = collector.records[seen]
            text = logging.Formatter().format(record)
            pytest.fail(f"the bda emulator failed inside its server thread:\n{text}",
                        pytrace=False)
        left = emulator.pending()
        if left:
            pytest.fail("\n".join(_pending_message(p) for p in left), pytrace=False)
    finally:
        emulator.delete_account()


def _pending_message(left: Mapping[str, Any]) -> str:
    what = "steps" if left["kind"] == "steps" else "times"
    return (f"bda_scenario {left['scenario']!r}, rule {left['rule']}: {left['unused']} of "
            f"{left['of']} {what} unused: the client retried less than the drill expected")


_HANDLE = pytest.StashKey[BdaEmulator]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test's report shows why the emulator rejected its requests."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    emulator = item.stash.get(_HANDLE, None)
    if emulator is None or not report.failed or item.stash.get(_REPORTED, False):
        return
    try:
        rejected = [e for e in emulator.requests() if e["code"] != "OK"]
    except (AdminError, OSError):
        return
    if rejected:
        item.stash[_REPORTED] = True
        lines = [f"{e['request_id']} {e.get('action')} -> {e['code']}"
                 + (f"\n    {e['explain']}" if e.get("explain") else "") for e in rejected]
        report.sections.append(("bda-emulator: rejected requests", "\n".join(lines)))


_REPORTED = pytest.StashKey[bool]()


@pytest.fixture
def bda_intercept(bda_emulator: BdaEmulator, monkeypatch: pytest.MonkeyPatch,
                  tmp_path: Path) -> BdaEmulator:
    """Make this test process reach the emulator when code calls ``https://bda.tencentcloudapi.com``
    unmodified: ``HTTPS_PROXY`` points at the emulator's proxy, and its CA is trusted — in the
    bundle the Python SDK passes explicitly (``certifi.where()``), ``REQUESTS_CA_BUNDLE``,
    ``SSL_CERT_FILE`` and ``NODE_EXTRA_CA_CERTS`` (for child processes). Remote mode needs
    ``BDA_EMULATOR_PROXY`` (the proxy Url) and ``BDA_EMULATOR_CA`` (the CA file)."""
    proxy = bda_emulator.proxy
    if os.environ.get("BDA_EMULATOR_PROXY") and os.environ.get("BDA_EMULATOR_CA"):
        proxy = (os.environ["BDA_EMULATOR_PROXY"], Path(os.environ["BDA_EMULATOR_CA"]))
    if proxy is None:
        pytest.skip("bda_intercept needs the emulator's proxy: set BDA_EMULATOR_PROXY and "
                    "BDA_EMULATOR_CA for a remote emulator")
    try:
        import certifi
    except ImportError:
        pytest.skip("bda_intercept needs certifi (installed with the official Python SDK)")
    bundle = tmp_path / "ca-bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + proxy[1].read_bytes())
    monkeypatch.setattr(certifi, "where", lambda: str(bundle))
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy[0])
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(bundle))
    monkeypatch.setenv("NODE_EXTRA_CA_CERTS", str(proxy[1]))
    return bda_emulator


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
