"""Configuration, read once: defaults < environment (``BDA_EMULATOR_*``) < command-line flags.

Each setting is defined once, as a field of :class:`Settings` whose metadata (:class:`Spec`)
holds its help, how text is cast and what a valid value is; the command line's flags, the
environment variables and the README table's test are all derived from it. This is the only
module that reads ``os.environ``. A bad value fails at start with :class:`SettingsError`
naming the variable and the flag.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from emulator.configerror import ConfigError
from emulator.resources import fixture_path

ENV_PREFIX = "BDA_EMULATOR_"
MIB = 1024 * 1024


class SettingsError(ConfigError):
    """A configuration value that cannot be used; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Spec:
    """Everything about one setting but its name, type and default."""

    help: str
    cast: Callable[[str], Any]
    valid: Callable[[Any], bool] = lambda value: True
    expected: str = ""
    metavar: str | None = None


def _setting(default: Any, help: str, cast: Callable[[str], Any],
             valid: Callable[[Any], bool] = lambda value: True, expected: str = "",
             metavar: str | None = None) -> Any:
    return field(default=default,
                 metadata={"spec": Spec(help, cast, valid, expected, metavar)})


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _hosts(text: str) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in text.split(",") if h.strip())


def scenario_path(text: str) -> Path:
    """A scenario file or folder, or a bundled scenario's name (``drills/flaky-10``)."""
    path = Path(text)
    if path.exists():
        return path
    bundled = fixture_path(f"scenarios/{text}.json")
    return bundled if bundled.is_file() else path


def _scenario_paths(text: str) -> tuple[Path, ...]:
    return tuple(scenario_path(p) for p in text.split(os.pathsep) if p)


def _redis_url(text: str) -> bool:
    parts = urlsplit(text)
    try:
        return parts.scheme in ("redis", "rediss") and bool(parts.hostname) and \
            (parts.port is None or 0 < parts.port < 65536) and \
            (parts.path in ("", "/") or parts.path[1:].isdigit())
    except ValueError:  # a port that is no number
        return False


def _positive(value: float) -> bool:
    return value > 0


