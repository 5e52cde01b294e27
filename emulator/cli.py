"""Command line: ``bda-emulator [serve] [options]``, ``check-scenario``, ``codes``, ``--version``.

``serve`` is the default command, so ``bda-emulator -p 9600`` serves. Every serve option is
derived from :mod:`emulator.settings` and also read from its environment variable
``BDA_EMULATOR_<OPTION>``; the flag wins. Configuration mistakes (:class:`ConfigError`) and
start-up failures are printed as one line naming the setting or file, exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import socket
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

import emulator
from emulator.codes import rows
from emulator.configerror import ConfigError
from emulator.settings import Settings, env_name, flag_name, specs, where

COMMANDS = ("serve", "check-scenario", "codes", "ca")
DESCRIPTION = "Offline emulator of Tencent Cloud bda 2020-03-24 for contract tests."


def build_parser() -> argparse.ArgumentParser:
    """The parser: one subcommand each for serving, checking scenario files, listing codes."""
    parser = argparse.ArgumentParser(prog="bda-emulator", description=DESCRIPTION,
                                     epilog="`bda-emulator COMMAND --help` describes a command; "
                                            "with no command, `serve` is meant.")
    parser.add_argument("--version", action="version",
                        version=f"bda-emulator {emulator.__version__} (bda 2020-03-24)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the emulator (the default command)",
                                description="Run the emulator. Every option also reads its "
                                            "environment variable; the flag wins.")
    for name, spec in specs():
        flags = [flag_name(name)]
        if name == "port":
            flags.append("-p")
        if name == "scenarios":
            flags.insert(0, "--scenario")
        serve.add_argument(*flags, dest=name, default=None, metavar=spec.metavar,
                           action="append" if name == "scenarios" else "store",
                           help=f"{spec.help} [env {env_name(name)}; default "
                                f"{_default(name)}]")
    check = commands.add_parser("check-scenario", help="validate scenario files",
                                description="Validate scenario files, folders (every *.json "
                                            "below) or bundled names; exit 1 if any is "
                                            "invalid or none is found.")
    check.add_argument("files", nargs="+", metavar="FILE")
    ca = commands.add_parser("ca", help="print or write the local CA certificate",
                             description="The CA the HTTPS listener and the proxy use (made "
                                         "on first use in the TLS directory, reused after): "
                                         "trust it in the application under test.")
    ca.add_argument("--tls-dir", dest="tls_dir", default=None, metavar="DIR",
                    help=f"the TLS directory [env {env_name('tls_dir')}]")
    ca.add_argument("--out", default=None, metavar="FILE", help="write it here (default: print)")
    commands.add_parser("codes", help="list every documented error code",
                        description="Every documented code, tab-separated: code, group, "
                                    "zh-CN message, en-US message, the natural input that "
                                    "yields it.")
    return parser


def _default(name: str) -> str:
    value = getattr(Settings(), name)
    return "none" if value in (None, ()) else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in (*COMMANDS, "-h", "--help", "--version"):
        args_list.insert(0, "serve")
    args = build_parser().parse_args(args_list)
    try:
        if args.command == "codes":
            return _codes()
        if args.command == "check-scenario":
            return _check_scenarios(args.files)
        if args.command == "ca":
            return _ca(args)
        return _serve(args)
    except ConfigError as exc:
        print(f"bda-emulator: {exc}", file=sys.stderr)
        return 2


def _codes() -> int:
    """Every documented code, tab-separated: code, group, zh-CN, en-US, natural input."""
    print("code\tgroup\tzh-CN\ten-US\tnatural input")
    for row in rows():
        print("\t".join(row))
    return 0


def _check_scenarios(names: list[str]) -> int:
    """Validate each file (folders: every ``*.json`` below); 1 if any is invalid or none."""
    from emulator.scenarios.loading import ScenarioError, load_file
    from emulator.settings import scenario_path
    from emulator.testing import json_files

    failed = checked = 0
    for name in names:
        for file in json_files(scenario_path(name)):
            checked += 1
            try:
                scenario = load_file(file)
            except ScenarioError as exc:
                failed += 1
                print(f"{exc}", file=sys.stderr)
            else:
                print(f"{file}: ok ({scenario.name}, {len(scenario.rules)} rules)")
    if not checked:
        print(f"bda-emulator: no scenario files in {', '.join(names)}", file=sys.stderr)
        return 1
    return 1 if failed else 0


def _ca(args: argparse.Namespace) -> int:
    """Print or write the CA certificate (never its key)."""
    from emulator.serve.tls import ca_pem, ensure_ca

    directory = Settings.load(overrides={"tls_dir": args.tls_dir}).tls_dir_path
    ensure_ca(directory)
    pem = ca_pem(directory)
    if args.out:
        Path(args.out).write_bytes(pem)
    else:
        sys.stdout.write(pem.decode("ascii"))
    return 0


def _serve(args: argparse.Namespace) -> int:
    overrides = {name: getattr(args, name) for name, _ in specs() if name != "scenarios"}
    if args.scenarios:
        from emulator.settings import scenario_path

        overrides["scenarios"] = tuple(scenario_path(p) for p in args.scenarios)
    settings = Settings.load(overrides=overrides)
    from emulator.serve import accesslog, processes

    processes.check(settings)
    accesslog.configure(settings.log_format)
    if settings.processes > 1:
        return processes.supervise(settings, _child, _announce)
    return _serve_one(settings)


def _serve_one(settings: Settings, ready: Connection | None = None) -> int:
    """Serve in this process until signalled; 2 with a message when the start fails."""
    try:
        asyncio.run(_run(settings, ready))
    except OSError as exc:
        print(f"bda-emulator: {_start_failure(exc, settings)}", file=sys.stderr)
        return 2
    except ConfigError as exc:  # found at start: the shared store cannot be reached
        print(f"bda-emulator: {exc}", file=sys.stderr)
        return 2
    return 0


def _child(settings: Settings, ready: Connection) -> None:
    """One of ``--processes N``: the same port (SO_REUSEPORT), its exit code to the parent."""
    sys.exit(_serve_one(settings, ready))


def _announce(settings: Settings, ports: tuple[int | None, ...] | None = None) -> None:
    """Say where the emulator listens (and write ``--port-file``), once it does."""
    port, tls_port, proxy_port = ports or (settings.port, settings.tls_port, settings.proxy_port)
    if settings.port_file is not None:
        settings.port_file.write_text(f"{port}\n", encoding="utf-8")
    extra = f" ({settings.processes} processes)" if settings.processes > 1 else ""
    print(f"bda-emulator listening on http://{settings.host}:{port}{extra}", flush=True)
    if tls_port is not None:
        print(f"bda-emulator listening on https://{settings.host}:{tls_port} "
              f"(CA: {settings.tls_dir_path / 'ca.pem'})", flush=True)
    if proxy_port is not None:
        print(f"bda-emulator proxy for the bda host names on {settings.host}:{proxy_port}",
              flush=True)


async def _run(settings: Settings, ready: Connection | None = None) -> None:
    from emulator.serve.app import create_app, make_runner
    from emulator.serve.lifecycle import serve_until_signalled

    runner = make_runner(create_app(settings))

    def listening() -> None:
        if ready is not None:  # a child of --processes: the parent announces
            ready.send(True)
            ready.close()
            return
        addresses = runner.addresses
        port = addresses[0][1] if addresses else settings.port
        tls_port = addresses[1][1] if settings.tls_port is not None and len(addresses) > 1 \
            else None
        _announce(settings, (port, tls_port, settings.proxy_port))

    await serve_until_signalled(runner, settings.host, settings.port, ready=listening,
                                settings=settings, reuse_port=ready is not None)


def _start_failure(exc: OSError, settings: Settings) -> str:
    """An OSError at start, said in terms of the setting that caused it."""
    if exc.errno == errno.EADDRINUSE:
        return (f"{where('port')}: port {settings.port} on {settings.host} is already in use "
                "(another emulator? pick another with --port, or 0 for a free one)")
    if isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL,):
        return f"{where('host')}: cannot bind {settings.host!r} ({exc.strerror or exc})"
    if settings.port_file is not None and exc.filename == str(settings.port_file):
        return f"{where('port_file')}: cannot write {exc.filename} ({exc.strerror})"
    return str(exc)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
