"""Command line: ``bda-emulator [serve] [--host H] [--port P] [--credentials FILE] ...``.

Every flag has an environment variable ``BDA_EMULATOR_<FLAG>``; flags win.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from emulator.codes import rows
from emulator.scenarios.loading import ScenarioError, load_file
from emulator.serve import accesslog
from emulator.serve.app import create_app, make_runner
from emulator.serve.lifecycle import serve_until_signalled
from emulator.settings import Settings, SettingsError
from emulator.wire.credentials import CredentialsError

_FLAGS = (
    ("host", "address to bind (default 127.0.0.1)"),
    ("port", "TCP port (default 9527)"),
    ("credentials", "credentials file (default: the bundled fixtures/credentials.json)"),
    ("signature_ttl", "allowed clock skew of X-TC-Timestamp in seconds (default 300)"),
    ("max_subjects", "people in one image before FailedOperation.ProfileNumExceed (default 5)"),
    ("cache_size", "finished replies kept for repeated inputs (default 256; 0 disables)"),
    ("workers", "image workers: threads doing segmentation off the event loop, which owns "
                "all state (default: one per CPU)"),
    ("url_map", "JSON map of known Urls to bundled files (default fixtures/urls.json)"),
    ("url_connect_timeout", "Url fetch connect timeout in seconds (default 3)"),
    ("url_timeout", "Url fetch total timeout in seconds (default 10)"),
    ("url_max_bytes", "largest image a Url may return (default 3932160)"),
    ("url_allowed_hosts", "comma-separated hosts Url fetches may reach besides loopback"),
    ("url_allow_private", "let Url fetches reach private (RFC 1918) addresses: true/false"),
    ("journal_size", "requests the journal keeps, oldest dropped first (default 1000)"),
    ("admin_token", "require header X-Emulator-Token on admin calls except /health"),
    ("log_format", "request log lines: text or json (default text)"),
    ("read_timeout", "seconds a client may take to send a request head or body; also how long "
                     "an idle keep-alive connection is kept (default 30)"),
    ("image_timeout", "seconds a request may wait for its image work, queueing included, "
                      "before FailedOperation.RequestTimeout (default 10)"),
    ("max_inflight_bytes", "request-body bytes held at once; later requests wait their turn, "
                           "RequestLimitExceeded after --read-timeout (default 50331648)"),
    ("max_connections", "open client connections at once; more are closed on accept (default "
                        "0: min(1024, open-file soft limit - 192), at least 16)"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bda-emulator",
        description="Offline emulator of Tencent Cloud bda 2020-03-24 "
                    "SegmentCustomizedPortraitPic. Commands: serve (default) runs the "
                    "emulator; check-scenario FILE... validates scenario files; codes lists "
                    "every documented error code with both messages and its natural input.",
        epilog="Every option also reads its environment variable; the flag wins.")
    parser.add_argument("command", nargs="?", default="serve",
                        choices=["serve", "check-scenario", "codes"],
                        help="what to do (default: serve)")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="check-scenario: scenario files or folders to validate")
    for name, text in _FLAGS:
        env = "BDA_EMULATOR_" + name.upper()
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                            help=f"{text} [env {env}]")
    parser.add_argument("--scenario", "--scenarios", dest="scenarios", action="append",
                        default=None, metavar="PATH",
                        help="scenario file or folder to load at start; repeatable "
                             "[env BDA_EMULATOR_SCENARIOS, os.pathsep-separated]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "codes":
        return _codes()
    if args.command == "check-scenario":
        if not args.files:
            parser.error("check-scenario needs at least one FILE")
        return _check_scenarios([Path(p) for p in args.files])
    if args.files:
        parser.error(f"unexpected arguments: {' '.join(args.files)}")
    overrides: dict[str, object] = {name: getattr(args, name) for name, _ in _FLAGS}
    if args.scenarios:
        overrides["scenarios"] = tuple(Path(p) for p in args.scenarios)
    try:
        settings = Settings.load(overrides=overrides)
    except (SettingsError, CredentialsError) as exc:
        print(f"bda-emulator: {exc}", file=sys.stderr)
        return 2
    accesslog.configure(settings.log_format)
    try:
        asyncio.run(_serve(settings))
    except (SettingsError, CredentialsError, ScenarioError, OSError) as exc:
        print(f"bda-emulator: {exc}", file=sys.stderr)
        return 2
    return 0


def _codes() -> int:
    """Every documented code, tab-separated: code, group, zh-CN, en-US, natural input."""
    print("code\tgroup\tzh-CN\ten-US\tnatural input")
    for row in rows():
        print("\t".join(row))
    return 0


def _check_scenarios(paths: list[Path]) -> int:
    """Validate each file (folders: every ``*.json`` below); 1 if any is invalid."""
    failed = 0
    for path in paths:
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                scenario = load_file(file)
            except ScenarioError as exc:
                failed += 1
                print(f"{exc}", file=sys.stderr)
            else:
                print(f"{file}: ok ({scenario.name}, {len(scenario.rules)} rules)")
    return 1 if failed else 0


async def _serve(settings: Settings) -> None:
    def announce() -> None:
        print(f"bda-emulator listening on http://{settings.host}:{settings.port}", flush=True)

    await serve_until_signalled(make_runner(create_app(settings)), settings.host, settings.port,
                                ready=announce)