def _file(value: Path | None) -> bool:
    return value is None or Path(value).is_file()


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the emulator can be told. Field ``x`` is env ``BDA_EMULATOR_X`` and flag
    ``--x`` (underscores as dashes)."""

    host: str = _setting("127.0.0.1", "address to bind", str)
    port: int = _setting(9527, "TCP port; 0 picks a free one (printed, and written to "
                         "--port-file)", int, lambda v: 0 <= v <= 65535, "a TCP port 0-65535")
    port_file: Path | None = _setting(None, "write the bound port to this file once listening "
                                      "(for wrappers of --port 0)", Path, metavar="FILE")
    credentials: Path | None = _setting(
        None, "accounts file; replaces the bundled fixtures/credentials.json", Path, _file,
        "an existing file", "FILE")
    signature_ttl: int = _setting(300, "allowed distance of X-TC-Timestamp from the "
                                  "emulator's clock, seconds", int, _positive, "seconds > 0")
    max_subjects: int = _setting(5, "people in one picture before "
                                 "FailedOperation.ProfileNumExceed", int, lambda v: v >= 1,
                                 "an integer >= 1")
    cache_size: int = _setting(256, "finished replies kept for repeated inputs (also at most "
                               "256 MiB); 0 disables", int, lambda v: v >= 0, "an integer >= 0")
    workers: int = _setting(0, "image workers: threads doing segmentation off the event loop, "
                            "which owns all state (0: one per CPU)", int, lambda v: v >= 0,
                            ">= 0")
    url_map: Path | None = _setting(None, "JSON map of known Urls to bundled files (default "
                                    "fixtures/urls.json)", Path, _file, "an existing file",
                                    "FILE")
    url_connect_timeout: float = _setting(3.0, "Url fetch connect timeout, seconds", float,
                                          _positive, "seconds > 0")
    url_timeout: float = _setting(10.0, "Url fetch total timeout, seconds", float, _positive,
                                  "seconds > 0")
    url_max_bytes: int = _setting(3_932_160, "largest image a Url may return", int, _positive,
                                  "bytes > 0")
    url_allowed_hosts: tuple[str, ...] = _setting(
        (), "comma-separated hosts Url fetches may reach besides loopback", _hosts,
        metavar="HOSTS")
    url_allow_private: bool = _setting(False, "let Url fetches reach private (RFC 1918) "
                                       "addresses: true/false", _bool, metavar="BOOL")
    scenarios: tuple[Path, ...] = _setting(
        (), "scenario files, folders or bundled names loaded at start (env: os.pathsep-"
        "separated; flag: repeatable, also --scenario)", _scenario_paths,
        lambda v: all(Path(p).exists() for p in v),
        "existing files or folders, or bundled scenario names", "PATH")
    journal_size: int = _setting(1000, "requests the journal keeps, oldest dropped first", int,
                                 lambda v: v >= 1, "an integer >= 1")
    admin_token: str | None = _setting(None, "require header X-Emulator-Token on admin calls "
                                       "except /health", str,
                                       lambda v: v is None or v.strip() != "",
                                       "a non-blank token", "TOKEN")
    log_format: str = _setting("text", "request log lines: text or json", str,
                               lambda v: v in ("text", "json"), "`text` or `json`")
    read_timeout: float = _setting(30.0, "seconds a client may take to send each request head "
                                   "or body; also how long an idle keep-alive connection is "
                                   "kept", float, _positive, "seconds > 0")
    image_timeout: float = _setting(10.0, "seconds a request may wait for its image work, "
                                    "queueing included, before FailedOperation.RequestTimeout",
                                    float, _positive, "seconds > 0")
    max_connections: int = _setting(0, "open client connections at once; more are closed on "
                                    "accept (0: min(1024, open-file soft limit - 192), at "
                                    "least 16)", int, lambda v: v >= 0,
                                    "an integer >= 0 (0: derived from the open-file limit)")
    tls_port: int | None = _setting(None, "HTTPS port serving the same API with a certificate "
                                    "for the production host names (e.g. 9528; 0 picks a free "
                                    "one; unset: no HTTPS)", int, lambda v: v is None or
                                    0 <= v <= 65535, "a TCP port 0-65535")
    proxy_port: int | None = _setting(None, "CONNECT proxy port for the production host names "
                                      "only, TLS terminated here (set HTTPS_PROXY to it; "
                                      "unset: no proxy)", int, lambda v: v is None or
                                      0 <= v <= 65535, "a TCP port 0-65535")
    tls_dir: Path | None = _setting(None, "where the local CA (made on first start, reused "
                                    "after) and the server certificate live (default "
                                    "~/.local/share/bda-emulator/tls)", Path, metavar="DIR")
    tls_names: tuple[str, ...] = _setting((), "extra names for the server certificate, "
                                          "comma-separated (a Compose service name)", _hosts,
                                          metavar="NAMES")
    task_workers: int = _setting(2, "video tasks processed at once (threads)", int,
                                 lambda v: v >= 1, "an integer >= 1")
    task_queue: int = _setting(8, "video tasks waiting at once before "
                               "FailedOperation.JobQueueFull", int, lambda v: v >= 0,
                               "an integer >= 0")
    task_limit: int = _setting(4, "unfinished video tasks of one account before "
                               "FailedOperation.TaskLimitExceeded", int, lambda v: v >= 1,
                               "an integer >= 1")
    task_pace: float = _setting(0.5, "emulated seconds of processing per second of 320x240 "
                                "video (more pixels: proportionally more); 0 finishes tasks as "
                                "soon as their frames are done", float, lambda v: v >= 0,
                                "seconds >= 0")
    task_keep: int = _setting(200, "video tasks kept, the oldest finished ones (and their "
                              "result files) dropped first", int, lambda v: v >= 1,
                              "an integer >= 1")
    video_max_bytes: int = _setting(32 * MIB, "largest video a VideoUrl may return", int,
                                    lambda v: v >= 1, "bytes > 0")
    public_url: str | None = _setting(
        None, "base of result Urls (e.g. http://bda-emulator:9527 in Compose); default: the "
        "address the client used (its Host header)", str,
        lambda v: v is None or v.startswith(("http://", "https://")), "an http(s):// Url",
        "URL")
    result_files: int = _setting(1000, "result files kept for Urls (RspImgType url), oldest "
                                 "dropped first", int, lambda v: v >= 1, "an integer >= 1")
    result_bytes: int = _setting(256 * MIB, "bytes of result files kept for Urls, oldest "
                                 "dropped first", int, lambda v: v >= MIB, f"bytes >= {MIB}")
    state: str = _setting("memory", "where state shared by processes and replicas lives: "
                          "`memory` (this process only) or redis://host:port/db", str,
                          lambda v: v == "memory" or _redis_url(v),
                          "`memory` or a redis://host[:port][/db] (or rediss://) Url", "STORE")
    state_prefix: str = _setting("bda", "prefix of this emulator's Redis keys (several "
                                 "emulators can share one Redis)", str,
                                 lambda v: re.fullmatch(r"[A-Za-z0-9._-]{1,64}", v) is not None,
                                 "1-64 letters, digits, dots, dashes, underscores", "NAME")
    processes: int = _setting(1, "server processes sharing the port (SO_REUSEPORT); more than "
                              "one needs --state redis://…", int, lambda v: 1 <= v <= 64,
                              "an integer 1-64")
    max_inflight_bytes: int = _setting(48 * MIB, "request-body bytes held at once; later "
                                       "requests wait their turn, RequestLimitExceeded after "
                                       "--read-timeout", int, lambda v: v >= MIB,
                                       f"bytes >= {MIB}")

    @property
    def credentials_path(self) -> Path:
        """The credentials file in use (the bundled one unless configured)."""
        return self.credentials or fixture_path("credentials.json")

    @property
    def url_map_path(self) -> Path:
        """The URL map in use (the bundled one unless configured)."""
        return self.url_map or fixture_path("urls.json")

    @property
    def tls_dir_path(self) -> Path:
        """The TLS directory in use (``$XDG_DATA_HOME/bda-emulator/tls`` unless configured)."""
        if self.tls_dir is not None:
            return self.tls_dir
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "bda-emulator" / "tls"

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
        for name, spec in specs():
            raw = env.get(env_name(name))
            if raw is not None and raw != "":
                values[name] = _cast(name, spec, raw)
        known = dict(specs())
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = (_cast(name, known[name], value) if isinstance(value, str)
                                else value)
        settings = replace(cls(), **values)
        settings.check()
        return settings

    def check(self) -> None:
        """Reject values the emulator cannot run with, naming the setting."""
        for name, spec in specs():
            value = getattr(self, name)
            if not spec.valid(value):
                shown = [str(p) for p in value] if isinstance(value, tuple) else value
                raise SettingsError(f"{where(name)}: {shown!r} is not {spec.expected}")


def specs() -> Iterator[tuple[str, Spec]]:
    """Every setting's name and spec, in definition order."""
    for item in fields(Settings):
        yield item.name, item.metadata["spec"]


def env_name(name: str) -> str:
    """``BDA_EMULATOR_<NAME>``."""
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    """``--name-with-dashes``."""
    return "--" + name.replace("_", "-")


def where(name: str) -> str:
    """How an error names a setting: ``BDA_EMULATOR_PORT (--port)``."""
    return f"{env_name(name)} ({flag_name(name)})"


def _cast(name: str, spec: Spec, raw: str) -> Any:
    try:
        return spec.cast(raw)
    except ValueError as exc:
        raise SettingsError(f"{where(name)}: cannot read {raw!r}") from exc


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
