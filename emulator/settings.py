"""Configuration, read once: defaults < environment (``BDA_EMULATOR_*``) < command-line flags.

This is the only module that reads ``os.environ``. Values are cast and checked here; a bad value
fails at start with :class:`SettingsError` naming the setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from emulator.configerror import ConfigError
from emulator.resources import fixture_path

ENV_PREFIX = "BDA_EMULATOR_"


class SettingsError(ConfigError):
    """A configuration value that cannot be used; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the emulator can be told. Field ``x`` is env ``BDA_EMULATOR_X``."""

    host: str = "127.0.0.1"
    port: int = 9527
    credentials: Path | None = None
    signature_ttl: int = 300
    max_subjects: int = 5
    cache_size: int = 256
    workers: int = 0
    url_map: Path | None = None
    url_connect_timeout: float = 3.0
    url_timeout: float = 10.0
    url_max_bytes: int = 3_932_160
    url_allowed_hosts: tuple[str, ...] = ()
    url_allow_private: bool = False
    scenarios: tuple[Path, ...] = ()
    journal_size: int = 1000
    admin_token: str | None = None
    log_format: str = "text"
    read_timeout: float = 30.0
    image_timeout: float = 10.0
    max_connections: int = 0
    max_inflight_bytes: int = 48 * 1024 * 1024

    @property
    def credentials_path(self) -> Path:
        """The credentials file in use (the bundled one unless configured)."""
        return self.credentials or fixture_path("credentials.json")

    @property
    def url_map_path(self) -> Path:
        """The URL map in use (the bundled one unless configured)."""
        return self.url_map or fixture_path("urls.json")

    @property
    def threads(self) -> int:
        """Image workers: the configured number, or one per CPU."""
        return self.workers or (os.cpu_count() or 1)

    @property
    def connection_limit(self) -> int:
        """Open connections served at once: the configured number, or one derived from the
        open-file limit so the process never runs out of descriptors for its own files."""
        return self.max_connections or default_max_connections()

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None,
             overrides: Mapping[str, Any] | None = None) -> Settings:
        """Defaults, then ``environ`` (default ``os.environ``), then non-None ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _cast(field.name, raw)
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = _cast(name, value) if isinstance(value, str) else value
        settings = replace(cls(), **values)
        settings.check()
        return settings

    def check(self) -> None:
        """Reject values the emulator cannot run with."""
        _require(0 <= self.port <= 65535, "port", self.port, "a TCP port 0-65535")
        _require(self.signature_ttl > 0, "signature_ttl", self.signature_ttl, "seconds > 0")
        _require(self.max_subjects >= 1, "max_subjects", self.max_subjects, "an integer >= 1")
        _require(self.cache_size >= 0, "cache_size", self.cache_size, "an integer >= 0")
        _require(self.workers >= 0, "workers", self.workers, ">= 0")
        _require(self.url_connect_timeout > 0, "url_connect_timeout", self.url_connect_timeout,
                 "seconds > 0")
        _require(self.url_timeout > 0, "url_timeout", self.url_timeout, "seconds > 0")
        _require(self.url_max_bytes > 0, "url_max_bytes", self.url_max_bytes, "bytes > 0")
        _require(self.read_timeout > 0, "read_timeout", self.read_timeout, "seconds > 0")
        _require(self.image_timeout > 0, "image_timeout", self.image_timeout, "seconds > 0")
        _require(self.max_inflight_bytes >= 1024 * 1024, "max_inflight_bytes",
                 self.max_inflight_bytes, "bytes >= 1048576")
        _require(self.max_connections >= 0, "max_connections", self.max_connections,
                 "an integer >= 0 (0: derived from the open-file limit)")
        _require(self.log_format in ("text", "json"), "log_format", self.log_format,
                 "`text` or `json`")
        _require(self.journal_size >= 1, "journal_size", self.journal_size, "an integer >= 1")
        _require(self.admin_token is None or self.admin_token.strip() != "", "admin_token",
                 self.admin_token, "a non-blank token")
        for path in self.scenarios:
            _require(Path(path).exists(), "scenarios", str(path), "an existing file or folder")
        for name in ("credentials", "url_map"):
            path = getattr(self, name)
            _require(path is None or Path(path).is_file(), name, path, "an existing file")


#: What ``max_connections = 0`` means: min(CAP, open-file soft limit - HEADROOM), at least FLOOR.
#: The headroom: 128 descriptors for the burst asyncio accepts in one go (the listen backlog)
#: before any over the limit is closed, 64 for the process's own files and Url fetches.
CONNECTIONS_CAP = 1024
CONNECTIONS_HEADROOM = 192
CONNECTIONS_FLOOR = 16


def default_max_connections() -> int:
    """min(1024, soft RLIMIT_NOFILE - 192), at least 16, so a burst of connections at the
    limit is refused, and accept() does not fail for want of a descriptor."""
    try:
        import resource
    except ImportError:  # Windows: no descriptor limit to derive from
        return CONNECTIONS_CAP
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return CONNECTIONS_CAP
    return max(CONNECTIONS_FLOOR, min(CONNECTIONS_CAP, soft - CONNECTIONS_HEADROOM))


def _require(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()} (--{name.replace('_', '-')}): "
                            f"{value!r} is not {expected}")


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _paths(text: str) -> tuple[Path, ...]:
    return tuple(Path(p) for p in text.split(os.pathsep) if p)


def _hosts(text: str) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in text.split(",") if h.strip())


_CASTS: dict[str, Callable[[str], Any]] = {
    "host": str, "port": int, "credentials": Path, "signature_ttl": int, "max_subjects": int,
    "cache_size": int, "workers": int, "url_map": Path, "url_connect_timeout": float,
    "url_timeout": float, "url_max_bytes": int, "url_allowed_hosts": _hosts,
    "url_allow_private": _bool, "log_format": str, "read_timeout": float, "image_timeout": float,
    "scenarios": _paths,
    "journal_size": int, "admin_token": str, "max_connections": int,
    "max_inflight_bytes": int,
}


def _cast(name: str, raw: str) -> Any:
    try:
        return _CASTS[name](raw)
    except (ValueError, KeyError) as exc:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()} (--{name.replace('_', '-')}): "
                            f"cannot read {raw!r}") from exc
