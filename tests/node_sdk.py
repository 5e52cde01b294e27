"""The official Node SDK as a test client: ``tests/node/call.js`` run by Node, one call each.

``make test`` installs the SDK into ``tests/node/node_modules`` (``npm ci``) when Node is on
the machine; without Node the Node tests skip with one line saying how to get it, and CI
(``BDA_REQUIRE_NODE=1``) fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import REGION, SECRET_ID, SECRET_KEY

NODE_DIR = Path(__file__).resolve().parent / "node"
SDK = NODE_DIR / "node_modules" / "tencentcloud-sdk-nodejs"


def require_node() -> str:
    """The node binary, or a skip (a failure under ``BDA_REQUIRE_NODE=1``)."""
    node = shutil.which("node")
    if node is None or not SDK.is_dir():
        reason = ("Node SDK not installed: install Node.js, then `npm ci --prefix tests/node` "
                  "(make test does it when node is on PATH)")
        if os.environ.get("BDA_REQUIRE_NODE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return node


def node_call(endpoint: str | None, action: str, params: dict[str, Any],
              env: dict[str, str] | None = None, **job: Any) -> dict[str, Any]:
    """One call; ``{"ok": True, "response": {...}}`` or ``{"ok": False, "code": ...}``."""
    node = require_node()
    payload = {"endpoint": endpoint, "action": action, "params": params, "secretId": SECRET_ID,
               "secretKey": SECRET_KEY, "region": REGION, **job}
    out = subprocess.run([node, str(NODE_DIR / "call.js")], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stdout)  # type: ignore[no-any-return]
