"""Small public helpers for tests, benchmarks and scripts that talk to an emulator directly.

Official SDKs sign their own requests; these helpers are for what no SDK sends (raw requests,
load generators, hostile inputs). Imports nothing heavy: the standard library and the pure
signer in :mod:`emulator.wire.auth`.
"""

from __future__ import annotations

import hashlib
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from emulator.wire import auth

__all__ = [
    "ACTION",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "REGION",
    "SECRET_ID",
    "SECRET_KEY",
    "VERSION",
    "free_port",
    "json_files",
    "tc3_headers",
    "wait_healthy",
]

#: The bundled default account (``fixtures/credentials.json``): public, for tests only.
SECRET_ID = "AKIDEMULATOR000000000000000000000000"
SECRET_KEY = "emulatorsecretkey000000000000000"
REGION = "ap-guangzhou"
ACTION = "SegmentCustomizedPortraitPic"
VERSION = "2020-03-24"
#: Debian's Chromium (``apt-get install chromium``), which the dashboard's browser tests, its
#: screenshots (``make docs``) and its benchmark drive through Playwright: never a download.
CHROMIUM = Path("/usr/bin/chromium")
#: Headless and offline: no background networking, component updates, sync or first-run page.
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")
HEALTH = "/_emulator/health"


def tc3_headers(host: str, body: bytes, *, action: str = ACTION, version: str = VERSION,
                region: str | None = REGION, secret_id: str = SECRET_ID,
                secret_key: str = SECRET_KEY, timestamp: int | None = None,
                content_type: str = "application/json", method: str = "POST",
                query: str = "", service: str = "bda",
                payload_hash: str | None = None) -> dict[str, str]:
    """Headers of a correctly signed TC3-HMAC-SHA256 request (signed headers: content-type
    and host), made by the emulator's own signer, which the official vectors test.

    ``payload_hash`` skips hashing ``body`` when the caller already knows its sha256.
    """
    ts = int(time.time()) if timestamp is None else timestamp
    date = auth.utc_date(ts)
    if payload_hash is None:
        payload_hash = auth.sha256_hex(body if method == "POST" else b"")
    canonical = auth.tc3_canonical_request(method, query, [("content-type", content_type),
                                                           ("host", host)], payload_hash)
    signature = auth.tc3_signature(secret_key, date, service,
                                   auth.tc3_string_to_sign(str(ts), date, service, canonical))
    headers = {"Content-Type": content_type, "Host": host, "X-TC-Action": action,
               "X-TC-Version": version, "X-TC-Timestamp": str(ts),
               "Authorization": f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/{service}/"
                                f"tc3_request, SignedHeaders=content-type;host, "
                                f"Signature={signature}"}
    if region is not None:
        headers["X-TC-Region"] = region
    return headers


def sha256_hex(data: bytes) -> str:
    """Lower-case hex sha256 (what ``payload_hash`` takes)."""
    return hashlib.sha256(data).hexdigest()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (another process may take it: use at once)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout: float = 20.0, alive: object = None) -> None:
    """Wait until ``GET <url>/_emulator/health`` answers 200 (``AssertionError`` after
    ``timeout`` s). ``alive``, a ``subprocess.Popen``, makes an early exit fail at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:  # type: ignore[attr-defined]
            raise AssertionError("the emulator exited before it was healthy")
        try:
            with urllib.request.urlopen(url + HEALTH, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not become healthy within {timeout:g} s")


def json_files(path: Path) -> Iterator[Path]:
    """``path`` itself, or every ``*.json`` below a folder, sorted (how scenario and fixture
    folders are read everywhere)."""
    if path.is_dir():
        yield from sorted(path.rglob("*.json"))
    else:
        yield path
