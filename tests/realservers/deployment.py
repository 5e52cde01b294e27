"""Emulators sharing one Redis namespace, duck-typed as ``EmulatorServer``: what the contract
tests' server factory hands out for the ``processes`` and ``replicas`` topologies."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from emulator.settings import Settings, env_name
from tests.realservers.components import LOOPBACK
from tests.realservers.emulators import Emulator
from tests.realservers.nginx import Nginx
from tests.realservers.redisserver import RedisServer


class RemoteClock:
    """The emulator's clock through ``/_emulator/clock``: what tests do with
    ``EmulatorServer.clock`` (shift, set, reset, now), for servers in other processes."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url + "/_emulator/clock"
        self.headers = {"X-Emulator-Token": token} if token else {}

    def _post(self, body: dict[str, Any], account: str | None) -> dict[str, Any]:
        params = {"account": account} if account else None
        resp = requests.post(self.url, json=body, params=params, headers=self.headers,
                             timeout=10)
        assert resp.status_code == 200, resp.text[:300]
        return resp.json()  # type: ignore[no-any-return]

    def now(self, account: str | None = None) -> float:
        params = {"account": account} if account else None
        resp = requests.get(self.url, params=params, headers=self.headers, timeout=10)
        return float(resp.json()["now"])

    def set(self, epoch: float, account: str | None = None) -> None:
        self._post({"set": epoch}, account)

    def shift(self, seconds: float, account: str | None = None) -> None:
        self._post({"offset": seconds}, account)

    def reset(self, account: str | None = None) -> None:
        self._post({"reset": True}, account)


def settings_env(overrides: Mapping[str, Any]) -> dict[str, str]:
    """``Settings`` field values as the ``BDA_EMULATOR_*`` variables that set them."""
    env = {}
    for name, value in overrides.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, tuple | list):
            text = (os.pathsep if name == "scenarios" else ",").join(str(v) for v in value)
        else:
            text = str(value)
        env[env_name(name)] = text
    return env


#: The topologies a deployment can have besides the in-process ``EmulatorServer``, and the
#: components each needs.
TOPOLOGIES = {"processes": ("redis",), "replicas": ("redis", "balancer")}


class Deployment:
    """Emulators sharing one Redis namespace, duck-typed as ``EmulatorServer`` for the contract
    tests (``endpoint``, ``url``, ``host``, ``port``, ``settings``, ``clock``, ``stop``):

    - ``processes``: one ``serve --processes 2`` (two processes on one port, SO_REUSEPORT);
    - ``replicas``: two ``serve`` on two ports behind nginx; clients use nginx's port, and
      :attr:`emulators` are reachable directly too.
    """

    def __init__(self, topology: str, redis: RedisServer, workdir: Path, prefix: str,
                 overrides: Mapping[str, Any] | None = None) -> None:
        assert topology in TOPOLOGIES, topology
        overrides = dict(overrides or {})
        self.topology = topology
        self.prefix = prefix
        self.settings = Settings(**{"port": 0, **overrides})
        env = settings_env({k: v for k, v in overrides.items() if k not in ("host", "port")})
        state = ["--state", redis.url(), "--state-prefix", prefix]
        if topology == "processes":
            self.emulators = [Emulator([*state, "--processes", "2"], workdir, f"{prefix}-p",
                                       env)]
        else:
            self.emulators = [Emulator(state, workdir, f"{prefix}-r{i}", env) for i in (1, 2)]
        self.balancer: Nginx | None = None
        self.clock: RemoteClock | None = None
        self._workdir = workdir

    def start(self) -> Deployment:
        try:
            for emu in self.emulators:  # together: they import at the same time
                emu.spawn()
            for emu in self.emulators:
                emu.wait_ready()
            if self.topology == "replicas":
                self.balancer = Nginx([e.port for e in self.emulators]).start()
        except BaseException:
            self.stop()
            raise
        self.clock = RemoteClock(self.url, self.settings.admin_token)
        return self

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        return self.balancer.port if self.balancer else self.emulators[0].port

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def logs(self) -> str:
        return "\n".join(f"--- {e.name}\n{e.log()[-3000:]}" for e in self.emulators)

    def stop(self) -> None:
        stop_all([self])


def stop_all(deployments: Sequence[Deployment]) -> None:
    """Stop the balancers, then every emulator, signalled together (each takes ~0.5 s)."""
    for deployment in deployments:
        if deployment.balancer is not None:
            deployment.balancer.stop()
    emulators = [emu for deployment in deployments for emu in deployment.emulators]
    for emu in emulators:
        emu.process.send(signal.SIGTERM)
    for emu in emulators:
        emu.stop()
